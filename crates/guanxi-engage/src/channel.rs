//! Channels: each behind [`Transport`], with a real implementation — email over SMTP
//! (lettre: STARTTLS or TLS, authentication), SMS and WeChat through HTTP gateways (URL,
//! auth header, JSON body template), and outbound webhooks signed with HMAC-SHA256. Every
//! send carries the ledger key as its idempotency key (HTTP `Idempotency-Key`, email
//! `Message-ID`), so a provider can drop the repeat a crashed worker's retry makes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use guanxi_domain::Channel;
use guanxi_domain::program::{Delivery, EmailDelivery, GatewayDelivery, SmtpSecurity, WebhookDelivery};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::Serialize;

use crate::EngageError;

/// One message ready for a channel.
#[derive(Debug, Clone, Serialize)]
pub struct Outgoing {
    pub message_id: i64,
    /// The ledger key: the provider's idempotency key.
    pub key: String,
    pub channel: Channel,
    pub customer_id: i64,
    /// A mobile number, email address, WeChat id, or the customer id for webhooks.
    pub to: String,
    pub program: String,
    pub step: String,
    pub template: String,
    pub subject: String,
    pub text: String,
    /// The unsubscribe link, on marketing messages.
    pub unsubscribe: Option<String>,
}

/// A failed send: whether trying again may help, and what went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    pub retryable: bool,
    pub message: String,
}

impl SendError {
    fn retry(message: impl Into<String>) -> SendError {
        SendError {
            retryable: true,
            message: message.into(),
        }
    }

    fn permanent(message: impl Into<String>) -> SendError {
        SendError {
            retryable: false,
            message: message.into(),
        }
    }
}

#[async_trait]
pub trait Transport: Send + Sync {
    async fn send(&self, m: &Outgoing) -> Result<(), SendError>;

    /// Whether the provider drops a repeated idempotency key (HTTP gateways and webhook
    /// receivers that honour `Idempotency-Key`): then a send repeated after a crash is
    /// harmless, and a batch's sends may be settled together. Where it does not (SMTP: a
    /// server delivers a repeated Message-ID again), the worker settles each message
    /// right after its send, so that a crash repeats at most the sends in flight.
    fn deduplicates(&self) -> bool {
        true
    }
}

/// The configured transport of each channel.
#[derive(Clone, Default)]
pub struct Channels {
    by_channel: HashMap<Channel, Arc<dyn Transport>>,
}

impl Channels {
    /// Builds every channel the settings configure; secrets are read from the environment
    /// variables they name.
    pub fn from_settings(d: &Delivery) -> Result<Channels, EngageError> {
        let mut c = Channels::default();
        let http = http_client()?;
        if let Some(e) = &d.email {
            install_crypto();
            c.insert(Channel::Email, Arc::new(Smtp::new(e)?));
        }
        if let Some(g) = &d.sms {
            c.insert(Channel::Sms, Arc::new(Gateway::new(g, http.clone(), "channels.sms")?));
        }
        if let Some(g) = &d.wechat {
            c.insert(
                Channel::Wechat,
                Arc::new(Gateway::new(g, http.clone(), "channels.wechat")?),
            );
        }
        if let Some(w) = &d.webhook {
            c.insert(Channel::Webhook, Arc::new(Webhook::new(w, http)?));
        }
        Ok(c)
    }

    pub fn insert(&mut self, channel: Channel, t: Arc<dyn Transport>) {
        self.by_channel.insert(channel, t);
    }

    pub fn get(&self, channel: Channel) -> Option<&Arc<dyn Transport>> {
        self.by_channel.get(&channel)
    }
}

/// rustls needs one process-wide crypto provider; ring is the one built in.
fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The HTTP client of gateways and webhooks: pooled connections, a 15 s timeout.
pub fn http_client() -> Result<reqwest::Client, EngageError> {
    install_crypto();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .pool_max_idle_per_host(256)
        .build()
        .map_err(|e| EngageError::Channel(format!("cannot build the HTTP client: {e}")))
}

fn secret(env: &str, field: &str) -> Result<String, EngageError> {
    std::env::var(env).map_err(|_| {
        EngageError::Channel(format!(
            "{field}: the environment variable {env} (named in the settings) is not set"
        ))
    })
}

/// Classifies an HTTP outcome: 2xx sent; 408, 429 and 5xx worth another try; other 4xx
/// not (the request itself is wrong).
async fn http_outcome(r: Result<reqwest::Response, reqwest::Error>) -> Result<(), SendError> {
    let resp = r.map_err(|e| SendError::retry(format!("HTTP request failed: {e}")))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let body = resp.text().await.unwrap_or_default();
    let body: String = body.chars().take(200).collect();
    let message = format!("HTTP {status}: {body}");
    if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
        Err(SendError::retry(message))
    } else {
        Err(SendError::permanent(message))
    }
}

/// An SMS or WeChat gateway over HTTP.
pub struct Gateway {
    url: String,
    auth: Option<(String, String)>,
    body: String,
    env: minijinja::Environment<'static>,
    http: reqwest::Client,
}

impl Gateway {
    pub fn new(g: &GatewayDelivery, http: reqwest::Client, field: &str) -> Result<Gateway, EngageError> {
        let auth = match (&g.auth_header, &g.auth_env) {
            (Some(h), Some(env)) => Some((h.clone(), secret(env, &format!("{field}.auth_env"))?)),
            (None, None) => None,
            _ => {
                return Err(EngageError::Channel(format!(
                    "{field}: auth_header and auth_env go together"
                )));
            }
        };
        let env = crate::templates::env();
        env.template_from_str(&g.body)
            .map_err(|e| EngageError::Channel(format!("{field}.body: {e}")))?;
        Ok(Gateway {
            url: g.url.clone(),
            auth,
            body: g.body.clone(),
            env,
            http,
        })
    }
}

