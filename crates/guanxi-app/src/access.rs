//! Staff and their sessions: adding a user, signing in (with throttling), the session a
//! request carries, signing out, and the audit log. Passwords are argon2id hashes;
//! session ids are 256 random bits the browser holds and the store knows only by their
//! SHA-256; every sign-in, failed sign-in and user added is audited with where it came
//! from.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use chrono::{DateTime, Duration, Utc};
use guanxi_domain::access::{Capability, Role};
use guanxi_store::{ApiToken, Audited, NewToken, Session, Store, User};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

use crate::error::{AppError, Result};

/// How long a session lasts after sign-in.
pub const SESSION_HOURS: i64 = 12;
/// Failed sign-ins within [`THROTTLE_MINUTES`] after which an account is refused…
pub const FAILURES_PER_ACCOUNT: u64 = 5;
/// …and after which a client address is refused (it may be guessing many accounts).
pub const FAILURES_PER_ORIGIN: u64 = 20;
pub const THROTTLE_MINUTES: i64 = 15;
/// The shortest password a user may be given.
pub const MIN_PASSWORD: usize = 12;

/// Who is acting and from where: a user's name (or `cli`) and a client's address (or
/// `cli`), for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    pub origin: String,
}

impl Actor {
    /// Whoever runs the command line on the shop's machine.
    pub fn cli() -> Actor {
        Actor {
            name: "cli".into(),
            origin: "cli".into(),
        }
    }

    pub(crate) fn audited(&self, at: DateTime<Utc>, action: &str, subject: String, detail: String) -> Audited {
        Audited {
            at,
            actor: self.name.clone(),
            action: action.into(),
            subject,
            detail,
            origin: self.origin.clone(),
        }
    }
}

/// A sign-in that succeeded: the session id to hand the browser (shown once, stored
/// only hashed), the session and its user.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub token: String,
    pub session: Session,
    pub user: User,
}

fn bad(code: &'static str, message: impl Into<String>) -> AppError {
    AppError::BadInput {
        code,
        message: message.into(),
    }
}

fn random_hex() -> String {
    random_hex_of::<32>()
}

/// `N` random bytes as hexadecimal digits.
pub(crate) fn random_hex_of<const N: usize>() -> String {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A new random password (24 hexadecimal digits, 96 bits), for a user the machine makes
/// (the demo's).
pub fn new_password() -> String {
    random_hex()[..24].to_string()
}

/// The SHA-256 of a session id, as the store keeps it.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| AppError::Details(e.to_string()))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| AppError::Details(e.to_string()))?
        .to_string())
}

/// Whether `password` is the one `hash` was made from; a hash that does not parse
/// matches nothing.
fn password_matches(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// Adds a user with `role`. The name is what they sign in with (1 to 64 characters, no
/// spaces); the password at least [`MIN_PASSWORD`] characters. There is no default
/// user and no default password: the first admin is added from the command line.
pub async fn add_user(store: &dyn Store, name: &str, role: Role, password: &str, by: &Actor) -> Result<User> {
    let n = name.chars().count();
    if n == 0 || n > 64 || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad(
            "user_name",
            format!("name: expected 1 to 64 characters without spaces, found {name:?}"),
        ));
    }
    let p = password.chars().count();
    if p < MIN_PASSWORD || password.len() > 1024 {
        return Err(bad(
            "weak_password",
            format!("password: expected at least {MIN_PASSWORD} characters (at most 1,024 bytes), found {p}"),
        ));
    }
    let hash = hash_password(password)?;
    let by = by.audited(Utc::now(), "user.add", String::new(), String::new());
    match store.add_user(name, role, &hash, &by).await {
        Err(guanxi_store::StoreError::Refused(message)) => Err(bad("user_exists", message)),
        other => Ok(other?),
    }
}

/// Disables a user: their sessions end and they can no longer sign in; the audit log
/// keeps their name. There is no deletion.
pub async fn disable_user(store: &dyn Store, name: &str, by: &Actor) -> Result<User> {
    let by = by.audited(Utc::now(), "user.disable", String::new(), String::new());
    store.disable_user(name, &by).await?.ok_or_else(|| AppError::BadInput {
        code: "user_unknown",
        message: format!("no user named {name:?} (guanxi user list shows them)"),
    })
}

