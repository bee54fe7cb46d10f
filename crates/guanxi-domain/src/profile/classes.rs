//! The per-customer classes of docs/domain.md §3, each with the rule and the figures that
//! placed the customer there.

use serde::{Deserialize, Serialize};

use super::{Measures, Settings};
use crate::Cents;

names! {
    /// Relationship type 按客户与店铺的关系 (§3.1).
    pub enum Relationship {
        NonCustomer = "non-customer",
        Potential = "potential",
        Target = "target",
        FirstTime = "first-time",
        Repeat = "repeat",
        Loyal = "loyal",
        Churned = "churned",
    }
}

names! {
    /// Activity state (§3.3).
    pub enum Activity { Active = "active", Sleeping = "sleeping", Churned = "churned" }
}

names! {
    /// Lifecycle stage 客户关系生命周期 (§3.4).
    pub enum Lifecycle { Exploration = "exploration", Formation = "formation", Stability = "stability", Decline = "decline" }
}

names! {
    /// Loyalty × profitability 顾客四型 (§3.5).
    pub enum Quadrant { TrueFriend = "true-friend", Butterfly = "butterfly", Barnacle = "barnacle", Stranger = "stranger" }
}

names! {
    /// Transaction-type vs relationship-type (§3.6), with the relationship-type sub-kinds.
    pub enum Pricing {
        TransactionType = "transaction-type",
        MostProfitable = "most-profitable",
        GrowthPotential = "growth-potential",
        LosingValue = "losing-value",
        RelationshipType = "relationship-type",
    }
}

/// A class and why: the rule with the customer's figures, e.g. "loyal: 6 paid orders in
/// 4 quarters of the last 24 months (≥ 4 in ≥ 3)".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explained<T> {
    pub class: T,
    pub why: String,
}

fn explained<T>(class: T, why: String) -> Explained<T> {
    Explained { class, why }
}

/// What the population says, for the classes relative to other customers.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Population {
    /// The shop's purchase cycle in days (median over customers' own cycles).
    pub shop_cycle_days: Option<f64>,
    /// Median profit of buyers: the line between rich and poor in the quadrant.
    pub median_profit: Cents,
    /// Profit at the "most profitable" percentile of buyers.
    pub top_profit: Cents,
}

/// Facts about a customer that are not measures of their orders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Standing {
    /// Marked hostile or blocked by the shop.
    pub blocked: bool,
    /// Has contact details or shown interest (a potential customer if no order).
    pub has_contact: bool,
    /// Matches the shop's target profile.
    pub target: bool,
}

impl Standing {
    /// Tags that mark a customer the shop will not serve (非客户).
    pub const BLOCKED_TAGS: [&'static str; 3] = ["blocked", "hostile", "黑名单"];
    /// The tag that marks a customer matching the shop's target profile (目标客户).
    pub const TARGET_TAG: &'static str = "target";

    /// A customer's standing from their contact details and tags.
    pub fn from_tags(has_contact: bool, tags: &[String]) -> Standing {
        Standing {
            blocked: tags.iter().any(|t| Standing::BLOCKED_TAGS.contains(&t.as_str())),
            has_contact,
            target: tags.iter().any(|t| t == Standing::TARGET_TAG),
        }
    }
}

/// Every per-customer class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classes {
    pub relationship: Explained<Relationship>,
    /// Came back after a gap longer than the churn threshold (挽回).
    pub won_back: bool,
    pub activity: Option<Explained<Activity>>,
    pub lifecycle: Option<Explained<Lifecycle>>,
    pub quadrant: Option<Explained<Quadrant>>,
    pub pricing: Option<Explained<Pricing>>,
}

impl Classes {
    /// The class of `kind` and why, for the kinds explained by a rule on the customer's
    /// own figures (relationship, activity, lifecycle, quadrant, pricing).
    pub fn explained(&self, kind: super::ClassKind) -> Option<(&'static str, &str)> {
        use super::ClassKind as K;
        match kind {
            K::Relationship => Some((self.relationship.class.as_str(), self.relationship.why.as_str())),
            K::Activity => self.activity.as_ref().map(|e| (e.class.as_str(), e.why.as_str())),
            K::Lifecycle => self.lifecycle.as_ref().map(|e| (e.class.as_str(), e.why.as_str())),
            K::Quadrant => self.quadrant.as_ref().map(|e| (e.class.as_str(), e.why.as_str())),
            K::Pricing => self.pricing.as_ref().map(|e| (e.class.as_str(), e.why.as_str())),
            K::Tier | K::Rfm8 | K::Rfm11 => None,
        }
    }
}

