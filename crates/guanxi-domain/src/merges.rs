//! Who a customer counts as: a customer merged into another (the same person found under
//! two records) counts as that person everywhere — their orders, service records and
//! reviews are the person's. The store keeps the merges; this is the one mapping every
//! reader of them uses.

use std::collections::HashMap;

/// Merged customer → the person they were merged into.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Merges(HashMap<i64, i64>);

impl Merges {
    /// From the store's (merged customer, person) pairs.
    pub fn new(merged_into: &[(i64, i64)]) -> Merges {
        Merges(merged_into.iter().copied().collect())
    }

    /// The person `customer` counts as: the one they were merged into, else themselves.
    pub fn person(&self, customer: i64) -> i64 {
        self.0.get(&customer).copied().unwrap_or(customer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_merged_customer_counts_as_their_person_and_others_as_themselves() {
        let m = Merges::new(&[(7, 3), (9, 3)]);
        assert_eq!((m.person(7), m.person(9), m.person(3), m.person(4)), (3, 3, 3, 4));
        assert_eq!(Merges::default().person(7), 7);
    }
}