/// Signs `name` in with `password` from `origin` at `now`: a new session (a sign-in
/// never reuses a session id, so one planted before sign-in is worthless after it).
/// Refused alike for an unknown name, a disabled user and a wrong password (audited as
/// `login.failed`), and for an account or address with too many recent failures.
pub async fn sign_in(
    store: &dyn Store,
    name: &str,
    password: &str,
    origin: &str,
    now: DateTime<Utc>,
) -> Result<SignedIn> {
    let subject = format!("user:{name}");
    let since = now - Duration::minutes(THROTTLE_MINUTES);
    let (by_account, by_origin) = tokio::try_join!(
        store.audited_count("login.failed", since, Some(&subject), None),
        store.audited_count("login.failed", since, None, Some(origin)),
    )?;
    let actor = Actor {
        name: name.into(),
        origin: origin.into(),
    };
    if by_account >= FAILURES_PER_ACCOUNT || by_origin >= FAILURES_PER_ORIGIN {
        store
            .audit(&actor.audited(now, "login.throttled", subject, String::new()))
            .await?;
        return Err(AppError::Denied {
            code: "sign_in_throttled",
            message: format!("too many failed sign-ins: try again in {THROTTLE_MINUTES} minutes"),
        });
    }
    let user = store.user_named(name).await?;
    // An unknown name costs the same hash as a known one: the time taken tells nothing.
    static NOBODY: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| hash_password(&random_hex()).unwrap_or_default());
    let hash = user.as_ref().map_or(NOBODY.as_str(), |u| u.password_hash.as_str());
    let matches = password_matches(password, hash);
    let Some(user) = user.filter(|u| matches && u.disabled_at.is_none()) else {
        store
            .audit(&actor.audited(now, "login.failed", subject, String::new()))
            .await?;
        return Err(AppError::Denied {
            code: "sign_in_failed",
            message: "wrong name or password".into(),
        });
    };
    let token = random_hex();
    let session = Session {
        id_hash: token_hash(&token),
        user_id: user.id,
        csrf: random_hex(),
        created_at: now,
        expires_at: now + Duration::hours(SESSION_HOURS),
        origin: origin.into(),
    };
    store.start_session(&session).await?;
    store
        .audit(&actor.audited(now, "login", format!("user:{}", user.id), String::new()))
        .await?;
    Ok(SignedIn { token, session, user })
}

/// The live session a request's session id names, and its user.
pub async fn session(store: &dyn Store, token: &str, now: DateTime<Utc>) -> Result<Option<(Session, User)>> {
    Ok(store.session(&token_hash(token), now).await?)
}

/// Ends the session `token` names (audited when there was one).
pub async fn sign_out(store: &dyn Store, token: &str, by: &Actor, now: DateTime<Utc>) -> Result<bool> {
    let ended = store.end_session(&token_hash(token)).await?;
    if ended {
        store
            .audit(&by.audited(now, "logout", format!("user:{}", by.name), String::new()))
            .await?;
    }
    Ok(ended)
}

/// Records what `by` did: an export, a contact revealed — what has no store write of
/// its own to be audited with.
pub async fn record(store: &dyn Store, by: &Actor, action: &str, subject: String, detail: String) -> Result<()> {
    Ok(store.audit(&by.audited(Utc::now(), action, subject, detail)).await?)
}

/// The prefix of every API token's secret (so that a leaked one is recognisable).
pub const TOKEN_PREFIX: &str = "gx_";
/// The longest an API token lasts.
pub const MAX_TOKEN_DAYS: i64 = 365;

/// Makes an API token for `user` named `name`, with `scopes` (each within the user's
/// role), lasting `days`. The secret is returned once and never stored.
pub async fn create_token(
    store: &dyn Store,
    user: &str,
    name: &str,
    scopes: &[Capability],
    days: i64,
    by: &Actor,
) -> Result<(String, ApiToken)> {
    let Some(owner) = store.user_named(user).await?.filter(|u| u.disabled_at.is_none()) else {
        return Err(bad("user_unknown", format!("--user: no enabled user named {user:?}")));
    };
    let n = name.chars().count();
    if n == 0 || n > 64 || name.chars().any(char::is_control) {
        return Err(bad(
            "token_name",
            format!("--name: expected 1 to 64 characters, found {name:?}"),
        ));
    }
    if scopes.is_empty() {
        return Err(bad("token_scopes", "--scope: name at least one capability"));
    }
    if let Some(c) = scopes.iter().find(|c| !owner.role.may(**c)) {
        return Err(bad(
            "scope_not_in_role",
            format!("--scope: {c} is not something a {} may do", owner.role),
        ));
    }
    if !(1..=MAX_TOKEN_DAYS).contains(&days) {
        return Err(bad(
            "token_days",
            format!("--days: expected 1 to {MAX_TOKEN_DAYS}, found {days}"),
        ));
    }
    let secret = format!("{TOKEN_PREFIX}{}", random_hex());
    let now = Utc::now();
    let token = store
        .add_token(
            &NewToken {
                user_id: owner.id,
                name: name.into(),
                token_hash: token_hash(&secret),
                scopes: scopes.to_vec(),
                created_at: now,
                expires_at: now + Duration::days(days),
            },
            &by.audited(now, "token.add", String::new(), String::new()),
        )
        .await?;
    Ok((secret, token))
}

/// The live token a request's `Authorization: Bearer` secret names, and its user.
pub async fn bearer(store: &dyn Store, secret: &str, now: DateTime<Utc>) -> Result<Option<(ApiToken, User)>> {
    if !secret.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    Ok(store.token(&token_hash(secret), now).await?)
}

/// Revokes token `id`; an unknown or already revoked one is bad input.
pub async fn revoke_token(store: &dyn Store, id: i64, by: &Actor) -> Result<()> {
    let by = by.audited(Utc::now(), "token.revoke", String::new(), String::new());
    if store.revoke_token(id, &by).await? {
        Ok(())
    } else {
        Err(bad(
            "token_unknown",
            format!("no live token {id} (guanxi token list shows them)"),
        ))
    }
}

/// The audit log from `since` on (all of it when `None`), oldest first, at most `limit`.
pub async fn audit_log(store: &dyn Store, since: Option<DateTime<Utc>>, limit: u32) -> Result<Vec<Audited>> {
    Ok(store.audit_log(since, limit).await?)
}
