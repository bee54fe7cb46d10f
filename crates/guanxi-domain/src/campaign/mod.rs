//! Campaigns (docs/domain.md §5.1 pre-heat, §7 effect evaluation): audiences from saved
//! segments in an order of precedence, waves before a goal window, A/B variants, and a
//! random holdout per audience — so that what a campaign earned can be proved against
//! customers who got nothing.
//!
//! Who is held out is decided by a hash of (campaign seed, customer): the same on every
//! re-run and re-launch, independent of the order customers are listed in, and
//! independent between the holdout draw and the variant draw. [`Campaign::assign`]
//! snapshots each member with the reason they were chosen; [`effect`] turns outcomes
//! into lifts with honest intervals.

use serde::{Deserialize, Serialize};

pub mod effect;
#[cfg(test)]
mod reference;
mod report;

pub use report::{Arm, Outcome, Row, Verdict, report};

/// The default holdout share of an audience.
pub const DEFAULT_HOLDOUT: f64 = 0.1;
/// The default attribution window: a paid order within this many days after the last
/// touch (or, for the holdout, the touch they would have had) is a conversion.
pub const DEFAULT_ATTRIBUTION_DAYS: u32 = 7;

/// A variant of the message an audience gets, with its share of the treated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub name: String,
    /// Relative weight among the audience's variants (default 1: an even split).
    #[serde(default = "one")]
    pub weight: u32,
    /// The channel its waves go by (default SMS).
    #[serde(default = "sms")]
    pub channel: crate::Channel,
    /// A channel per wave, in the waves' order, where they differ (an SMS at T−7, a
    /// WeChat message the day before); when given, `channel` is not read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<crate::Channel>,
    /// A template per wave, in the waves' order; one template serves every wave
    /// (default: the pre-heat templates, `preheat-7`, `preheat-3`, `preheat-1`).
    #[serde(default)]
    pub templates: Vec<String>,
    /// What one message sent costs the shop, in cents (default: [`default_cost`] of
    /// its channel). Counted for each message handed to the channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_cents: Option<u32>,
    /// A coupon (`[coupons.NAME]`) each member of the variant receives with the first
    /// wave; what redeemed coupons saved the buyers counts in the campaign's cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coupon: Option<String>,
}

/// What one message on `channel` costs when a variant does not say: an SMS 5 fen (the
/// usual bulk price of a Chinese marketing SMS is 3–5 fen), the rest nothing the shop
/// pays per message.
pub fn default_cost(channel: crate::Channel) -> u32 {
    match channel {
        crate::Channel::Sms => 5,
        _ => 0,
    }
}

fn sms() -> crate::Channel {
    crate::Channel::Sms
}

impl Variant {
    /// A variant named `name` with the defaults: weight 1, SMS, the pre-heat templates.
    pub fn named(name: &str) -> Variant {
        Variant {
            name: name.into(),
            weight: 1,
            channel: crate::Channel::Sms,
            channels: Vec::new(),
            templates: Vec::new(),
            cost_cents: None,
            coupon: None,
        }
    }

    /// The channel of wave `i`.
    pub fn channel_of(&self, i: usize) -> crate::Channel {
        self.channels.get(i).copied().unwrap_or(self.channel)
    }

    /// What one message of wave `i` costs (cents).
    pub fn cost(&self, i: usize) -> u32 {
        self.cost_cents.unwrap_or_else(|| default_cost(self.channel_of(i)))
    }

    /// The template of wave `i` of `waves`.
    pub fn template(&self, i: usize, waves: usize) -> String {
        match self.templates.as_slice() {
            // The default templates count back from the goal: the last wave is T−1's.
            [] => DEFAULT_TEMPLATES[(DEFAULT_TEMPLATES.len() + i)
                .saturating_sub(waves)
                .min(DEFAULT_TEMPLATES.len() - 1)]
            .to_string(),
            [one] => one.clone(),
            many => many[i.min(many.len() - 1)].clone(),
        }
    }
}

