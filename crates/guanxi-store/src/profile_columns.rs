//! The current build's profile columns in memory, for live segment counts: a million
//! profiles answer a compound count in milliseconds where SQL scans the profiles table
//! (`guanxi bench big`). Only expressions over profile columns are answered here; one
//! that reads a customer field, a tag or a behaviour goes to the store's SQL.
//!
//! The semantics are [`crate::segment`]'s, value for value: the values are bound by the
//! same `bind`, a comparison with a missing value is false (so `not` is plain negation),
//! and the story suite holds both to the same counts on every backend.

use std::sync::Arc;

use std::collections::HashMap;

use guanxi_domain::profile::ClassKind;
use guanxi_domain::segment::{Attr, Cond, Expr, Op};

use crate::segment::{Bind, bind, column};
use crate::{BuildRecord, Store};

/// Missing integers and reals: no stored value is either (cents, days and counts are far
/// from `i64::MIN`; reals are finite).
const NO_INT: i64 = i64::MIN;

/// One build's profile columns, a row per profiled person.
#[derive(Debug, Default)]
pub struct ProfileColumns {
    /// The build they were read from.
    pub build_id: i64,
    len: usize,
    /// Each row's customer id.
    ids: Vec<i64>,
    /// Per class kind (in `ClassKind` order), each row's class code; 0 is "none".
    classes: [Vec<u8>; 8],
    /// Per class kind, the names by code (index 0 unused).
    names: [Vec<String>; 8],
    ints: Vec<(Attr, Vec<i64>)>,
    reals: Vec<(Attr, Vec<f64>)>,
}

/// The latest build's profile columns, read on first use and again once a newer build
/// exists: one copy per process, for the web's live counts and the scheduler's segment
/// members (about 170 bytes per profile).
#[derive(Default)]
pub struct HeldColumns {
    /// Held while reading, so that concurrent users wait for one read.
    columns: tokio::sync::Mutex<Option<Arc<ProfileColumns>>>,
}

impl HeldColumns {
    /// The columns of `build`, read if they are not those held; `None` when the store's
    /// latest build is no longer `build`.
    pub async fn of(&self, store: &dyn Store, build: &BuildRecord) -> crate::Result<Option<Arc<ProfileColumns>>> {
        let mut held = self.columns.lock().await;
        if held.as_ref().is_none_or(|c| c.build_id != build.id) {
            *held = store.profile_columns().await?.map(Arc::new);
        }
        Ok(held.clone().filter(|c| c.build_id == build.id))
    }
}

/// What a customers list shows of one profile beside the record: its value, its
/// relationship type and tier, and how long since its last paid order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ListedProfile {
    pub paid_amount_cents: Option<i64>,
    pub profit_cents: Option<i64>,
    pub recency_days: Option<i64>,
    pub relationship: Option<String>,
    pub tier: Option<String>,
}

/// A column of one attribute.
enum Column<'a> {
    Class(usize),
    Int(&'a [i64]),
    Real(&'a [f64]),
}

/// One profile's column values as a backend reads them ([`COLUMNS_SQL`]'s order), the
/// class names borrowed from the row.
pub struct ColumnRow<'a> {
    pub customer_id: i64,
    pub classes: [Option<&'a str>; 8],
    pub ints: [Option<i64>; INT_ATTRS.len()],
    pub reals: [Option<f64>; REAL_ATTRS.len()],
}

impl<'a> ColumnRow<'a> {
    /// A row of [`COLUMNS_SQL`] read through a backend's getters (by column index).
    pub fn read<E>(
        mut int: impl FnMut(usize) -> Result<Option<i64>, E>,
        mut text: impl FnMut(usize) -> Result<Option<&'a str>, E>,
        mut real: impl FnMut(usize) -> Result<Option<f64>, E>,
    ) -> Result<ColumnRow<'a>, E> {
        let mut row = ColumnRow {
            customer_id: int(0)?.unwrap_or_default(),
            classes: [None; ClassKind::COUNT],
            ints: [None; INT_ATTRS.len()],
            reals: [None; REAL_ATTRS.len()],
        };
        let mut i = 1;
        for slot in &mut row.classes {
            *slot = text(i)?;
            i += 1;
        }
        for slot in &mut row.ints {
            *slot = int(i)?;
            i += 1;
        }
        for slot in &mut row.reals {
            *slot = real(i)?;
            i += 1;
        }
        Ok(row)
    }
}

