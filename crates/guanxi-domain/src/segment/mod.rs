//! Segments: who belongs in a group, written in a small language over profile attributes
//! and behaviour (README, "Segments").
//!
//! ```text
//! lifecycle = 'decline' and tier in ('vip', 'major')
//! rfm8 = '重要挽留' or (recency_days between 90 and 180 and not tag = 'blocked')
//! bought(category = 'diapers', within = 90d) >= 2 and not received(program = 'second-purchase', within = 14d)
//! complaints(open) > 0 or in segment 'vip-at-risk'
//! ```
//!
//! Design:
//! - **Parse, don't validate.** [`parse`] checks names, value types and class names while
//!   it parses; an [`Expr`] that exists is well typed, so evaluators need no checks. Errors
//!   carry the byte offset and what was expected; [`SegmentError::render`] draws a caret.
//! - **One canonical text.** [`Expr`]'s `Display` prints the fewest parentheses that keep
//!   the meaning; `parse(print(e)) == e` is a property test.
//! - Exact values: numbers are fixed-point ([`Number`], 4 decimals), money compares in
//!   cents, durations in days. No floats in the tree, so trees compare equal.
//! - Evaluation lives with the data (the store compiles an [`Expr`] to SQL); nested
//!   segments are inlined by [`expand`] first.

mod parse;

use std::fmt;

pub use parse::{MAX_CONDITIONS, MAX_NESTING, SegmentError, parse};

use crate::Channel;
use crate::profile::{Activity, Lifecycle, Pricing, Quadrant, Relationship, Rfm8, Rfm11, Tier};

names! {
    /// What a condition can compare: a profile attribute, a customer field or the tags.
    pub enum Attr {
        Relationship = "relationship",
        Activity = "activity",
        Lifecycle = "lifecycle",
        Quadrant = "quadrant",
        Pricing = "pricing",
        Tier = "tier",
        Rfm8 = "rfm8",
        Rfm11 = "rfm11",
        R = "r",
        F = "f",
        M = "m",
        RecencyDays = "recency_days",
        PaidOrders = "paid_orders",
        Frequency = "frequency",
        CycleDays = "cycle_days",
        DiscountShare = "discount_share",
        Complaints = "complaint_count",
        Praise = "praise_count",
        PaidAmount = "paid_amount",
        Profit = "profit",
        Refunds = "refunds",
        Monetary = "monetary",
        WonBack = "won_back",
        UpgradePotential = "upgrade_potential",
        PAlive = "p_alive",
        ExpectedPurchases = "expected_purchases",
        Clv = "clv",
        Province = "province",
        City = "city",
        Source = "source",
        Tag = "tag",
    }
}

/// Every class kind a segment can select on, with its class names, in the order of
/// [`Attr`]: what a form offers as filters.
pub fn class_kinds() -> impl Iterator<Item = (&'static str, &'static [&'static str])> {
    crate::profile::ClassKind::ALL.iter().map(|k| (k.as_str(), k.classes()))
}

/// The type of an attribute: which operators and values it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One of a closed set of class names.
    Class(&'static [&'static str]),
    Integer,
    Decimal,
    /// Written in the currency's units with at most 2 decimals; compared in cents.
    Money,
    Bool,
    Text,
    /// The customer's tags: `=` has the tag, `!=` has not, `in` has any.
    Tag,
}

fn class_names<T: Copy + 'static>(all: &'static [T], name: fn(T) -> &'static str) -> &'static [&'static str] {
    // Leaked once per class kind: a handful of small static tables.
    Box::leak(all.iter().map(|v| name(*v)).collect::<Vec<_>>().into_boxed_slice())
}

