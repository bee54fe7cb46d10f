//! Segment expressions compiled to SQL over the store's tables.
//!
//! A segment is evaluated where its data lives: profile columns for classes and measures,
//! `customers` for customer fields, `customer_tags`, and counting subqueries over
//! `orders`/`order_lines`, `messages` and `service_records` for behaviour. The SQL is the
//! common dialect of both backends; values are bound, never spliced.
//!
//! Semantics: a comparison with a missing value (a non-buyer's lifecycle) is false, not
//! SQL's unknown, so `not lifecycle = 'decline'` includes non-buyers. Behaviour counts a
//! person's own orders and those of customers merged into them; windows end at the
//! build's as-of moment, never at the wall clock.

use chrono::{DateTime, Duration, Utc};
use guanxi_domain::segment::{Attr, Behaviour, Cond, Expr, Kind, Op, Value};

use crate::{Result, SavedSegment, SegmentMember, SegmentPlan, StoreError};

/// Segments: saved by name, and counted, listed and explained over the current build's
/// profiles (SQL in [`crate::sql_segments!`], written once for both backends).
#[async_trait::async_trait]
pub trait Segments {
    /// How many profiled customers match an expression (nested segments already inlined),
    /// with behaviour windows ending at `as_of`.
    async fn segment_count(&self, expr: &Expr, as_of: DateTime<Utc>) -> Result<u64>;

    /// Matching customers with `id > after_id`, in id order, at most `limit`.
    async fn segment_members(
        &self,
        expr: &Expr,
        as_of: DateTime<Utc>,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<SegmentMember>>;

    /// How many match each node of the expression (in [`nodes`] order) and, for
    /// `customer`, whether each node held.
    async fn segment_plan(&self, expr: &Expr, as_of: DateTime<Utc>, customer: Option<i64>) -> Result<SegmentPlan>;

    async fn save_segment(&self, segment: &SavedSegment) -> Result<()>;

    async fn segments(&self) -> Result<Vec<SavedSegment>>;

    async fn delete_segment(&self, name: &str) -> Result<bool>;
}

/// A segment as asked for — a saved segment's name, or an expression — with the saved
/// segments it names inlined: what the CLI, the web and the scheduler count, list and
/// trigger on, resolved by one function ([`resolve`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The expression as written (canonical form), before inlining.
    pub text: String,
    pub expr: Expr,
}

/// Why a segment could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The expression does not parse: the located error, rendered against its text.
    #[error("the segment expression is not valid\n{rendered}")]
    Syntax { rendered: String },
    /// It names a saved segment that does not exist, or segments that name each other.
    #[error("{0}")]
    Reference(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ResolveError {
    pub fn code(&self) -> &'static str {
        match self {
            ResolveError::Syntax { .. } => "segment_syntax",
            ResolveError::Reference(_) => "segment_reference",
            ResolveError::Store(e) => e.code(),
        }
    }
}

/// Resolves `asked`: a saved segment by that name, else an expression (errors located
/// against `field`, the parameter it came in: `q`, `--segment`, a program's `segment`),
/// with every saved segment it names inlined.
pub async fn resolve(store: &dyn crate::Store, asked: &str, field: &str) -> Result<Resolved, ResolveError> {
    let saved: std::collections::HashMap<String, String> = store
        .segments()
        .await?
        .into_iter()
        .map(|s| (s.name, s.expression))
        .collect();
    let (text, origin) = match saved.get(asked) {
        Some(t) => (t.as_str(), format!("segment '{asked}'")),
        None => (asked, field.to_string()),
    };
    let parsed = guanxi_domain::segment::parse(text).map_err(|e| ResolveError::Syntax {
        rendered: e.render(text, &origin),
    })?;
    let expr = guanxi_domain::segment::expand(&parsed, &|name: &str| {
        saved.get(name).and_then(|t| guanxi_domain::segment::parse(t).ok())
    })
    .map_err(|e| ResolveError::Reference(e.to_string()))?;
    Ok(Resolved {
        text: parsed.to_string(),
        expr,
    })
}

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    Text(String),
    Int(i64),
    Real(f64),
    Time(DateTime<Utc>),
}

/// SQL text or a bound value, pushed in order into a query builder.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Sql(String),
    Bind(Bind),
}

/// The rows a segment ranges over: every profiled person with their customer record.
pub const FROM: &str = " FROM profiles p JOIN customers c ON c.id = p.customer_id ";

