//! Points (issue 17): a member's balance, lots and history; posting an event (earned,
//! redeemed, taken back, expired, adjusted) once whatever replays; and the proof that
//! every balance is what the ledger's events add up to (`guanxi member verify`).
//!
//! A post reads the member's events, replays them into an [`Account`] (the domain's
//! rules), posts the new event and appends it with its movements — provided no other
//! event of the member came in since the read (else it reads again): two redemptions at
//! once can never spend the same points.

use chrono::{DateTime, Utc};
use guanxi_domain::points::{Account, Event, Key, Kind, Liability, Lot, Movement, Rules};
use guanxi_domain::tier::Tiers;
use guanxi_store::{Appended, PostedPoints, Store};
use serde::Serialize;

use crate::AppError;
use crate::access::Actor;
use crate::error::Result;

/// How many times a post reads again when other events of the member keep coming in.
const ATTEMPTS: usize = 8;

/// What a post did.
#[derive(Debug, Clone, Serialize)]
pub struct Posted {
    pub customer_id: i64,
    pub key: Key,
    pub appended: Appended,
    pub movements: Vec<Movement>,
    pub balance: i64,
}

/// The account `events` add up to (the events in the order posted).
fn replay(events: &[PostedPoints]) -> Result<Account> {
    let mut account = Account::default();
    for e in events {
        account.post(&e.key, e.at, &e.event).map_err(|why| {
            AppError::Store(guanxi_store::StoreError::Corrupt(format!(
                "points of customer #{}: event {} no longer posts: {why}",
                e.customer_id, e.key
            )))
        })?;
    }
    Ok(account)
}

/// Posts `event` (key `key`) for member `customer_id` at `at`, recorded under `actor`;
/// a key posted before changes nothing (`Appended::Replayed`), an event the rules
/// refuse (a redemption beyond the balance) is bad input and nothing is recorded. The
/// member is one the store holds: a number a person typed is checked by the caller
/// ([`known`]), not once per order of an earning run.
async fn post(
    store: &dyn Store,
    customer_id: i64,
    key: &Key,
    at: DateTime<Utc>,
    event: &Event,
    actor: &str,
) -> Result<Posted> {
    for _ in 0..ATTEMPTS {
        let events = store.points_events(customer_id).await?;
        let mut account = replay(&events)?;
        if account.has(key) {
            return Ok(Posted {
                customer_id,
                key: key.clone(),
                appended: Appended::Replayed,
                movements: Vec::new(),
                balance: account.balance(),
            });
        }
        let movements = account.post(key, at, event).map_err(|why| AppError::BadInput {
            code: "points_refused",
            message: why.to_string(),
        })?;
        let new = guanxi_store::NewPoints {
            customer_id,
            last: events.last().map(|e| e.id),
            key,
            at,
            event,
            movements: &movements,
            actor,
        };
        // Another event of the member came in since the read (or this very key, from
        // another instance): read again.
        if store.append_points(&new).await? == Appended::Posted {
            return Ok(Posted {
                customer_id,
                key: key.clone(),
                appended: Appended::Posted,
                movements,
                balance: account.balance(),
            });
        }
    }
    Err(AppError::BadInput {
        code: "points_busy",
        message: format!("customer #{customer_id}: other points events kept coming in; try again"),
    })
}

/// Refuses a customer number no customer has.
async fn known(store: &dyn Store, customer_id: i64) -> Result<()> {
    match store.customer_by_id(customer_id).await? {
        Some(_) => Ok(()),
        None => Err(AppError::BadInput {
            code: "customer_unknown",
            message: format!("customer: no customer #{customer_id}"),
        }),
    }
}

/// A member's points as the ledger has them.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub customer_id: i64,
    /// Their tier by the latest recorded change (none before an evaluation found them).
    pub tier: Option<String>,
    pub balance: i64,
    pub available: u64,
    pub debt: u64,
    pub lots: Vec<Lot>,
    /// Every event, the latest last.
    pub history: Vec<PostedPoints>,
}

/// Member `customer_id`'s balance, lots and history.
pub async fn show(store: &dyn Store, customer_id: i64) -> Result<Member> {
    known(store, customer_id).await?;
    let history = store.points_events(customer_id).await?;
    let account = replay(&history)?;
    let tier = store.current_tiers(&[customer_id]).await?.pop().map(|(_, t)| t);
    Ok(Member {
        customer_id,
        tier,
        balance: account.balance(),
        available: account.available(),
        debt: account.debt(),
        lots: account.lots().cloned().collect(),
        history,
    })
}

