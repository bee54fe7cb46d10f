//! Reports over paid orders (docs/domain.md §2): repurchase rate by period and the one-time
//! buyers' share per category, retention from one period to the next, the cohort matrix
//! by first-purchase month, and purchase cycles per category and for the shop.
//!
//! Pure and streaming: [`OrderReports::add`] takes one customer's paid orders at a time
//! (as the analytics pass reads them, sorted by customer), so a shop of millions of
//! orders is reported on in memory proportional to customers, not orders.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ShopTz;
use crate::interner::Interner;
use crate::profile::{OrderFact, intervals, median};

/// How reports split time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    Month,
    Quarter,
    Year,
}

impl Granularity {
    /// The period a day falls in, as a sortable index (months since year 0, quarters…).
    fn index(self, d: NaiveDate) -> i32 {
        match self {
            Granularity::Month => d.year() * 12 + d.month0() as i32,
            Granularity::Quarter => d.year() * 4 + (d.month0() / 3) as i32,
            Granularity::Year => d.year(),
        }
    }

    /// The label of a period index: "2026-03", "2026-Q1", "2026".
    pub fn label(self, i: i32) -> String {
        match self {
            Granularity::Month => format!("{}-{:02}", i.div_euclid(12), i.rem_euclid(12) + 1),
            Granularity::Quarter => format!("{}-Q{}", i.div_euclid(4), i.rem_euclid(4) + 1),
            Granularity::Year => i.to_string(),
        }
    }
}

/// Repurchase in one period: customers with ≥ 2 paid orders among those with ≥ 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeriodRepurchase {
    pub period: String,
    pub buyers: u64,
    pub repeat_buyers: u64,
    /// repeat_buyers / buyers (0 without buyers).
    pub rate: f64,
    /// Paid orders in the period and what they paid: the dashboard's period figures.
    pub orders: u64,
    pub paid_cents: i64,
}

/// One category in one period: its buyers and those who bought it once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryOnce {
    pub category: String,
    pub period: String,
    pub buyers: u64,
    pub once: u64,
    pub once_share: f64,
}

/// Of the customers who bought in the previous period, how many bought in this one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeriodRetention {
    pub period: String,
    pub previous_buyers: u64,
    pub retained: u64,
    pub rate: f64,
}

/// Customers whose first paid order fell in `month`, and how many of them bought in
/// each month since (offset 0 is the first month itself: all of them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cohort {
    pub month: String,
    pub customers: u64,
    pub active: Vec<u64>,
    pub share: Vec<f64>,
}

/// A category's purchase cycle: the median over its repeat buyers of their own median
/// days between consecutive paid orders containing it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryCycle {
    pub category: String,
    pub repeat_buyers: u64,
    pub median_days: f64,
}

/// The reports, for orders paid up to `as_of`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reports {
    pub as_of: DateTime<Utc>,
    pub granularity: Granularity,
    pub customers: u64,
    pub orders: u64,
    pub repurchase: Vec<PeriodRepurchase>,
    pub categories: Vec<CategoryOnce>,
    pub retention: Vec<PeriodRetention>,
    pub cohorts: Vec<Cohort>,
    /// The shop's purchase cycle: the median of customers' own cycles (as the profile
    /// build's population figure).
    pub shop_cycle_days: Option<f64>,
    pub cycles: Vec<CategoryCycle>,
}

/// The reports over paid orders, each one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderReport {
    Repurchase,
    Categories,
    Retention,
    Cohorts,
    Cycles,
}

impl OrderReport {
    pub const ALL: [OrderReport; 5] = [
        OrderReport::Repurchase,
        OrderReport::Categories,
        OrderReport::Retention,
        OrderReport::Cohorts,
        OrderReport::Cycles,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderReport::Repurchase => "repurchase",
            OrderReport::Categories => "categories",
            OrderReport::Retention => "retention",
            OrderReport::Cohorts => "cohorts",
            OrderReport::Cycles => "cycles",
        }
    }

    pub fn parse(s: &str) -> Option<OrderReport> {
        OrderReport::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// One report as a document: what it was computed over, and its rows (typed; the CLI's
/// `--json` and the API write it).
#[derive(Debug, Clone, Serialize)]
pub struct ReportDocument<'a> {
    pub as_of: DateTime<Utc>,
    pub granularity: Granularity,
    pub customers: u64,
    pub orders: u64,
    #[serde(flatten)]
    pub rows: ReportRows<'a>,
}

