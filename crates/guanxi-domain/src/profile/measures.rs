//! The measures of docs/domain.md §2 for one customer, as of a date: the reference
//! implementation. The analytics layer computes the same figures at scale and is tested
//! against this.

use chrono::{DateTime, Datelike, Duration, Months, Utc};
use serde::{Deserialize, Serialize};

use crate::{Cents, Order, Review, ServiceKind, ServiceRecord, ServiceStatus, ShopTz};

use super::Settings;

/// What a customer's history says as of a moment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Measures {
    pub first_paid: Option<DateTime<Utc>>,
    pub last_paid: Option<DateTime<Utc>>,
    pub paid_orders: u32,
    /// Paid in all (goods and shipping), refunds not subtracted.
    pub paid_amount: Cents,
    pub refunds: Cents,
    /// Paid − cost of goods (where known) − refunds − service cost.
    pub profit: Cents,
    /// Days since the last paid order (R of RFM); `None` for non-buyers.
    pub recency_days: Option<i64>,
    /// Median days between consecutive paid orders (own purchase cycle).
    pub cycle_days: Option<f64>,
    /// Coefficient of variation of those intervals: low means regular.
    pub interval_cv: Option<f64>,
    /// The longest gap between consecutive paid orders, in days.
    pub longest_gap_days: Option<i64>,
    /// Bought again after a gap longer than the churn threshold as it stood then (with the
    /// purchase cycle of the orders before the gap): won back 挽回.
    pub won_back: bool,
    /// Share of paid orders bought with a large discount or in a promotion.
    pub discount_share: f64,
    /// Paid orders and distinct quarters in the loyalty window.
    pub loyal_window_orders: u32,
    pub loyal_window_quarters: u32,
    /// Distinct months with a paid order in the quadrant's window.
    pub active_months: u32,
    /// Paid orders and amount in the RFM window (F and M).
    pub window_orders: u32,
    pub window_amount: Cents,
    pub window_profit: Cents,
    /// Spend, orders and profit in the last and the previous lifecycle windows.
    pub recent_amount: Cents,
    pub previous_amount: Cents,
    pub recent_orders: u32,
    pub previous_orders: u32,
    pub recent_profit: Cents,
    pub previous_profit: Cents,
    pub categories: Vec<String>,
    pub complaints: u32,
    pub open_complaints: u32,
    pub praise: u32,
    pub mean_item_rating: Option<f64>,
    pub mean_service_rating: Option<f64>,
    pub mean_logistics_rating: Option<f64>,
}

/// When an order counts as bought: its payment time, else its creation.
pub fn paid_time(o: &Order) -> DateTime<Utc> {
    o.times.paid_at.unwrap_or(o.created_at)
}

/// What the measures need to know of one paid order. Made from an [`Order`] here, or
/// from the lake's rows by the analytics layer, so both compute the same measures.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderFact {
    pub paid_at: DateTime<Utc>,
    /// Goods and shipping.
    pub paid: Cents,
    pub goods: Cents,
    pub discount: Cents,
    /// The cost of the goods, where known (unknown costs count as zero).
    pub cost: Cents,
    pub refund: Cents,
    /// Bought in a promotion or campaign.
    pub campaign: bool,
    pub categories: Vec<String>,
}

impl OrderFact {
    /// The facts of a paid order; `None` for orders never paid.
    pub fn of(o: &Order) -> Option<OrderFact> {
        o.status.is_paid().then(|| {
            let mut categories: Vec<String> = o.lines.iter().filter_map(|l| l.category.clone()).collect();
            categories.sort();
            categories.dedup();
            OrderFact {
                paid_at: paid_time(o),
                paid: o.paid(),
                goods: o.goods(),
                discount: o.discount(),
                cost: o.lines.iter().filter_map(|l| l.cost).sum(),
                refund: o.refund(),
                campaign: o.campaign.is_some(),
                categories,
            }
        })
    }

    fn profit(&self) -> Cents {
        self.paid - self.cost - self.refund
    }
}

/// What the measures need of a service record (complaints, praise, its cost).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServiceFact {
    pub kind: ServiceKind,
    pub status: ServiceStatus,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub cost: Cents,
}