/// The shop's membership settings, as the web and the API hand them to the use cases.
#[derive(Debug, Clone, Default)]
pub struct Membership {
    pub rules: Rules,
    pub tiers: Tiers,
    pub coupons: guanxi_domain::coupon::Definitions,
}

impl Membership {
    pub fn of(settings: &guanxi_domain::profile::Settings) -> Membership {
        Membership {
            rules: settings.points,
            tiers: settings.tiers.clone(),
            coupons: settings.coupons.clone(),
        }
    }
}

/// A manual adjustment of a member's points.
#[derive(Debug, Clone)]
pub struct Adjustment {
    pub customer_id: i64,
    /// Positive: a lot that expires like an earning; negative: taken like a redemption,
    /// into debt beyond the balance.
    pub points: i64,
    pub reason: String,
    /// What makes it unique: a second adjustment with the same reference is a replay.
    pub reference: String,
}

/// Posts adjustment `a` by `by` with its reason.
pub async fn adjust(store: &dyn Store, a: &Adjustment, rules: Rules, by: &Actor, now: DateTime<Utc>) -> Result<Posted> {
    let event = Event::Adjust {
        points: a.points,
        expires_at: expires(now, rules.expiry_months),
        reason: a.reason.trim().to_string(),
        operator: by.name.clone(),
    };
    let key = Key::new(Kind::Adjust, "staff", &a.reference);
    known(store, a.customer_id).await?;
    post(store, a.customer_id, &key, now, &event, &by.name).await
}

/// A redemption of `points` (reference: the shop's order or voucher that spent them).
pub async fn redeem(
    store: &dyn Store,
    customer_id: i64,
    points: u64,
    source: &str,
    reference: &str,
    by: &Actor,
    now: DateTime<Utc>,
) -> Result<Posted> {
    let key = Key::new(Kind::Redeem, source, reference);
    known(store, customer_id).await?;
    post(store, customer_id, &key, now, &Event::Redeem { points }, &by.name).await
}

/// When points earned at `at` expire: `months` later (first in, first out).
pub fn expires(at: DateTime<Utc>, months: u32) -> DateTime<Utc> {
    at.checked_add_months(chrono::Months::new(months))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// What an expiry run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Expired {
    pub period: String,
    pub members: u64,
    pub points: i64,
}

/// The members looked at a time.
const PAGE: u32 = 1000;

/// The expiry period `at` falls in: the shop's month (`2026-07`).
pub fn period(at: DateTime<Utc>, tz: guanxi_domain::ShopTz) -> String {
    use chrono::Datelike as _;
    let local = at.with_timezone(&tz.0);
    format!("{}-{:02}", local.year(), local.month())
}

/// Expires, for every member, the lots whose day has come by `now`, once per `period`
/// (its name keys the event: a second run for the same period changes nothing, so one
/// instance or many, it happens once).
pub async fn expire(store: &dyn Store, period: &str, now: DateTime<Utc>) -> Result<Expired> {
    let mut out = Expired {
        period: period.to_string(),
        ..Expired::default()
    };
    let key = Key::new(Kind::Expire, "guanxi", period);
    let mut after = 0;
    loop {
        let members = store.points_members(after, PAGE).await?;
        let Some(last) = members.last() else { break };
        after = *last;
        for customer in members {
            let posted = post(store, customer, &key, now, &Event::Expire, "expiry").await?;
            let gone: i64 = posted.movements.iter().map(|m| m.points).sum();
            if gone != 0 {
                out.members += 1;
                out.points -= gone;
            }
        }
    }
    Ok(out)
}

/// One member whose stored movements are not what their events add up to.
#[derive(Debug, Clone, Serialize)]
pub struct Difference {
    pub customer_id: i64,
    /// The lot (`None`: the debt) that differs.
    pub lot: Option<Key>,
    pub stored: i64,
    pub replayed: i64,
    /// When the events themselves no longer post: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a proof of the ledger found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Verified {
    pub members: u64,
    pub events: u64,
    /// The balances' total.
    pub points: i64,
    pub differences: Vec<Difference>,
}

