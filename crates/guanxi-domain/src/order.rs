//! Orders (订单): status with a timestamp per status, money, and lines.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Cents, CustomerKey, Fingerprint, Source};

names! {
    /// Where an order stands. The normal path is created → paid → shipped → arrived (in
    /// the receiver's city) → signed → completed; an order may instead be closed
    /// (cancelled or never paid) or refunded (in part or in full).
    pub enum OrderStatus {
        Created = "created",
        Paid = "paid",
        Shipped = "shipped",
        Arrived = "arrived",
        Signed = "signed",
        Completed = "completed",
        Closed = "closed",
        Refunded = "refunded",
    }
}

impl OrderStatus {
    /// How far along its path an order is: created, then paid, shipped, arrived, signed,
    /// completed; closed and refunded end it.
    fn progress(self) -> u8 {
        match self {
            OrderStatus::Created => 0,
            OrderStatus::Paid => 1,
            OrderStatus::Shipped => 2,
            OrderStatus::Arrived => 3,
            OrderStatus::Signed => 4,
            OrderStatus::Completed => 5,
            OrderStatus::Closed | OrderStatus::Refunded => 6,
        }
    }

    /// Whether the customer paid: the orders that count as purchases in every measure.
    /// A refunded order was paid; its refund is subtracted from profit, not the purchase.
    pub fn is_paid(self) -> bool {
        !matches!(self, OrderStatus::Created | OrderStatus::Closed)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OrderKey {
    pub source: Source,
    pub external_id: String,
}

/// When the order reached each status; `None` where it did not (or the export is silent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusTimes {
    pub paid_at: Option<DateTime<Utc>>,
    pub shipped_at: Option<DateTime<Utc>>,
    pub arrived_at: Option<DateTime<Utc>>,
    pub signed_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub refunded_at: Option<DateTime<Utc>>,
}

impl StatusTimes {
    pub fn all(&self) -> [Option<DateTime<Utc>>; 7] {
        [
            self.paid_at,
            self.shipped_at,
            self.arrived_at,
            self.signed_at,
            self.completed_at,
            self.closed_at,
            self.refunded_at,
        ]
    }
}

/// One line of an order: what was bought, at what price and cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub sku: Option<String>,
    pub title: Option<String>,
    pub category: Option<String>,
    pub quantity: u32,
    /// What the customer paid for this line, after its discount.
    pub amount: Cents,
    /// The discount granted on this line.
    pub discount: Cents,
    /// The shop's cost of the goods on this line, when known; profit needs it.
    pub cost: Option<Cents>,
    /// How much of this line was refunded.
    pub refund: Cents,
}

/// An order with its lines, as imported. Money fields are derived from the lines where
/// they can be, so that they cannot disagree: see [`Order::goods`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub key: OrderKey,
    /// The buyer; `None` for a guest order, whose buyer the export does not identify (a
    /// Shopify order without e-mail or phone, a log line without a customer id, a report
    /// without buyer columns). Guest orders count in the shop's order figures, never in
    /// a customer's profile.
    pub customer: Option<CustomerKey>,
    pub status: OrderStatus,
    pub created_at: DateTime<Utc>,
    pub times: StatusTimes,
    pub shipping_fee: Cents,
    /// An ISO 4217 code when the export names one (Shopify); the shop's currency otherwise.
    pub currency: Option<String>,
    pub coupon: Option<String>,
    pub campaign: Option<String>,
    pub province: Option<String>,
    pub city: Option<String>,
    pub lines: Vec<OrderLine>,
}

impl Order {
    /// Paid for goods: the sum of the lines' amounts.
    pub fn goods(&self) -> Cents {
        self.lines.iter().map(|l| l.amount).sum()
    }

    /// What the customer paid in all: goods plus shipping (zero if never paid).
    pub fn paid(&self) -> Cents {
        if self.status.is_paid() {
            self.goods() + self.shipping_fee
        } else {
            Cents::ZERO
        }
    }

    pub fn discount(&self) -> Cents {
        self.lines.iter().map(|l| l.discount).sum()
    }

    pub fn refund(&self) -> Cents {
        self.lines.iter().map(|l| l.refund).sum()
    }

    /// This report of the order merged with what was `known` of it before. Live events
    /// arrive out of order and are retried (an `orders/create` may come after the
    /// `orders/paid`): a report that is behind the known status changes nothing but the
    /// times it adds; otherwise it replaces the order, keeping the known status times it
    /// does not carry (an `orders/fulfilled` payload need not repeat when it was paid).
    pub fn merged_with(self, known: &Order) -> Order {
        let (mut out, other) = if self.status.progress() < known.status.progress() {
            (known.clone(), self.times)
        } else {
            let times = known.times.clone();
            (self, times)
        };
        let t = &mut out.times;
        for (mine, theirs) in [
            (&mut t.paid_at, other.paid_at),
            (&mut t.shipped_at, other.shipped_at),
            (&mut t.arrived_at, other.arrived_at),
            (&mut t.signed_at, other.signed_at),
            (&mut t.completed_at, other.completed_at),
            (&mut t.closed_at, other.closed_at),
            (&mut t.refunded_at, other.refunded_at),
        ] {
            if mine.is_none() {
                *mine = theirs;
            }
        }
        out
    }

