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
}

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
                a.variants.push(Variant {
                    name: "main".into(),
                    weight: 1,
                });
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
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.seed.to_le_bytes());
        bytes[8..].copy_from_slice(&customer.to_le_bytes());
        let h = xxhash_rust::xxh3::xxh3_128(&bytes);
        let unit = |x: u64| (x >> 11) as f64 / (1u64 << 53) as f64;
        (unit((h >> 64) as u64), unit(h as u64))
    }

    /// Where `customer` lands in `audience`.
    pub fn arm(&self, audience: usize, customer: i64) -> Assigned {
        let a = &self.audiences[audience];
        let (h, v) = self.draws(customer);
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
                let assigned = self.arm(audience, customer);
                let (h, _) = self.draws(customer);
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
                        Variant {
                            name: "a".into(),
                            weight: 1,
                        },
                        Variant {
                            name: "b".into(),
                            weight: 3,
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
            name: "a".into(),
            weight: 0,
        }];
        assert_eq!(bad(vec![v]), "audiences[0].variants[0].weight");
    }
}