#[async_trait]
impl Transport for Gateway {
    async fn send(&self, m: &Outgoing) -> Result<(), SendError> {
        let body = self
            .env
            .render_str(&self.body, minijinja::value::Serde(m))
            .map_err(|e| SendError::permanent(format!("gateway body template: {e}")))?;
        let mut req = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("idempotency-key", &m.key)
            .body(body);
        if let Some((name, value)) = &self.auth {
            req = req.header(name, value);
        }
        http_outcome(req.send().await).await
    }
}

/// Outbound webhooks: the message as JSON, `X-Guanxi-Signature: sha256=<hex>` being the
/// HMAC-SHA256 of the body under the shared secret.
pub struct Webhook {
    url: String,
    secret: Vec<u8>,
    http: reqwest::Client,
}

impl Webhook {
    pub fn new(w: &WebhookDelivery, http: reqwest::Client) -> Result<Webhook, EngageError> {
        Ok(Webhook {
            url: w.url.clone(),
            secret: secret(&w.secret_env, "channels.webhook.secret_env")?.into_bytes(),
            http,
        })
    }
}

pub use crate::links::{signature, signature_matches};

#[async_trait]
impl Transport for Webhook {
    async fn send(&self, m: &Outgoing) -> Result<(), SendError> {
        let body = serde_json::to_vec(m).map_err(|e| SendError::permanent(e.to_string()))?;
        let req = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("idempotency-key", &m.key)
            .header("x-guanxi-signature", signature(&self.secret, &body))
            .body(body);
        http_outcome(req.send().await).await
    }
}

/// Email over SMTP.
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: lettre::message::Mailbox,
    domain: String,
}

impl Smtp {
    pub fn new(e: &EmailDelivery) -> Result<Smtp, EngageError> {
        let bad =
            |what: &str, err: &dyn std::fmt::Display| EngageError::Channel(format!("channels.email.{what}: {err}"));
        let builder = match e.security {
            SmtpSecurity::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&e.host).map_err(|err| bad("host", &err))?
            }
            SmtpSecurity::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&e.host).map_err(|err| bad("host", &err))?
            }
            SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&e.host),
        };
        let mut builder = builder.port(e.port).timeout(Some(Duration::from_secs(30)));
        match (&e.username, &e.password_env) {
            (Some(user), Some(env)) => {
                let password = secret(env, "channels.email.password_env")?;
                builder = builder.credentials(lettre::transport::smtp::authentication::Credentials::new(
                    user.clone(),
                    password,
                ));
            }
            (None, None) => {}
            _ => return Err(bad("username", &"username and password_env go together")),
        }
        let from: lettre::message::Mailbox = e.from.parse().map_err(|err| bad("from", &err))?;
        let domain = from.email.domain().to_string();
        Ok(Smtp {
            transport: builder.build(),
            from,
            domain,
        })
    }
}

#[async_trait]
impl Transport for Smtp {
    fn deduplicates(&self) -> bool {
        false
    }

    async fn send(&self, m: &Outgoing) -> Result<(), SendError> {
        let to: lettre::message::Mailbox =
            m.to.parse()
                .map_err(|e| SendError::permanent(format!("recipient {:?}: {e}", m.to)))?;
        // The ledger key as Message-ID: a repeat after a crash is recognisably the same
        // message to every mail system that keeps Message-IDs.
        let id: String = m
            .key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '.'
                }
            })
            .collect();
        let mut email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&m.subject)
            .message_id(Some(format!("<{id}@{}>", self.domain)))
            .body(m.text.clone())
            .map_err(|e| SendError::permanent(format!("email: {e}")))?;
        if let Some(url) = &m.unsubscribe {
            email.headers_mut().insert_raw(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{url}>"),
            ));
        }
        match self.transport.send(email).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(SendError::permanent(format!("SMTP: {e}"))),
            Err(e) => Err(SendError::retry(format!("SMTP: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_signatures_are_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let body = b"what do ya want for nothing?";
        let good = signature(b"Jefe", body);
        assert!(signature_matches(b"Jefe", body, &good));
        assert!(!signature_matches(b"Jefe", b"what do ya want for something?", &good));
        assert!(!signature_matches(b"jefe", body, &good));
        assert!(!signature_matches(b"Jefe", body, good.trim_start_matches("sha256=")));
        assert!(!signature_matches(b"Jefe", body, &good[..good.len() - 2]));
        assert!(!signature_matches(b"Jefe", body, "sha256=zz"));
        assert!(!signature_matches(b"Jefe", body, ""));
    }

    #[test]
    fn missing_secrets_are_named() {
        let g = GatewayDelivery {
            url: "http://127.0.0.1:1/".into(),
            auth_header: Some("Authorization".into()),
            auth_env: Some("GUANXI_TEST_UNSET_SECRET".into()),
            body: "{}".into(),
            reply_secret_env: None,
        };
        let Err(e) = Gateway::new(&g, http_client().unwrap(), "channels.sms") else {
            panic!("an unset secret is refused")
        };
        assert!(e.to_string().contains("GUANXI_TEST_UNSET_SECRET"), "{e}");
        let bad_body = GatewayDelivery {
            auth_header: None,
            auth_env: None,
            body: "{{ to ".into(),
            ..g
        };
        let Err(e) = Gateway::new(&bad_body, http_client().unwrap(), "channels.sms") else {
            panic!("a broken body template is refused")
        };
        assert!(e.to_string().starts_with("channel: channels.sms.body"), "{e}");
    }
}
