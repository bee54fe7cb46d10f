//! The shop's product catalogue (商品): what each SKU is, its category and its unit cost,
//! plus title keywords that name a category for lines without a SKU in the catalogue.
//!
//! Platforms export neither cost nor, often, category (a Taobao order report has titles
//! only; a Shopify export has no cost), yet profit (docs/domain.md §2) needs the cost of
//! goods and category repurchase needs categories. The catalogue fills what an export
//! leaves out and never overrides what it gives: an order's own figures are the record of
//! the sale (a cost at the time of sale beats today's cost).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::{Cents, Order};

/// One SKU of the shop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub sku: String,
    pub title: Option<String>,
    pub category: Option<String>,
    /// What one unit costs the shop.
    pub unit_cost: Option<Cents>,
}

/// A line whose title contains `keyword` (letter case ignored) is in `category`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeywordRule {
    pub keyword: String,
    pub category: String,
}

/// Products by SKU and keyword rules in the order given (the first that matches wins).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalogue {
    products: HashMap<String, Product>,
    /// Lowercased keyword → category.
    keywords: Vec<(String, String)>,
}

impl Catalogue {
    pub fn new(products: impl IntoIterator<Item = Product>, keywords: &[KeywordRule]) -> Catalogue {
        let mut c = Catalogue::default();
        c.add_products(products);
        c.set_keywords(keywords);
        c
    }

    pub fn is_empty(&self) -> bool {
        self.products.is_empty() && self.keywords.is_empty()
    }

    pub fn products(&self) -> usize {
        self.products.len()
    }

    /// Adds products; a SKU already known takes the new record.
    pub fn add_products(&mut self, products: impl IntoIterator<Item = Product>) {
        for p in products {
            self.products.insert(p.sku.clone(), p);
        }
    }

    /// Replaces the keyword rules.
    pub fn set_keywords(&mut self, rules: &[KeywordRule]) {
        self.keywords = rules
            .iter()
            .map(|r| (r.keyword.to_lowercase(), r.category.clone()))
            .collect();
    }

    /// The category of a line by its SKU, else by the first keyword its title contains.
    fn category(&self, sku: Option<&str>, title: Option<&str>) -> Option<&str> {
        if let Some(c) = sku
            .and_then(|s| self.products.get(s))
            .and_then(|p| p.category.as_deref())
        {
            return Some(c);
        }
        let title = title?.to_lowercase();
        self.keywords
            .iter()
            .find(|(k, _)| title.contains(k.as_str()))
            .map(|(_, c)| c.as_str())
    }

    /// Fills the lines' missing category, title and cost (unit cost × quantity) from the
    /// catalogue; returns whether anything changed. What a line has is kept.
    pub fn fill(&self, order: &mut Order) -> bool {
        let mut changed = false;
        for line in &mut order.lines {
            let product = line.sku.as_deref().and_then(|s| self.products.get(s));
            // The title first: a title from the catalogue may name the category.
            if line.title.is_none()
                && let Some(t) = product.and_then(|p| p.title.as_ref())
            {
                line.title = Some(t.clone());
                changed = true;
            }
            if line.category.is_none()
                && let Some(c) = self.category(line.sku.as_deref(), line.title.as_deref())
            {
                line.category = Some(c.to_string());
                changed = true;
            }
            let Some(p) = product else { continue };
            if line.cost.is_none()
                && let Some(cost) = p.unit_cost.and_then(|u| u.times(i64::from(line.quantity)))
            {
                line.cost = Some(cost);
                changed = true;
            }
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::{OrderKey, OrderLine, OrderStatus, Source, StatusTimes};

    fn order(lines: Vec<OrderLine>) -> Order {
        Order {
            key: OrderKey {
                source: Source::parse("taobao").unwrap(),
                external_id: "1".into(),
            },
            customer: None,
            status: OrderStatus::Paid,
            created_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            times: StatusTimes::default(),
            shipping_fee: Cents::ZERO,
            currency: None,
            coupon: None,
            campaign: None,
            province: None,
            city: None,
            lines,
        }
    }

    fn line(sku: Option<&str>, title: &str, category: Option<&str>, cost: Option<i64>) -> OrderLine {
        OrderLine {
            sku: sku.map(Into::into),
            title: Some(title.into()),
            category: category.map(Into::into),
            quantity: 3,
            amount: Cents(3000),
            discount: Cents::ZERO,
            cost: cost.map(Cents),
            refund: Cents::ZERO,
        }
    }

    fn catalogue() -> Catalogue {
        Catalogue::new(
            [Product {
                sku: "B-1".into(),
                title: Some("Python 入门".into()),
                category: Some("books".into()),
                unit_cost: Some(Cents(450)),
            }],
            &[
                KeywordRule {
                    keyword: "Python".into(),
                    category: "programming".into(),
                },
                KeywordRule {
                    keyword: "书".into(),
                    category: "books".into(),
                },
            ],
        )
    }

    #[test]
    fn a_sku_gives_category_and_cost_per_unit() {
        let mut o = order(vec![line(Some("B-1"), "Python 入门 第2版", None, None)]);
        assert!(catalogue().fill(&mut o));
        assert_eq!(o.lines[0].category.as_deref(), Some("books"));
        assert_eq!(o.lines[0].cost, Some(Cents(1350)));
    }

    #[test]
    fn keywords_ignore_case_and_the_first_match_wins() {
        let mut o = order(vec![
            line(None, "learn PYTHON 书", None, None),
            line(Some("X"), "一本书", None, None),
            line(None, "postage", None, None),
        ]);
        assert!(catalogue().fill(&mut o));
        let cats: Vec<_> = o.lines.iter().map(|l| l.category.as_deref()).collect();
        assert_eq!(cats, [Some("programming"), Some("books"), None]);
        assert_eq!(o.lines[1].cost, None, "a SKU the catalogue does not know has no cost");
    }

    #[test]
    fn what_the_export_gives_is_kept_and_a_second_fill_changes_nothing() {
        let mut o = order(vec![line(Some("B-1"), "Python", Some("sale"), Some(999))]);
        assert!(!catalogue().fill(&mut o));
        assert_eq!(o.lines[0].category.as_deref(), Some("sale"));
        assert_eq!(o.lines[0].cost, Some(Cents(999)));
        let mut o = order(vec![line(Some("B-1"), "Python", None, None)]);
        assert!(catalogue().fill(&mut o));
        assert!(!catalogue().fill(&mut o));
    }
}