/// The templates of the default waves (T−7, T−3, T−1).
pub const DEFAULT_TEMPLATES: [&str; 3] = ["preheat-7", "preheat-3", "preheat-1"];
/// The default waves: days before the goal window starts.
pub const DEFAULT_WAVES: [i32; 3] = [-7, -3, -1];

fn one() -> u32 {
    1
}

/// One audience: a saved segment's members not already in an audience before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audience {
    pub name: String,
    /// The saved segment (or a segment expression) it is drawn from.
    pub segment: String,
    /// The share held out (0 to 0.5; default 0.1).
    #[serde(default = "default_holdout")]
    pub holdout: f64,
    /// A/B variants; one variant named `main` when none are given.
    #[serde(default)]
    pub variants: Vec<Variant>,
}

fn default_holdout() -> f64 {
    DEFAULT_HOLDOUT
}

/// Where a member landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Assigned {
    /// Held out: gets nothing from this campaign, measured all the same.
    Holdout,
    /// Treated with the audience's variant of this index.
    Variant(usize),
}

/// One member of a launched campaign and why they are there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub customer: i64,
    /// The index of their audience (the first, by precedence, whose segment holds them).
    pub audience: usize,
    pub assigned: Assigned,
    /// Why: the audience, the audiences before it that did not hold them, and the draw.
    pub reason: String,
}

/// A campaign's audiences and seed — what assignment needs. (The waves, templates and
/// goal window live with the campaign's program; see the store and the app.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    pub name: String,
    /// The seed of the holdout and variant draws (fixed at creation).
    pub seed: u64,
    pub audiences: Vec<Audience>,
}

/// A campaign as a marketer writes it (TOML): a goal window, waves before it, and
/// audiences in their order of precedence.
///
/// ```toml
/// name = "double-11"
/// title = "Double 11"
/// starts = "2026-11-01"
/// ends = "2026-11-11"
/// waves = [-7, -3, -1]          # days before `starts` (the default)
/// attribution_days = 7          # the default
///
/// [[audiences]]
/// name = "vip"
/// segment = "vips"              # a saved segment, or an expression
/// holdout = 0.1                 # the default
/// variants = [{ name = "a", templates = ["preheat-7", "preheat-3", "preheat-1"] },
///             { name = "b", weight = 1, channel = "wechat", templates = ["vip-offer"] }]
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub name: String,
    #[serde(default)]
    pub title: String,
    /// The goal window's first and last days (the shop's days).
    pub starts: chrono::NaiveDate,
    pub ends: chrono::NaiveDate,
    /// The waves: days before `starts` (negative), in order.
    #[serde(default = "default_waves")]
    pub waves: Vec<i32>,
    #[serde(default = "default_attribution")]
    pub attribution_days: u32,
    /// Skip, from the second wave on, customers who bought since the first.
    #[serde(default = "yes")]
    pub exclude_buyers: bool,
    pub audiences: Vec<Audience>,
}

fn default_waves() -> Vec<i32> {
    DEFAULT_WAVES.to_vec()
}

fn default_attribution() -> u32 {
    DEFAULT_ATTRIBUTION_DAYS
}

fn yes() -> bool {
    true
}

/// The longest attribution window (days).
pub const MAX_ATTRIBUTION_DAYS: u32 = 90;