/// The rows of one report, named as the report.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum ReportRows<'a> {
    Repurchase {
        repurchase: &'a [PeriodRepurchase],
    },
    Categories {
        categories: &'a [CategoryOnce],
    },
    Retention {
        retention: &'a [PeriodRetention],
    },
    Cohorts {
        cohorts: &'a [Cohort],
    },
    Cycles {
        shop_cycle_days: Option<f64>,
        cycles: &'a [CategoryCycle],
    },
}

impl Reports {
    /// One report as a document (see [`ReportDocument`]).
    pub fn document(&self, which: OrderReport) -> ReportDocument<'_> {
        let rows = match which {
            OrderReport::Repurchase => ReportRows::Repurchase {
                repurchase: &self.repurchase,
            },
            OrderReport::Categories => ReportRows::Categories {
                categories: &self.categories,
            },
            OrderReport::Retention => ReportRows::Retention {
                retention: &self.retention,
            },
            OrderReport::Cohorts => ReportRows::Cohorts { cohorts: &self.cohorts },
            OrderReport::Cycles => ReportRows::Cycles {
                shop_cycle_days: self.shop_cycle_days,
                cycles: &self.cycles,
            },
        };
        ReportDocument {
            as_of: self.as_of,
            granularity: self.granularity,
            customers: self.customers,
            orders: self.orders,
            rows,
        }
    }

    /// One report as a table of text (header, rows; percentages with 2 decimals): what
    /// CSV exports, the CLI and the web pages show.
    pub fn table(&self, which: OrderReport) -> (Vec<String>, Vec<Vec<String>>) {
        let r = self;
        let pct = |v: f64| format!("{:.2}", v * 100.0);
        let head = |h: &[&str]| h.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        match which {
            OrderReport::Repurchase => (
                head(&["period", "buyers", "repeat_buyers", "rate_pct"]),
                r.repurchase
                    .iter()
                    .map(|p| {
                        vec![
                            p.period.clone(),
                            p.buyers.to_string(),
                            p.repeat_buyers.to_string(),
                            pct(p.rate),
                        ]
                    })
                    .collect(),
            ),
            OrderReport::Categories => (
                head(&["category", "period", "buyers", "once", "once_pct"]),
                r.categories
                    .iter()
                    .map(|c| {
                        vec![
                            c.category.clone(),
                            c.period.clone(),
                            c.buyers.to_string(),
                            c.once.to_string(),
                            pct(c.once_share),
                        ]
                    })
                    .collect(),
            ),
            OrderReport::Retention => (
                head(&["period", "previous_buyers", "retained", "rate_pct"]),
                r.retention
                    .iter()
                    .map(|p| {
                        vec![
                            p.period.clone(),
                            p.previous_buyers.to_string(),
                            p.retained.to_string(),
                            pct(p.rate),
                        ]
                    })
                    .collect(),
            ),
            OrderReport::Cohorts => {
                let longest = r.cohorts.iter().map(|c| c.active.len()).max().unwrap_or(0);
                let mut h = head(&["first_month", "customers"]);
                h.extend((0..longest).map(|k| format!("m{k}_pct")));
                (
                    h,
                    r.cohorts
                        .iter()
                        .map(|c| {
                            let mut row = vec![c.month.clone(), c.customers.to_string()];
                            row.extend(c.share.iter().map(|s| pct(*s)));
                            // Later cohorts have fewer months behind them: empty cells.
                            row.resize(longest + 2, String::new());
                            row
                        })
                        .collect(),
                )
            }
            OrderReport::Cycles => {
                let mut rows = vec![vec![
                    "(shop)".to_string(),
                    r.customers.to_string(),
                    r.shop_cycle_days.map_or(String::new(), |d| format!("{d:.1}")),
                ]];
                rows.extend(r.cycles.iter().map(|c| {
                    vec![
                        c.category.clone(),
                        c.repeat_buyers.to_string(),
                        format!("{:.1}", c.median_days),
                    ]
                }));
                (head(&["category", "customers", "median_days"]), rows)
            }
        }
    }
}