/// What a backend selects `FROM profiles p` to fill a [`ColumnRow`]: the customer id,
/// the class columns (`ClassKind` order), the integer columns, the real ones.
pub static COLUMNS_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let mut columns = vec!["p.customer_id"];
    let classes: Vec<Attr> = ClassKind::ALL.iter().map(|k| k.attr()).collect();
    columns.extend(
        classes
            .iter()
            .chain(&INT_ATTRS)
            .chain(&REAL_ATTRS)
            .map(|a| column(*a).0),
    );
    columns.join(", ")
});

pub const INT_ATTRS: [Attr; 15] = [
    Attr::R,
    Attr::F,
    Attr::M,
    Attr::RecencyDays,
    Attr::PaidOrders,
    Attr::Frequency,
    Attr::Complaints,
    Attr::Praise,
    Attr::PaidAmount,
    Attr::Profit,
    Attr::Refunds,
    Attr::Monetary,
    Attr::WonBack,
    Attr::UpgradePotential,
    Attr::Clv,
];

pub const REAL_ATTRS: [Attr; 4] = [
    Attr::CycleDays,
    Attr::DiscountShare,
    Attr::PAlive,
    Attr::ExpectedPurchases,
];

impl ProfileColumns {
    /// An empty set of columns for `build_id`; rows are added with [`ProfileColumns::push_row`].
    pub fn new(build_id: i64) -> ProfileColumns {
        let ints = INT_ATTRS.iter().map(|a| (*a, Vec::new())).collect();
        let reals = REAL_ATTRS.iter().map(|a| (*a, Vec::new())).collect();
        ProfileColumns {
            build_id,
            names: Default::default(),
            ints,
            reals,
            ..Default::default()
        }
    }

    /// Adds one row read straight from the store (see [`COLUMNS_SQL`]): no profile is
    /// assembled and no class name allocated per row, which is most of the time a
    /// million rows take.
    pub fn push_row(&mut self, row: &ColumnRow<'_>) {
        for (k, class) in row.classes.iter().enumerate() {
            let code = match class {
                None => 0,
                Some(name) => {
                    let names = &mut self.names[k];
                    if names.is_empty() {
                        names.push(String::new());
                    }
                    match names.iter().position(|n| n == name) {
                        Some(i) => i as u8,
                        None => {
                            names.push((*name).to_string());
                            (names.len() - 1) as u8
                        }
                    }
                }
            };
            self.classes[k].push(code);
        }
        self.ids.push(row.customer_id);
        for ((_, column), v) in self.ints.iter_mut().zip(row.ints) {
            column.push(v.unwrap_or(NO_INT));
        }
        for ((_, column), v) in self.reals.iter_mut().zip(row.reals) {
            column.push(v.unwrap_or(f64::NAN));
        }
        self.len += 1;
    }

    /// Adds the rows of `later` (read from the same build, every id above this one's):
    /// the columns of a build read in parts, each part on its own thread.
    pub fn append(&mut self, later: ProfileColumns) {
        for (k, codes) in later.classes.into_iter().enumerate() {
            // The later part numbered its class names in the order it met them.
            let mut to_mine = vec![0_u8; later.names[k].len()];
            for (code, name) in later.names[k].iter().enumerate().skip(1) {
                let names = &mut self.names[k];
                if names.is_empty() {
                    names.push(String::new());
                }
                to_mine[code] = match names.iter().position(|n| n == name) {
                    Some(i) => i as u8,
                    None => {
                        names.push(name.clone());
                        (names.len() - 1) as u8
                    }
                };
            }
            self.classes[k].extend(codes.into_iter().map(|c| to_mine.get(c as usize).copied().unwrap_or(0)));
        }
        self.ids.extend(later.ids);
        for ((_, mine), (_, theirs)) in self.ints.iter_mut().zip(later.ints) {
            mine.extend(theirs);
        }
        for ((_, mine), (_, theirs)) in self.reals.iter_mut().zip(later.reals) {
            mine.extend(theirs);
        }
        self.len += later.len;
    }

