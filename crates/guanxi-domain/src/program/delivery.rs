//! Where each channel delivers: the `[channels]` section of the settings file. Data only;
//! the engine's channels (SMTP, HTTP gateways, webhooks) are built from it. Secrets are
//! never written in the file: it names the environment variable that holds each one.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Delivery {
    /// The address customers reach guanxi at, for tracked links and unsubscribe links.
    pub base_url: String,
    /// Where tracked links lead after the click is recorded (the shop's home page).
    pub shop_url: String,
    /// The shop's name as messages say it.
    pub shop_name: String,
    /// A file of the shop's own templates (`[name.zh-CN] subject = … text = …`), added to
    /// the built-ins or replacing them by name.
    pub templates: Option<String>,
    /// The language of messages: `zh-CN` or `en`.
    pub language: String,
    /// The environment variable holding the key that signs links (unsubscribe, tracking).
    pub link_secret_env: Option<String>,
    /// Messages each worker sends at once.
    pub concurrency: u16,
    pub email: Option<EmailDelivery>,
    pub sms: Option<GatewayDelivery>,
    pub wechat: Option<GatewayDelivery>,
    pub webhook: Option<WebhookDelivery>,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            base_url: "http://127.0.0.1:8080".into(),
            shop_name: "本店".into(),
            shop_url: String::new(),
            templates: None,
            language: "zh-CN".into(),
            link_secret_env: None,
            concurrency: 32,
            email: None,
            sms: None,
            wechat: None,
            webhook: None,
        }
    }
}

/// TLS on an SMTP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain, then upgraded with STARTTLS (port 587); refused if the server cannot.
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No TLS: only for a relay on the same machine.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailDelivery {
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    #[serde(default = "default_security")]
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password_env: Option<String>,
    /// The sender: `Shop <shop@example.com>`.
    pub from: String,
}

fn default_smtp_port() -> u16 {
    587
}

fn default_security() -> SmtpSecurity {
    SmtpSecurity::Starttls
}

/// An SMS or WeChat gateway reached over HTTP: a POST of `body` (a template: `{{ to }}`,
/// `{{ text }}`, `{{ template }}`, `{{ key }}`, JSON-escaped with `| tojson`) to `url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayDelivery {
    pub url: String,
    /// An authorisation header: its name and the environment variable with its value.
    pub auth_header: Option<String>,
    pub auth_env: Option<String>,
    #[serde(default = "default_gateway_body")]
    pub body: String,
    /// The environment variable with the secret the gateway signs reply callbacks with
    /// (`POST /hooks/sms/reply`); without it replies are not taken.
    pub reply_secret_env: Option<String>,
}

impl GatewayDelivery {
    /// The body sent when the settings give none: to, text, template and the ledger key.
    pub fn default_body() -> String {
        default_gateway_body()
    }
}

fn default_gateway_body() -> String {
    r#"{"to": {{ to | tojson }}, "text": {{ text | tojson }}, "template": {{ template | tojson }}, "id": {{ key | tojson }}}"#.into()
}

/// Outbound webhooks: the message as JSON, signed with HMAC-SHA256 over the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookDelivery {
    pub url: String,
    /// The environment variable holding the signing secret.
    pub secret_env: String,
}
