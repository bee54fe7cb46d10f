//! Users, sessions and the audit log in SQL, written once for both backends: expanded
//! inside [`crate::sql_store!`] (so it shares its helpers) as the `Access`
//! implementation of one store.

#[doc(hidden)]
#[macro_export]
macro_rules! sql_access {
    ($store:ident, $db:ty, $backend:expr) => {
        const USER_COLUMNS: &str = "id, name, role, password_hash, created_at, disabled_at";

        fn user_from_row(r: &DbRow) -> $crate::Result<$crate::User> {
            let role: String = get(r, "role")?;
            Ok($crate::User {
                id: get(r, "id")?,
                name: get(r, "name")?,
                role: dom::access::Role::parse(&role).map_err(corrupt)?,
                password_hash: get(r, "password_hash")?,
                created_at: get(r, "created_at")?,
                disabled_at: get(r, "disabled_at")?,
            })
        }

        fn audited_from_row(r: &DbRow) -> $crate::Result<$crate::Audited> {
            Ok($crate::Audited {
                at: get(r, "at")?,
                actor: get(r, "actor")?,
                action: get(r, "action")?,
                subject: get(r, "subject")?,
                detail: get(r, "detail")?,
                origin: get(r, "origin")?,
            })
        }

        async fn append_audit<'c, E>(conn: E, e: &$crate::Audited) -> $crate::Result<()>
        where
            E: sqlx::Executor<'c, Database = $db>,
        {
            let mut b = Builder::new("INSERT INTO audit_log (at, actor, action, subject, detail, origin) ");
            b.push_values([e], |mut s, e| {
                s.push_bind(e.at)
                    .push_bind(e.actor.clone())
                    .push_bind(e.action.clone())
                    .push_bind(e.subject.clone())
                    .push_bind(e.detail.clone())
                    .push_bind(e.origin.clone());
            });
            b.build().execute(conn).await.map_err(db_err)?;
            Ok(())
        }

        const TOKEN_COLUMNS: &str = "t.id AS t_id, t.user_id, t.name AS t_name, t.scopes, t.created_at AS t_created_at, t.expires_at, t.revoked_at";

        fn token_from_row(r: &DbRow) -> $crate::Result<$crate::ApiToken> {
            let scopes: String = get(r, "scopes")?;
            Ok($crate::ApiToken {
                id: get(r, "t_id")?,
                user_id: get(r, "user_id")?,
                name: get(r, "t_name")?,
                scopes: scopes
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(dom::access::Capability::parse)
                    .collect::<Result<_, _>>()
                    .map_err(corrupt)?,
                created_at: get(r, "t_created_at")?,
                expires_at: get(r, "expires_at")?,
                revoked_at: get(r, "revoked_at")?,
            })
        }

        #[async_trait::async_trait]
        impl $crate::Access for $store {
            async fn add_token(&self, t: &$crate::NewToken, by: &$crate::Audited) -> $crate::Result<$crate::ApiToken> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let scopes: Vec<&str> = t.scopes.iter().map(|c| c.as_str()).collect();
                let mut b = Builder::new("INSERT INTO api_tokens (user_id, name, token_hash, scopes, created_at, expires_at) ");
                b.push_values([t], |mut q, t| {
                    q.push_bind(t.user_id)
                        .push_bind(t.name.clone())
                        .push_bind(t.token_hash.clone())
                        .push_bind(scopes.join(","))
                        .push_bind(t.created_at)
                        .push_bind(t.expires_at);
                });
                b.push(" RETURNING id AS t_id, user_id, name AS t_name, scopes, created_at AS t_created_at, expires_at, revoked_at");
                let token = token_from_row(&b.build().fetch_one(&mut *tx).await.map_err(db_err)?)?;
                let entry = $crate::Audited {
                    action: "token.add".into(),
                    subject: format!("token:{}", token.id),
                    detail: format!("{} for user {} ({}), until {}", token.name, t.user_id, scopes.join(","), t.expires_at),
                    ..by.clone()
                };
                append_audit(&mut *tx, &entry).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(token)
            }

            async fn token(
                &self,
                token_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<Option<($crate::ApiToken, $crate::User)>> {
                let mut b = Builder::new(format!(
                    "SELECT {TOKEN_COLUMNS}, u.id, u.name, u.role, u.password_hash, u.created_at, u.disabled_at \
                     FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = "
                ));
                b.push_bind(token_hash.to_string())
                    .push(" AND t.expires_at > ")
                    .push_bind(now)
                    .push(" AND t.revoked_at IS NULL AND u.disabled_at IS NULL");
                let Some(r) = b.build().fetch_optional(&self.pool).await.map_err(db_err)? else {
                    return Ok(None);
                };
                Ok(Some((token_from_row(&r)?, user_from_row(&r)?)))
            }

            async fn tokens(&self, user_id: Option<i64>) -> $crate::Result<Vec<$crate::ApiToken>> {
                let mut b = Builder::new(format!("SELECT {TOKEN_COLUMNS} FROM api_tokens t"));
                if let Some(u) = user_id {
                    b.push(" WHERE t.user_id = ").push_bind(u);
                }
                b.push(" ORDER BY t.id");
                rows_of(&self.pool, b, token_from_row).await
            }

            async fn revoke_token(&self, id: i64, by: &$crate::Audited) -> $crate::Result<bool> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let mut b = Builder::new("UPDATE api_tokens SET revoked_at = ");
                b.push_bind(by.at).push(" WHERE id = ").push_bind(id).push(" AND revoked_at IS NULL");
                let revoked = b.build().execute(&mut *tx).await.map_err(db_err)?.rows_affected() > 0;
                if revoked {
                    let entry = $crate::Audited {
                        action: "token.revoke".into(),
                        subject: format!("token:{id}"),
                        ..by.clone()
                    };
                    append_audit(&mut *tx, &entry).await?;
                }
                tx.commit().await.map_err(db_err)?;
                Ok(revoked)
            }

            async fn add_user(
                &self,
                name: &str,
                role: dom::access::Role,
                password_hash: &str,
                by: &$crate::Audited,
            ) -> $crate::Result<$crate::User> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                refuse_taken(&mut *tx, "users", "a user", name).await?;
                let mut b = Builder::new("INSERT INTO users (name, role, password_hash, created_at) ");
                b.push_values([()], |mut s, _| {
                    s.push_bind(name.to_string())
                        .push_bind(role.as_str())
                        .push_bind(password_hash.to_string())
                        .push_bind(by.at);
                });
                b.push(format!(" RETURNING {USER_COLUMNS}"));
                let user = user_from_row(&b.build().fetch_one(&mut *tx).await.map_err(db_err)?)?;
                let entry = $crate::Audited {
                    action: "user.add".into(),
                    subject: format!("user:{}", user.id),
                    detail: format!("{} ({})", user.name, user.role),
                    ..by.clone()
                };
                append_audit(&mut *tx, &entry).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(user)
            }

            async fn user_named(&self, name: &str) -> $crate::Result<Option<$crate::User>> {
                let mut b = Builder::new(format!("SELECT {USER_COLUMNS} FROM users WHERE name = "));
                b.push_bind(name.to_string());
                b.build()
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .map(|r| user_from_row(&r))
                    .transpose()
            }

            async fn disable_user(&self, name: &str, by: &$crate::Audited) -> $crate::Result<Option<$crate::User>> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let mut b = Builder::new("UPDATE users SET disabled_at = ");
                b.push_bind(by.at)
                    .push(" WHERE name = ")
                    .push_bind(name.to_string())
                    .push(format!(" AND disabled_at IS NULL RETURNING {USER_COLUMNS}"));
                let Some(row) = b.build().fetch_optional(&mut *tx).await.map_err(db_err)? else {
                    let mut b = Builder::new(format!("SELECT {USER_COLUMNS} FROM users WHERE name = "));
                    b.push_bind(name.to_string());
                    // Disabled already: nothing to change.
                    return b
                        .build()
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_err)?
                        .map(|r| user_from_row(&r))
                        .transpose();
                };
                let user = user_from_row(&row)?;
                let mut b = Builder::new("DELETE FROM sessions WHERE user_id = ");
                b.push_bind(user.id);
                b.build().execute(&mut *tx).await.map_err(db_err)?;
                let entry = $crate::Audited {
                    action: "user.disable".into(),
                    subject: format!("user:{}", user.id),
                    detail: user.name.clone(),
                    ..by.clone()
                };
                append_audit(&mut *tx, &entry).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(Some(user))
            }

            async fn users(&self) -> $crate::Result<Vec<$crate::User>> {
                let b = Builder::new(format!("SELECT {USER_COLUMNS} FROM users ORDER BY id"));
                rows_of(&self.pool, b, user_from_row).await
            }

            async fn start_session(&self, s: &$crate::Session) -> $crate::Result<()> {
                let mut b =
                    Builder::new("INSERT INTO sessions (id_hash, user_id, csrf, created_at, expires_at, origin) ");
                b.push_values([s], |mut q, s| {
                    q.push_bind(s.id_hash.clone())
                        .push_bind(s.user_id)
                        .push_bind(s.csrf.clone())
                        .push_bind(s.created_at)
                        .push_bind(s.expires_at)
                        .push_bind(s.origin.clone());
                });
                b.build().execute(&self.pool).await.map_err(db_err)?;
                Ok(())
            }

            async fn session(
                &self,
                id_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<Option<($crate::Session, $crate::User)>> {
                let mut b = Builder::new(
                    "SELECT s.id_hash, s.user_id, s.csrf, s.created_at AS s_created_at, s.expires_at, s.origin, \
                     u.id, u.name, u.role, u.password_hash, u.created_at, u.disabled_at \
                     FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = ",
                );
                b.push_bind(id_hash.to_string())
                    .push(" AND s.expires_at > ")
                    .push_bind(now)
                    .push(" AND u.disabled_at IS NULL");
                let Some(r) = b.build().fetch_optional(&self.pool).await.map_err(db_err)? else {
                    return Ok(None);
                };
                let session = $crate::Session {
                    id_hash: get(&r, "id_hash")?,
                    user_id: get(&r, "user_id")?,
                    csrf: get(&r, "csrf")?,
                    created_at: get(&r, "s_created_at")?,
                    expires_at: get(&r, "expires_at")?,
                    origin: get(&r, "origin")?,
                };
                Ok(Some((session, user_from_row(&r)?)))
            }

            async fn end_session(&self, id_hash: &str) -> $crate::Result<bool> {
                let mut b = Builder::new("DELETE FROM sessions WHERE id_hash = ");
                b.push_bind(id_hash.to_string());
                Ok(b.build()
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?
                    .rows_affected()
                    > 0)
            }

            async fn audit(&self, entry: &$crate::Audited) -> $crate::Result<()> {
                append_audit(&self.pool, entry).await
            }

            async fn audit_log(
                &self,
                since: Option<chrono::DateTime<chrono::Utc>>,
                limit: u32,
            ) -> $crate::Result<Vec<$crate::Audited>> {
                let mut b = Builder::new("SELECT at, actor, action, subject, detail, origin FROM audit_log");
                if let Some(since) = since {
                    b.push(" WHERE at >= ").push_bind(since);
                }
                b.push(" ORDER BY id LIMIT ").push_bind(i64::from(limit));
                rows_of(&self.pool, b, audited_from_row).await
            }

            async fn audited_count(
                &self,
                action: &str,
                since: chrono::DateTime<chrono::Utc>,
                subject: Option<&str>,
                origin: Option<&str>,
            ) -> $crate::Result<u64> {
                let mut b = Builder::new("SELECT count(*) AS n FROM audit_log WHERE action = ");
                b.push_bind(action.to_string())
                    .push(" AND at >= ")
                    .push_bind(since);
                match (subject, origin) {
                    (Some(s), Some(o)) => {
                        b.push(" AND (subject = ").push_bind(s.to_string());
                        b.push(" OR origin = ").push_bind(o.to_string()).push(")");
                    }
                    (Some(s), None) => {
                        b.push(" AND subject = ").push_bind(s.to_string());
                    }
                    (None, Some(o)) => {
                        b.push(" AND origin = ").push_bind(o.to_string());
                    }
                    (None, None) => {}
                }
                let row = b.build().fetch_one(&self.pool).await.map_err(db_err)?;
                Ok(get::<i64>(&row, "n")? as u64)
            }
        }
    };
}