/// The ledger of the members after `after`, a page of them: the last member's id, their
/// events in order and their movements summed per lot; `None` past the last member.
async fn ledger_page(
    store: &dyn Store,
    after: i64,
) -> Result<Option<(i64, Vec<PostedPoints>, Vec<guanxi_store::LotSum>)>> {
    let members = store.points_members(after, PAGE).await?;
    let Some(&upto) = members.last() else { return Ok(None) };
    let (events, sums) = store.points_ledger(after, upto).await?;
    Ok(Some((upto, events, sums)))
}

/// The points liability as of `now`: what is outstanding and worth, owed, expiring in
/// the month ahead, and the breakage to expect from the shop's own history (every
/// member's account replayed from the ledger).
pub async fn liability(store: &dyn Store, rules: Rules, now: DateTime<Utc>) -> Result<Liability> {
    let next_month = expires(now, 1);
    let mut out = Liability::default();
    let mut after = 0;
    while let Some((upto, events, _)) = ledger_page(store, after).await? {
        after = upto;
        for group in events.chunk_by(|a, b| a.customer_id == b.customer_id) {
            out.add(&replay(group)?, next_month);
        }
    }
    Ok(out.finish(&rules))
}

/// Proves every balance: each member's events replayed by the domain's rules give, lot
/// by lot and for the debt, exactly the movements stored. Pages through the members.
pub async fn verify(store: &dyn Store) -> Result<Verified> {
    use std::collections::BTreeMap;
    let mut out = Verified::default();
    let mut after = 0;
    while let Some((upto, events, sums)) = ledger_page(store, after).await? {
        after = upto;
        let mut stored: BTreeMap<(i64, Option<Key>), i64> = BTreeMap::new();
        for s in sums {
            *stored.entry((s.customer_id, s.lot)).or_default() += s.points;
        }
        let mut replayed: BTreeMap<(i64, Option<Key>), i64> = BTreeMap::new();
        for group in events.chunk_by(|a, b| a.customer_id == b.customer_id) {
            let customer = group[0].customer_id;
            out.members += 1;
            out.events += group.len() as u64;
            let account = match replay(group) {
                Ok(a) => a,
                Err(e) => {
                    out.differences.push(Difference {
                        customer_id: customer,
                        lot: None,
                        stored: 0,
                        replayed: 0,
                        error: Some(e.to_string()),
                    });
                    continue;
                }
            };
            out.points += account.balance();
            for lot in account.lots() {
                replayed.insert((customer, Some(lot.key.clone())), lot.remaining as i64);
            }
            replayed.insert((customer, None), -(account.debt() as i64));
        }
        // Every (member, lot) on either side, zeros included.
        let keys: std::collections::BTreeSet<&(i64, Option<Key>)> = stored.keys().chain(replayed.keys()).collect();
        for k in keys {
            let (s, r) = (
                stored.get(k).copied().unwrap_or(0),
                replayed.get(k).copied().unwrap_or(0),
            );
            if s != r {
                out.differences.push(Difference {
                    customer_id: k.0,
                    lot: k.1.clone(),
                    stored: s,
                    replayed: r,
                    error: None,
                });
            }
        }
    }
    Ok(out)
}

/// What an earning run posted.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Earned {
    pub orders: u64,
    pub earned: u64,
    pub taken_back: u64,
    /// Orders already posted (a re-run, a replayed webhook): nothing changed.
    pub replayed: u64,
}

