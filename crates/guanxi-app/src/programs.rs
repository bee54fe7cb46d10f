//! Turning engagement programs on and off: the CLI's `guanxi program enable|disable` and
//! the programs page call these. Enabling stores the program's definition with the
//! moment its runs start from; both are audited by the store under the actor's name.

use chrono::{DateTime, Utc};
use guanxi_domain::program::{Program, builtin};
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
    since: DateTime<Utc>,
    by: &Actor,
) -> Result<ProgramState> {
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