/// The rows a segment ranges over, joining the customer records only when the expression
/// reads them: a count over the profiles alone can be answered from an index.
pub fn from(expr: &Expr) -> &'static str {
    let reads_customer = expr.conditions().iter().any(|c| match c {
        Cond::Compare { attr, .. } | Cond::In { attr, .. } | Cond::Between { attr, .. } => {
            column(*attr).0.starts_with("c.")
        }
        _ => false,
    });
    if reads_customer { FROM } else { " FROM profiles p " }
}

/// Every node of the expression, parents before children, left to right: the order of
/// [`crate::SegmentPlan`]'s figures.
pub fn nodes(expr: &Expr) -> Vec<&Expr> {
    let mut out = vec![expr];
    match expr {
        Expr::Or(l, r) | Expr::And(l, r) => {
            out.extend(nodes(l));
            out.extend(nodes(r));
        }
        Expr::Not(e) => out.extend(nodes(e)),
        Expr::Cond(_) => {}
    }
    out
}

struct Out(Vec<Piece>);

impl Out {
    fn sql(&mut self, s: &str) -> &mut Self {
        match self.0.last_mut() {
            Some(Piece::Sql(last)) => last.push_str(s),
            _ => self.0.push(Piece::Sql(s.to_string())),
        }
        self
    }

    fn bind(&mut self, b: Bind) -> &mut Self {
        self.0.push(Piece::Bind(b));
        self
    }
}

/// The boolean SQL of `expr`, with behaviour windows ending at `as_of`. Nested segments
/// must have been inlined ([`guanxi_domain::segment::expand`]).
pub fn compile(expr: &Expr, as_of: DateTime<Utc>) -> Result<Vec<Piece>, StoreError> {
    let mut out = Out(Vec::new());
    expression(&mut out, expr, as_of)?;
    Ok(out.0)
}

fn expression(out: &mut Out, e: &Expr, as_of: DateTime<Utc>) -> Result<(), StoreError> {
    match e {
        Expr::Or(l, r) | Expr::And(l, r) => {
            out.sql("(");
            expression(out, l, as_of)?;
            out.sql(if matches!(e, Expr::Or(..)) { " OR " } else { " AND " });
            expression(out, r, as_of)?;
            out.sql(")");
        }
        Expr::Not(x) => {
            out.sql("(NOT ");
            expression(out, x, as_of)?;
            out.sql(")");
        }
        Expr::Cond(c) => condition(out, c, as_of)?,
    }
    Ok(())
}

/// The column of an attribute and whether it can be NULL.
pub(crate) fn column(attr: Attr) -> (&'static str, bool) {
    match attr {
        Attr::Relationship => ("p.relationship", false),
        Attr::Activity => ("p.activity", true),
        Attr::Lifecycle => ("p.lifecycle", true),
        Attr::Quadrant => ("p.quadrant", true),
        Attr::Pricing => ("p.pricing", true),
        Attr::Tier => ("p.tier", true),
        Attr::Rfm8 => ("p.rfm8", true),
        Attr::Rfm11 => ("p.rfm11", true),
        Attr::R => ("p.r", true),
        Attr::F => ("p.f", true),
        Attr::M => ("p.m", true),
        Attr::RecencyDays => ("p.recency_days", true),
        Attr::PaidOrders => ("p.paid_orders", false),
        Attr::Frequency => ("p.frequency", false),
        Attr::CycleDays => ("p.cycle_days", true),
        Attr::DiscountShare => ("p.discount_share", false),
        Attr::Complaints => ("p.complaint_count", false),
        Attr::Praise => ("p.praise_count", false),
        Attr::PaidAmount => ("p.paid_amount_cents", false),
        Attr::Profit => ("p.profit_cents", false),
        Attr::Refunds => ("p.refunds_cents", false),
        Attr::Monetary => ("p.monetary_cents", false),
        Attr::WonBack => ("p.won_back", false),
        Attr::UpgradePotential => ("p.upgrade_potential", false),
        Attr::PAlive => ("p.p_alive", true),
        Attr::ExpectedPurchases => ("p.expected_purchases", true),
        Attr::Clv => ("p.clv_cents", true),
        Attr::Province => ("c.province", true),
        Attr::City => ("c.city", true),
        Attr::Source => ("c.source", false),
        Attr::Tag => ("t.tag", false),
    }
}

/// The bound form of a value for an attribute (the parser guarantees the kinds match).
pub(crate) fn bind(attr: Attr, v: &Value) -> Bind {
    match (attr.kind(), v) {
        (Kind::Money, Value::Number(n)) => Bind::Int(n.as_cents().unwrap_or(n.0 / 100)),
        (Kind::Integer, Value::Number(n)) => Bind::Int(n.as_int().unwrap_or(n.0 / 10_000)),
        (_, Value::Number(n)) => Bind::Real(n.as_f64()),
        (_, Value::Bool(b)) => Bind::Int(i64::from(*b)),
        (_, Value::Text(t)) => Bind::Text(t.clone()),
    }
}

