//! Links in messages: tracked links (`/r/ID?s=SIG`, a click is recorded, then the shop)
//! and unsubscribe links (`/u/ID?s=SIG`). The signature is an HMAC of the message id under
//! the shop's link key, so nobody can click or unsubscribe for a message they did not get.

use hmac::{KeyInit, Mac};
use rand::RngCore as _;

use guanxi_store::Store;

use crate::EngageError;

/// The store setting holding the link key (made at first use).
const SETTING: &str = "link_key";

#[derive(Clone)]
pub struct LinkKey(Vec<u8>);

/// What a link does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    Track,
    Unsubscribe,
}

impl LinkKind {
    fn tag(self) -> &'static str {
        match self {
            LinkKind::Track => "r",
            LinkKind::Unsubscribe => "u",
        }
    }
}

impl LinkKey {
    pub fn new(key: impl Into<Vec<u8>>) -> LinkKey {
        LinkKey(key.into())
    }

    /// The shop's key from the store, made (random, 32 bytes) the first time. Every
    /// instance sharing the store signs and checks with the same key.
    pub async fn load(store: &dyn Store) -> Result<LinkKey, EngageError> {
        if let Some(k) = store.setting(SETTING).await? {
            return Ok(LinkKey(
                hex::decode(k).map_err(|e| EngageError::Store(format!("setting {SETTING}: {e}")))?,
            ));
        }
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        store.set_setting(SETTING, &hex::encode(key)).await?;
        // Another instance may have made one at the same moment: read back the one kept.
        let kept = store.setting(SETTING).await?.unwrap_or_else(|| hex::encode(key));
        Ok(LinkKey(
            hex::decode(kept).map_err(|e| EngageError::Store(e.to_string()))?,
        ))
    }

    pub fn sign(&self, kind: LinkKind, message_id: i64) -> String {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.0).expect("any key length");
        mac.update(format!("{}:{message_id}", kind.tag()).as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..12])
    }

    pub fn verify(&self, kind: LinkKind, message_id: i64, signature: &str) -> bool {
        // Compared in constant time by the MAC itself.
        let Ok(given) = hex::decode(signature) else {
            return false;
        };
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.0).expect("any key length");
        mac.update(format!("{}:{message_id}", kind.tag()).as_bytes());
        mac.verify_truncated_left(&given).is_ok() && given.len() == 12
    }

    /// The link of `kind` for a message, under `base` (the address customers reach guanxi at).
    pub fn url(&self, base: &str, kind: LinkKind, message_id: i64) -> String {
        format!(
            "{}/{}/{message_id}?s={}",
            base.trim_end_matches('/'),
            kind.tag(),
            self.sign(kind, message_id)
        )
    }
}

/// Whether an SMS reply asks to stop messages: 回复TD退订 and its usual variants.
pub fn is_opt_out(reply: &str) -> bool {
    let t: String = reply
        .trim()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    matches!(
        t.as_str(),
        "TD" | "T" | "N" | "STOP" | "UNSUBSCRIBE" | "退订" | "TD退订" | "回复TD退订" | "退"
    )
}

/// The signature header's value of a webhook body.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether `given` (a header's `sha256=<hex>`) signs `body`: compared in constant time by
/// the MAC, so that timing tells a forger nothing about how much of a guess was right.
pub fn signature_matches(secret: &[u8], body: &[u8], given: &str) -> bool {
    let Some(Ok(given)) = given.strip_prefix("sha256=").map(hex::decode) else {
        return false;
    };
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_signed_per_message_and_kind() {
        let k = LinkKey::new(b"secret".to_vec());
        let s = k.sign(LinkKind::Track, 42);
        assert!(k.verify(LinkKind::Track, 42, &s));
        assert!(!k.verify(LinkKind::Track, 43, &s));
        assert!(!k.verify(LinkKind::Unsubscribe, 42, &s));
        assert!(!k.verify(LinkKind::Track, 42, &s[..8]));
        assert!(!k.verify(LinkKind::Track, 42, "zz"));
        assert!(!LinkKey::new(b"other".to_vec()).verify(LinkKind::Track, 42, &s));
        assert_eq!(
            k.url("http://shop.example/", LinkKind::Unsubscribe, 7),
            format!("http://shop.example/u/7?s={}", k.sign(LinkKind::Unsubscribe, 7))
        );
    }

    #[test]
    fn opt_out_replies() {
        for yes in ["TD", " td ", "退订", "T D", "stop"] {
            assert!(is_opt_out(yes), "{yes}");
        }
        for no in ["谢谢", "TDD", "", "好的 TD 收到"] {
            assert!(!is_opt_out(no), "{no}");
        }
    }
}
