//! `guanxi user add|list` and `guanxi audit list`: the use cases are
//! `guanxi_app::access`; this reads the password and prints.

use std::io::BufRead as _;

use guanxi_app::access::{self, Actor};
use guanxi_domain::access::{Capability, Role};
use guanxi_domain::parse_date;
use serde::Serialize;

use crate::cli::{AuditCommand, Global, TokenCommand, UserCommand};
use crate::commands::default_db;
use crate::open::open;
use crate::output::{BadInput, done, report};

#[derive(Serialize)]
struct Listed {
    id: i64,
    name: String,
    role: Role,
    created_at: chrono::DateTime<chrono::Utc>,
    disabled: bool,
}

pub async fn run(global: &Global, cmd: UserCommand) -> anyhow::Result<()> {
    let o = open(global, default_db()).await?;
    match cmd {
        UserCommand::Add { name, role } => {
            let role = Role::parse(&role).map_err(|e| BadInput {
                code: "bad_role",
                message: format!("--role: {e}"),
            })?;
            // One line from standard input: never an argument (it would stay in the
            // shell's history and the process list).
            let mut password = String::new();
            std::io::stdin().lock().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            let user = access::add_user(o.store.as_ref(), &name, role, password, &Actor::cli()).await?;
            done(
                global.json,
                format!("added {} ({}) as user {}", user.name, user.role, user.id),
                serde_json::json!({ "id": user.id, "name": user.name, "role": user.role }),
            )
        }
        UserCommand::Disable { name } => {
            let user = access::disable_user(o.store.as_ref(), &name, &Actor::cli()).await?;
            done(
                global.json,
                format!(
                    "{} (user {}) is disabled; their sessions have ended",
                    user.name, user.id
                ),
                serde_json::json!({ "id": user.id, "name": user.name }),
            )
        }
        UserCommand::List => {
            let users: Vec<Listed> = o
                .store
                .users()
                .await?
                .into_iter()
                .map(|u| Listed {
                    id: u.id,
                    name: u.name,
                    role: u.role,
                    created_at: u.created_at,
                    disabled: u.disabled_at.is_some(),
                })
                .collect();
            report(global.json, &users, |users| {
                if users.is_empty() {
                    return "no users yet: add the first admin with guanxi user add NAME --role admin\n".into();
                }
                users
                    .iter()
                    .map(|u| {
                        format!(
                            "{:>4}  {:<20} {:<9}{}\n",
                            u.id,
                            u.name,
                            u.role.as_str(),
                            if u.disabled { "  disabled" } else { "" }
                        )
                    })
                    .collect()
            })
        }
    }
}

pub async fn audit(global: &Global, cmd: AuditCommand) -> anyhow::Result<()> {
    let o = open(global, default_db()).await?;
    let AuditCommand::List { since, limit } = cmd;
    let since = match since {
        Some(d) => {
            let bad = |message: String| BadInput {
                code: "bad_date",
                message: format!("--since: {message}"),
            };
            let day = parse_date(&d).map_err(|e| bad(e.to_string()))?;
            Some(
                o.tz.start_of(day)
                    .ok_or_else(|| bad(format!("{d} does not exist in the shop's time zone")))?,
            )
        }
        None => None,
    };
    let log = access::audit_log(o.store.as_ref(), since, limit).await?;
    let tz = o.tz;
    report(global.json, &log, |log| {
        log.iter()
            .map(|e| {
                format!(
                    "{}  {:<12} {:<16} {:<14} {}{}\n",
                    e.at.with_timezone(&tz.0).format("%Y-%m-%d %H:%M:%S"),
                    e.actor,
                    e.action,
                    e.subject,
                    e.origin,
                    if e.detail.is_empty() {
                        String::new()
                    } else {
                        format!("  {}", e.detail)
                    }
                )
            })
            .collect()
    })
}

pub async fn token(global: &Global, cmd: TokenCommand) -> anyhow::Result<()> {
    let o = open(global, default_db()).await?;
    match cmd {
        TokenCommand::Create {
            user,
            name,
            scope,
            days,
        } => {
            let scopes = scope
                .iter()
                .map(|s| Capability::parse(s))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| BadInput {
                    code: "bad_scope",
                    message: format!("--scope: {e}"),
                })?;
            let (secret, t) =
                access::create_token(o.store.as_ref(), &user, &name, &scopes, days, &Actor::cli()).await?;
            done(
                global.json,
                format!(
                    "token {} ({name}) for {user} until {}: {secret}\nit is shown only now: keep it where the caller reads it",
                    t.id,
                    t.expires_at.date_naive()
                ),
                serde_json::json!({ "id": t.id, "secret": secret, "scopes": t.scopes, "expires_at": t.expires_at }),
            )
        }
        TokenCommand::List { user } => {
            let user_id = match user {
                Some(name) => Some(
                    o.store
                        .user_named(&name)
                        .await?
                        .ok_or_else(|| BadInput {
                            code: "user_unknown",
                            message: format!("--user: no user named {name:?}"),
                        })?
                        .id,
                ),
                None => None,
            };
            let tokens = o.store.tokens(user_id).await?;
            report(global.json, &tokens, |tokens| {
                tokens
                    .iter()
                    .map(|t| {
                        let scopes: Vec<&str> = t.scopes.iter().map(|c| c.as_str()).collect();
                        format!(
                            "{:>4}  {:<20} user {:<4} {}  until {}{}\n",
                            t.id,
                            t.name,
                            t.user_id,
                            scopes.join(","),
                            t.expires_at.date_naive(),
                            if t.revoked_at.is_some() { "  revoked" } else { "" }
                        )
                    })
                    .collect()
            })
        }
        TokenCommand::Revoke { id } => {
            access::revoke_token(o.store.as_ref(), id, &Actor::cli()).await?;
            done(
                global.json,
                format!("token {id} is revoked"),
                serde_json::json!({ "id": id }),
            )
        }
    }
}
