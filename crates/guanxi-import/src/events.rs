//! Live events from shops, read into the domain: Shopify's webhook payloads (orders,
//! refunds, customers and the privacy topics) and guanxi's own event for any platform
//! (a Taobao/Tmall middleware, an ERP). Reading only: where an event goes — the store,
//! the lake, the scheduler — is the application's (`guanxi_app::events`).
//!
//! Shopify's orders are keyed as its orders export keys them (the order's `name`,
//! `#1001`; the buyer by e-mail, else mobile), so that a shop's exported history and its
//! live orders are one history.

use chrono::{DateTime, FixedOffset, Utc};
use guanxi_domain::{
    Cents, Channel, Consent, ConsentState, Contact, Customer, CustomerKey, Order, OrderKey, OrderLine, OrderStatus,
    Source, StatusTimes,
};
use serde::Deserialize;

use crate::formats::shopify::{buyer, status as shopify_status};

/// Why a payload cannot be read: where in the body (a JSON path, line and column) and
/// what was expected there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("body at `{path}`: {message}")]
pub struct PayloadError {
    /// The JSON path of the field (`line_items[0].price`; `.` for the whole body).
    pub path: String,
    pub message: String,
}

impl PayloadError {
    fn at(path: impl Into<String>, message: impl Into<String>) -> PayloadError {
        PayloadError {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Reads `body` as `T`, an error naming the field's path and the line and column.
fn read<'de, T: Deserialize<'de>>(body: &'de [u8]) -> Result<T, PayloadError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        PayloadError::at(path, e.into_inner().to_string())
    })?;
    de.end().map_err(|e| PayloadError::at(".", e.to_string()))?;
    Ok(value)
}

/// An amount as Shopify writes it: a decimal string (`"199.00"`), in a few places a number.
#[derive(Debug, Clone, Copy)]
struct Money(Cents);

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Money, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(serde_json::Number),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Text(t) => t,
            Raw::Number(n) => n.to_string(),
        };
        Cents::parse(&text)
            .map(Money)
            .map_err(|e| serde::de::Error::custom(format!("expected an amount like \"12.50\": {e}")))
    }
}

/// An id Shopify writes as a number (and some tools as a string).
#[derive(Debug, Clone, PartialEq, Eq)]
struct PlatformId(String);

impl<'de> Deserialize<'de> for PlatformId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<PlatformId, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(u64),
        }
        Ok(PlatformId(match Raw::deserialize(d)? {
            Raw::Text(t) => t,
            Raw::Number(n) => n.to_string(),
        }))
    }
}

/// A list Shopify may also send as `null`.
fn list<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// The Shopify topics guanxi takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShopifyTopic {
    OrdersCreate,
    OrdersUpdated,
    OrdersPaid,
    OrdersFulfilled,
    OrdersCancelled,
    RefundsCreate,
    CustomersCreate,
    CustomersUpdate,
    CustomersDataRequest,
    CustomersRedact,
    ShopRedact,
}

const TOPICS: [(&str, ShopifyTopic); 11] = [
    ("orders/create", ShopifyTopic::OrdersCreate),
    ("orders/updated", ShopifyTopic::OrdersUpdated),
    ("orders/paid", ShopifyTopic::OrdersPaid),
    ("orders/fulfilled", ShopifyTopic::OrdersFulfilled),
    ("orders/cancelled", ShopifyTopic::OrdersCancelled),
    ("refunds/create", ShopifyTopic::RefundsCreate),
    ("customers/create", ShopifyTopic::CustomersCreate),
    ("customers/update", ShopifyTopic::CustomersUpdate),
    ("customers/data_request", ShopifyTopic::CustomersDataRequest),
    ("customers/redact", ShopifyTopic::CustomersRedact),
    ("shop/redact", ShopifyTopic::ShopRedact),
];