    /// The content hash a store keeps to recognise an unchanged re-import.
    pub fn fingerprint(&self) -> i64 {
        let mut f = Fingerprint::new();
        f.str(self.key.source.as_str()).str(&self.key.external_id);
        match &self.customer {
            Some(c) => f.str(c.source.as_str()).str(&c.external_id),
            // No source is empty, so this is no buyer's encoding.
            None => f.str("").str(""),
        };
        f.str(self.status.as_str()).i64(self.created_at.timestamp_micros());
        for t in self.times.all() {
            f.opt_i64(t.map(|t| t.timestamp_micros()));
        }
        f.i64(self.shipping_fee.0);
        for s in [&self.currency, &self.coupon, &self.campaign, &self.province, &self.city] {
            f.opt_str(s.as_deref());
        }
        for l in &self.lines {
            f.opt_str(l.sku.as_deref())
                .opt_str(l.title.as_deref())
                .opt_str(l.category.as_deref())
                .i64(i64::from(l.quantity))
                .i64(l.amount.0)
                .i64(l.discount.0)
                .opt_i64(l.cost.map(|c| c.0))
                .i64(l.refund.0);
        }
        f.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> Order {
        let src = Source::parse("demo").unwrap();
        Order {
            key: OrderKey {
                source: src.clone(),
                external_id: "o1".into(),
            },
            customer: Some(CustomerKey {
                source: src,
                external_id: "c1".into(),
            }),
            status: OrderStatus::Paid,
            created_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            times: StatusTimes::default(),
            shipping_fee: Cents(1000),
            currency: None,
            coupon: None,
            campaign: None,
            province: None,
            city: None,
            lines: vec![OrderLine {
                sku: None,
                title: Some("纸尿裤".into()),
                category: Some("diapers".into()),
                quantity: 2,
                amount: Cents(25000),
                discount: Cents(0),
                cost: Some(Cents(15000)),
                refund: Cents(0),
            }],
        }
    }

    #[test]
    fn a_late_report_never_moves_an_order_back_and_known_times_stay() {
        let t = |s: i64| DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap();
        let mut created = order();
        created.status = OrderStatus::Created;
        created.times = StatusTimes::default();
        let mut paid = order();
        paid.times.paid_at = Some(t(60));
        // In order: the paid report replaces the created one.
        let merged = paid.clone().merged_with(&created);
        assert_eq!(merged, paid);
        // Out of order: a retried `created` after `paid` keeps the order paid.
        let merged = created.clone().merged_with(&paid);
        assert_eq!(merged.status, OrderStatus::Paid);
        assert_eq!(merged.times.paid_at, Some(t(60)));
        // A shipped report without the payment time keeps the known one.
        let mut shipped = order();
        shipped.status = OrderStatus::Shipped;
        shipped.times = StatusTimes {
            shipped_at: Some(t(3600)),
            ..Default::default()
        };
        let merged = shipped.merged_with(&paid);
        assert_eq!(merged.status, OrderStatus::Shipped);
        assert_eq!(merged.times.paid_at, Some(t(60)));
        assert_eq!(merged.times.shipped_at, Some(t(3600)));
        // A stale report still adds a time the known order lacks.
        let mut closed = created.clone();
        closed.status = OrderStatus::Closed;
        closed.times.closed_at = Some(t(7200));
        let mut stale = created;
        stale.times.paid_at = None;
        stale.times.refunded_at = Some(t(9000));
        let merged = stale.merged_with(&closed);
        assert_eq!(merged.status, OrderStatus::Closed);
        assert_eq!(merged.times.refunded_at, Some(t(9000)));
    }

    #[test]
    fn paid_includes_shipping_only_when_paid() {
        let mut o = order();
        assert_eq!(o.paid(), Cents(26000));
        o.status = OrderStatus::Closed;
        assert_eq!(o.paid(), Cents::ZERO);
    }

    #[test]
    fn fingerprint_sees_every_change() {
        let a = order();
        let mut b = a.clone();
        assert_eq!(a.fingerprint(), b.fingerprint());
        b.lines[0].quantity = 3;
        assert_ne!(a.fingerprint(), b.fingerprint());
        let mut c = a.clone();
        c.times.signed_at = Some(c.created_at);
        assert_ne!(a.fingerprint(), c.fingerprint());
        let mut guest = a.clone();
        guest.customer = None;
        assert_ne!(a.fingerprint(), guest.fingerprint());
    }

    #[test]
    fn status_names_round_trip() {
        for s in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(s.as_str()), Ok(*s));
        }
        assert!(OrderStatus::parse("lost").is_err());
    }
}