impl Attr {
    pub fn kind(self) -> Kind {
        use std::sync::OnceLock;
        static CLASSES: OnceLock<[&'static [&'static str]; 8]> = OnceLock::new();
        let c = CLASSES.get_or_init(|| {
            [
                class_names(Relationship::ALL, Relationship::as_str),
                class_names(Activity::ALL, Activity::as_str),
                class_names(Lifecycle::ALL, Lifecycle::as_str),
                class_names(Quadrant::ALL, Quadrant::as_str),
                class_names(Pricing::ALL, Pricing::as_str),
                class_names(Tier::ALL, Tier::as_str),
                class_names(Rfm8::ALL, Rfm8::as_str),
                class_names(Rfm11::ALL, Rfm11::as_str),
            ]
        });
        match self {
            Attr::Relationship => Kind::Class(c[0]),
            Attr::Activity => Kind::Class(c[1]),
            Attr::Lifecycle => Kind::Class(c[2]),
            Attr::Quadrant => Kind::Class(c[3]),
            Attr::Pricing => Kind::Class(c[4]),
            Attr::Tier => Kind::Class(c[5]),
            Attr::Rfm8 => Kind::Class(c[6]),
            Attr::Rfm11 => Kind::Class(c[7]),
            Attr::R
            | Attr::F
            | Attr::M
            | Attr::RecencyDays
            | Attr::PaidOrders
            | Attr::Frequency
            | Attr::Complaints
            | Attr::Praise => Kind::Integer,
            Attr::CycleDays | Attr::DiscountShare | Attr::PAlive | Attr::ExpectedPurchases => Kind::Decimal,
            Attr::PaidAmount | Attr::Profit | Attr::Refunds | Attr::Monetary | Attr::Clv => Kind::Money,
            Attr::WonBack | Attr::UpgradePotential => Kind::Bool,
            Attr::Province | Attr::City | Attr::Source => Kind::Text,
            Attr::Tag => Kind::Tag,
        }
    }
}

/// A fixed-point number with 4 decimals: `Number(12_500)` is 1.25.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Number(pub i64);

impl Number {
    pub const SCALE: i64 = 10_000;

    pub fn from_int(v: i64) -> Number {
        Number(v * Number::SCALE)
    }

    /// The whole value when it has no fraction.
    pub fn as_int(self) -> Option<i64> {
        (self.0 % Number::SCALE == 0).then_some(self.0 / Number::SCALE)
    }

    /// In cents, when it has at most 2 decimals.
    pub fn as_cents(self) -> Option<i64> {
        (self.0 % 100 == 0).then_some(self.0 / 100)
    }

    pub fn as_f64(self) -> f64 {
        self.0 as f64 / Number::SCALE as f64
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let (int, frac) = (abs / Number::SCALE as u64, abs % Number::SCALE as u64);
        if frac == 0 {
            write!(f, "{sign}{int}")
        } else {
            let digits = format!("{frac:04}");
            write!(f, "{sign}{int}.{}", digits.trim_end_matches('0'))
        }
    }
}

/// A literal on the right of a comparison.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    Number(Number),
    Text(String),
    Bool(bool),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Number(n) => n.fmt(f),
            Value::Text(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub const ALL: [Op; 6] = [Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge];

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    /// Whether `left op right` holds.
    pub fn holds<T: PartialOrd>(self, left: T, right: T) -> bool {
        match self {
            Op::Eq => left == right,
            Op::Ne => left != right,
            Op::Lt => left < right,
            Op::Le => left <= right,
            Op::Gt => left > right,
            Op::Ge => left >= right,
        }
    }
}

/// A behaviour counted over a window ending at the profile's as-of moment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Behaviour {
    /// Paid orders, optionally with a line in `category` or of `sku`.
    Bought {
        category: Option<String>,
        sku: Option<String>,
        within_days: Option<u32>,
    },
    /// Messages sent to the customer, optionally of a program or on a channel.
    Received {
        program: Option<String>,
        channel: Option<Channel>,
        within_days: Option<u32>,
    },
    /// Complaints and disputes (as the complaint count of the measures), optionally only
    /// those open at the as-of moment.
    Complaints { open: bool, within_days: Option<u32> },
}

impl Behaviour {
    pub fn name(&self) -> &'static str {
        match self {
            Behaviour::Bought { .. } => "bought",
            Behaviour::Received { .. } => "received",
            Behaviour::Complaints { .. } => "complaints",
        }
    }

    pub fn within_days(&self) -> Option<u32> {
        match self {
            Behaviour::Bought { within_days, .. }
            | Behaviour::Received { within_days, .. }
            | Behaviour::Complaints { within_days, .. } => *within_days,
        }
    }
}

impl fmt::Display for Behaviour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = |s: &str| Value::Text(s.to_string()).to_string();
        let mut args: Vec<String> = Vec::new();
        match self {
            Behaviour::Bought { category, sku, .. } => {
                args.extend(category.as_deref().map(|c| format!("category = {}", text(c))));
                args.extend(sku.as_deref().map(|c| format!("sku = {}", text(c))));
            }
            Behaviour::Received { program, channel, .. } => {
                args.extend(program.as_deref().map(|c| format!("program = {}", text(c))));
                args.extend(channel.map(|c| format!("channel = {}", text(c.as_str()))));
            }
            Behaviour::Complaints { open, .. } => {
                if *open {
                    args.push("open".into());
                }
            }
        }
        args.extend(self.within_days().map(|d| format!("within = {d}d")));
        write!(f, "{}({})", self.name(), args.join(", "))
    }
}