fn days(d: f64) -> String {
    format!("{d:.0} days")
}

/// The churn threshold for this customer: max(min days, multiple × own cycle).
pub fn churn_threshold(m: &Measures, s: &Settings) -> f64 {
    let own = m.cycle_days.map(|c| c * s.churn.cycle_multiple).unwrap_or(0.0);
    f64::from(s.churn.min_days).max(own)
}

pub fn relationship(m: &Measures, st: Standing, s: &Settings) -> (Explained<Relationship>, bool) {
    use Relationship::*;
    let threshold = churn_threshold(m, s);
    let won_back = m.won_back;
    if st.blocked {
        return (
            explained(NonCustomer, "non-customer: marked hostile or blocked".into()),
            won_back,
        );
    }
    let Some(r) = m.recency_days else {
        return match (st.target, st.has_contact) {
            (true, _) => (
                explained(Target, "target: no paid order, matches the target profile".into()),
                false,
            ),
            (false, true) => (
                explained(Potential, "potential: contact or interest, no paid order".into()),
                false,
            ),
            (false, false) => (
                explained(NonCustomer, "non-customer: no paid order, no contact".into()),
                false,
            ),
        };
    };
    if r as f64 > threshold {
        let why = format!(
            "churned: last paid order {r} days ago > {} (max({} days, {} × own cycle))",
            days(threshold),
            s.churn.min_days,
            s.churn.cycle_multiple
        );
        return (explained(Churned, why), won_back);
    }
    let l = &s.loyal;
    if m.loyal_window_orders >= l.min_orders && m.loyal_window_quarters >= l.min_quarters {
        let why = format!(
            "loyal: {} paid orders in {} quarters of the last {} months (≥ {} in ≥ {}), last {r} days ago",
            m.loyal_window_orders, m.loyal_window_quarters, l.window_months, l.min_orders, l.min_quarters
        );
        return (explained(Loyal, why), won_back);
    }
    if m.paid_orders >= 2 {
        let back = if won_back {
            ", won back after a gap longer than the churn threshold"
        } else {
            ""
        };
        let why = format!(
            "repeat: {} paid orders (≥ 2); not loyal: {} orders in {} quarters of the last {} months (< {} in {}){back}",
            m.paid_orders,
            m.loyal_window_orders,
            m.loyal_window_quarters,
            l.window_months,
            l.min_orders,
            l.min_quarters
        );
        return (explained(Repeat, why), won_back);
    }
    (
        explained(FirstTime, format!("first-time: 1 paid order, {r} days ago")),
        false,
    )
}

pub fn activity(m: &Measures, p: &Population, s: &Settings) -> Option<Explained<Activity>> {
    let r = m.recency_days? as f64;
    let a = &s.activity;
    let (sleeping, churned, basis) = match p.shop_cycle_days {
        Some(c) => (
            c * a.sleeping_multiple,
            c * a.churned_multiple,
            format!("the shop's cycle of {}", days(c)),
        ),
        None => (
            f64::from(a.fallback_sleeping_days),
            f64::from(a.fallback_churned_days),
            "no shop cycle known: fallbacks".into(),
        ),
    };
    let (class, rule) = if r > churned {
        (Activity::Churned, format!("> {}", days(churned)))
    } else if r > sleeping {
        (
            Activity::Sleeping,
            format!("> {} and ≤ {}", days(sleeping), days(churned)),
        )
    } else {
        (Activity::Active, format!("≤ {}", days(sleeping)))
    };
    Some(explained(
        class,
        format!("{class}: last paid order {r:.0} days ago {rule} ({basis})"),
    ))
}