impl ShopifyTopic {
    /// The topic of an `X-Shopify-Topic` header; the error lists the topics taken.
    pub fn parse(s: &str) -> Result<ShopifyTopic, String> {
        TOPICS
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                let names: Vec<&str> = TOPICS.iter().map(|(n, _)| *n).collect();
                format!("expected one of {}, found {s:?}", names.join(", "))
            })
    }

    pub fn as_str(self) -> &'static str {
        TOPICS
            .iter()
            .find(|(_, t)| *t == self)
            .map(|(n, _)| *n)
            .unwrap_or("unknown")
    }
}

/// What a Shopify delivery says.
#[derive(Debug, Clone, PartialEq)]
pub enum ShopifyEvent {
    /// The order as it now is, with Shopify's id of it and the buyer it names.
    Order {
        order: Box<Order>,
        platform_id: String,
        buyer: Option<Box<Customer>>,
    },
    /// A refund of the order Shopify knows by `platform_order_id`.
    Refund {
        platform_order_id: String,
        refund: Refund,
    },
    Customer(Box<Customer>),
    /// A customer asks for their data (`customers/data_request`) or for its erasure
    /// (`customers/redact`); `None` when the payload names no usable e-mail or phone.
    Privacy {
        request: PrivacyRequest,
        customer: Option<CustomerKey>,
    },
    /// The shop uninstalled the app 48 hours ago (`shop/redact`).
    ShopRedact,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivacyRequest {
    Export,
    Erase,
}

/// A refund: when, and how much of which lines (by SKU, else title).
#[derive(Debug, Clone, PartialEq)]
pub struct Refund {
    pub at: DateTime<Utc>,
    pub lines: Vec<RefundedLine>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RefundedLine {
    pub sku: Option<String>,
    pub title: Option<String>,
    pub amount: Cents,
}

impl Refund {
    /// Adds this refund to `order`'s lines (each line's refund at most what was paid for
    /// it) and its time; the order is refunded when every line is refunded in full.
    pub fn apply(&self, order: &mut Order) -> Result<(), String> {
        for r in &self.lines {
            let line = order
                .lines
                .iter_mut()
                .find(|l| {
                    (r.sku.is_some() && l.sku == r.sku) || (r.sku.is_none() && r.title.is_some() && l.title == r.title)
                })
                .ok_or_else(|| {
                    format!(
                        "the refund names a line ({}) the order {} does not have",
                        r.sku
                            .as_deref()
                            .or(r.title.as_deref())
                            .unwrap_or("without SKU or title"),
                        order.key.external_id
                    )
                })?;
            line.refund = Cents((line.refund.0 + r.amount.0).min(line.amount.0));
        }
        order.times.refunded_at = Some(order.times.refunded_at.map_or(self.at, |t| t.max(self.at)));
        if order.status.is_paid() && order.lines.iter().all(|l| l.refund >= l.amount) {
            order.status = OrderStatus::Refunded;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct SOrder {
    id: PlatformId,
    name: String,
    email: Option<String>,
    phone: Option<String>,
    created_at: DateTime<FixedOffset>,
    updated_at: Option<DateTime<FixedOffset>>,
    processed_at: Option<DateTime<FixedOffset>>,
    cancelled_at: Option<DateTime<FixedOffset>>,
    financial_status: Option<String>,
    fulfillment_status: Option<String>,
    currency: Option<String>,
    #[serde(default, deserialize_with = "list")]
    discount_codes: Vec<SCode>,
    #[serde(default, deserialize_with = "list")]
    shipping_lines: Vec<SShipping>,
    shipping_address: Option<SAddress>,
    billing_address: Option<SAddress>,
    customer: Option<SCustomer>,
    #[serde(default, deserialize_with = "list")]
    line_items: Vec<SLine>,
    #[serde(default, deserialize_with = "list")]
    refunds: Vec<SRefund>,
    #[serde(default, deserialize_with = "list")]
    fulfillments: Vec<SFulfillment>,
}

#[derive(Deserialize)]
struct SCode {
    code: Option<String>,
}

#[derive(Deserialize)]
struct SShipping {
    price: Option<Money>,
}

#[derive(Deserialize)]
struct SAddress {
    city: Option<String>,
    province: Option<String>,
}

#[derive(Deserialize)]
struct SLine {
    id: Option<PlatformId>,
    sku: Option<String>,
    title: Option<String>,
    name: Option<String>,
    quantity: u32,
    price: Money,
    total_discount: Option<Money>,
    #[serde(default, deserialize_with = "list")]
    discount_allocations: Vec<SAllocation>,
}

#[derive(Deserialize)]
struct SAllocation {
    amount: Money,
}

#[derive(Deserialize)]
struct SRefund {
    order_id: Option<PlatformId>,
    created_at: DateTime<FixedOffset>,
    #[serde(default, deserialize_with = "list")]
    refund_line_items: Vec<SRefundLine>,
}

#[derive(Deserialize)]
struct SRefundLine {
    line_item_id: Option<PlatformId>,
    subtotal: Option<Money>,
    line_item: Option<SRefundItem>,
}

#[derive(Deserialize)]
struct SRefundItem {
    sku: Option<String>,
    title: Option<String>,
}

#[derive(Deserialize)]
struct SFulfillment {
    created_at: Option<DateTime<FixedOffset>>,
}

#[derive(Deserialize)]
struct SCustomer {
    email: Option<String>,
    phone: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    tags: Option<String>,
    email_marketing_consent: Option<SConsent>,
    sms_marketing_consent: Option<SConsent>,
    default_address: Option<SAddress>,
    created_at: Option<DateTime<FixedOffset>>,
    updated_at: Option<DateTime<FixedOffset>>,
}

#[derive(Deserialize)]
struct SConsent {
    state: Option<String>,
    consent_updated_at: Option<DateTime<FixedOffset>>,
}

#[derive(Deserialize)]
struct SPrivacy {
    customer: Option<SPerson>,
}

#[derive(Deserialize)]
struct SPerson {
    email: Option<String>,
    phone: Option<String>,
}

fn utc(t: DateTime<FixedOffset>) -> DateTime<Utc> {
    t.with_timezone(&Utc)
}

fn shopify_source() -> Source {
    Source::parse("shopify").expect("a valid source")
}

/// The key of the Shopify order named `name` (`#1001`).
pub fn shopify_order_key(name: &str) -> OrderKey {
    OrderKey {
        source: shopify_source(),
        external_id: name.to_string(),
    }
}

/// The key of the Shopify buyer known by `id` (the e-mail lower-cased, else the mobile).
pub fn shopify_customer_key(id: &str) -> CustomerKey {
    CustomerKey {
        source: shopify_source(),
        external_id: id.to_string(),
    }
}

/// Reads a Shopify delivery of `topic`. `evidence` names the delivery (consents record
/// where they came from); `received_at` stands for times the payload does not carry.
pub fn shopify(
    topic: ShopifyTopic,
    body: &[u8],
    evidence: &str,
    received_at: DateTime<Utc>,
) -> Result<ShopifyEvent, PayloadError> {
    use ShopifyTopic as T;
    match topic {
        T::OrdersCreate | T::OrdersUpdated | T::OrdersPaid | T::OrdersFulfilled | T::OrdersCancelled => {
            shopify_order(read(body)?, evidence, received_at)
        }
        T::RefundsCreate => {
            let r: SRefund = read(body)?;
            let platform_order_id = r
                .order_id
                .clone()
                .ok_or_else(|| PayloadError::at("order_id", "the refund's order id is required"))?
                .0;
            let lines = r
                .refund_line_items
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let item = l.line_item.as_ref().ok_or_else(|| {
                        PayloadError::at(
                            format!("refund_line_items[{i}].line_item"),
                            "the refunded line item is required",
                        )
                    })?;
                    Ok(RefundedLine {
                        sku: item.sku.clone().filter(|s| !s.is_empty()),
                        title: item.title.clone(),
                        amount: l.subtotal.map_or(Cents::ZERO, |m| m.0),
                    })
                })
                .collect::<Result<Vec<_>, PayloadError>>()?;
            Ok(ShopifyEvent::Refund {
                platform_order_id,
                refund: Refund {
                    at: utc(r.created_at),
                    lines,
                },
            })
        }
        T::CustomersCreate | T::CustomersUpdate => {
            let c: SCustomer = read(body)?;
            let customer = shopify_customer(c, None, evidence, received_at)
                .ok_or_else(|| PayloadError::at("email", "an e-mail or a phone is needed to know the customer"))?;
            Ok(ShopifyEvent::Customer(Box::new(customer)))
        }
        T::CustomersDataRequest | T::CustomersRedact => {
            let p: SPrivacy = read(body)?;
            let customer = p
                .customer
                .and_then(|c| buyer(c.email.as_deref(), c.phone.as_deref()))
                .map(|external_id| CustomerKey {
                    source: shopify_source(),
                    external_id,
                });
            let request = if topic == T::CustomersRedact {
                PrivacyRequest::Erase
            } else {
                PrivacyRequest::Export
            };
            Ok(ShopifyEvent::Privacy { request, customer })
        }
        T::ShopRedact => {
            let _: serde_json::Value = read(body)?;
            Ok(ShopifyEvent::ShopRedact)
        }
    }
}

fn shopify_order(o: SOrder, evidence: &str, received_at: DateTime<Utc>) -> Result<ShopifyEvent, PayloadError> {
    if o.name.trim().is_empty() || o.name.len() > 128 {
        return Err(PayloadError::at(
            "name",
            "expected the order's name (#1001), 1 to 128 characters",
        ));
    }
    let financial = o.financial_status.as_deref().unwrap_or("pending");
    let fulfilled = o
        .fulfillment_status
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case("fulfilled"));
    let status = shopify_status(financial, fulfilled, o.cancelled_at.is_some())
        .map_err(|e| PayloadError::at("financial_status", e))?;
    // The payload carries no payment time: the update that reports the order paid is
    // when it was (an order paid at checkout is created and updated at once); a payment
    // time known from an earlier delivery is kept (`Order::merged_with`).
    let changed_at = o.updated_at.or(o.processed_at).map_or(received_at, utc);
    let mut lines = Vec::with_capacity(o.line_items.len());
    for (i, l) in o.line_items.iter().enumerate() {
        let at = |field: &str| format!("line_items[{i}].{field}");
        let gross = l
            .price
            .0
            .times(i64::from(l.quantity))
            .ok_or_else(|| PayloadError::at(at("quantity"), "quantity × price is more than any order"))?;
        let discount = if l.discount_allocations.is_empty() {
            l.total_discount.map_or(Cents::ZERO, |m| m.0)
        } else {
            l.discount_allocations.iter().map(|a| a.amount.0).sum()
        };
        if discount > gross || discount < Cents::ZERO {
            return Err(PayloadError::at(
                at("discount_allocations"),
                format!("a discount of {discount} on a line of {gross}"),
            ));
        }
        lines.push(OrderLine {
            sku: l.sku.clone().filter(|s| !s.is_empty()),
            title: l.title.clone().or_else(|| l.name.clone()),
            category: None,
            quantity: l.quantity,
            amount: gross - discount,
            discount,
            cost: None,
            refund: Cents::ZERO,
        });
    }
    let mut refunded_at = None;
    for (r, refund) in o.refunds.iter().enumerate() {
        for (k, rl) in refund.refund_line_items.iter().enumerate() {
            let index = o
                .line_items
                .iter()
                .position(|l| l.id.is_some() && l.id == rl.line_item_id)
                .ok_or_else(|| {
                    PayloadError::at(
                        format!("refunds[{r}].refund_line_items[{k}].line_item_id"),
                        "expected the id of one of the order's line items",
                    )
                })?;
            let line = &mut lines[index];
            let amount = rl.subtotal.map_or(Cents::ZERO, |m| m.0);
            line.refund = Cents((line.refund.0 + amount.0).clamp(0, line.amount.0));
        }
        let at = utc(refund.created_at);
        refunded_at = Some(refunded_at.map_or(at, |t: DateTime<Utc>| t.max(at)));
    }
    let address = o.shipping_address.as_ref().or(o.billing_address.as_ref());
    let customer_id = buyer(
        o.email
            .as_deref()
            .or(o.customer.as_ref().and_then(|c| c.email.as_deref())),
        o.phone
            .as_deref()
            .or(o.customer.as_ref().and_then(|c| c.phone.as_deref())),
    );
    let customer_key = customer_id.map(|external_id| CustomerKey {
        source: shopify_source(),
        external_id,
    });
    let buyer = match (o.customer, &customer_key) {
        (Some(c), Some(key)) => shopify_customer(c, Some(key.clone()), evidence, received_at).map(Box::new),
        _ => None,
    };
    let order = Order {
        key: OrderKey {
            source: shopify_source(),
            external_id: o.name.trim().to_string(),
        },
        customer: customer_key,
        status,
        created_at: utc(o.created_at),
        times: StatusTimes {
            paid_at: status.is_paid().then_some(changed_at),
            shipped_at: fulfilled.then(|| {
                o.fulfillments
                    .iter()
                    .filter_map(|f| f.created_at)
                    .map(utc)
                    .min()
                    .unwrap_or(changed_at)
            }),
            closed_at: o.cancelled_at.map(utc),
            refunded_at,
            ..Default::default()
        },
        shipping_fee: o.shipping_lines.iter().filter_map(|s| s.price).map(|m| m.0).sum(),
        currency: o.currency,
        coupon: o.discount_codes.into_iter().find_map(|c| c.code),
        campaign: None,
        province: address.and_then(|a| a.province.clone()),
        city: address.and_then(|a| a.city.clone()),
        lines,
    };
    Ok(ShopifyEvent::Order {
        order: Box::new(order),
        platform_id: o.id.0,
        buyer,
    })
}

/// The consent a Shopify marketing state records, when it records one: `subscribed` is a
/// grant, `unsubscribed` and `redacted` a refusal; `not_subscribed`, `pending` (double
/// opt-in not confirmed) and `invalid` leave the channel as it was.
fn consent_state(state: &str) -> Option<ConsentState> {
    match state.to_ascii_lowercase().as_str() {
        "subscribed" => Some(ConsentState::Granted),
        "unsubscribed" | "redacted" => Some(ConsentState::Denied),
        _ => None,
    }
}

fn shopify_customer(
    c: SCustomer,
    key: Option<CustomerKey>,
    evidence: &str,
    received_at: DateTime<Utc>,
) -> Option<Customer> {
    let key = match key {
        Some(k) => k,
        None => CustomerKey {
            source: shopify_source(),
            external_id: buyer(c.email.as_deref(), c.phone.as_deref())?,
        },
    };
    let mut out = Customer::bare(key);
    let name = [c.first_name.as_deref(), c.last_name.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    out.name = (!name.is_empty()).then_some(name);
    out.email = c.email.as_deref().filter(|e| !e.trim().is_empty()).map(Contact::email);
    if let Some(p) = c.phone.as_deref().filter(|p| !p.trim().is_empty()) {
        out.phone = Some(p.to_string());
        out.mobile = Some(Contact::mobile(p));
    }
    if let Some(a) = &c.default_address {
        out.city = a.city.clone();
        out.province = a.province.clone();
    }
    out.first_seen_at = c.created_at.map(utc);
    out.tags = crate::formats::tags(c.tags.as_deref(), &[',']);
    let updated = c.updated_at.map_or(received_at, utc);
    for (consent, channel) in [
        (c.email_marketing_consent, Channel::Email),
        (c.sms_marketing_consent, Channel::Sms),
    ] {
        let Some(consent) = consent else { continue };
        if let Some(state) = consent.state.as_deref().and_then(consent_state) {
            out.consents.push(Consent {
                channel,
                state,
                recorded_at: consent.consent_updated_at.map_or(updated, utc),
                evidence: evidence.to_string(),
            });
        }
    }
    Some(out)
}

/// guanxi's own event, for platforms without webhooks of their own (a Taobao/Tmall
/// middleware, an ERP): one step of an order, with the sender's ids.
///
/// ```json
/// {"id": "evt-1", "source": "taobao", "type": "order.paid", "at": "2026-11-11T00:05:00+08:00",
///  "order": {"id": "T1001", "customer": "buyer-1", "lines": [{"sku": "A", "quantity": 1, "amount": "99.00"}]}}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// The sender's id of this event: a repeat of it is applied once.
    pub id: String,
    pub source: Source,
    #[serde(rename = "type")]
    pub kind: EventKind,
    pub at: DateTime<FixedOffset>,
    pub order: EventOrder,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum EventKind {
    #[serde(rename = "order.created")]
    Created,
    #[serde(rename = "order.paid")]
    Paid,
    #[serde(rename = "order.shipped")]
    Shipped,
    #[serde(rename = "order.arrived")]
    Arrived,
    #[serde(rename = "order.signed")]
    Signed,
    #[serde(rename = "order.completed")]
    Completed,
    #[serde(rename = "order.closed")]
    Closed,
    #[serde(rename = "order.refunded")]
    Refunded,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "order.created",
            EventKind::Paid => "order.paid",
            EventKind::Shipped => "order.shipped",
            EventKind::Arrived => "order.arrived",
            EventKind::Signed => "order.signed",
            EventKind::Completed => "order.completed",
            EventKind::Closed => "order.closed",
            EventKind::Refunded => "order.refunded",
        }
    }