/// One condition: a leaf of the expression tree.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Cond {
    Compare {
        attr: Attr,
        op: Op,
        value: Value,
    },
    In {
        attr: Attr,
        values: Vec<Value>,
    },
    Between {
        attr: Attr,
        low: Value,
        high: Value,
    },
    /// How many times the behaviour happened, compared with `count`.
    Count {
        behaviour: Behaviour,
        op: Op,
        count: u32,
    },
    /// Members of a saved segment; [`expand`] replaces it with that segment's expression.
    InSegment(String),
}

impl fmt::Display for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cond::Compare { attr, op, value } => write!(f, "{attr} {} {value}", op.as_str()),
            Cond::In { attr, values } => {
                let v: Vec<String> = values.iter().map(Value::to_string).collect();
                write!(f, "{attr} in ({})", v.join(", "))
            }
            Cond::Between { attr, low, high } => write!(f, "{attr} between {low} and {high}"),
            // A bare behaviour means "at least once".
            Cond::Count {
                behaviour,
                op: Op::Ge,
                count: 1,
            } => behaviour.fmt(f),
            Cond::Count { behaviour, op, count } => write!(f, "{behaviour} {} {count}", op.as_str()),
            Cond::InSegment(name) => write!(f, "in segment {}", Value::Text(name.clone())),
        }
    }
}

/// A segment's expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cond(Cond),
}

impl Expr {
    fn precedence(&self) -> u8 {
        match self {
            Expr::Or(..) => 1,
            Expr::And(..) => 2,
            Expr::Not(_) => 3,
            Expr::Cond(_) => 4,
        }
    }

    /// Every condition, left to right.
    pub fn conditions(&self) -> Vec<&Cond> {
        let mut out = Vec::new();
        self.walk(&mut |c| out.push(c));
        out
    }

    fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Cond)) {
        match self {
            Expr::Or(l, r) | Expr::And(l, r) => {
                l.walk(f);
                r.walk(f);
            }
            Expr::Not(e) => e.walk(f),
            Expr::Cond(c) => f(c),
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Operators are left-associative: a right operand of the same precedence, or any
        // operand of lower precedence, needs parentheses.
        let side = |f: &mut fmt::Formatter<'_>, e: &Expr, min: u8| {
            if e.precedence() < min {
                write!(f, "({e})")
            } else {
                write!(f, "{e}")
            }
        };
        match self {
            Expr::Or(l, r) => {
                side(f, l, 1)?;
                f.write_str(" or ")?;
                side(f, r, 2)
            }
            Expr::And(l, r) => {
                side(f, l, 2)?;
                f.write_str(" and ")?;
                side(f, r, 3)
            }
            Expr::Not(e) => {
                f.write_str("not ")?;
                side(f, e, 3)
            }
            Expr::Cond(c) => c.fmt(f),
        }
    }
}

/// Why nested segments could not be inlined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    #[error("no saved segment is named '{0}' (see guanxi segment saved)")]
    Unknown(String),
    #[error("segment '{0}' refers to itself through {1}")]
    Cycle(String, String),
    #[error("with the saved segments it names inlined, the expression has more than {max} conditions", max = parse::MAX_CONDITIONS)]
    TooLarge,
}

/// Why a segment cannot be saved.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SaveError {
    #[error("a segment needs a name")]
    NoName,
    #[error("the expression is not valid")]
    Syntax(SegmentError),
    #[error(transparent)]
    Reference(ExpandError),
}

/// Checks a segment about to be saved as `name` with the expression `text`, against the
/// saved segments (`saved`: name → expression): a name, a valid expression, every segment
/// it refers to exists, and none leads back to it. Returns the parsed expression (its
/// canonical text is what is stored).
pub fn check_save(
    name: &str,
    text: &str,
    saved: &std::collections::HashMap<String, String>,
) -> Result<Expr, SaveError> {
    if name.trim().is_empty() {
        return Err(SaveError::NoName);
    }
    let parsed = parse(text).map_err(SaveError::Syntax)?;
    let mut with = saved.clone();
    with.insert(name.to_string(), parsed.to_string());
    let lookup = |n: &str| with.get(n).and_then(|t| parse(t).ok());
    expand(&parsed, &lookup)
        .and_then(|_| expand(&Expr::Cond(Cond::InSegment(name.to_string())), &lookup))
        .map_err(SaveError::Reference)?;
    Ok(parsed)
}