impl Plan {
    /// Reads a plan, every field checked (the field named in the error).
    pub fn parse(text: &str) -> Result<Plan, CampaignError> {
        let bad = |field: &str, message: String| CampaignError {
            field: field.into(),
            message,
        };
        let plan: Plan = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|r| line_col(text, r.start)).unwrap_or_default();
            bad(&format!("plan{at}"), e.message().to_string())
        })?;
        let slug = !plan.name.is_empty()
            && plan.name.len() <= 64
            && plan
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !slug {
            return Err(bad(
                "name",
                format!(
                    "expected 1-64 lowercase letters, digits, '-' or '_', found {:?}",
                    plan.name
                ),
            ));
        }
        if plan.ends < plan.starts {
            return Err(bad(
                "ends",
                format!(
                    "expected a day on or after starts ({}), found {}",
                    plan.starts, plan.ends
                ),
            ));
        }
        if plan.waves.is_empty() || plan.waves.len() > 10 {
            return Err(bad("waves", "expected 1 to 10 waves".into()));
        }
        if plan.waves.windows(2).any(|w| w[0] >= w[1]) || plan.waves.iter().any(|w| !(-90..=0).contains(w)) {
            return Err(bad(
                "waves",
                format!(
                    "expected days before the start, -90 to 0, in increasing order, found {:?}",
                    plan.waves
                ),
            ));
        }
        if !(1..=MAX_ATTRIBUTION_DAYS).contains(&plan.attribution_days) {
            return Err(bad(
                "attribution_days",
                format!(
                    "expected 1 to {MAX_ATTRIBUTION_DAYS} days, found {}",
                    plan.attribution_days
                ),
            ));
        }
        for (i, a) in plan.audiences.iter().enumerate() {
            for (j, v) in a.variants.iter().enumerate() {
                if !v.channels.is_empty() && v.channels.len() != plan.waves.len() {
                    return Err(bad(
                        &format!("audiences[{i}].variants[{j}].channels"),
                        format!(
                            "expected one channel per wave ({}), found {}",
                            plan.waves.len(),
                            v.channels.len()
                        ),
                    ));
                }
                if v.templates.len() > 1 && v.templates.len() != plan.waves.len() {
                    return Err(bad(
                        &format!("audiences[{i}].variants[{j}].templates"),
                        format!(
                            "expected one template, or one per wave ({}), found {}",
                            plan.waves.len(),
                            v.templates.len()
                        ),
                    ));
                }
            }
        }
        // The audiences' own checks.
        Campaign::new(&plan.name, 0, plan.audiences.clone())?;
        Ok(plan)
    }

    /// The plan as TOML, as a marketer would write it (what a form's plan is kept as).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a plan is plain data: strings, numbers, days and arrays")
    }

    /// The campaign this plan draws with `seed`.
    pub fn campaign(&self, seed: u64) -> Campaign {
        Campaign::new(&self.name, seed, self.audiences.clone()).expect("a parsed plan's audiences are well formed")
    }
}

/// Two independent uniform draws in [0, 1) for `customer` under `seed`: the top 53 bits
/// of each half of xxh3's 128-bit hash of (seed, customer), little-endian. Campaigns
/// draw their holdout and variant with it, programs their holdout.
pub fn draw(seed: u64, customer: i64) -> (f64, f64) {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..].copy_from_slice(&customer.to_le_bytes());
    let h = xxhash_rust::xxh3::xxh3_128(&bytes);
    let unit = |x: u64| (x >> 11) as f64 / (1u64 << 53) as f64;
    (unit((h >> 64) as u64), unit(h as u64))
}

/// The outbox's program name of campaign `name`'s messages: its waves go through the
/// same ledger, contact policy and workers as programs' steps.
pub fn program_name(name: &str) -> String {
    format!("{PROGRAM_PREFIX}{name}")
}

/// The campaign a message's program name belongs to, if it is a campaign's.
pub fn campaign_of(program: &str) -> Option<&str> {
    program.strip_prefix(PROGRAM_PREFIX)
}

/// Campaign names are slugs, and a program may not be named with this prefix, so a
/// campaign's messages are never mistaken for a program's.
const PROGRAM_PREFIX: &str = "campaign:";

/// What wave `i` does for one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Touch {
    /// A message of the member's variant.
    Send { channel: crate::Channel, template: String },
    /// Held out: recorded as such for the wave, nothing sent.
    Hold,
}

impl Plan {
    /// The day of wave `i` (the shop's day).
    pub fn wave_day(&self, i: usize) -> chrono::NaiveDate {
        self.starts + chrono::Duration::days(i64::from(self.waves[i]))
    }

    /// The ledger's step name of wave `i`: `wave-1`, `wave-2`, …
    pub fn wave_step(i: usize) -> String {
        format!("wave-{}", i + 1)
    }