/// The accumulator: counts only, fed one customer at a time.
#[derive(Debug)]
pub struct OrderReports {
    as_of: DateTime<Utc>,
    tz: ShopTz,
    /// Orders within this of an occasion's first are one purchase for cycles.
    occasion_gap: chrono::Duration,
    granularity: Granularity,
    customers: u64,
    orders: u64,
    /// period → (buyers, repeat buyers, paid orders, paid amount).
    periods: BTreeMap<i32, (u64, u64, u64, i64)>,
    /// The categories met, each name once: the maps below key them by index, so that a
    /// customer's orders are counted without a string made or compared per order.
    category_names: Interner,
    /// (category, period) → (buyers, once).
    categories: HashMap<(u32, i32), (u64, u64)>,
    /// period → (buyers in the period before, of whom bought in this one).
    retention: BTreeMap<i32, (u64, u64)>,
    /// first month → customers active per month offset.
    cohorts: BTreeMap<i32, Vec<u64>>,
    own_cycles: Vec<f64>,
    /// Per category (by index), each repeat buyer's median cycle.
    category_cycles: Vec<Vec<f64>>,
}

impl OrderReports {
    pub fn new(as_of: DateTime<Utc>, tz: ShopTz, granularity: Granularity) -> OrderReports {
        OrderReports {
            as_of,
            tz,
            occasion_gap: crate::profile::Cycle::default().occasion_gap(),
            granularity,
            customers: 0,
            orders: 0,
            periods: BTreeMap::new(),
            category_names: Interner::default(),
            categories: HashMap::new(),
            retention: BTreeMap::new(),
            cohorts: BTreeMap::new(),
            own_cycles: Vec::new(),
            category_cycles: Vec::new(),
        }
    }

    /// Adds one customer's paid orders (any order; those after as-of are left out).
    pub fn add(&mut self, orders: &[OrderFact]) {
        let mut paid: Vec<&OrderFact> = orders.iter().filter(|o| o.paid_at <= self.as_of).collect();
        if paid.is_empty() {
            return;
        }
        paid.sort_by_key(|o| o.paid_at);
        self.customers += 1;
        self.orders += paid.len() as u64;
        let g = self.granularity;
        let day = |o: &OrderFact| o.paid_at.with_timezone(&self.tz.0).date_naive();
        // Orders per period (few per customer, and in time order: a list, not a map),
        // the months with a purchase, and each (category, period, time) an order lists.
        let mut per_period: Vec<(i32, u64, i64)> = Vec::new();
        let mut months: Vec<i32> = Vec::new();
        let mut listed: Vec<(&str, i32, DateTime<Utc>)> = Vec::new();
        for o in &paid {
            let d = day(o);
            let p = g.index(d);
            match per_period.iter_mut().rev().find(|e| e.0 == p) {
                Some(e) => {
                    e.1 += 1;
                    e.2 += o.paid.0;
                }
                None => per_period.push((p, 1, o.paid.0)),
            }
            months.push(Granularity::Month.index(d));
            listed.extend(o.categories.iter().map(|c| (c.as_str(), p, o.paid_at)));
        }
        per_period.sort_unstable_by_key(|e| e.0);
        months.sort_unstable();
        months.dedup();
        for (i, &(p, n, paid)) in per_period.iter().enumerate() {
            let e = self.periods.entry(p).or_default();
            e.0 += 1;
            e.1 += u64::from(n >= 2);
            e.2 += n;
            e.3 += paid;
            if i > 0 && per_period[i - 1].0 == p - 1 {
                self.retention.entry(p).or_default().1 += 1;
            }
            // Every period after one with a purchase has these as its previous buyers.
            self.retention.entry(p + 1).or_default().0 += 1;
        }
        // By category, then period, then time: a run of one (category, period) is its
        // orders there; a run of one category its purchase times.
        listed.sort_unstable();
        for same_category in listed.chunk_by(|a, b| a.0 == b.0) {
            let c = self.category_id(same_category[0].0);
            for same_period in same_category.chunk_by(|a, b| a.1 == b.1) {
                let e = self.categories.entry((c, same_period[0].1)).or_default();
                e.0 += 1;
                e.1 += u64::from(same_period.len() == 1);
            }
            // An order lists a category once; several lines of it are one purchase.
            let mut times: Vec<DateTime<Utc>> = same_category.iter().map(|l| l.2).collect();
            times.sort_unstable();
            times.dedup();
            if let Some(m) = median(&mut intervals(&times, self.occasion_gap)) {
                self.category_cycles[c as usize].push(m);
            }
        }
        let first = *months.first().expect("a paid order");
        let last = Granularity::Month.index(self.as_of.with_timezone(&self.tz.0).date_naive());
        let row = self
            .cohorts
            .entry(first)
            .or_insert_with(|| vec![0; (last - first + 1).max(1) as usize]);
        for m in months {
            if let Some(n) = row.get_mut((m - first) as usize) {
                *n += 1;
            }
        }
        let times: Vec<DateTime<Utc>> = paid.iter().map(|o| o.paid_at).collect();
        if let Some(c) = median(&mut intervals(&times, self.occasion_gap)) {
            self.own_cycles.push(c);
        }
    }