    fn status(self) -> OrderStatus {
        match self {
            EventKind::Created => OrderStatus::Created,
            EventKind::Paid => OrderStatus::Paid,
            EventKind::Shipped => OrderStatus::Shipped,
            EventKind::Arrived => OrderStatus::Arrived,
            EventKind::Signed => OrderStatus::Signed,
            EventKind::Completed => OrderStatus::Completed,
            EventKind::Closed => OrderStatus::Closed,
            EventKind::Refunded => OrderStatus::Refunded,
        }
    }
}

/// The order an event is about: its id, and its content when the event is the first the
/// sender tells (the buyer, the lines).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventOrder {
    pub id: String,
    #[serde(default)]
    pub customer: Option<String>,
    #[serde(default)]
    pub lines: Option<Vec<EventLine>>,
    #[serde(default)]
    pub shipping_fee: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub coupon: Option<String>,
    #[serde(default)]
    pub campaign: Option<String>,
    #[serde(default)]
    pub province: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventLine {
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default = "one")]
    pub quantity: u32,
    /// Paid for the line, after its discount: a decimal string.
    pub amount: String,
    #[serde(default)]
    pub discount: Option<String>,
    #[serde(default)]
    pub cost: Option<String>,
}

fn one() -> u32 {
    1
}