fn op_sql(op: Op) -> &'static str {
    match op {
        Op::Ne => "<>",
        other => other.as_str(),
    }
}

fn tags(out: &mut Out, negate: bool, values: &[&Value]) {
    out.sql(if negate { "(NOT EXISTS" } else { "(EXISTS" });
    out.sql(" (SELECT 1 FROM customer_tags t WHERE t.customer_id = p.customer_id AND t.tag IN (");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.sql(", ");
        }
        out.bind(bind(Attr::Tag, v));
    }
    out.sql(")))");
}

fn condition(out: &mut Out, c: &Cond, as_of: DateTime<Utc>) -> Result<(), StoreError> {
    match c {
        Cond::Compare {
            attr: Attr::Tag,
            op,
            value,
        } => tags(out, *op == Op::Ne, &[value]),
        Cond::In {
            attr: Attr::Tag,
            values,
        } => tags(out, false, &values.iter().collect::<Vec<_>>()),
        Cond::Compare { attr, op, value } => {
            let (col, nullable) = column(*attr);
            out.sql("(").sql(col).sql(" ").sql(op_sql(*op)).sql(" ");
            out.bind(bind(*attr, value));
            present(out, col, nullable);
        }
        Cond::In { attr, values } => {
            let (col, nullable) = column(*attr);
            out.sql("(").sql(col).sql(" IN (");
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    out.sql(", ");
                }
                out.bind(bind(*attr, v));
            }
            out.sql(")");
            present(out, col, nullable);
        }
        Cond::Between { attr, low, high } => {
            let (col, nullable) = column(*attr);
            out.sql("(").sql(col).sql(" BETWEEN ");
            out.bind(bind(*attr, low)).sql(" AND ").bind(bind(*attr, high));
            present(out, col, nullable);
        }
        Cond::Count { behaviour, op, count } => behaviour_condition(out, behaviour, *op, *count, as_of),
        Cond::InSegment(name) => {
            return Err(StoreError::Refused(format!(
                "segment '{name}' was not expanded before evaluation"
            )));
        }
    }
    Ok(())
}

/// Closes a comparison, making it false (not unknown) where the value is missing.
fn present(out: &mut Out, col: &str, nullable: bool) {
    if nullable {
        out.sql(" AND ").sql(col).sql(" IS NOT NULL");
    }
    out.sql(")");
}

/// A comparison of a behaviour's count, written as membership of the people who did it
/// at least k times — `p.customer_id IN (…)`, `NOT IN` where none counts: the people's
/// counts are grouped once per query instead of counted for each profile (10M orders,
/// 1M profiles: `bought(within = 90d) >= 2` 8.5 s as a count per profile, 2.0 s so).
fn behaviour_condition(out: &mut Out, b: &Behaviour, op: Op, count: u32, as_of: DateTime<Utc>) {
    let n = i64::from(count);
    // Each comparison as "at least k" (`Some(k)`, k ≥ 1; `None`: everyone) and negations.
    let (at_least, not) = match op {
        Op::Ge => (n, false),
        Op::Gt => (n + 1, false),
        Op::Lt => (n, true),
        Op::Le => (n + 1, true),
        Op::Eq | Op::Ne => {
            // Exactly n: at least n and not at least n + 1.
            out.sql(if op == Op::Ne { "(NOT (" } else { "((" });
            at_least_times(out, b, n, false, as_of);
            out.sql(" AND ");
            at_least_times(out, b, n + 1, true, as_of);
            out.sql("))");
            return;
        }
    };
    at_least_times(out, b, at_least, not, as_of);
}

/// Whether the person did `b` at least `k` times (or, `not`, fewer) within its window
/// ending at `as_of`. A person's count is their own and that of customers merged into
/// them.
fn at_least_times(out: &mut Out, b: &Behaviour, k: i64, not: bool, as_of: DateTime<Utc>) {
    if k <= 0 {
        out.sql(if not { "(1 = 0)" } else { "(1 = 1)" });
        return;
    }
    out.sql("(p.customer_id ").sql(if not { "NOT IN" } else { "IN" });
    out.sql(" (SELECT coalesce(mc.merged_into, g.customer_id) FROM (SELECT x.customer_id, count(*) AS n FROM ");
    behaviour_rows(out, b, as_of);
    out.sql(" GROUP BY x.customer_id) g JOIN customers mc ON mc.id = g.customer_id");
    out.sql(" GROUP BY coalesce(mc.merged_into, g.customer_id) HAVING sum(g.n) >= ")
        .bind(Bind::Int(k))
        .sql("))");
}