impl ServiceFact {
    pub fn of(r: &ServiceRecord) -> ServiceFact {
        ServiceFact {
            kind: r.kind,
            status: r.status,
            opened_at: r.opened_at,
            closed_at: r.closed_at,
            cost: r.cost,
        }
    }
}

/// What the measures need of a review: its DSR ratings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReviewFact {
    pub created_at: DateTime<Utc>,
    pub item: Option<crate::Rating>,
    pub service: Option<crate::Rating>,
    pub logistics: Option<crate::Rating>,
}

impl ReviewFact {
    pub fn of(r: &Review) -> ReviewFact {
        ReviewFact {
            created_at: r.created_at,
            item: r.item_rating,
            service: r.service_rating,
            logistics: r.logistics_rating,
        }
    }
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Days between consecutive purchase occasions, fractional: the intervals a purchase
/// cycle is the median of. `times` are sorted; a time within `gap` of the occasion's
/// first time belongs to that occasion (see [`super::settings::Cycle`]).
pub fn intervals(times: &[DateTime<Utc>], gap: chrono::Duration) -> Vec<f64> {
    let mut starts: Vec<DateTime<Utc>> = Vec::with_capacity(times.len());
    for &t in times {
        match starts.last() {
            Some(&start) if t - start <= gap && gap > chrono::Duration::zero() => {}
            _ => starts.push(t),
        }
    }
    starts
        .windows(2)
        .map(|w| (w[1] - w[0]).num_seconds() as f64 / 86_400.0)
        .collect()
}

/// The median of `v` (sorted in place).
pub fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

impl Measures {
    /// Measures from a customer's orders, service records and reviews as of `as_of`;
    /// anything after `as_of` is ignored.
    pub fn of(
        orders: &[Order],
        service: &[ServiceRecord],
        reviews: &[Review],
        as_of: DateTime<Utc>,
        tz: ShopTz,
        s: &Settings,
    ) -> Measures {
        let facts: Vec<OrderFact> = orders.iter().filter_map(OrderFact::of).collect();
        let service: Vec<ServiceFact> = service.iter().map(ServiceFact::of).collect();
        let reviews: Vec<ReviewFact> = reviews.iter().map(ReviewFact::of).collect();
        Measures::from_facts(&facts, &service, &reviews, as_of, tz, s)
    }

