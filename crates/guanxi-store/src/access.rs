//! Staff, their sessions and the audit log: who may sign in, who is signed in (kept in
//! the store so that every instance of `guanxi serve` knows), and who did what, when,
//! from where. Every backend implements [`Access`] with the shared SQL
//! (`sql_access.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use guanxi_domain::access::{Capability, Role};
use serde::Serialize;

use crate::Result;

/// A member of staff who signs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub role: Role,
    /// argon2, as a PHC string; never shown.
    #[serde(skip)]
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
}

/// A signed-in session: the SHA-256 of the id the browser holds (the id itself is never
/// stored), its user, its token for forms, when it ends and where it was opened from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id_hash: String,
    pub user_id: i64,
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub origin: String,
}

/// One line of the audit log: who (a user's name, `cli`, a program), what (`user.add`,
/// `login`, `login.failed`, `customer.merge`…), about what (`user:3`, `customer:42`),
/// when and from where (a client's address, `cli`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Audited {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
    pub origin: String,
}

/// An API token: a user's, named, with the capabilities it may use (within the user's
/// role), until it expires or is revoked. The secret is not here: the store keeps only
/// its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub scopes: Vec<Capability>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A token to store: its owner, name, scopes, times and the secret's hash.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub user_id: i64,
    pub name: String,
    pub token_hash: String,
    pub scopes: Vec<Capability>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[async_trait]
pub trait Access: Send + Sync {
    /// Stores a token (audited as `token.add` by `by`).
    async fn add_token(&self, token: &NewToken, by: &Audited) -> Result<ApiToken>;

    /// The live token whose secret hashes to `token_hash` and its user: not expired at
    /// `now`, not revoked, its user not disabled.
    async fn token(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<(ApiToken, User)>>;

    /// Every token (of `user_id`, when given), by id.
    async fn tokens(&self, user_id: Option<i64>) -> Result<Vec<ApiToken>>;

    /// Revokes a token (audited as `token.revoke`); whether it was live.
    async fn revoke_token(&self, id: i64, by: &Audited) -> Result<bool>;

    /// Adds a user (audited as `user.add` by `by`); a name already taken is refused.
    async fn add_user(&self, name: &str, role: Role, password_hash: &str, by: &Audited) -> Result<User>;

    async fn user_named(&self, name: &str) -> Result<Option<User>>;

    /// Disables a user and ends their sessions (audited as `user.disable` by `by`): they
    /// can no longer sign in, and the audit log keeps their name. `None` when there is no
    /// such user.
    async fn disable_user(&self, name: &str, by: &Audited) -> Result<Option<User>>;

    /// Every user, by id.
    async fn users(&self) -> Result<Vec<User>>;

    /// Records a new session (the sign-in is audited by the caller with its outcome).
    async fn start_session(&self, session: &Session) -> Result<()>;

    /// The session whose id hashes to `id_hash` and its user, while it lasts at `now` and
    /// its user is not disabled.
    async fn session(&self, id_hash: &str, now: DateTime<Utc>) -> Result<Option<(Session, User)>>;

    /// Ends a session; whether there was one.
    async fn end_session(&self, id_hash: &str) -> Result<bool>;

    /// Appends to the audit log (never updated, never deleted).
    async fn audit(&self, entry: &Audited) -> Result<()>;

    /// The audit log from `since` on (all of it when `None`), oldest first, at most
    /// `limit` lines.
    async fn audit_log(&self, since: Option<DateTime<Utc>>, limit: u32) -> Result<Vec<Audited>>;

    /// How many `action`s since `since` were about `subject` or came from `origin`
    /// (either, when both are given): the sign-in throttle's count of recent failures.
    async fn audited_count(
        &self,
        action: &str,
        since: DateTime<Utc>,
        subject: Option<&str>,
        origin: Option<&str>,
    ) -> Result<u64>;
}