pub fn lifecycle(m: &Measures, s: &Settings) -> Option<Explained<Lifecycle>> {
    use Lifecycle::*;
    let l = &s.lifecycle;
    let r = m.recency_days?;
    if m.paid_orders <= 1 {
        return Some(explained(Exploration, "exploration: a first order only".into()));
    }
    let w = l.window_days;
    let fell = |recent: f64, previous: f64| previous > 0.0 && recent < l.decline_ratio * previous;
    if fell(m.recent_amount.0 as f64, m.previous_amount.0 as f64)
        || fell(f64::from(m.recent_orders), f64::from(m.previous_orders))
    {
        let why = format!(
            "decline: last {w} days {} in {} orders < {} × the previous {w} days' {} in {} orders",
            m.recent_amount, m.recent_orders, l.decline_ratio, m.previous_amount, m.previous_orders
        );
        return Some(explained(Decline, why));
    }
    if let Some(c) = m.cycle_days.filter(|c| *c > 0.0 && r as f64 > l.overdue_multiple * c) {
        let why = format!(
            "decline: last order {r} days ago > {} × own cycle of {}",
            l.overdue_multiple,
            days(c)
        );
        return Some(explained(Decline, why));
    }
    let regular = m.interval_cv.is_some_and(|cv| cv <= l.regular_cv);
    let not_falling = m.recent_amount >= m.previous_amount || m.previous_amount == Cents::ZERO;
    if m.paid_orders >= l.stable_min_orders && regular {
        let cv = m.interval_cv.unwrap_or_default();
        let why = format!(
            "stability: {} orders at regular intervals (variation {cv:.2} ≤ {}), spend {}",
            m.paid_orders,
            l.regular_cv,
            if not_falling { "not falling" } else { "slightly lower" }
        );
        return Some(explained(Stability, why));
    }
    Some(explained(
        Formation,
        format!("formation: {} orders, not yet at regular intervals", m.paid_orders),
    ))
}

pub fn quadrant(m: &Measures, p: &Population, s: &Settings) -> Option<Explained<Quadrant>> {
    m.recency_days?;
    let q = &s.quadrant;
    let rich = m.profit > p.median_profit;
    let active = m.active_months >= q.active_months;
    let regular = m.paid_orders >= q.regular_min_orders && m.interval_cv.is_some_and(|cv| cv <= q.regular_cv);
    let loyal = active || regular;
    let class = match (rich, loyal) {
        (true, true) => Quadrant::TrueFriend,
        (true, false) => Quadrant::Butterfly,
        (false, true) => Quadrant::Barnacle,
        (false, false) => Quadrant::Stranger,
    };
    let why = format!(
        "{class}: profit {} {} the buyers' median {}; {} ({} active months of the last {} {} {}{})",
        m.profit,
        if rich { ">" } else { "≤" },
        p.median_profit,
        if loyal { "loyal" } else { "not loyal" },
        m.active_months,
        q.window_months,
        if active { "≥" } else { "<" },
        q.active_months,
        if regular {
            format!(", or {} orders at regular intervals", m.paid_orders)
        } else {
            String::new()
        }
    );
    Some(explained(class, why))
}

pub fn pricing(m: &Measures, p: &Population, s: &Settings) -> Option<Explained<Pricing>> {
    m.recency_days?;
    let pr = &s.pricing;
    let share = m.discount_share * 100.0;
    if m.discount_share >= pr.price_driven_share {
        let why = format!(
            "transaction-type: {share:.0}% of orders with a discount ≥ {:.0}% or in a promotion (≥ {:.0}%)",
            pr.min_discount * 100.0,
            pr.price_driven_share * 100.0
        );
        return Some(explained(Pricing::TransactionType, why));
    }
    let base = format!(
        "relationship-type ({share:.0}% of orders discounted < {:.0}%)",
        pr.price_driven_share * 100.0
    );
    let (class, why) = if m.profit >= p.top_profit && m.profit > Cents::ZERO {
        (
            Pricing::MostProfitable,
            format!(
                "most profitable: profit {} ≥ {} (the top {:.0}th percentile); {base}",
                m.profit, p.top_profit, pr.top_profit_percentile
            ),
        )
    } else if m.profit > Cents::ZERO && m.recent_profit >= m.previous_profit {
        (
            Pricing::GrowthPotential,
            format!(
                "growth potential: profitable ({}), last 180 days' profit {} ≥ previous {}; {base}",
                m.profit, m.recent_profit, m.previous_profit
            ),
        )
    } else if m.profit > Cents::ZERO {
        (
            Pricing::LosingValue,
            format!(
                "losing value: profitable ({}), last 180 days' profit {} < previous {}; {base}",
                m.profit, m.recent_profit, m.previous_profit
            ),
        )
    } else {
        (
            Pricing::RelationshipType,
            format!("{base}, not profitable ({})", m.profit),
        )
    };
    Some(explained(class, why))
}

/// All per-customer classes.
pub fn classify(m: &Measures, p: &Population, st: Standing, s: &Settings) -> Classes {
    let (relationship, won_back) = relationship(m, st, s);
    Classes {
        relationship,
        won_back,
        activity: activity(m, p, s),
        lifecycle: lifecycle(m, s),
        quadrant: quadrant(m, p, s),
        pricing: pricing(m, p, s),
    }
}
