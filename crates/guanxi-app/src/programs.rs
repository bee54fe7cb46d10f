//! Turning engagement programs on and off: the CLI's `guanxi program enable|disable` and
//! the programs page call these. Enabling stores the program's definition with the
//! moment its runs start from; both are audited by the store under the actor's name.

use chrono::{DateTime, Utc};
use guanxi_domain::program::{Program, builtin};
pub use guanxi_engage::stats::StepStats;
use guanxi_store::{ProgramState, Store, StoreError};

use crate::access::Actor;
use crate::error::{AppError, Result};

/// A program by name — the store's version once it was enabled, else a built-in — with
/// its definition text; `None` when guanxi knows no program by that name.
pub async fn find(store: &dyn Store, name: &str) -> Result<Option<(Program, String)>> {
    if let Some(state) = store.programs().await?.into_iter().find(|p| p.name == name) {
        let p = Program::parse(&state.definition, &format!("program '{name}'"))
            .map_err(|e| AppError::Store(StoreError::Corrupt(e.to_string())))?;
        return Ok(Some((p, state.definition)));
    }
    Ok(builtin().into_iter().find(|p| p.name == name).map(|p| {
        let text = toml::to_string(&p).unwrap_or_default();
        (p, text)
    }))
}

/// What a name that is no program gets.
pub fn unknown(name: &str) -> AppError {
    let known: Vec<String> = builtin().into_iter().map(|p| p.name).collect();
    AppError::BadInput {
        code: "program_unknown",
        message: format!(
            "no program named {name:?}: expected a built-in ({}) or a stored program",
            known.join(", ")
        ),
    }
}

/// Enables `program` (its `definition` stored with it): its runs start from `since`.
pub async fn enable(
    store: &dyn Store,
    program: &Program,
    definition: String,
    coupons: &guanxi_domain::coupon::Definitions,
    since: DateTime<Utc>,
    by: &Actor,
) -> Result<ProgramState> {
    // A coupon no definition describes would be a promise the shop cannot keep.
    program.coupons_defined(coupons).map_err(|why| AppError::BadInput {
        code: "coupon_unknown",
        message: format!("{}: {why}", program.name),
    })?;
    let state = ProgramState {
        name: program.name.clone(),
        definition,
        enabled: true,
        since: Some(since),
        updated_at: Utc::now(),
    };
    store.save_program(&state, &by.name).await?;
    Ok(state)
}

/// Disables the stored program `name`: the scheduler plans nothing more for it.
pub async fn disable(store: &dyn Store, name: &str, by: &Actor) -> Result<ProgramState> {
    let mut state = store
        .programs()
        .await?
        .into_iter()
        .find(|p| p.name == name)
        .ok_or_else(|| AppError::BadInput {
            code: "program_unknown",
            message: format!("no enabled or stored program named {name:?} (guanxi program list)"),
        })?;
    state.enabled = false;
    state.updated_at = Utc::now();
    store.save_program(&state, &by.name).await?;
    Ok(state)
}

/// What a program's step would send one customer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Preview {
    pub program: String,
    pub step: String,
    pub channel: guanxi_domain::Channel,
    pub template: String,
    pub subject: String,
    pub text: String,
}

/// What the shop's messages are written with: its templates, its name as messages say
/// it, their language.
#[derive(Debug, Clone)]
pub struct Writing {
    pub templates: std::sync::Arc<guanxi_engage::Templates>,
    pub shop_name: String,
    pub language: String,
}

impl Default for Writing {
    fn default() -> Writing {
        Writing {
            templates: std::sync::Arc::new(guanxi_engage::Templates::builtin()),
            shop_name: String::new(),
            language: "zh-CN".into(),
        }
    }
}

/// The longest attribution window a program's figures take (days).
pub const MAX_WINDOW_DAYS: u32 = 365;

/// What programs did, per step (messages by outcome, clicks, conversions — a paid order
/// within `window_days` after the message — and actions): of program `name`, or of all.
pub async fn stats(store: &dyn Store, name: Option<&str>, window_days: u32) -> Result<Vec<StepStats>> {
    if !(1..=MAX_WINDOW_DAYS).contains(&window_days) {
        return Err(bad(
            "window_invalid",
            format!("window_days: expected 1 to {MAX_WINDOW_DAYS} days, found {window_days}"),
        ));
    }
    if let Some(name) = name
        && find(store, name).await?.is_none()
    {
        return Err(unknown(name));
    }
    let window = chrono::Duration::days(i64::from(window_days));
    Ok(guanxi_engage::stats::step_stats(store, name, window).await?)
}

fn bad(code: &'static str, message: String) -> AppError {
    AppError::BadInput { code, message }
}

/// Renders step `step` of program `program` for customer `customer_id` as the worker
/// would (their name, their latest order and its items; the link shown as a
/// placeholder, since a preview is no message and tracks nothing).
pub async fn preview(
    store: &dyn Store,
    writing: &Writing,
    program: &str,
    step: &str,
    customer_id: i64,
) -> Result<Preview> {
    let Some((p, _)) = find(store, program).await? else {
        return Err(unknown(program));
    };
    let Some(s) = p.steps.iter().find(|s| s.name == step) else {
        let steps: Vec<&str> = p.steps.iter().map(|s| s.name.as_str()).collect();
        return Err(bad(
            "step_unknown",
            format!("step: {program} has no step {step:?} (its steps: {})", steps.join(", ")),
        ));
    };
    let guanxi_domain::program::Action::Send { send, template } = &s.action else {
        return Err(bad(
            "step_not_message",
            format!("step: {program}'s step {step:?} sends no message ({})", s.action),
        ));
    };
    let Some(customer) = store.customer_by_id(customer_id).await? else {
        return Err(bad("customer_unknown", format!("customer: no customer #{customer_id}")));
    };
    let latest = store.customer_history(customer_id, 1).await?.orders.into_iter().next();
    let vars = guanxi_engage::templates::Vars {
        name: guanxi_engage::templates::Vars::addressing(customer.name.as_deref(), &writing.language),
        shop: writing.shop_name.clone(),
        order: latest.as_ref().map(|o| o.external_id.clone()).unwrap_or_default(),
        items: latest.map(|o| o.items).unwrap_or_default(),
        link: "https://…/r/…".into(),
        // A preview issues nothing: the code's shape stands for the one a send carries.
        coupon: "GX-XXXXX-XXXXX".into(),
    };
    let rendered = writing
        .templates
        .render(template, &writing.language, &vars)
        .map_err(|e| bad("template", e.to_string()))?;
    Ok(Preview {
        program: p.name.clone(),
        step: s.name.clone(),
        channel: *send,
        template: template.clone(),
        subject: rendered.subject,
        text: rendered.text,
    })
}