    /// How many profiles.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn column(&self, attr: Attr) -> Option<Column<'_>> {
        if let Some(k) = ClassKind::ALL.iter().position(|k| k.attr() == attr) {
            return Some(Column::Class(k));
        }
        if let Some((_, c)) = self.ints.iter().find(|(a, _)| *a == attr) {
            return Some(Column::Int(c));
        }
        self.reals
            .iter()
            .find(|(a, _)| *a == attr)
            .map(|(_, c)| Column::Real(c))
    }

    /// Row `i`'s value of an integer column.
    fn int(&self, attr: Attr, i: usize) -> Option<i64> {
        match self.column(attr)? {
            Column::Int(c) => Some(c[i]).filter(|v| *v != NO_INT),
            _ => None,
        }
    }

    /// Row `i`'s class of `kind`.
    fn class(&self, kind: ClassKind, i: usize) -> Option<&str> {
        let k = ClassKind::ALL.iter().position(|x| *x == kind)?;
        let code = *self.classes[k].get(i)? as usize;
        (code > 0)
            .then(|| self.names[k].get(code).map(String::as_str))
            .flatten()
    }

    /// The listed figures of the profiles of `ids` (those that have one).
    pub fn listed(&self, ids: &[i64]) -> HashMap<i64, ListedProfile> {
        let wanted: std::collections::HashSet<i64> = ids.iter().copied().collect();
        let mut out = HashMap::with_capacity(ids.len());
        for (i, id) in self.ids.iter().enumerate() {
            if !wanted.contains(id) {
                continue;
            }
            out.insert(
                *id,
                ListedProfile {
                    paid_amount_cents: self.int(Attr::PaidAmount, i),
                    profit_cents: self.int(Attr::Profit, i),
                    recency_days: self.int(Attr::RecencyDays, i),
                    relationship: self.class(ClassKind::Relationship, i).map(str::to_string),
                    tier: self.class(ClassKind::Tier, i).map(str::to_string),
                },
            );
            if out.len() == wanted.len() {
                break;
            }
        }
        out
    }

    /// The customers `expr` holds for, ordered by the number column `by` (highest first
    /// when `descending`), those without a value last, ties by id; `None` when `expr`
    /// reads anything but profile columns or `by` is not a number column.
    pub fn ranked(&self, expr: &Expr, by: Attr, descending: bool) -> Option<Vec<i64>> {
        let bits = self.eval(expr)?;
        let key: Box<dyn Fn(usize) -> Option<f64>> = match self.column(by)? {
            Column::Int(c) => Box::new(move |i| Some(c[i]).filter(|v| *v != NO_INT).map(|v| v as f64)),
            Column::Real(c) => Box::new(move |i| Some(c[i]).filter(|v| !v.is_nan())),
            Column::Class(_) => return None,
        };
        let mut rows: Vec<(Option<f64>, i64)> = Vec::new();
        for (w, &word) in bits.iter().enumerate() {
            let mut rest = word;
            while rest != 0 {
                let i = w * 64 + rest.trailing_zeros() as usize;
                rows.push((key(i), self.ids[i]));
                rest &= rest - 1;
            }
        }
        rows.sort_unstable_by(|(a, ida), (b, idb)| {
            let by_value = match (a, b) {
                (Some(a), Some(b)) if descending => b.total_cmp(a),
                (Some(a), Some(b)) => a.total_cmp(b),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            };
            by_value.then(ida.cmp(idb))
        });
        Some(rows.into_iter().map(|(_, id)| id).collect())
    }

    /// Whether `expr` reads profile columns only (what [`ProfileColumns::count`] answers).
    pub fn answers(expr: &Expr) -> bool {
        expr.conditions().iter().all(|c| match c {
            Cond::Compare { attr, .. } | Cond::In { attr, .. } | Cond::Between { attr, .. } => {
                ClassKind::of(*attr).is_some() || INT_ATTRS.contains(attr) || REAL_ATTRS.contains(attr)
            }
            Cond::Count { .. } | Cond::InSegment(_) => false,
        })
    }

    /// How many profiles `expr` holds for, or `None` when it reads anything but profile
    /// columns (customer fields, tags, behaviour, a saved segment not inlined).
    pub fn count(&self, expr: &Expr) -> Option<u64> {
        let bits = self.eval(expr)?;
        Some(bits.iter().map(|w| u64::from(w.count_ones())).sum())
    }

    /// The customers `expr` holds for, in id order, or `None` when it reads anything but
    /// profile columns.
    pub fn members(&self, expr: &Expr) -> Option<Vec<i64>> {
        let bits = self.eval(expr)?;
        let mut out = Vec::with_capacity(bits.iter().map(|w| w.count_ones() as usize).sum());
        for (w, &word) in bits.iter().enumerate() {
            let mut rest = word;
            while rest != 0 {
                out.push(self.ids[w * 64 + rest.trailing_zeros() as usize]);
                rest &= rest - 1;
            }
        }
        out.sort_unstable();
        Some(out)
    }

    fn words(&self) -> usize {
        self.len.div_ceil(64)
    }

    /// Every row's bit set, the bits past the last row clear.
    fn all(&self) -> Vec<u64> {
        let mut bits = vec![u64::MAX; self.words()];
        if let Some(last) = bits.last_mut()
            && !self.len.is_multiple_of(64)
        {
            *last = (1u64 << (self.len % 64)) - 1;
        }
        bits
    }

    fn eval(&self, e: &Expr) -> Option<Vec<u64>> {
        match e {
            Expr::And(l, r) | Expr::Or(l, r) => {
                let (mut a, b) = (self.eval(l)?, self.eval(r)?);
                let or = matches!(e, Expr::Or(..));
                for (x, y) in a.iter_mut().zip(b) {
                    *x = if or { *x | y } else { *x & y };
                }
                Some(a)
            }
            Expr::Not(x) => {
                let mut a = self.eval(x)?;
                for (w, m) in a.iter_mut().zip(self.all()) {
                    *w = !*w & m;
                }
                Some(a)
            }
            Expr::Cond(c) => self.condition(c),
        }
    }

    /// The rows for which `holds` is true, as bits.
    fn select(&self, holds: impl Fn(usize) -> bool) -> Vec<u64> {
        let mut bits = vec![0u64; self.words()];
        for i in 0..self.len {
            if holds(i) {
                bits[i / 64] |= 1 << (i % 64);
            }
        }
        bits
    }

    fn condition(&self, c: &Cond) -> Option<Vec<u64>> {
        match c {
            Cond::Compare { attr, op, value } => {
                let v = bind(*attr, value);
                self.test(*attr, |x| compare(x, *op, &v))
            }
            Cond::In { attr, values } => {
                let vs: Vec<Bind> = values.iter().map(|v| bind(*attr, v)).collect();
                self.test(*attr, |x| vs.iter().any(|v| compare(x, Op::Eq, v)))
            }
            Cond::Between { attr, low, high } => {
                let (lo, hi) = (bind(*attr, low), bind(*attr, high));
                self.test(*attr, |x| compare(x, Op::Ge, &lo) && compare(x, Op::Le, &hi))
            }
            Cond::Count { .. } | Cond::InSegment(_) => None,
        }
    }

    /// The rows whose value of `attr` is present and passes `test`.
    fn test(&self, attr: Attr, test: impl Fn(Cell<'_>) -> bool) -> Option<Vec<u64>> {
        Some(match self.column(attr)? {
            Column::Class(k) => {
                // Decided once per class name, then looked up by code.
                let names = &self.names[k];
                let passes: Vec<bool> = (0..names.len())
                    .map(|code| code > 0 && test(Cell::Text(&names[code])))
                    .collect();
                let codes = &self.classes[k];
                self.select(|i| passes.get(codes[i] as usize).copied().unwrap_or(false))
            }
            Column::Int(c) => self.select(|i| c[i] != NO_INT && test(Cell::Int(c[i]))),
            Column::Real(c) => self.select(|i| !c[i].is_nan() && test(Cell::Real(c[i]))),
        })
    }
}

