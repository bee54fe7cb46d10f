//! Live events in: a shop's orders and customers as they happen — Shopify's webhooks and
//! guanxi's signed event for any other platform — applied to the store and the lake in
//! one unit of work, once per delivery. The caller (the web) then wakes the scheduler,
//! so that a message an event makes due is queued within seconds, not at the next pass.
//!
//! A body is applied only once its signature is checked: the use cases take a
//! [`Verified`] body, which only the signature checks make.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use guanxi_import::events::{self, Event, PayloadError, PrivacyRequest, ShopifyEvent, ShopifyTopic};
/// The keys of Shopify's orders (`#1001`) and buyers (their e-mail, else mobile), as its
/// webhooks and its orders export name them.
pub use guanxi_import::events::{shopify_customer_key as customer_key, shopify_order_key as order_key};
use guanxi_import::{Loader, Summary};
use guanxi_store::ReceivedEvent;
use hmac::{KeyInit as _, Mac as _};

use crate::access::{self, Actor};
use crate::{AppError, Shop, privacy};

/// A request body whose signature was checked against the shop's secret.
#[derive(Debug, Clone, Copy)]
pub struct Verified<'a>(&'a [u8]);

impl<'a> Verified<'a> {
    /// Shopify's signature: `X-Shopify-Hmac-Sha256` is the base64 HMAC-SHA256 of the raw
    /// body under the app's secret, compared in constant time by the MAC.
    pub fn shopify(secret: &[u8], body: &'a [u8], header: &str) -> Option<Verified<'a>> {
        let given = base64::engine::general_purpose::STANDARD.decode(header.trim()).ok()?;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).ok()?;
        mac.update(body);
        mac.verify_slice(&given).ok()?;
        Some(Verified(body))
    }

    /// guanxi's signature, as its gateways' callbacks carry it: `X-Guanxi-Signature:
    /// sha256=<hex HMAC-SHA256 of the body>`.
    pub fn guanxi(secret: &[u8], body: &'a [u8], header: &str) -> Option<Verified<'a>> {
        guanxi_engage::signature_matches(secret, body, header).then_some(Verified(body))
    }
}

/// The `X-Shopify-Hmac-Sha256` Shopify would send with `body` (to test a shop's set-up,
/// and the tests').
pub fn shopify_signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// What a delivery did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Received {
    /// Applied: the order and the customer it wrote (their external ids), if any.
    Applied {
        order: Option<String>,
        customer: Option<String>,
    },
    /// This delivery was applied before: nothing was done.
    Repeated,
}

/// Live events are applied one at a time per process: the lake's appends and compaction
/// assume one writer.
static APPLYING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The longest delivery id taken.
const MAX_EVENT_ID: usize = 128;

fn bad(code: &'static str, message: impl Into<String>) -> AppError {
    AppError::BadInput {
        code,
        message: message.into(),
    }
}

fn payload(e: PayloadError) -> AppError {
    bad("event_payload", e.to_string())
}

