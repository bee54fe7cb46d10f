//! The pages over an empty store: they render, say what to do, and speak the language
//! the browser asks for.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use guanxi_store_sqlite::SqliteStore;
use guanxi_web::{AppState, router};
use tower::ServiceExt as _;

async fn get(state: AppState, uri: &str, accept_language: &str) -> (StatusCode, String) {
    let response = router(state)
        .oneshot(
            Request::get(uri)
                .header(header::ACCEPT_LANGUAGE, accept_language)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn pages_without_a_build_say_what_to_do_in_the_asked_language() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("g.db")).await.unwrap();
    let state = AppState {
        store: Arc::new(store),
        lake: guanxi_lake::Lake::new(dir.path().join("g.lake")),
        tz: Default::default(),
    };
    let (status, page) = get(state.clone(), "/", "zh-CN,zh;q=0.9,en;q=0.8").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"<html lang="zh-CN">"#), "{page}");
    assert!(page.contains("还没有客户画像"), "{page}");
    let (_, page) = get(state.clone(), "/customers?lang=en", "zh-CN").await;
    assert!(
        page.contains(r#"<html lang="en">"#) && page.contains("No profile build yet"),
        "{page}"
    );
    // The switch links to the same page in the other language.
    assert!(page.contains(r#"href="/customers?lang=zh-CN""#), "{page}");
    let (status, _) = get(state.clone(), "/nowhere", "en").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, page) = get(state, "/customers/42", "en").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("Not found"), "{page}");
}