/// Posts what orders paid or refunded in `[from, to)` earn and give back: each paid
/// order earns (paid amount × the rate × the multiplier of the tier the member held
/// before it, as recorded by [`evaluate`]; its key the order's source and id, so that it
/// earns once however often it is seen); each refund takes back the refunded share of
/// what its order earned (keyed by the refund's amount: a larger refund later takes back
/// the rest).
pub async fn earn(
    store: &dyn Store,
    rules: Rules,
    tiers: &Tiers,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Earned> {
    let mut out = Earned::default();
    let mut after = 0;
    loop {
        let orders = store.points_orders(from, to, after, PAGE).await?;
        let Some(last) = orders.last() else { break };
        after = last.id;
        // What of the page was posted before, in one read: the hourly round goes over
        // 35 days of orders each time (about 450,000 at 10M orders in two years) and
        // would otherwise read each member's ledger to find every one already there.
        let keyed: Vec<(guanxi_store::PointsOrder, Key, Option<Key>)> = orders
            .into_iter()
            .map(|o| {
                let earn = Key::new(Kind::Earn, &o.source, &o.external_id);
                let refund = refund_key(&o);
                (o, earn, refund)
            })
            .collect();
        let keys: Vec<(i64, Key)> = keyed
            .iter()
            .flat_map(|(o, earn, refund)| std::iter::once(earn).chain(refund).map(|k| (o.customer_id, k.clone())))
            .collect();
        let before = store.points_posted(&keys).await?;
        // Each member's recorded tier changes, read once a page.
        let mut held: std::collections::HashMap<i64, Vec<guanxi_domain::tier::Change>> = Default::default();
        for (o, earn_key, refund) in keyed {
            out.orders += 1;
            let earned_before = before.contains(&(o.customer_id, earn_key.clone()));
            let refund = refund.filter(|k| !before.contains(&(o.customer_id, k.clone())));
            if earned_before {
                out.replayed += 1;
                if refund.is_none() {
                    continue;
                }
            }
            let multiplier = match o.paid_at {
                Some(at) => {
                    if let std::collections::hash_map::Entry::Vacant(e) = held.entry(o.customer_id) {
                        e.insert(store.tier_changes(o.customer_id).await?);
                    }
                    let changes = held.get(&o.customer_id).map(Vec::as_slice).unwrap_or_default();
                    tiers.multiplier(guanxi_domain::tier::tier_before(changes, at))
                }
                None => 1.0,
            };
            let points = guanxi_domain::points::earned(o.paid_cents, rules.points_per_yuan, multiplier);
            let mut earned_here = earned_before;
            if !earned_before
                && let Some(paid_at) = o.paid_at
                && points > 0
            {
                let event = Event::Earn {
                    points,
                    expires_at: expires(paid_at, rules.expiry_months),
                };
                let posted = post(store, o.customer_id, &earn_key, paid_at, &event, "orders").await?;
                match posted.appended {
                    Appended::Posted => out.earned += points,
                    _ => out.replayed += 1,
                }
                earned_here = true;
            }
            // An order paid before points were given earned nothing to take back.
            if let (Some(key), Some(refunded_at)) = (refund, o.refunded_at)
                && points > 0
                && earned_here
            {
                // The refunded share of what the order earned; the domain takes back at
                // most what is left of it.
                let back =
                    ((points as i128 * i128::from(o.refund_cents.min(o.paid_cents))) / i128::from(o.paid_cents)) as u64;
                if back > 0 {
                    let event = Event::Refund {
                        earned: earn_key,
                        points: back,
                    };
                    let posted = post(store, o.customer_id, &key, refunded_at, &event, "orders").await?;
                    if posted.appended == Appended::Posted {
                        out.taken_back += back;
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The key of what an order's refund takes back (keyed by the refund's amount: a larger
/// refund later takes back the rest); `None` when nothing was refunded of a paid amount.
fn refund_key(o: &guanxi_store::PointsOrder) -> Option<Key> {
    (o.refunded_at.is_some() && o.refund_cents > 0 && o.paid_cents > 0).then(|| {
        Key::new(
            Kind::Refund,
            &o.source,
            &format!("{}:{}", o.external_id, o.refund_cents),
        )
    })
}

/// What posting programs' points steps did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Granted {
    /// Steps posted now.
    pub steps: u64,
    pub points: i64,
    /// Steps whose key was posted before (a run stopped between posting and marking).
    pub replayed: u64,
}

/// Posts the points that programs' steps gave (`action = { points = N }`, decided by the
/// scheduler) to the members' ledgers, each step once (its key is the step's ledger key),
/// as an adjustment by the program with the step as its reason, then marks them done.
pub async fn grant(store: &dyn Store, rules: Rules, now: DateTime<Utc>) -> Result<Granted> {
    let mut out = Granted::default();
    let mut after = String::new();
    loop {
        let page = store.points_actions(&after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.ledger_key.clone();
        let mut done = Vec::with_capacity(page.len());
        for a in page {
            let points: i64 = a.points.parse().map_err(|_| {
                AppError::Store(guanxi_store::StoreError::Corrupt(format!(
                    "program {} step {}: points {:?} is not a number",
                    a.program, a.step, a.points
                )))
            })?;
            let operator = format!("program:{}", a.program);
            let event = Event::Adjust {
                points,
                expires_at: expires(a.due_at, rules.expiry_months),
                reason: format!("{} step {}", a.program, a.step),
                operator: operator.clone(),
            };
            let key = Key::new(Kind::Adjust, "program", &a.ledger_key);
            let posted = post(store, a.customer_id, &key, a.due_at, &event, &operator).await?;
            match posted.appended {
                Appended::Posted => {
                    out.steps += 1;
                    out.points += points;
                }
                _ => out.replayed += 1,
            }
            done.push(a.ledger_key);
        }
        store.points_actions_done(&done, now).await?;
    }
    Ok(out)
}

/// What an evaluation of the tiers found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Evaluated {
    pub members: u64,
    /// Tier changes and warnings recorded by this run (a re-run records none again).
    pub changes: u64,
    pub warnings: u64,
    /// Members per tier now, in the tiers' order.
    pub tiers: Vec<(String, u64)>,
}

/// Evaluates every member's tier up to `now` from their paid orders (upgrades at the
/// qualifying order, lowering only at the periodic evaluation, warnings before it) and
/// records the changes and warnings not recorded yet — one pass for one instance or many.
pub async fn evaluate(store: &dyn Store, tiers: &Tiers, now: DateTime<Utc>) -> Result<Evaluated> {
    if tiers.levels.is_empty() {
        return Err(AppError::BadInput {
            code: "tiers_invalid",
            message: "tiers.levels: expected at least one tier".into(),
        });
    }
    let mut out = Evaluated {
        tiers: tiers.levels.iter().map(|l| (l.name.clone(), 0)).collect(),
        ..Evaluated::default()
    };
    let mut after = 0;
    loop {
        let orders = store.member_orders(after, PAGE).await?;
        let Some(last) = orders.last() else { break };
        after = last.0;
        let mut changes = Vec::new();
        let mut warnings = Vec::new();
        for group in orders.chunk_by(|a, b| a.0 == b.0) {
            let customer = group[0].0;
            let paid: Vec<guanxi_domain::tier::Paid> = group.iter().map(|(_, p)| *p).collect();
            let (c, w) = guanxi_domain::tier::history(tiers, &paid, now);
            out.members += 1;
            if let Some(now_in) = c.last().map(|c| c.to)
                && let Some(slot) = out.tiers.get_mut(now_in)
            {
                slot.1 += 1;
            }
            changes.extend(c.into_iter().map(|c| {
                let name = tiers.levels.get(c.to).map(|l| l.name.clone()).unwrap_or_default();
                (customer, c, name)
            }));
            warnings.extend(w.into_iter().map(|w| {
                let name = tiers.levels.get(w.tier).map(|l| l.name.clone()).unwrap_or_default();
                (customer, w, name)
            }));
        }
        let (c, w) = store.record_tiers(&changes, &warnings, now).await?;
        out.changes += c;
        out.warnings += w;
    }
    Ok(out)
}

/// What one round of the membership jobs did (see [`maintain`]).
#[derive(Debug, Clone, Serialize)]
pub struct Maintained {
    pub tiers: Evaluated,
    pub earned: Earned,
    pub granted: Granted,
    pub expired: Expired,
}

/// How far back a round of [`maintain`] looks for orders to earn from: a live shop's
/// late imports and refunds within it are caught; a history imported at once is earned
/// by `guanxi member earn --from …`.
pub const MAINTAIN_DAYS: i64 = 35;

/// The membership jobs as `guanxi serve` runs them (every hour, on every instance: each
/// job is keyed, so a second instance or a second run changes nothing): the tiers
/// evaluated at `now`, what orders of the last [`MAINTAIN_DAYS`] earn, programs' points
/// steps posted, and this month's expiry (`period`, the shop's month).
pub async fn maintain(
    store: &dyn Store,
    settings: &guanxi_domain::profile::Settings,
    period: &str,
    now: DateTime<Utc>,
) -> Result<Maintained> {
    let tiers = evaluate(store, &settings.tiers, now).await?;
    let from = now - chrono::Duration::days(MAINTAIN_DAYS);
    let earned = earn(store, settings.points, &settings.tiers, from, now).await?;
    let granted = grant(store, settings.points, now).await?;
    let expired = expire(store, period, now).await?;
    Ok(Maintained {
        tiers,
        earned,
        granted,
        expired,
    })
}
