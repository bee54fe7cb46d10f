//! Segments: saving a named one (the CLI's `guanxi segment save`, the customers page's
//! "save as a segment"), resolving one to an expression and listing its members a page
//! at a time (the CLI's `segment list`, the API). Resolution itself — a name or an
//! expression, saved segments inlined — is `guanxi_store::segment::resolve`, which the
//! scheduler needs too; here its errors become the application's.

use chrono::{DateTime, Utc};
use guanxi_domain::segment::{SaveError, check_save};
use guanxi_store::segment::{ResolveError, Resolved};
use guanxi_store::{SavedSegment, SegmentMember, Store};
use serde::Serialize;

use crate::AppError;
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

/// `asked` (a saved segment's name or an expression) resolved, its errors located
/// against `field` (the parameter or argument it came in) as bad input.
pub async fn resolve(store: &dyn Store, asked: &str, field: &str) -> Result<Resolved> {
    guanxi_store::segment::resolve(store, asked, field)
        .await
        .map_err(|e| match e {
            ResolveError::Store(e) => e.into(),
            e => AppError::BadInput {
                code: e.code(),
                message: e.to_string(),
            },
        })
}

/// One page of a segment's members in the current build.
#[derive(Debug, Clone, Serialize)]
pub struct Members {
    /// The expression as written (canonical form), saved segments not inlined.
    pub expression: String,
    /// The build it was evaluated in; behaviour windows end here.
    pub as_of: DateTime<Utc>,
    pub members: Vec<SegmentMember>,
    /// Where the next page starts (the last member's id), when there may be one.
    pub next_after: Option<i64>,
}

/// The most members one page holds.
pub const MAX_PAGE: u32 = 10_000;

/// The members of `asked` with an id above `after`, in id order, at most `limit`
/// (a cursor: pass `next_after` back for the next page).
pub async fn members(store: &dyn Store, asked: &str, field: &str, after: i64, limit: u32) -> Result<Members> {
    let r = resolve(store, asked, field).await?;
    let as_of = crate::profiles::current_build(store).await?.as_of;
    let limit = limit.clamp(1, MAX_PAGE);
    let members = store.segment_members(&r.expr, as_of, after, limit).await?;
    let next_after = (members.len() as u32 == limit)
        .then(|| members.last().map(|m| m.id))
        .flatten();
    Ok(Members {
        expression: r.text,
        as_of,
        members,
        next_after,
    })
}
