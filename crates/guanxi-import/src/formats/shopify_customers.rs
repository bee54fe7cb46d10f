//! Shopify's admin "Export customers" CSV: one row per customer or newsletter contact.
//! The customer is known by e-mail (or phone) as in the orders export, so that both join;
//! `Accepts Email Marketing` / `Accepts SMS Marketing` are consent on those channels,
//! with the export as evidence and its file's date as the time (the export carries no
//! date of its own). `Total Spent` / `Total Orders` are Shopify's own figures: guanxi
//! computes its own from the orders, so they are not kept (the tests compare them).

use chrono::{DateTime, Utc};
use guanxi_domain::{Channel, Consent, ConsentState, Contact, Customer, CustomerKey};

use super::shopify::buyer;
use super::{Context, RecordFormat};
use crate::problem::Problem;
use crate::table::{Columns, Header, Row, fields};

const REQUIRED: &[&str] = &["Email", "Accepts Email Marketing"];
const COLUMNS: [&str; 10] = [
    "First Name",
    "Last Name",
    "Email",
    "Accepts Email Marketing",
    "City",
    "Province",
    "Phone",
    "Accepts SMS Marketing",
    "Tags",
    "Province Code",
];

#[derive(Default)]
pub(crate) struct ShopifyCustomers {
    cols: Option<Columns<10>>,
    /// The export's file name and date: the evidence of the consents it carries.
    evidence: String,
    exported_at: Option<DateTime<Utc>>,
}

/// Whether a header is Shopify's customers export (and not guanxi's customers CSV).
pub(crate) fn recognises(header: &Header) -> bool {
    REQUIRED.iter().all(|c| header.find(c).is_some())
}

fn consent(s: &str) -> Result<ConsentState, String> {
    match s.to_ascii_lowercase().as_str() {
        "yes" | "true" => Ok(ConsentState::Granted),
        "no" | "false" => Ok(ConsentState::Denied),
        _ => Err(format!("expected yes or no, found {s:?}")),
    }
}

impl RecordFormat for ShopifyCustomers {
    type Record = Customer;

    fn header(&mut self, row: &Row<'_>) -> Result<(), Problem> {
        let header = Header::read(row)?;
        self.cols = Some(header.columns(&row.at, REQUIRED, COLUMNS)?);
        let modified = std::fs::metadata(&row.at.file)
            .and_then(|m| m.modified())
            .map_err(|e| row.at.line(format!("cannot read the file's date: {e}")))?;
        let exported_at = DateTime::<Utc>::from(modified);
        let name = std::path::Path::new(&row.at.file)
            .file_name()
            .map_or(row.at.file.clone(), |n| n.to_string_lossy().into_owned());
        self.evidence = format!(
            "Shopify customers export {name} (file of {})",
            exported_at.format("%Y-%m-%d %H:%M UTC")
        );
        self.exported_at = Some(exported_at);
        Ok(())
    }

    fn row(&mut self, row: &Row<'_>, cx: &Context) -> Result<Customer, Problem> {
        let f = fields(self.cols.as_ref(), row)?;
        let email = f.opt(2)?;
        let phone = f.opt(6)?;
        let id = buyer(email.as_deref(), phone.as_deref())
            .ok_or_else(|| f.problem(2, "an Email or a Phone is needed to know the customer"))?;
        let mut c = Customer::bare(CustomerKey {
            source: cx.source.clone(),
            external_id: id,
        });
        let name = [f.opt(0)?, f.opt(1)?]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        c.name = (!name.is_empty()).then_some(name);
        c.city = f.opt_string(4)?;
        c.province = f.opt_string(5)?.or(f.opt_string(9)?);
        c.email = email.map(|e| Contact::email(e.trim_start_matches('\'')));
        if let Some(p) = &phone {
            c.phone = Some(p.to_string());
            c.mobile = Some(Contact::mobile(p.trim_start_matches('\'')));
        }
        // Shopify separates tags with commas.
        c.tags = super::tags(f.opt(8)?.as_deref(), &[',']);
        let exported_at = self
            .exported_at
            .ok_or_else(|| row.at.line("no header before this row"))?;
        for (col, channel) in [(3, Channel::Email), (7, Channel::Sms)] {
            if let Some(state) = f.parse(col, consent)? {
                c.consents.push(Consent {
                    channel,
                    state,
                    recorded_at: exported_at,
                    evidence: self.evidence.clone(),
                });
            }
        }
        Ok(c)
    }

    fn id(record: &Customer) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Borrowed(&record.key.external_id)
    }
}