/// `table x WHERE …`: the rows of a behaviour within its window ending at `as_of`, each
/// with its customer as `x.customer_id` (never null).
fn behaviour_rows(out: &mut Out, b: &Behaviour, as_of: DateTime<Utc>) {
    let window = |out: &mut Out, time: &str| {
        out.sql(" AND ").sql(time).sql(" <= ").bind(Bind::Time(as_of));
        if let Some(days) = b.within_days() {
            out.sql(" AND ").sql(time).sql(" > ");
            out.bind(Bind::Time(as_of - Duration::days(i64::from(days))));
        }
    };
    match b {
        Behaviour::Bought { category, sku, .. } => {
            out.sql("orders x WHERE x.customer_id IS NOT NULL");
            out.sql(" AND x.status NOT IN ('created', 'closed')");
            window(out, "coalesce(x.paid_at, x.created_at)");
            if category.is_some() || sku.is_some() {
                out.sql(" AND EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = x.id");
                if let Some(cat) = category {
                    out.sql(" AND l.category = ").bind(Bind::Text(cat.clone()));
                }
                if let Some(sku) = sku {
                    out.sql(" AND l.sku = ").bind(Bind::Text(sku.clone()));
                }
                out.sql(")");
            }
        }
        Behaviour::Received { program, channel, .. } => {
            out.sql("messages x WHERE x.customer_id IS NOT NULL AND x.sent_at IS NOT NULL");
            window(out, "x.sent_at");
            if let Some(p) = program {
                out.sql(" AND x.program = ").bind(Bind::Text(p.clone()));
            }
            if let Some(ch) = channel {
                out.sql(" AND x.channel = ").bind(Bind::Text(ch.as_str().to_string()));
            }
        }
        Behaviour::Complaints { open, .. } => {
            out.sql("service_records x WHERE x.customer_id IS NOT NULL");
            // As the complaint count of the measures: complaints and disputes; open ones
            // are open now or were closed only after as-of.
            out.sql(" AND x.kind IN ('complaint', 'dispute')");
            if *open {
                out.sql(" AND (x.status = 'open' OR x.closed_at > ")
                    .bind(Bind::Time(as_of))
                    .sql(")");
            }
            window(out, "x.opened_at");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use guanxi_domain::segment::parse;

    fn text(pieces: &[Piece]) -> String {
        pieces
            .iter()
            .map(|p| match p {
                Piece::Sql(s) => s.clone(),
                Piece::Bind(b) => format!("[{b:?}]"),
            })
            .collect()
    }

    #[test]
    fn conditions_become_bound_sql() {
        let as_of = DateTime::from_timestamp(1_000_000_000, 0).unwrap();
        let e = parse("lifecycle = 'decline' and paid_amount >= 199.9 or not tag = 'vip'").unwrap();
        assert_eq!(
            text(&compile(&e, as_of).unwrap()),
            "(((p.lifecycle = [Text(\"decline\")] AND p.lifecycle IS NOT NULL) AND (p.paid_amount_cents >= [Int(19990)])) \
             OR (NOT (EXISTS (SELECT 1 FROM customer_tags t WHERE t.customer_id = p.customer_id AND t.tag IN ([Text(\"vip\")])))))"
        );
        let e = parse("bought(category = 'diapers', within = 2d) >= 2").unwrap();
        let sql = text(&compile(&e, as_of).unwrap());
        assert!(sql.contains("l.category = [Text(\"diapers\")]"), "{sql}");
        assert!(sql.contains("> [Time(2001-09-07T01:46:40Z)]"), "{sql}");
        assert!(sql.starts_with("(p.customer_id IN (SELECT"), "{sql}");
        assert!(sql.ends_with("HAVING sum(g.n) >= [Int(2)]))"), "{sql}");
        assert!(compile(&parse("in segment 'x'").unwrap(), as_of).is_err());
    }

    #[test]
    fn customers_are_joined_only_when_read() {
        assert_eq!(
            from(&parse("lifecycle = 'decline' and tag = 'x'").unwrap()),
            " FROM profiles p "
        );
        assert_eq!(from(&parse("r = 5 or not city = '杭州市'").unwrap()), FROM);
    }

    #[test]
    fn nodes_are_parents_first() {
        let e = parse("r = 1 and not f = 2").unwrap();
        let n: Vec<String> = nodes(&e).iter().map(|n| n.to_string()).collect();
        assert_eq!(n, ["r = 1 and not f = 2", "r = 1", "not f = 2", "f = 2"]);
    }
}
