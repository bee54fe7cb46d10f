//! Customer profiles: the measures of docs/domain.md §2 and the classes of §3, with the rule
//! and figures behind each class, all as of a given moment and under typed [`Settings`].
//!
//! Per-customer figures come from [`Measures::of`]; classes that compare customers with
//! each other (RFM scores, the pyramid, the quadrant's median) need the [`Population`]
//! first. Everything here is pure and deterministic (ties broken by customer id).

mod classes;
mod measures;
mod population;
pub mod settings;

pub use classes::{
    Activity, Classes, Explained, Lifecycle, Population, Pricing, Quadrant, Relationship, Standing, churn_threshold,
    classify,
};
pub use measures::{Measures, OrderFact, ReviewFact, ServiceFact, intervals, median, paid_time};
pub use population::{Rfm8, Rfm11, RfmScores, Tier, fm_score, ntile, population, pyramid, ranks, rfm};
pub use settings::{Cycle, Settings};

names! {
    /// A kind of class a profile has (§3). Everyone has a relationship type; a buyer has
    /// one class of every kind. The order is the stored profile row's, the segment
    /// attributes' and the forms' filters'.
    pub enum ClassKind {
        Relationship = "relationship",
        Activity = "activity",
        Lifecycle = "lifecycle",
        Quadrant = "quadrant",
        Pricing = "pricing",
        Tier = "tier",
        Rfm8 = "rfm8",
        Rfm11 = "rfm11",
    }
}

impl ClassKind {
    /// How many kinds there are: a stored profile row has a class slot for each.
    pub const COUNT: usize = ClassKind::ALL.len();

    /// The segment attribute that selects on it.
    pub fn attr(self) -> crate::segment::Attr {
        use crate::segment::Attr;
        match self {
            ClassKind::Relationship => Attr::Relationship,
            ClassKind::Activity => Attr::Activity,
            ClassKind::Lifecycle => Attr::Lifecycle,
            ClassKind::Quadrant => Attr::Quadrant,
            ClassKind::Pricing => Attr::Pricing,
            ClassKind::Tier => Attr::Tier,
            ClassKind::Rfm8 => Attr::Rfm8,
            ClassKind::Rfm11 => Attr::Rfm11,
        }
    }

    /// The kind a segment attribute selects on, if it is a class.
    pub fn of(attr: crate::segment::Attr) -> Option<ClassKind> {
        ClassKind::ALL.iter().copied().find(|k| k.attr() == attr)
    }

    /// Its class names, as the classification names them.
    pub fn classes(self) -> &'static [&'static str] {
        match self.attr().kind() {
            crate::segment::Kind::Class(names) => names,
            _ => &[],
        }
    }

    /// Whether a profile's explanations say why the customer is in this kind's class (the
    /// score-based kinds are explained by their scores, the tier by its own rule).
    pub fn explained_by_rule(self) -> bool {
        !matches!(self, ClassKind::Tier | ClassKind::Rfm8 | ClassKind::Rfm11)
    }
}

#[cfg(test)]
mod class_kind_tests {
    use super::ClassKind;

    #[test]
    fn every_class_kind_is_a_class_attribute_with_names() {
        for k in ClassKind::ALL {
            assert_eq!(k.attr().as_str(), k.as_str());
            assert_eq!(ClassKind::of(k.attr()), Some(*k));
            assert!(!k.classes().is_empty(), "{k}");
        }
        assert_eq!(ClassKind::COUNT, 8);
        assert_eq!(ClassKind::of(crate::segment::Attr::Profit), None);
    }
}