/// A present value of a row.
#[derive(Clone, Copy)]
enum Cell<'a> {
    Text(&'a str),
    Int(i64),
    Real(f64),
}

/// `x op v` as SQL compares a column with a bound value (numbers numerically, text by
/// bytes); values of another kind never match (the parser does not make them).
fn compare(x: Cell<'_>, op: Op, v: &Bind) -> bool {
    match (x, v) {
        (Cell::Text(a), Bind::Text(b)) => op.holds(a, b.as_str()),
        (Cell::Int(a), Bind::Int(b)) => op.holds(a, *b),
        (Cell::Int(a), Bind::Real(b)) => op.holds(a as f64, *b),
        (Cell::Real(a), Bind::Real(b)) => op.holds(a, *b),
        (Cell::Real(a), Bind::Int(b)) => op.holds(a, *b as f64),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> ProfileColumns {
        let mut c = ProfileColumns::new(1);
        let paid = INT_ATTRS.iter().position(|a| *a == Attr::PaidAmount).unwrap();
        let recency = INT_ATTRS.iter().position(|a| *a == Attr::RecencyDays).unwrap();
        for (id, class, amount) in [
            (3, "loyal", Some(500)),
            (1, "repeat", Some(900)),
            (2, "loyal", None),
            (4, "loyal", Some(900)),
        ] {
            let mut row = ColumnRow {
                customer_id: id,
                classes: [None; ClassKind::COUNT],
                ints: [None; INT_ATTRS.len()],
                reals: [None; REAL_ATTRS.len()],
            };
            row.classes[0] = Some(class);
            row.ints[paid] = amount;
            row.ints[recency] = Some(id * 10);
            c.push_row(&row);
        }
        c
    }

    /// Rows 1..=6, their relationship and lifecycle classes met in another order by each
    /// half, read whole or in two parts.
    fn read_in(parts: &[std::ops::RangeInclusive<i64>]) -> ProfileColumns {
        let classes = [
            ("repeat", Some("decline")),
            ("loyal", None),
            ("first-time", Some("formation")),
            ("loyal", Some("decline")),
            ("churned", Some("formation")),
            ("first-time", Some("stability")),
        ];
        let mut whole: Option<ProfileColumns> = None;
        for part in parts {
            let mut c = ProfileColumns::new(7);
            for id in part.clone() {
                let (relationship, lifecycle) = classes[(id - 1) as usize];
                let mut row = ColumnRow {
                    customer_id: id,
                    classes: [None; ClassKind::COUNT],
                    ints: [Some(id * 100); INT_ATTRS.len()],
                    reals: [Some(id as f64 / 10.0); REAL_ATTRS.len()],
                };
                row.classes[0] = Some(relationship);
                row.classes[2] = lifecycle;
                c.push_row(&row);
            }
            match whole.as_mut() {
                None => whole = Some(c),
                Some(w) => w.append(c),
            }
        }
        whole.unwrap()
    }

    #[test]
    fn columns_read_in_two_parts_are_the_columns_read_whole() {
        let (whole, parts) = (read_in(&[1..=6]), read_in(&[1..=3, 4..=6]));
        assert_eq!(parts.len(), 6);
        for text in [
            "relationship = 'loyal'",
            "relationship = 'churned' or lifecycle = 'decline'",
            "lifecycle = 'stability'",
            "not lifecycle = 'formation'",
            "paid_amount > 3.00 and relationship in ('first-time', 'churned')",
            "cycle_days >= 0.4",
        ] {
            let e = guanxi_domain::segment::parse(text).unwrap();
            assert_eq!(parts.members(&e), whole.members(&e), "{text}");
        }
        let ids: Vec<i64> = (1..=6).collect();
        assert_eq!(parts.listed(&ids), whole.listed(&ids));
        let e = guanxi_domain::segment::parse("relationship = 'loyal'").unwrap();
        assert_eq!(parts.members(&e), Some(vec![2, 4]));
    }

    #[test]
    fn members_rank_by_a_number_column_missing_last_ties_by_id() {
        let c = columns();
        let all = guanxi_domain::segment::parse("relationship in ('loyal', 'repeat')").unwrap();
        assert_eq!(c.ranked(&all, Attr::PaidAmount, true), Some(vec![1, 4, 3, 2]));
        assert_eq!(c.ranked(&all, Attr::PaidAmount, false), Some(vec![3, 1, 4, 2]));
        let loyal = guanxi_domain::segment::parse("relationship = 'loyal'").unwrap();
        assert_eq!(c.ranked(&loyal, Attr::RecencyDays, false), Some(vec![2, 3, 4]));
        assert_eq!(
            c.ranked(&loyal, Attr::Relationship, false),
            None,
            "a class is no number"
        );
        let listed = c.listed(&[4, 2, 99]);
        assert_eq!(listed.len(), 2);
        assert_eq!(
            listed[&4],
            ListedProfile {
                paid_amount_cents: Some(900),
                profit_cents: None,
                recency_days: Some(40),
                relationship: Some("loyal".into()),
                tier: None,
            }
        );
        assert_eq!(listed[&2].paid_amount_cents, None);
    }
}
