//! `guanxi member …`: members' points — show, adjust, redeem, earn from orders, expire,
//! verify — over `guanxi_app::points`.

use chrono::Utc;

use crate::cli::{CouponCommand, Global, MemberCommand, MemberId};
use crate::commands::customer::{actor, lookup, source};
use crate::commands::default_db;
use crate::commands::program::time;
use crate::open::{Opened, open};
use crate::output::report;
use guanxi_app::access::Actor;
use guanxi_app::{coupons, points};

/// The member's customer number.
async fn member(o: &Opened, who: &MemberId) -> anyhow::Result<i64> {
    match &who.source {
        Some(s) => lookup(o, &who.customer, &source(s)?, true).await,
        None => who.customer.trim().trim_start_matches('#').parse::<i64>().map_err(|_| {
            guanxi_app::AppError::BadInput {
                code: "customer_invalid",
                message: format!(
                    "customer: expected a customer's number (or an id with --source), found {:?}",
                    who.customer
                ),
            }
            .into()
        }),
    }
}

fn by(who: Option<String>) -> Actor {
    Actor {
        name: actor(who),
        origin: "cli".into(),
    }
}

pub async fn run(global: &Global, cmd: MemberCommand) -> anyhow::Result<()> {
    let o = open(global, default_db()).await?;
    let store = o.store.as_ref();
    let (settings, _) = super::config::load(global)?;
    let rules = settings.points;
    let now = Utc::now();
    match cmd {
        MemberCommand::Show { who } => {
            let m = points::show(store, member(&o, &who).await?).await?;
            let tz = o.tz;
            report(global.json, &m, |m| {
                let mut text = format!(
                    "#{}: balance {} points ({} available, {} owed)\n",
                    m.customer_id, m.balance, m.available, m.debt
                );
                for l in m.lots.iter().filter(|l| l.remaining > 0) {
                    text += &format!(
                        "  {} of {} from {} expiring {}\n",
                        l.remaining,
                        l.points,
                        l.key,
                        l.expires_at.with_timezone(&tz.0).format("%Y-%m-%d")
                    );
                }
                for e in &m.history {
                    text += &format!(
                        "  {}  {}  by {}\n",
                        e.at.with_timezone(&tz.0).format("%Y-%m-%d %H:%M"),
                        e.key,
                        e.actor
                    );
                }
                text
            })
        }
        MemberCommand::Adjust {
            who,
            points: n,
            reason,
            reference,
            actor: a,
        } => {
            let adjustment = points::Adjustment {
                customer_id: member(&o, &who).await?,
                points: n,
                reason,
                reference: reference.unwrap_or_else(|| format!("cli-{}", now.timestamp_micros())),
            };
            let p = points::adjust(store, &adjustment, rules, &by(a), now).await?;
            report(global.json, &p, posted_text)
        }
        MemberCommand::Redeem {
            who,
            points: n,
            reference,
            actor: a,
        } => {
            let customer = member(&o, &who).await?;
            let p = points::redeem(store, customer, n, "shop", &reference, &by(a), now).await?;
            report(global.json, &p, posted_text)
        }
        MemberCommand::Earn { from, to } => {
            let from = time(from.as_deref().unwrap_or("2000-01-01"), o.tz, "--from")?;
            let to = to.map(|t| time(&t, o.tz, "--to")).transpose()?.unwrap_or(now);
            // The tiers first: an order earns at the tier its member held before it.
            points::evaluate(store, &settings.tiers, to).await?;
            let earned = points::earn(store, rules, &settings.tiers, from, to).await?;
            let programs = points::grant(store, rules, now).await?;
            /// The earning, with what programs' points steps gave beside it.
            #[derive(serde::Serialize)]
            struct Run {
                #[serde(flatten)]
                earned: points::Earned,
                programs: points::Granted,
            }
            report(global.json, &Run { earned, programs }, |r| {
                let e = &r.earned;
                format!(
                    "{} orders: {} points earned, {} taken back; {} already posted\n\
                     programs' points steps: {} posted ({} points)\n",
                    e.orders, e.earned, e.taken_back, e.replayed, r.programs.steps, r.programs.points
                )
            })
        }
        MemberCommand::Expire { period, now: at } => {
            let at = at.map(|t| time(&t, o.tz, "--now")).transpose()?.unwrap_or(now);
            let period = period.unwrap_or_else(|| points::period(at, o.tz));
            let e = points::expire(store, &period, at).await?;
            report(global.json, &e, |e| {
                format!("{}: {} points expired from {} members\n", e.period, e.points, e.members)
            })
        }
        MemberCommand::Evaluate { now: at } => {
            let at = at.map(|t| time(&t, o.tz, "--now")).transpose()?.unwrap_or(now);
            let e = points::evaluate(store, &settings.tiers, at).await?;
            report(global.json, &e, |e| {
                let tiers: Vec<String> = e.tiers.iter().map(|(n, c)| format!("{n} {c}")).collect();
                format!(
                    "{} members: {}; {} tier changes and {} warnings recorded\n",
                    e.members,
                    tiers.join(", "),
                    e.changes,
                    e.warnings
                )
            })
        }
        MemberCommand::Liability { now: at } => {
            let at = at.map(|t| time(&t, o.tz, "--now")).transpose()?.unwrap_or(now);
            let l = points::liability(store, rules, at).await?;
            report(global.json, &l, |l| {
                format!(
                    "{} points outstanding, worth ¥{:.2}; {} owed; {} expire in the month ahead; breakage {} (¥{:.2} expected never redeemed)\n",
                    l.outstanding,
                    l.value_cents as f64 / 100.0,
                    l.debt,
                    l.expiring_next_month,
                    l.breakage_rate
                        .map_or("unknown yet".to_string(), |r| format!("{:.1} %", r * 100.0)),
                    l.expected_breakage_cents as f64 / 100.0
                )
            })
        }
        MemberCommand::Verify => {
            let v = points::verify(store).await?;
            report(global.json, &v, |v| {
                let mut text = format!(
                    "{} members, {} events, {} points outstanding: ",
                    v.members, v.events, v.points
                );
                if v.differences.is_empty() {
                    text += "every balance is what its events add up to\n";
                }
                for d in &v.differences {
                    text += &format!(
                        "\n  #{} {}: stored {}, the events give {}{}",
                        d.customer_id,
                        d.lot.as_ref().map_or("debt".to_string(), |k| k.to_string()),
                        d.stored,
                        d.replayed,
                        d.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()
                    );
                }
                text
            })?;
            if !v.differences.is_empty() {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

fn posted_text(p: &points::Posted) -> String {
    match p.appended {
        guanxi_store::Appended::Replayed => format!(
            "#{}: {} was posted before; nothing changed (balance {})\n",
            p.customer_id, p.key, p.balance
        ),
        _ => format!(
            "#{}: {} posted ({:+} points); balance {}\n",
            p.customer_id,
            p.key,
            p.movements.iter().map(|m| m.points).sum::<i64>(),
            p.balance
        ),
    }
}

/// `guanxi coupon …` over `guanxi_app::coupons`.
pub async fn coupons(global: &Global, cmd: CouponCommand) -> anyhow::Result<()> {
    let o = open(global, default_db()).await?;
    let store = o.store.as_ref();
    let now = Utc::now();
    let tz = o.tz;
    let line = move |c: &guanxi_domain::coupon::Coupon| {
        let day = |t: chrono::DateTime<Utc>| t.with_timezone(&tz.0).format("%Y-%m-%d").to_string();
        let state = match (c.status(now), c.redeemed_order) {
            (_, Some(order)) => format!("redeemed by order #{order}"),
            (s, None) => format!("{} until {}", s.as_str(), day(c.expires_at)),
        };
        format!(
            "{}  #{}  {} ¥{}.{:02}  issued {} by {}  {state}\n",
            c.code,
            c.customer_id,
            c.definition,
            c.value_cents / 100,
            c.value_cents % 100,
            day(c.issued_at),
            c.source
        )
    };
    match cmd {
        CouponCommand::List {
            customer,
            source,
            code,
            limit,
        } => {
            let filter = guanxi_store::CouponFilter {
                customer_id: customer,
                source,
                code,
                limit,
                ..Default::default()
            };
            let list = coupons::list(store, &filter).await?;
            report(global.json, &list, |l| l.iter().map(line).collect())
        }
        CouponCommand::Issue {
            who,
            coupon,
            key,
            actor: a,
        } => {
            let (settings, _) = super::config::load(global)?;
            let issue = coupons::Issue {
                customer_id: member(&o, &who).await?,
                coupon,
                key,
            };
            let c = coupons::issue(store, &settings.coupons, &issue, &by(a), now).await?;
            report(global.json, &c, line)
        }
        CouponCommand::Redeem => {
            let n = coupons::redeem(store, None).await?;
            report(global.json, &n, |n| format!("{n} coupons redeemed now\n"))
        }
    }
}