/// Replaces every `in segment 'name'` with that segment's expression (looked up with
/// `lookup`, recursively), refusing unknown names and cycles.
pub fn expand(expr: &Expr, lookup: &impl Fn(&str) -> Option<Expr>) -> Result<Expr, ExpandError> {
    // Each segment is bounded when parsed, but inlining multiplies: `a = b and b`,
    // `b = c and c`, … doubles per level. `budget` counts the conditions produced.
    fn go(
        e: &Expr,
        lookup: &impl Fn(&str) -> Option<Expr>,
        path: &mut Vec<String>,
        budget: &mut usize,
    ) -> Result<Expr, ExpandError> {
        Ok(match e {
            Expr::Or(l, r) => Expr::Or(
                Box::new(go(l, lookup, path, budget)?),
                Box::new(go(r, lookup, path, budget)?),
            ),
            Expr::And(l, r) => Expr::And(
                Box::new(go(l, lookup, path, budget)?),
                Box::new(go(r, lookup, path, budget)?),
            ),
            Expr::Not(x) => Expr::Not(Box::new(go(x, lookup, path, budget)?)),
            Expr::Cond(Cond::InSegment(name)) => {
                if path.contains(name) {
                    return Err(ExpandError::Cycle(name.clone(), path.join(" → ")));
                }
                // Nesting of segments adds to the tree's depth as `(` does.
                if path.len() >= parse::MAX_NESTING {
                    return Err(ExpandError::TooLarge);
                }
                let inner = lookup(name).ok_or_else(|| ExpandError::Unknown(name.clone()))?;
                path.push(name.clone());
                let out = go(&inner, lookup, path, budget)?;
                path.pop();
                out
            }
            Expr::Cond(c) => {
                *budget += 1;
                if *budget > parse::MAX_CONDITIONS {
                    return Err(ExpandError::TooLarge);
                }
                Expr::Cond(c.clone())
            }
        })
    }
    go(expr, lookup, &mut Vec::new(), &mut 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_without_trailing_zeros() {
        assert_eq!(Number(12_500).to_string(), "1.25");
        assert_eq!(Number(-5_000).to_string(), "-0.5");
        assert_eq!(Number::from_int(90).to_string(), "90");
        assert_eq!(Number(1).to_string(), "0.0001");
    }

    #[test]
    fn printing_keeps_the_grouping() {
        let c = |s: &str| parse(s).unwrap();
        assert_eq!(
            c("(r = 1 or r = 2) and f = 3").to_string(),
            "(r = 1 or r = 2) and f = 3"
        );
        assert_eq!(c("r = 1 or (r = 2 and f = 3)").to_string(), "r = 1 or r = 2 and f = 3");
        assert_eq!(c("r = 1 or (r = 2 or f = 3)").to_string(), "r = 1 or (r = 2 or f = 3)");
        assert_eq!(c("not (r = 1 and f = 2)").to_string(), "not (r = 1 and f = 2)");
        assert_eq!(c("bought(within = 2w) >= 1").to_string(), "bought(within = 14d)");
    }

    #[test]
    fn nested_segments_are_inlined_and_cycles_refused() {
        let saved = |name: &str| match name {
            "a" => Some(parse("tier = 'vip' and in segment 'b'").unwrap()),
            "b" => Some(parse("lifecycle = 'decline'").unwrap()),
            "loop" => Some(parse("r = 5 or in segment 'loop'").unwrap()),
            _ => None,
        };
        let e = expand(&parse("in segment 'a' or f = 5").unwrap(), &saved).unwrap();
        assert_eq!(e.to_string(), "tier = 'vip' and lifecycle = 'decline' or f = 5");
        assert_eq!(
            expand(&parse("in segment 'nope'").unwrap(), &saved),
            Err(ExpandError::Unknown("nope".into()))
        );
        assert!(matches!(
            expand(&parse("in segment 'loop'").unwrap(), &saved),
            Err(ExpandError::Cycle(..))
        ));
    }

    #[test]
    fn inlining_that_multiplies_is_bounded() {
        // Each level doubles: s0 = s1 and s1, s1 = s2 and s2, … — 2^20 conditions if inlined.
        let saved = |name: &str| {
            let n: usize = name.trim_start_matches('s').parse().ok()?;
            Some(if n == 20 {
                parse("r = 1").unwrap()
            } else {
                parse(&format!("in segment 's{0}' and in segment 's{0}'", n + 1)).unwrap()
            })
        };
        assert_eq!(
            expand(&parse("in segment 's0'").unwrap(), &saved),
            Err(ExpandError::TooLarge)
        );
        assert!(expand(&parse("in segment 's15'").unwrap(), &saved).is_ok());
    }
}
