//! Saving a named segment: the CLI's `guanxi segment save` and the customers page's
//! "save as a segment" call this. (Resolving one — a name or an expression, saved
//! segments inlined — is `guanxi_store::segment::resolve`, which the scheduler needs too.)

use chrono::Utc;
use guanxi_domain::segment::{SaveError, check_save};
use guanxi_store::{SavedSegment, Store};

use crate::access::{self, Actor};
use crate::error::Result;

/// Saves `expression` as segment `name` (a new one, or a new version keeping when it was
/// first saved), audited as `segment.save` by `by`. What the name or the expression gets
/// wrong is the inner error, for the caller to show next to its field.
pub async fn save(
    store: &dyn Store,
    name: &str,
    expression: &str,
    description: &str,
    by: &Actor,
) -> Result<std::result::Result<SavedSegment, SaveError>> {
    let existing = store.segments().await?;
    let saved = existing
        .iter()
        .map(|s| (s.name.clone(), s.expression.clone()))
        .collect();
    let parsed = match check_save(name, expression, &saved) {
        Ok(parsed) => parsed,
        Err(e) => return Ok(Err(e)),
    };
    let now = Utc::now();
    let segment = SavedSegment {
        name: name.to_string(),
        description: description.to_string(),
        expression: parsed.to_string(),
        created_at: existing.iter().find(|s| s.name == name).map_or(now, |s| s.created_at),
        updated_at: now,
    };
    store.save_segment(&segment).await?;
    access::record(
        store,
        by,
        "segment.save",
        format!("segment:{name}"),
        segment.expression.clone(),
    )
    .await?;
    Ok(Ok(segment))
}