    /// The wave a step name names, if it is one of this plan's.
    pub fn wave_of(&self, step: &str) -> Option<usize> {
        let i = step.strip_prefix("wave-")?.parse::<usize>().ok()?.checked_sub(1)?;
        (i < self.waves.len()).then_some(i)
    }

    /// What wave `i` does for a member of `audience` assigned `variant` (`None`: held
    /// out) who has, or has not, paid for an order since the first wave's day. From the
    /// second wave on, buyers are skipped when the plan says so — held-out buyers too,
    /// so that each wave compares like with like.
    pub fn touch(&self, audience: usize, variant: Option<usize>, wave: usize, bought: bool) -> Option<Touch> {
        if wave > 0 && bought && self.exclude_buyers {
            return None;
        }
        let Some(v) = variant else { return Some(Touch::Hold) };
        let variant = self.variant(audience, v);
        Some(Touch::Send {
            channel: variant.channel_of(wave),
            template: variant.template(wave, self.waves.len()),
        })
    }

    /// The variant `v` of `audience` as the campaign draws it (`main` when the plan
    /// names none).
    pub fn variant(&self, audience: usize, v: usize) -> Variant {
        self.audiences
            .get(audience)
            .and_then(|a| a.variants.get(v))
            .cloned()
            .unwrap_or_else(|| Variant::named("main"))
    }
}

/// `:line:column` of byte `at` in `text` (1-based).
fn line_col(text: &str, at: usize) -> String {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!(":{line}:{column}")
}

/// A campaign that does not hold together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct CampaignError {
    pub field: String,
    pub message: String,
}

impl Campaign {
    /// A campaign whose audiences are well formed: at least one, distinct names, a
    /// holdout share from 0 to 0.5, variants with distinct names and a positive weight.
    pub fn new(name: &str, seed: u64, mut audiences: Vec<Audience>) -> Result<Campaign, CampaignError> {
        let bad = |field: String, message: String| CampaignError { field, message };
        if audiences.is_empty() {
            return Err(bad("audiences".into(), "expected at least one audience".into()));
        }
        for (i, a) in audiences.iter_mut().enumerate() {
            let at = |f: &str| format!("audiences[{i}].{f}");
            if a.name.trim().is_empty() {
                return Err(bad(at("name"), "expected a name".into()));
            }
            if !(0.0..=0.5).contains(&a.holdout) {
                return Err(bad(
                    at("holdout"),
                    format!("expected a share from 0 to 0.5, found {}", a.holdout),
                ));
            }
            if a.variants.is_empty() {
                a.variants.push(Variant::named("main"));
            }
            for (j, v) in a.variants.iter().enumerate() {
                if v.weight == 0 {
                    return Err(bad(
                        format!("audiences[{i}].variants[{j}].weight"),
                        "expected a weight of 1 or more".into(),
                    ));
                }
                if a.variants[..j].iter().any(|w| w.name == v.name) {
                    return Err(bad(
                        format!("audiences[{i}].variants[{j}].name"),
                        format!("{:?} is named twice", v.name),
                    ));
                }
            }
        }
        for (i, a) in audiences.iter().enumerate() {
            if audiences[..i].iter().any(|b| b.name == a.name) {
                return Err(bad(
                    format!("audiences[{i}].name"),
                    format!("{:?} is named twice", a.name),
                ));
            }
        }
        Ok(Campaign {
            name: name.to_string(),
            seed,
            audiences,
        })
    }

    /// Two independent uniform draws in [0, 1) for a customer: one for the holdout, one
    /// for the variant. xxh3's 128-bit hash of (seed, customer), whose output is fixed by
    /// its specification, so a draw never changes between versions or machines.
    pub fn draws(&self, customer: i64) -> (f64, f64) {
        draw(self.seed, customer)
    }

    /// Where `customer` lands in `audience`.
    pub fn arm(&self, audience: usize, customer: i64) -> Assigned {
        self.arm_of(audience, self.draws(customer))
    }

