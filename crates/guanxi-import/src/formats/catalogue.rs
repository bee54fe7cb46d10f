//! The catalogue files: products (`sku,title,category,unit_cost`) and keyword rules
//! (`keyword,category`, the first rule whose keyword a line's title contains gives the
//! line's category). Each file is recognised by its header, so one import can take both.

use std::borrow::Cow;

use guanxi_domain::catalogue::{KeywordRule, Product};

use super::{Context, RecordFormat};
use crate::problem::Problem;
use crate::table::{Columns, Header, Row, fields};

pub(crate) const PRODUCT_COLUMNS: [&str; 4] = ["sku", "title", "category", "unit_cost"];
pub(crate) const KEYWORD_COLUMNS: [&str; 2] = ["keyword", "category"];

/// One row of a catalogue file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Product(Product),
    Keyword(KeywordRule),
}

enum Layout {
    Products(Columns<4>),
    Keywords(Columns<2>),
}

#[derive(Default)]
pub(crate) struct Catalogue {
    layout: Option<Layout>,
}

impl RecordFormat for Catalogue {
    type Record = Entry;

    fn header(&mut self, row: &Row<'_>) -> Result<(), Problem> {
        let header = Header::read(row)?;
        self.layout = Some(if header.find("keyword").is_some() {
            header.reject_unknown(&row.at, &KEYWORD_COLUMNS)?;
            Layout::Keywords(header.columns(&row.at, &KEYWORD_COLUMNS, KEYWORD_COLUMNS)?)
        } else {
            header.reject_unknown(&row.at, &PRODUCT_COLUMNS).map_err(|p| Problem {
                message: format!("{} (a keyword rules file has the columns keyword,category)", p.message),
                ..p
            })?;
            Layout::Products(header.columns(&row.at, &["sku"], PRODUCT_COLUMNS)?)
        });
        Ok(())
    }

    fn row(&mut self, row: &Row<'_>, _: &Context) -> Result<Entry, Problem> {
        match &self.layout {
            Some(Layout::Products(cols)) => {
                let f = fields(Some(cols), row)?;
                let sku = f.req(0)?.trim().to_string();
                if sku.is_empty() {
                    return Err(f.problem(0, "a SKU is required here"));
                }
                Ok(Entry::Product(Product {
                    sku,
                    title: f.opt_string(1)?,
                    category: f.opt_string(2)?,
                    unit_cost: f.money(3)?,
                }))
            }
            Some(Layout::Keywords(cols)) => {
                let f = fields(Some(cols), row)?;
                let keyword = f.req(0)?.trim().to_string();
                if keyword.is_empty() {
                    return Err(f.problem(0, "a keyword is required here (spaces alone match every title)"));
                }
                Ok(Entry::Keyword(KeywordRule {
                    keyword,
                    category: f.req(1)?.into_owned(),
                }))
            }
            None => Err(row.at.line("no header before this row")),
        }
    }

    fn id(record: &Entry) -> Cow<'_, str> {
        match record {
            Entry::Product(p) => Cow::Borrowed(&p.sku),
            Entry::Keyword(k) => Cow::Owned(format!("keyword {}", k.keyword)),
        }
    }
}