    /// The index of category `name`, given one (with its list of cycles) on first sight.
    fn category_id(&mut self, name: &str) -> u32 {
        let id = self.category_names.id(name);
        if id as usize == self.category_cycles.len() {
            self.category_cycles.push(Vec::new());
        }
        id
    }

    /// Cycles over purchase occasions of this gap (the profile's `[cycle]` setting).
    pub fn occasion_gap(mut self, gap: chrono::Duration) -> OrderReports {
        self.occasion_gap = gap;
        self
    }

    pub fn finish(mut self) -> Reports {
        let g = self.granularity;
        let share = |n: u64, of: u64| if of == 0 { 0.0 } else { n as f64 / of as f64 };
        let last = g.index(self.as_of.with_timezone(&self.tz.0).date_naive());
        let first_period = self.periods.keys().next().copied();
        let names = &self.category_names;
        let mut cycles: Vec<CategoryCycle> = self
            .category_cycles
            .into_iter()
            .enumerate()
            .filter(|(_, v)| !v.is_empty())
            .map(|(c, mut v)| CategoryCycle {
                category: names.name(c as u32).to_string(),
                repeat_buyers: v.len() as u64,
                median_days: median(&mut v).unwrap_or_default(),
            })
            .collect();
        cycles.sort_by(|a, b| a.category.cmp(&b.category));
        Reports {
            as_of: self.as_of,
            granularity: g,
            customers: self.customers,
            orders: self.orders,
            repurchase: self
                .periods
                .iter()
                .map(|(&p, &(buyers, repeat, orders, paid))| PeriodRepurchase {
                    period: g.label(p),
                    buyers,
                    repeat_buyers: repeat,
                    rate: share(repeat, buyers),
                    orders,
                    paid_cents: paid,
                })
                .collect(),
            categories: self
                .categories
                .into_iter()
                .map(|((c, p), counts)| ((names.name(c), p), counts))
                .collect::<BTreeMap<_, _>>()
                .into_iter()
                .map(|((category, p), (buyers, once))| CategoryOnce {
                    category: category.to_string(),
                    period: g.label(p),
                    buyers,
                    once,
                    once_share: share(once, buyers),
                })
                .collect(),
            // From the second period with purchases up to as-of's period.
            retention: self
                .retention
                .iter()
                .filter(|(p, _)| first_period.is_some_and(|f| **p > f) && **p <= last)
                .map(|(&p, &(previous, retained))| PeriodRetention {
                    period: g.label(p),
                    previous_buyers: previous,
                    retained,
                    rate: share(retained, previous),
                })
                .collect(),
            cohorts: self
                .cohorts
                .iter()
                .map(|(&m, active)| Cohort {
                    month: Granularity::Month.label(m),
                    customers: active[0],
                    share: active.iter().map(|&n| share(n, active[0])).collect(),
                    active: active.clone(),
                })
                .collect(),
            shop_cycle_days: median(&mut self.own_cycles),
            cycles,
        }
    }
}