    /// Where draws `(h, v)` land in `audience`.
    fn arm_of(&self, audience: usize, (h, v): (f64, f64)) -> Assigned {
        let a = &self.audiences[audience];
        if h < a.holdout {
            return Assigned::Holdout;
        }
        let total: u32 = a.variants.iter().map(|v| v.weight).sum();
        let mut point = v * f64::from(total);
        for (i, variant) in a.variants.iter().enumerate() {
            point -= f64::from(variant.weight);
            if point < 0.0 {
                return Assigned::Variant(i);
            }
        }
        Assigned::Variant(a.variants.len() - 1)
    }

    /// The launch's snapshot: each customer in `segments` (one list of members per
    /// audience, in the audiences' order) once, in the first audience that holds them,
    /// with their arm and why. Members come out in customer order.
    pub fn assign(&self, segments: &[Vec<i64>]) -> Vec<Member> {
        let mut first: std::collections::BTreeMap<i64, usize> = Default::default();
        for (i, members) in segments.iter().enumerate().take(self.audiences.len()) {
            for c in members {
                first.entry(*c).or_insert(i);
            }
        }
        first
            .into_iter()
            .map(|(customer, audience)| {
                let a = &self.audiences[audience];
                let draws = self.draws(customer);
                let assigned = self.arm_of(audience, draws);
                let h = draws.0;
                let before = if audience == 0 {
                    String::new()
                } else {
                    let names: Vec<&str> = self.audiences[..audience].iter().map(|a| a.name.as_str()).collect();
                    format!(" (not in {})", names.join(", "))
                };
                let draw = match assigned {
                    Assigned::Holdout => format!("held out: draw {h:.4} < {}", a.holdout),
                    Assigned::Variant(v) => format!("variant {}: draw {h:.4} ≥ {}", a.variants[v].name, a.holdout),
                };
                Member {
                    customer,
                    audience,
                    assigned,
                    reason: format!("in {} (segment {}){before}; {draw}", a.name, a.segment),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn campaign(seed: u64) -> Campaign {
        Campaign::new(
            "double-11",
            seed,
            vec![
                Audience {
                    name: "vip".into(),
                    segment: "vips".into(),
                    holdout: 0.1,
                    variants: vec![],
                },
                Audience {
                    name: "sleeping".into(),
                    segment: "sleeping".into(),
                    holdout: 0.2,
                    variants: vec![
                        Variant::named("a"),
                        Variant {
                            weight: 3,
                            ..Variant::named("b")
                        },
                    ],
                },
            ],
        )
        .unwrap()
    }

    #[test]
    fn each_customer_lands_once_by_precedence_and_the_same_way_every_time() {
        let c = campaign(7);
        let vips: Vec<i64> = (1..=500).collect();
        let sleeping: Vec<i64> = (400..=3000).collect();
        let members = c.assign(&[vips.clone(), sleeping.clone()]);
        assert_eq!(members.len(), 3000);
        assert!(members.iter().filter(|m| m.customer <= 500).all(|m| m.audience == 0));
        assert!(members.iter().filter(|m| m.customer > 500).all(|m| m.audience == 1));
        // The same snapshot however the segments list their members.
        let mut reversed = sleeping.clone();
        reversed.reverse();
        assert_eq!(c.assign(&[vips.clone(), reversed]), members);
        // Another seed: another draw.
        assert_ne!(campaign(8).assign(&[vips, sleeping]), members);
        let m = members.iter().find(|m| m.customer == 450).unwrap();
        assert!(m.reason.starts_with("in vip (segment vips); "), "{}", m.reason);
        let m = members.iter().find(|m| m.customer == 2000).unwrap();
        assert!(
            m.reason.starts_with("in sleeping (segment sleeping) (not in vip); "),
            "{}",
            m.reason
        );
    }

    #[test]
    fn waves_send_the_variants_template_hold_the_holdout_and_skip_buyers_after_the_first() {
        let plan = Plan::parse(
            "name = \"d11\"\nstarts = \"2026-11-01\"\nends = \"2026-11-11\"\n\
             [[audiences]]\nname = \"vip\"\nsegment = \"vips\"\n\
             variants = [{ name = \"a\" }, { name = \"b\", channel = \"email\", templates = [\"vip-offer\"] }]\n",
        )
        .unwrap();
        assert_eq!(plan.wave_day(0).to_string(), "2026-10-25");
        assert_eq!(plan.wave_day(2).to_string(), "2026-10-31");
        assert_eq!(plan.wave_of(&Plan::wave_step(2)), Some(2));
        assert_eq!(plan.wave_of("wave-4"), None);
        assert_eq!(plan.wave_of("wave-0"), None);
        let send = |channel, template: &str| {
            Some(Touch::Send {
                channel,
                template: template.into(),
            })
        };
        assert_eq!(plan.touch(0, Some(0), 0, false), send(crate::Channel::Sms, "preheat-7"));
        assert_eq!(plan.touch(0, Some(0), 2, false), send(crate::Channel::Sms, "preheat-1"));
        assert_eq!(
            plan.touch(0, Some(1), 1, false),
            send(crate::Channel::Email, "vip-offer")
        );
        assert_eq!(plan.touch(0, None, 1, false), Some(Touch::Hold));
        // A buyer since the first wave: skipped from the second on, in both arms.
        assert_eq!(plan.touch(0, Some(0), 0, true), send(crate::Channel::Sms, "preheat-7"));
        assert_eq!(plan.touch(0, Some(0), 1, true), None);
        assert_eq!(plan.touch(0, None, 1, true), None);
        assert_eq!(plan.variant(0, 1).cost(0), 0, "email costs nothing per message");
        assert_eq!(plan.variant(0, 0).cost(0), 5, "an SMS 5 fen");
        // A channel per wave: the day before by WeChat, and costed as such.
        let mixed = Plan::parse(
            "name = \"d11\"\nstarts = \"2026-11-01\"\nends = \"2026-11-11\"\n\
             [[audiences]]\nname = \"vip\"\nsegment = \"vips\"\n\
             variants = [{ name = \"a\", channels = [\"sms\", \"sms\", \"wechat\"] }]\n",
        )
        .unwrap();
        assert_eq!(
            mixed.touch(0, Some(0), 2, false),
            send(crate::Channel::Wechat, "preheat-1")
        );
        assert_eq!((mixed.variant(0, 0).cost(0), mixed.variant(0, 0).cost(2)), (5, 0));
        let short = Plan::parse(
            "name = \"d11\"\nstarts = \"2026-11-01\"\nends = \"2026-11-11\"\n\
             [[audiences]]\nname = \"vip\"\nsegment = \"vips\"\n\
             variants = [{ name = \"a\", channels = [\"sms\", \"wechat\"] }]\n",
        )
        .unwrap_err();
        assert_eq!(short.field, "audiences[0].variants[0].channels", "{short}");
        let keep = Plan::parse(&format!(
            "exclude_buyers = false\n{}",
            "name = \"d11\"\nstarts = \"2026-11-01\"\nends = \"2026-11-11\"\n[[audiences]]\nname = \"all\"\nsegment = \"x\"\n"
        ))
        .unwrap();
        assert_eq!(keep.touch(0, Some(0), 2, true), send(crate::Channel::Sms, "preheat-1"));
        assert_eq!(campaign_of(&program_name("d11")), Some("d11"));
        // Written back as TOML, a plan reads as itself.
        assert_eq!(Plan::parse(&plan.to_toml()).unwrap(), plan);
        assert_eq!(campaign_of("win-back"), None);
    }

    /// A fixed draw: the hash is xxh3's specification, so this never changes. The value
    /// was computed independently with Python's `xxhash` package:
    /// `xxh3_128_intdigest(struct.pack('<Qq', 42, 12345))`, each half's top 53 bits / 2⁵³.
    #[test]
    fn draws_are_fixed_by_the_hash_specification() {
        let (h, v) = campaign(42).draws(12345);
        assert_eq!(format!("{h:.12} {v:.12}"), "0.150516766515 0.704459252683");
    }

    #[test]
    fn shares_are_within_sampling_error() {
        let c = campaign(2026);
        let n = 20_000i64;
        let members = c.assign(&[vec![], (1..=n).collect()]);
        let held = members.iter().filter(|m| m.assigned == Assigned::Holdout).count() as f64;
        let b = members.iter().filter(|m| m.assigned == Assigned::Variant(1)).count() as f64;
        // 0.2 of 20,000 ± 4 standard errors (sd = sqrt(20000 × 0.2 × 0.8) ≈ 57).
        assert!((held - 4000.0).abs() < 4.0 * 57.0, "{held}");
        // b is 3/4 of the treated.
        let treated = n as f64 - held;
        let sd = (treated * 0.75 * 0.25).sqrt();
        assert!((b - 0.75 * treated).abs() < 4.0 * sd, "{b} of {treated}");
        // And the split passes the SRM check it is designed for.
        let srm = effect::srm(&[held as u64, treated as u64], &[0.2, 0.8]).unwrap();
        assert!(!srm.flagged, "{srm:?}");
    }

    #[test]
    fn a_plan_reads_with_its_defaults_and_bad_fields_are_named() {
        let plan = Plan::parse(
            r#"
name = "double-11"
starts = "2026-11-01"
ends = "2026-11-11"

[[audiences]]
name = "vip"
segment = "vips"

[[audiences]]
name = "sleeping"
segment = "activity = 'sleeping'"
holdout = 0.2
variants = [{ name = "a" }, { name = "b", channel = "wechat", templates = ["w"] }]
"#,
        )
        .unwrap();
        assert_eq!(
            (plan.waves.clone(), plan.attribution_days, plan.exclude_buyers),
            (vec![-7, -3, -1], 7, true)
        );
        assert_eq!(plan.audiences[0].holdout, 0.1);
        let c = plan.campaign(9);
        assert_eq!(c.audiences[0].variants[0].name, "main");
        let a = &c.audiences[1].variants[0];
        assert_eq!(
            (0..3).map(|i| a.template(i, 3)).collect::<Vec<_>>(),
            ["preheat-7", "preheat-3", "preheat-1"]
        );
        assert_eq!(a.template(0, 1), "preheat-1", "one wave: the last day's template");
        assert_eq!(c.audiences[1].variants[1].template(2, 3), "w");
        let field = |text: &str| Plan::parse(text).unwrap_err().field;
        let base = "name = \"x\"\nstarts = \"2026-11-01\"\nends = \"2026-11-11\"\n";
        let one = "[[audiences]]\nname = \"a\"\nsegment = \"s\"\n";
        assert_eq!(field(&format!("{base}waves = [-1, -3]\n{one}")), "waves");
        assert_eq!(field(&format!("{base}attribution_days = 0\n{one}")), "attribution_days");
        assert_eq!(field(&format!("{base}audiences = []")), "audiences");
        assert_eq!(field(&format!("{base}{one}holdout = 0.9\n")), "audiences[0].holdout");
        assert_eq!(field(&format!("{base}{one}colour = 1\n")), "plan:7:1");
        assert_eq!(
            field("name = \"X Y\"\nstarts = \"2026-11-01\"\nends = \"2026-11-11\"\naudiences = []"),
            "name"
        );
        assert_eq!(
            field(&format!(
                "name = \"x\"\nstarts = \"2026-11-11\"\nends = \"2026-11-01\"\n{one}"
            )),
            "ends"
        );
    }

    #[test]
    fn bad_audiences_are_named() {
        let bad = |audiences: Vec<Audience>| Campaign::new("x", 1, audiences).unwrap_err().field;
        assert_eq!(bad(vec![]), "audiences");
        let a = |name: &str, holdout: f64| Audience {
            name: name.into(),
            segment: "s".into(),
            holdout,
            variants: vec![],
        };
        assert_eq!(bad(vec![a("x", 0.7)]), "audiences[0].holdout");
        assert_eq!(bad(vec![a("x", 0.1), a("x", 0.1)]), "audiences[1].name");
        let mut v = a("y", 0.1);
        v.variants = vec![Variant {
            weight: 0,
            ..Variant::named("a")
        }];
        assert_eq!(bad(vec![v]), "audiences[0].variants[0].weight");
    }
}
