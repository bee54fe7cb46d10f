//! Users and sign-in over a real store: what is refused and why, what is audited, that a
//! session lasts until it is ended or expires, and that repeated failures throttle.

use chrono::{Duration, TimeZone as _, Utc};
use guanxi_app::access::{self, Actor};
use guanxi_domain::access::Role;
use guanxi_store::Access as _;
use guanxi_store_sqlite::SqliteStore;

async fn store() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
    (store, dir)
}

#[tokio::test]
async fn users_are_added_with_a_name_and_a_strong_enough_password_once() {
    let (store, _dir) = store().await;
    let cli = Actor::cli();
    let weak = access::add_user(&store, "ann", Role::Admin, "short", &cli)
        .await
        .unwrap_err();
    assert_eq!(weak.code(), "weak_password");
    assert!(
        weak.is_bad_input() && weak.to_string().starts_with("password: "),
        "{weak}"
    );
    let spaced = access::add_user(&store, "ann lee", Role::Admin, "a long enough one", &cli)
        .await
        .unwrap_err();
    assert_eq!(spaced.code(), "user_name");
    let ann = access::add_user(&store, "ann", Role::Admin, "a long enough one", &cli)
        .await
        .unwrap();
    assert_eq!(ann.role, Role::Admin);
    assert!(ann.password_hash.starts_with("$argon2id$"), "{}", ann.password_hash);
    assert!(!ann.password_hash.contains("a long enough one"));
    let twice = access::add_user(&store, "ann", Role::Agent, "another long one", &cli)
        .await
        .unwrap_err();
    assert_eq!(twice.code(), "user_exists");
    let log = access::audit_log(&store, None, 10).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].actor.as_str(), log[0].action.as_str(), log[0].origin.as_str()),
        ("cli", "user.add", "cli")
    );
}

#[tokio::test]
async fn a_sign_in_opens_a_new_session_until_sign_out_or_expiry() {
    let (store, _dir) = store().await;
    access::add_user(&store, "bob", Role::Agent, "correct horse battery", &Actor::cli())
        .await
        .unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 29, 9, 0, 0).unwrap();
    let first = access::sign_in(&store, "bob", "correct horse battery", "10.0.0.9", now)
        .await
        .unwrap();
    let second = access::sign_in(&store, "bob", "correct horse battery", "10.0.0.9", now)
        .await
        .unwrap();
    assert_ne!(first.token, second.token, "every sign-in a new session id");
    assert_eq!(first.token.len(), 64);
    assert_ne!(first.session.csrf, second.session.csrf);
    // The store knows the session only by the id's hash.
    assert_ne!(first.session.id_hash, first.token);
    let (session, user) = access::session(&store, &first.token, now + Duration::hours(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (user.name.as_str(), session.csrf.as_str()),
        ("bob", first.session.csrf.as_str())
    );
    let later = now + Duration::hours(access::SESSION_HOURS);
    assert!(
        access::session(&store, &first.token, later).await.unwrap().is_none(),
        "expired"
    );
    let bob = Actor {
        name: "bob".into(),
        origin: "10.0.0.9".into(),
    };
    assert!(access::sign_out(&store, &second.token, &bob, now).await.unwrap());
    assert!(access::session(&store, &second.token, now).await.unwrap().is_none());
    assert!(!access::sign_out(&store, &second.token, &bob, now).await.unwrap());
    // Disabled: the open session ends, and the right password is refused like a wrong one.
    let third = access::sign_in(&store, "bob", "correct horse battery", "10.0.0.9", now)
        .await
        .unwrap();
    access::disable_user(&store, "bob", &Actor::cli()).await.unwrap();
    assert!(access::session(&store, &third.token, now).await.unwrap().is_none());
    let refused = access::sign_in(&store, "bob", "correct horse battery", "10.0.0.9", now)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "sign_in_failed");
    assert_eq!(
        access::disable_user(&store, "nobody", &Actor::cli())
            .await
            .unwrap_err()
            .code(),
        "user_unknown"
    );
    let actions: Vec<String> = access::audit_log(&store, None, 20)
        .await
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {} {}", e.actor, e.action, e.origin))
        .collect();
    assert_eq!(
        actions,
        [
            "cli user.add cli",
            "bob login 10.0.0.9",
            "bob login 10.0.0.9",
            "bob logout 10.0.0.9",
            "bob login 10.0.0.9",
            "cli user.disable cli",
            "bob login.failed 10.0.0.9"
        ]
    );
}

#[tokio::test]
async fn wrong_passwords_and_unknown_names_are_refused_alike_then_throttled() {
    let (store, _dir) = store().await;
    access::add_user(&store, "cy", Role::Analyst, "correct horse battery", &Actor::cli())
        .await
        .unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 29, 9, 0, 0).unwrap();
    let wrong = access::sign_in(&store, "cy", "Correct horse battery", "10.0.0.1", now)
        .await
        .unwrap_err();
    let unknown = access::sign_in(&store, "dee", "correct horse battery", "10.0.0.1", now)
        .await
        .unwrap_err();
    assert_eq!((wrong.code(), unknown.code()), ("sign_in_failed", "sign_in_failed"));
    assert_eq!(wrong.to_string(), unknown.to_string());
    for _ in 1..access::FAILURES_PER_ACCOUNT {
        access::sign_in(&store, "cy", "guess", "10.0.0.2", now)
            .await
            .unwrap_err();
    }
    // The account has had its failures: even the right password waits.
    let throttled = access::sign_in(&store, "cy", "correct horse battery", "10.0.0.3", now)
        .await
        .unwrap_err();
    assert_eq!(throttled.code(), "sign_in_throttled");
    let later = now + Duration::minutes(access::THROTTLE_MINUTES + 1);
    access::sign_in(&store, "cy", "correct horse battery", "10.0.0.3", later)
        .await
        .unwrap();
    let failed = store
        .audited_count("login.failed", now, Some("user:cy"), None)
        .await
        .unwrap();
    assert_eq!(failed, access::FAILURES_PER_ACCOUNT);
}