/// Applies a Shopify webhook delivery of `topic` with delivery id `event_id`
/// (`X-Shopify-Event-Id`), received at `now`.
pub async fn shopify(
    shop: Shop<'_>,
    topic: &str,
    event_id: &str,
    body: Verified<'_>,
    now: DateTime<Utc>,
) -> Result<Received, AppError> {
    let parsed = ShopifyTopic::parse(topic).map_err(|m| bad("event_topic", format!("X-Shopify-Topic: {m}")))?;
    check_id("X-Shopify-Event-Id", event_id)?;
    let evidence = format!("Shopify webhook {topic} {event_id}");
    let event = events::shopify(parsed, body.0, &evidence, now).map_err(payload)?;
    let record = ReceivedEvent {
        source: "shopify".into(),
        event_id: event_id.to_string(),
        topic: topic.to_string(),
        received_at: now,
        order: match &event {
            ShopifyEvent::Order { order, platform_id, .. } => {
                Some((platform_id.clone(), order.key.external_id.clone()))
            }
            _ => None,
        },
    };
    // The coupon an order names may be one of ours it redeems.
    let codes: Vec<String> = match &event {
        ShopifyEvent::Order { order, .. } => order.coupon.iter().cloned().collect(),
        _ => Vec::new(),
    };
    let _one = APPLYING.lock().await;
    let mut loader = Loader::begin(shop.store, shop.lake, "event").await?;
    let mut s = Summary::default();
    let applied = async {
        if !loader.received(&record).await? {
            return Ok(None);
        }
        let mut out = (None, None);
        match event {
            ShopifyEvent::Order { order, buyer, .. } => {
                // Another instance applying an event to this order waits for this one.
                loader
                    .hold(&format!("order:{}:{}", order.key.source, order.key.external_id))
                    .await?;
                if let Some(buyer) = buyer {
                    let customer = overlaid(shop, *buyer).await?;
                    loader.customers(&[customer], &mut s).await?;
                }
                let order = match shop.store.order(&order.key).await? {
                    Some(known) => order.merged_with(&known.order),
                    None => *order,
                };
                out.0 = Some(order.key.external_id.clone());
                out.1 = order.customer.as_ref().map(|c| c.external_id.clone());
                loader.orders(&[order], &mut s).await?;
            }
            ShopifyEvent::Refund {
                platform_order_id,
                refund,
            } => {
                let name = shop.store.order_of_platform_id("shopify", &platform_order_id).await?;
                if let Some(name) = &name {
                    loader.hold(&format!("order:shopify:{name}")).await?;
                }
                let known = match name {
                    Some(name) => shop.store.order(&order_key(&name)).await?,
                    None => None,
                };
                // Refused with 409: Shopify retries, and by then the order has come.
                let Some(known) = known else {
                    return Err(AppError::Missing {
                        code: "event_order_unknown",
                        message: format!("order_id: no order {platform_order_id} has been received from Shopify yet"),
                    });
                };
                let mut order = known.order;
                refund
                    .apply(&mut order)
                    .map_err(|m| bad("event_payload", format!("body at `refund_line_items`: {m}")))?;
                out = (
                    Some(order.key.external_id.clone()),
                    order.customer.as_ref().map(|c| c.external_id.clone()),
                );
                loader.orders(&[order], &mut s).await?;
            }
            ShopifyEvent::Customer(customer) => {
                out.1 = Some(customer.key.external_id.clone());
                let customer = overlaid(shop, *customer).await?;
                loader.customers(&[customer], &mut s).await?;
            }
            ShopifyEvent::Privacy { customer, request } => {
                out.1 = customer.as_ref().map(|c| c.external_id.clone());
                return Ok(Some((out, Some((request, customer)))));
            }
            ShopifyEvent::ShopRedact => {}
        }
        Ok::<_, AppError>(Some((out, None)))
    }
    .await;
    let (out, privacy) = match applied {
        Ok(Some(done)) => done,
        Ok(None) => {
            loader.abort().await;
            return Ok(Received::Repeated);
        }
        Err(e) => {
            loader.abort().await;
            return Err(e);
        }
    };
    loader.commit_event(shop.lake).await?;
    crate::coupons::redeem_after_orders(shop.store, Some(&codes)).await;
    let by = Actor {
        name: "shopify".into(),
        origin: format!("webhook {event_id}"),
    };
    match privacy {
        Some((PrivacyRequest::Erase, Some(key))) => {
            if let Some(id) = shop.store.customer_id(&key).await? {
                privacy::erase(shop, id, &by).await?;
            }
        }
        Some((request, key)) => {
            let what = match request {
                PrivacyRequest::Export => "privacy.data_request",
                PrivacyRequest::Erase => "privacy.redact_unknown",
            };
            let subject = key.map_or("customer:unknown".into(), |k| format!("shopify:{}", k.external_id));
            access::record(
                shop.store,
                &by,
                what,
                subject,
                "asked through Shopify: run `guanxi privacy export` and send the file to the shop".into(),
            )
            .await?;
        }
        None if parsed == ShopifyTopic::ShopRedact => {
            access::record(
                shop.store,
                &by,
                "privacy.shop_redact",
                "shop".into(),
                "Shopify asks to erase the shop's data: the shop's own guanxi keeps it until its owner deletes the store".into(),
            )
            .await?;
        }
        None => {}
    }
    Ok(Received::Applied {
        order: out.0,
        customer: out.1,
    })
}

/// Applies a signed event (guanxi's own format, any platform).
pub async fn event(shop: Shop<'_>, body: Verified<'_>, now: DateTime<Utc>) -> Result<Received, AppError> {
    let event = Event::read(body.0).map_err(payload)?;
    let record = ReceivedEvent {
        source: event.source.as_str().to_string(),
        event_id: event.id.clone(),
        topic: event.kind.as_str().to_string(),
        received_at: now,
        order: None,
    };
    let _one = APPLYING.lock().await;
    let mut loader = Loader::begin(shop.store, shop.lake, "event").await?;
    let mut codes = Vec::new();
    let applied = async {
        if !loader.received(&record).await? {
            return Ok(None);
        }
        let key = event.order_key();
        loader
            .hold(&format!("order:{}:{}", key.source, key.external_id))
            .await?;
        let known = shop.store.order(&key).await?.map(|o| o.order);
        let order = event.apply(known.as_ref()).map_err(|e| {
            if known.is_none() && e.path == "order.lines" {
                // 409: the sender retries, and by then the order's first event has come.
                AppError::Missing {
                    code: "event_order_unknown",
                    message: e.to_string(),
                }
            } else {
                payload(e)
            }
        })?;
        let out = Received::Applied {
            order: Some(order.key.external_id.clone()),
            customer: order.customer.as_ref().map(|c| c.external_id.clone()),
        };
        codes.extend(order.coupon.clone());
        loader.orders(&[order], &mut Summary::default()).await?;
        Ok::<_, AppError>(Some(out))
    }
    .await;
    match applied {
        Ok(Some(out)) => {
            loader.commit_event(shop.lake).await?;
            crate::coupons::redeem_after_orders(shop.store, Some(&codes)).await;
            Ok(out)
        }
        Ok(None) => {
            loader.abort().await;
            Ok(Received::Repeated)
        }
        Err(e) => {
            loader.abort().await;
            Err(e)
        }
    }
}

fn check_id(field: &str, id: &str) -> Result<(), AppError> {
    if id.trim().is_empty() || id.len() > MAX_EVENT_ID || id.chars().any(char::is_control) {
        return Err(bad(
            "event_id",
            format!("{field}: expected a delivery id of 1 to {MAX_EVENT_ID} characters"),
        ));
    }
    Ok(())
}

/// The customer as known, updated by what the event says of them.
async fn overlaid(shop: Shop<'_>, newer: guanxi_domain::Customer) -> Result<guanxi_domain::Customer, AppError> {
    Ok(match shop.store.customer(&newer.key).await? {
        Some((_, mut known)) => {
            known.overlay(newer);
            known
        }
        None => newer,
    })
}