    /// Measures from the facts of a customer's paid orders (in any order).
    pub fn from_facts(
        facts: &[OrderFact],
        service: &[ServiceFact],
        reviews: &[ReviewFact],
        as_of: DateTime<Utc>,
        tz: ShopTz,
        s: &Settings,
    ) -> Measures {
        let mut paid: Vec<&OrderFact> = facts.iter().filter(|o| o.paid_at <= as_of).collect();
        // Orders paid at the same moment are 0 days apart whichever comes first.
        paid.sort_by_key(|o| o.paid_at);
        let mut m = Measures {
            paid_orders: paid.len() as u32,
            ..Default::default()
        };
        let months_ago = |n: u32| {
            as_of
                .checked_sub_months(Months::new(n))
                .unwrap_or(DateTime::<Utc>::MIN_UTC)
        };
        let days_ago = |n: u32| as_of - Duration::days(i64::from(n));
        let loyal_from = months_ago(s.loyal.window_months);
        let active_from = months_ago(s.quadrant.window_months);
        let rfm_from = months_ago(s.rfm.window_months);
        let recent_from = days_ago(s.lifecycle.window_days);
        let previous_from = days_ago(2 * s.lifecycle.window_days);
        let (mut quarters, mut months) = (Vec::new(), Vec::new());
        let mut discounted = 0;
        for o in &paid {
            let t = o.paid_at;
            let local = t.with_timezone(&tz.0);
            let profit = o.profit();
            m.paid_amount = m.paid_amount + o.paid;
            m.refunds = m.refunds + o.refund;
            m.profit = m.profit + profit;
            let gross = o.goods + o.discount;
            let deep = gross.0 > 0 && o.discount.0 as f64 >= s.pricing.min_discount * gross.0 as f64;
            if deep || o.campaign {
                discounted += 1;
            }
            if t > loyal_from {
                m.loyal_window_orders += 1;
                quarters.push((local.year(), local.month0() / 3));
            }
            if t > active_from {
                months.push((local.year(), local.month()));
            }
            if t > rfm_from {
                m.window_orders += 1;
                m.window_amount = m.window_amount + o.paid;
                m.window_profit = m.window_profit + profit;
            }
            if t > recent_from {
                m.recent_orders += 1;
                m.recent_amount = m.recent_amount + o.paid;
                m.recent_profit = m.recent_profit + profit;
            } else if t > previous_from {
                m.previous_orders += 1;
                m.previous_amount = m.previous_amount + o.paid;
                m.previous_profit = m.previous_profit + profit;
            }
            for c in &o.categories {
                if !m.categories.contains(c) {
                    m.categories.push(c.clone());
                }
            }
        }
        m.categories.sort();
        quarters.sort();
        quarters.dedup();
        months.sort();
        months.dedup();
        m.loyal_window_quarters = quarters.len() as u32;
        m.active_months = months.len() as u32;
        m.discount_share = if paid.is_empty() {
            0.0
        } else {
            f64::from(discounted) / paid.len() as f64
        };
        m.first_paid = paid.first().map(|o| o.paid_at);
        m.last_paid = paid.last().map(|o| o.paid_at);
        m.recency_days = m.last_paid.map(|t| (as_of - t).num_days());
        let mut intervals: Vec<f64> = intervals(
            &paid.iter().map(|o| o.paid_at).collect::<Vec<_>>(),
            s.cycle.occasion_gap(),
        );
        m.longest_gap_days = intervals
            .iter()
            .copied()
            .fold(None, |a: Option<f64>, x| Some(a.map_or(x, |a| a.max(x))))
            .map(|x| x as i64);
        if intervals.len() >= 2 {
            let mu = mean(&intervals).unwrap_or(0.0);
            let var = intervals.iter().map(|x| (x - mu).powi(2)).sum::<f64>() / intervals.len() as f64;
            m.interval_cv = (mu > 0.0).then(|| var.sqrt() / mu);
        }
        for i in 0..intervals.len() {
            let before = median(&mut intervals[..i].to_vec())
                .map(|c| c * s.churn.cycle_multiple)
                .unwrap_or(0.0);
            if intervals[i] > f64::from(s.churn.min_days).max(before) {
                m.won_back = true;
            }
        }
        m.cycle_days = median(&mut intervals);
        for r in service.iter().filter(|r| r.opened_at <= as_of) {
            m.profit = m.profit - r.cost;
            if r.opened_at > rfm_from {
                m.window_profit = m.window_profit - r.cost;
            }
            match r.kind {
                ServiceKind::Complaint | ServiceKind::Dispute => {
                    m.complaints += 1;
                    let still_open = r.status == ServiceStatus::Open || r.closed_at.is_some_and(|c| c > as_of);
                    if still_open {
                        m.open_complaints += 1;
                    }
                }
                ServiceKind::Praise => m.praise += 1,
                _ => {}
            }
        }
        let ratings = |f: fn(&ReviewFact) -> Option<crate::Rating>| {
            let v: Vec<f64> = reviews
                .iter()
                .filter(|r| r.created_at <= as_of)
                .filter_map(f)
                .map(|r| f64::from(r.get()))
                .collect();
            mean(&v)
        };
        m.mean_item_rating = ratings(|r| r.item);
        m.mean_service_rating = ratings(|r| r.service);
        m.mean_logistics_rating = ratings(|r| r.logistics);
        m
    }
}

#[cfg(test)]
mod occasions {
    use super::*;

    #[test]
    fn orders_within_the_gap_are_one_occasion() {
        let t = |d: i64, h: i64| DateTime::from_timestamp(1_700_000_000 + d * 86_400 + h * 3600, 0).unwrap();
        // A book, its postage top-up 10 minutes later, the next book 60 days on.
        let times = [t(0, 0), t(0, 0) + chrono::Duration::minutes(10), t(60, 0), t(60, 30)];
        assert_eq!(intervals(&times, chrono::Duration::hours(24)), vec![60.0, 1.25]);
        let each = intervals(&times, chrono::Duration::zero());
        assert_eq!(each.len(), 3);
        assert!(each[0] < 0.01);
        // The gap runs from the occasion's first order: a chain of orders 20 h apart is
        // not one occasion for ever.
        let chain = [t(0, 0), t(0, 20), t(0, 40)];
        assert_eq!(intervals(&chain, chrono::Duration::hours(24)), vec![40.0 / 24.0]);
    }
}