/// The shop's orders in one period (by the day they were created, shop time), guest
/// orders included: what a platform's order report (订单报表) shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PeriodOrders {
    pub period: String,
    /// Orders created in the period, whatever became of them.
    pub created: u64,
    /// Of those, paid (including those later refunded).
    pub paid: u64,
    /// Closed unpaid (cancelled, expired).
    pub closed: u64,
    /// Paid, then refunded in part or in full.
    pub refunded: u64,
    /// Orders whose buyer the shop's files do not identify.
    pub guest: u64,
    /// What the created orders were for (goods and shipping).
    pub ordered_cents: i64,
    pub paid_cents: i64,
    pub refunded_cents: i64,
    /// paid ÷ created.
    pub payment_rate: f64,
    /// refunded ÷ paid.
    pub refund_rate: f64,
}

/// What the shop's order figures need of one order: no lines, only their sums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderSummary {
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub status: crate::OrderStatus,
    pub guest: bool,
    pub goods: crate::Cents,
    pub shipping: crate::Cents,
    pub refund: crate::Cents,
}

impl OrderSummary {
    pub fn of(o: &crate::Order) -> OrderSummary {
        OrderSummary {
            created_at: o.created_at,
            status: o.status,
            guest: o.customer.is_none(),
            goods: o.goods(),
            shipping: o.shipping_fee,
            refund: o.refund(),
        }
    }
}

/// The shop's order figures per period, one order at a time (any order, any status, any
/// buyer or none).
pub struct OrderFigures {
    tz: ShopTz,
    granularity: Granularity,
    periods: BTreeMap<i32, PeriodOrders>,
}

impl OrderFigures {
    pub fn new(tz: ShopTz, granularity: Granularity) -> OrderFigures {
        OrderFigures {
            tz,
            granularity,
            periods: BTreeMap::new(),
        }
    }

    pub fn add(&mut self, o: &crate::Order) {
        self.add_summary(&OrderSummary::of(o));
    }

    pub fn add_summary(&mut self, o: &OrderSummary) {
        let i = self
            .granularity
            .index(o.created_at.with_timezone(&self.tz.0).date_naive());
        let p = self.periods.entry(i).or_default();
        p.created += 1;
        p.ordered_cents += (o.goods + o.shipping).0;
        p.guest += u64::from(o.guest);
        if o.status.is_paid() {
            p.paid += 1;
            // What the customer paid: goods plus shipping (`Order::paid`).
            p.paid_cents += (o.goods + o.shipping).0;
            if o.status == crate::OrderStatus::Refunded || o.refund > crate::Cents::ZERO {
                p.refunded += 1;
                p.refunded_cents += o.refund.0;
            }
        } else if o.status == crate::OrderStatus::Closed {
            p.closed += 1;
        }
    }

    pub fn finish(self) -> Vec<PeriodOrders> {
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        self.periods
            .into_iter()
            .map(|(i, mut p)| {
                p.period = self.granularity.label(i);
                p.payment_rate = ratio(p.paid, p.created);
                p.refund_rate = ratio(p.refunded, p.paid);
                p
            })
            .collect()
    }