/// The most characters an id in an event may have.
const MAX_ID: usize = 128;

impl Event {
    /// Reads a signed event's body.
    pub fn read(body: &[u8]) -> Result<Event, PayloadError> {
        let e: Event = read(body)?;
        for (path, id) in [("id", &e.id), ("order.id", &e.order.id)] {
            if id.trim().is_empty() || id.len() > MAX_ID {
                return Err(PayloadError::at(
                    path,
                    format!("expected an id of 1 to {MAX_ID} characters"),
                ));
            }
        }
        if let Some(c) = &e.order.customer
            && (c.trim().is_empty() || c.len() > MAX_ID)
        {
            return Err(PayloadError::at(
                "order.customer",
                format!("expected a customer id of 1 to {MAX_ID} characters"),
            ));
        }
        Ok(e)
    }

    pub fn order_key(&self) -> OrderKey {
        OrderKey {
            source: self.source.clone(),
            external_id: self.order.id.trim().to_string(),
        }
    }

    /// The order after this event, from what was `known` of it: the event's status and
    /// its time, merged so that a late event never moves the order back. An order not
    /// known yet needs the event to carry its lines.
    pub fn apply(&self, known: Option<&Order>) -> Result<Order, PayloadError> {
        let at = utc(self.at);
        let mut report = match (&self.order.lines, known) {
            (Some(_), _) => self.content()?,
            (None, Some(k)) => k.clone(),
            (None, None) => {
                return Err(PayloadError::at(
                    "order.lines",
                    format!(
                        "order {} is not known yet: its first event must carry its lines",
                        self.order.id
                    ),
                ));
            }
        };
        report.status = self.kind.status();
        let t = &mut report.times;
        match self.kind {
            EventKind::Created => report.created_at = at,
            EventKind::Paid => t.paid_at = Some(at),
            EventKind::Shipped => t.shipped_at = Some(at),
            EventKind::Arrived => t.arrived_at = Some(at),
            EventKind::Signed => t.signed_at = Some(at),
            EventKind::Completed => t.completed_at = Some(at),
            EventKind::Closed => t.closed_at = Some(at),
            EventKind::Refunded => {
                t.refunded_at = Some(at);
                for l in &mut report.lines {
                    l.refund = l.amount;
                }
            }
        }
        Ok(match known {
            Some(k) => report.merged_with(k),
            None => report,
        })
    }