    /// The figures as a table (header, rows), for text and CSV.
    pub fn table(rows: &[PeriodOrders]) -> (Vec<String>, Vec<Vec<String>>) {
        let money = |c: i64| crate::Cents(c).to_string();
        let pct = |v: f64| format!("{:.2}", v * 100.0);
        let header = [
            "period",
            "created",
            "paid_orders",
            "closed",
            "refunded",
            "guest",
            "ordered",
            "paid_amount",
            "refunded_amount",
            "payment_rate_pct",
            "refund_rate_pct",
        ]
        .map(str::to_string)
        .to_vec();
        let rows = rows
            .iter()
            .map(|p| {
                vec![
                    p.period.clone(),
                    p.created.to_string(),
                    p.paid.to_string(),
                    p.closed.to_string(),
                    p.refunded.to_string(),
                    p.guest.to_string(),
                    money(p.ordered_cents),
                    money(p.paid_cents),
                    money(p.refunded_cents),
                    pct(p.payment_rate),
                    pct(p.refund_rate),
                ]
            })
            .collect();
        (header, rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cents;
    use chrono::TimeZone;

    fn order(day: &str, categories: &[&str]) -> OrderFact {
        let d = NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap();
        OrderFact {
            paid_at: Utc.from_utc_datetime(&d.and_hms_opt(4, 0, 0).unwrap()),
            paid: Cents(1000),
            goods: Cents(1000),
            discount: Cents(0),
            cost: Cents(0),
            refund: Cents(0),
            campaign: false,
            categories: categories.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn repurchase_retention_cohorts_and_cycles_by_hand() {
        let as_of = Utc.with_ymd_and_hms(2026, 6, 30, 12, 0, 0).unwrap();
        let mut r = OrderReports::new(as_of, ShopTz::default(), Granularity::Quarter);
        // a: twice in Q1 (diapers both times), once in Q2.
        r.add(&[
            order("2026-01-10", &["diapers"]),
            order("2026-02-09", &["diapers", "rompers"]),
            order("2026-04-10", &["rompers"]),
        ]);
        // b: once in Q1; c: once in Q2; d: after as-of only (left out).
        r.add(&[order("2026-03-01", &["diapers"])]);
        r.add(&[order("2026-05-01", &["rompers"])]);
        r.add(&[order("2026-08-01", &["rompers"])]);
        let rep = r.finish();
        assert_eq!((rep.customers, rep.orders), (3, 5));
        let q = |p: &str| rep.repurchase.iter().find(|x| x.period == p).unwrap().clone();
        assert_eq!((q("2026-Q1").buyers, q("2026-Q1").repeat_buyers), (2, 1));
        assert_eq!(q("2026-Q1").rate, 0.5);
        assert_eq!((q("2026-Q2").buyers, q("2026-Q2").repeat_buyers), (2, 0));
        // Q1: a's two orders and b's one, 10.00 each.
        assert_eq!((q("2026-Q1").orders, q("2026-Q1").paid_cents), (3, 3000));
        // Diapers in Q1: a twice, b once → half bought it once.
        let d = rep
            .categories
            .iter()
            .find(|c| c.category == "diapers" && c.period == "2026-Q1")
            .unwrap();
        assert_eq!((d.buyers, d.once, d.once_share), (2, 1, 0.5));
        // Q2 retains a of Q1's a and b.
        assert_eq!(rep.retention.len(), 1);
        assert_eq!((rep.retention[0].previous_buyers, rep.retention[0].retained), (2, 1));
        // Cohorts: January (a) active in Jan, Feb, Apr; March (b); May (c).
        assert_eq!(rep.cohorts[0].month, "2026-01");
        assert_eq!(rep.cohorts[0].active, vec![1, 1, 0, 1, 0, 0]);
        assert_eq!(rep.cohorts.len(), 3);
        assert_eq!(rep.cohorts[2].active, vec![1, 0]);
        // a's own cycle: 30 and 60 days → 45; diapers: 30 days.
        assert_eq!(rep.shop_cycle_days, Some(45.0));
        let diapers = rep.cycles.iter().find(|c| c.category == "diapers").unwrap();
        assert_eq!((diapers.repeat_buyers, diapers.median_days), (1, 30.0));
    }

    #[test]
    fn period_labels() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        for (g, want) in [
            (Granularity::Month, "2026-11"),
            (Granularity::Quarter, "2026-Q4"),
            (Granularity::Year, "2026"),
        ] {
            assert_eq!(g.label(g.index(d)), want);
        }
    }
}