    /// The order as this event describes it (status and times set by [`Event::apply`]).
    fn content(&self) -> Result<Order, PayloadError> {
        let money = |path: String, text: &str| {
            Cents::parse(text).map_err(|e| PayloadError::at(path, format!("expected an amount like \"12.50\": {e}")))
        };
        let mut lines = Vec::new();
        for (i, l) in self.order.lines.iter().flatten().enumerate() {
            let amount = money(format!("order.lines[{i}].amount"), &l.amount)?;
            let discount = match &l.discount {
                Some(d) => money(format!("order.lines[{i}].discount"), d)?,
                None => Cents::ZERO,
            };
            let cost = match &l.cost {
                Some(c) => Some(money(format!("order.lines[{i}].cost"), c)?),
                None => None,
            };
            lines.push(OrderLine {
                sku: l.sku.clone(),
                title: l.title.clone(),
                category: l.category.clone(),
                quantity: l.quantity,
                amount,
                discount,
                cost,
                refund: Cents::ZERO,
            });
        }
        let shipping_fee = match &self.order.shipping_fee {
            Some(s) => money("order.shipping_fee".into(), s)?,
            None => Cents::ZERO,
        };
        Ok(Order {
            key: self.order_key(),
            customer: self.order.customer.as_ref().map(|c| CustomerKey {
                source: self.source.clone(),
                external_id: c.trim().to_string(),
            }),
            status: OrderStatus::Created,
            created_at: utc(self.at),
            times: StatusTimes::default(),
            shipping_fee,
            currency: self.order.currency.clone(),
            coupon: self.order.coupon.clone(),
            campaign: self.order.campaign.clone(),
            province: self.order.province.clone(),
            city: self.order.city.clone(),
            lines,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER: &str = include_str!("../tests/data/shopify-webhooks/orders-create.json");

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-29T10:00:00Z").unwrap().to_utc()
    }

    #[test]
    fn a_shopify_order_reads_as_its_export_would_key_it() {
        let ShopifyEvent::Order {
            order,
            platform_id,
            buyer,
        } = shopify(ShopifyTopic::OrdersCreate, ORDER.as_bytes(), "test", at()).unwrap()
        else {
            panic!("an order");
        };
        assert_eq!(platform_id, "820982911946154508");
        assert_eq!(order.key.external_id, "#9999");
        assert_eq!(order.status, OrderStatus::Created);
        assert_eq!(order.times.paid_at, None);
        let customer = order.customer.clone().unwrap();
        assert_eq!(
            customer.external_id, "jon@example.com",
            "e-mail lower-cased, as the export's"
        );
        assert_eq!(order.lines.len(), 2);
        assert_eq!(order.lines[0].amount, Cents(19900 - 500));
        assert_eq!(order.lines[0].discount, Cents(500));
        assert_eq!(order.lines[1].amount, Cents(2 * 10000));
        assert_eq!(order.shipping_fee, Cents(1000));
        assert_eq!(order.coupon.as_deref(), Some("TENOFF"));
        assert_eq!(order.city.as_deref(), Some("Ottawa"));
        let buyer = buyer.unwrap();
        assert_eq!(buyer.name.as_deref(), Some("Jon Snow"));
        assert_eq!(
            buyer.consents.len(),
            1,
            "email subscribed; sms not_subscribed records nothing"
        );
        assert_eq!(buyer.consents[0].state, ConsentState::Granted);
    }

    #[test]
    fn a_bad_field_is_named_by_its_path() {
        let bad = ORDER.replacen("\"199.00\"", "\"19,9\"", 1);
        let e = shopify(ShopifyTopic::OrdersCreate, bad.as_bytes(), "test", at()).unwrap_err();
        assert_eq!(e.path, "line_items[0].price");
        assert!(e.message.contains("12.50"), "{e}");
        let e = shopify(ShopifyTopic::OrdersPaid, b"{\"id\": 1}", "test", at()).unwrap_err();
        assert!(e.message.contains("name"), "{e}");
        let deep = "[".repeat(10_000);
        assert!(shopify(ShopifyTopic::OrdersPaid, deep.as_bytes(), "test", at()).is_err());
        assert!(
            ShopifyTopic::parse("orders/delete")
                .unwrap_err()
                .contains("orders/create")
        );
    }

    #[test]
    fn a_refund_is_added_to_its_line_and_a_full_one_refunds_the_order() {
        let ShopifyEvent::Order { mut order, .. } =
            shopify(ShopifyTopic::OrdersCreate, ORDER.as_bytes(), "test", at()).unwrap()
        else {
            panic!("an order");
        };
        order.status = OrderStatus::Paid;
        let refund = |sku: &str, cents| Refund {
            at: at(),
            lines: vec![RefundedLine {
                sku: Some(sku.into()),
                title: None,
                amount: Cents(cents),
            }],
        };
        refund("IPOD2008RED", 5000).apply(&mut order).unwrap();
        assert_eq!(order.lines[0].refund, Cents(5000));
        assert_eq!(order.status, OrderStatus::Paid);
        assert!(refund("NOPE", 1).apply(&mut order).unwrap_err().contains("NOPE"));
        refund("IPOD2008RED", 1_000_000).apply(&mut order).unwrap();
        refund("CASE", 20000).apply(&mut order).unwrap();
        assert_eq!(order.lines[0].refund, order.lines[0].amount, "never more than paid");
        assert_eq!(order.status, OrderStatus::Refunded);
        assert_eq!(order.times.refunded_at, Some(at()));
    }

    #[test]
    fn a_signed_event_creates_then_moves_an_order() {
        let created = br#"{"id": "e1", "source": "taobao", "type": "order.created", "at": "2026-11-11T00:05:00+08:00",
            "order": {"id": "T1", "customer": "buyer-1", "lines": [{"sku": "A", "amount": "99.00"}]}}"#;
        let e = Event::read(created).unwrap();
        let order = e.apply(None).unwrap();
        assert_eq!(order.status, OrderStatus::Created);
        assert_eq!(order.created_at.to_rfc3339(), "2026-11-10T16:05:00+00:00");
        assert_eq!(order.lines[0].amount, Cents(9900));
        let paid = br#"{"id": "e2", "source": "taobao", "type": "order.paid", "at": "2026-11-11T00:20:00+08:00", "order": {"id": "T1"}}"#;
        let paid_order = Event::read(paid).unwrap().apply(Some(&order)).unwrap();
        assert_eq!(paid_order.status, OrderStatus::Paid);
        assert_eq!(paid_order.lines, order.lines);
        // A late `created` does not undo the payment.
        let again = e.apply(Some(&paid_order)).unwrap();
        assert_eq!(again.status, OrderStatus::Paid);
        // An event about an order not known, without its lines: refused, saying why.
        let err = Event::read(paid).unwrap().apply(None).unwrap_err();
        assert_eq!(err.path, "order.lines");
        // Unknown fields and types are refused where they are.
        let err = Event::read(br#"{"id": "e3", "source": "taobao", "type": "order.lost", "at": "2026-11-11T00:20:00+08:00", "order": {"id": "T1"}}"#).unwrap_err();
        assert_eq!(err.path, "type");
        let err = Event::read(br#"{"id": "e3", "source": "Tao Bao", "type": "order.paid", "at": "2026-11-11T00:20:00+08:00", "order": {"id": "T1"}}"#).unwrap_err();
        assert_eq!(err.path, "source");
    }
}
