//! Hostile input against a running `guanxi serve`: no request stops the server, and none
//! gets a 5xx. The server is the real binary over a profiled demo shop, reached over TCP.

mod common;

use common::{Server, demo_shop, ok, percent};
use rand::{Rng as _, SeedableRng as _};

/// Sends raw bytes as one HTTP/1.1 request; the status code (0 when the server closed the
/// connection without an answer).
fn raw(server: &Server, request: &[u8]) -> u16 {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(&server.addr).expect("the server is still listening");
    s.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    let _ = s.write_all(request);
    let mut response = Vec::new();
    let _ = s.read_to_end(&mut response);
    let head = String::from_utf8_lossy(&response[..response.len().min(64)]).to_string();
    head.strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

/// A GET as the signed-in admin (so that the handlers, not the sign-in check, meet the
/// input).
fn get(server: &Server, target: &str) -> u16 {
    raw(
        server,
        format!(
            "GET {target} HTTP/1.1\r\nHost: x\r\nCookie: {}\r\nConnection: close\r\n\r\n",
            server.cookie
        )
        .as_bytes(),
    )
}

/// A POST as the signed-in admin; a form carries the session's token after its fields.
fn post(server: &Server, target: &str, content_type: &str, body: &[u8]) -> u16 {
    let mut body = body.to_vec();
    if content_type == "application/x-www-form-urlencoded" {
        body.extend_from_slice(format!("&csrf={}", server.csrf).as_bytes());
    }
    let mut request = format!(
        "POST {target} HTTP/1.1\r\nHost: x\r\nCookie: {}\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        server.cookie,
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    raw(server, &request)
}

fn alive(server: &Server) {
    assert_eq!(get(server, "/?lang=en"), 200, "the server still answers");
}

#[test]
fn nested_parentheses_get_a_400_and_the_server_goes_on() {
    let (dir, _) = demo_shop();
    let server = Server::start_with(
        dir.path(),
        &[
            ("GUANXI_SHOPIFY_SECRET", "hostile-test"),
            ("GUANXI_EVENTS_SECRET", "hostile-test"),
        ],
    );
    // 2,000 nested parentheses: a 12 KB URL once overflowed the stack and killed the process.
    let nested = format!("{}r = 1{}", "(".repeat(2000), ")".repeat(2000));
    let q = percent(&nested);
    assert!(q.len() > 8 * 1024);
    // Over the URL limit: refused before any handler reads it.
    assert_eq!(get(&server, &format!("/api/segment/count?q={q}")), 414);
    alive(&server);
    // Within the URL limit but past the parser's nesting limit: a located 400.
    let nested = format!("{}r = 1{}", "(".repeat(1000), ")".repeat(1000));
    let (head, body) = server.request(&format!("/api/segment/count?q={}", percent(&nested)), "en");
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    assert!(body.contains("at most 32 levels"), "{body}");
    assert_eq!(get(&server, &format!("/customers?q={}", percent(&nested))), 400);
    let form = format!("name=deep&q={}", percent(&nested));
    assert_eq!(
        post(
            &server,
            "/segments",
            "application/x-www-form-urlencoded",
            form.as_bytes()
        ),
        400
    );
    let nots = "not ".repeat(1000) + "r = 1";
    assert_eq!(get(&server, &format!("/customers?q={}", percent(&nots))), 400);
    alive(&server);
    // A body over the limit is refused, not read.
    let big = vec![b'a'; 200 * 1024];
    assert_eq!(
        post(&server, "/segments", "application/x-www-form-urlencoded", &big),
        413
    );
    // The event endpoints read up to 2 MiB (Shopify's large orders) and no more; a deep
    // body within it is refused for its signature before anything reads it.
    let huge = vec![b'['; 3 * 1024 * 1024];
    for path in ["/api/v1/webhooks/shopify", "/api/v1/events"] {
        assert_eq!(post(&server, path, "application/json", &huge), 413, "{path}");
        assert_eq!(post(&server, path, "application/json", &big), 401, "{path}");
    }
    alive(&server);
}

/// Every public endpoint, each with random bytes and random nesting in each of its
/// parameters: no answer is a 5xx and the server is alive at the end.
#[test]
fn random_input_at_every_endpoint_gets_no_5xx() {
    let (dir, _) = demo_shop();
    // The live events' secrets set, so that their endpoints check signatures (not 404).
    let server = Server::start_with(
        dir.path(),
        &[
            ("GUANXI_SHOPIFY_SECRET", "hostile-test"),
            ("GUANXI_EVENTS_SECRET", "hostile-test"),
            // The input is under test here, not the rate limit (its own test).
            ("GUANXI_ADDRESS_REQUESTS", "100000"),
        ],
    );
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(13);
    let held = |dir: &std::path::Path| ok(dir, &["status"])["counts"].clone();
    let before = held(dir.path());
    let gets: &[(&str, &[&str])] = &[
        ("/", &["lang"]),
        ("/customers", &["q", "s", "after", "lang", "tier", "lifecycle", "rfm8"]),
        ("/customers/1", &["lang"]),
        ("/api/segment/count", &["q", "tier", "quadrant"]),
        ("/api/v1/segments/count", &["q"]),
        ("/api/v1/me", &["x"]),
        ("/api/v1/programs", &["x"]),
        ("/api/v1/openapi.json", &["x"]),
        ("/api/v1/segments/members", &["q", "after", "limit"]),
        ("/api/v1/customers", &["s"]),
        ("/api/v1/customers/1", &["x"]),
        ("/api/v1/customers/1/privacy-export", &["x"]),
        ("/api/v1/orders", &["after", "limit"]),
        ("/api/v1/tasks", &["all", "limit"]),
        ("/api/v1/reports/classes", &["x"]),
        ("/api/v1/customers/duplicates", &["limit"]),
        ("/api/v1/segments/export", &["q"]),
        ("/api/v1/profiles", &["after", "limit"]),
        ("/api/v1/reports/repurchase", &["period"]),
        ("/api/v1/reports/movements", &["since"]),
        ("/api/v1/customers/1/history", &["limit"]),
        ("/api/v1/programs/payment-reminder/preview", &["step", "customer"]),
        ("/api/v1/programs/payment-reminder/stats", &["window_days"]),
        ("/api/v1/service-records", &["after", "limit"]),
        ("/api/v1/reviews", &["after", "limit"]),
        ("/api/v1/campaigns", &["x"]),
        ("/api/v1/campaigns/nope/report", &["x"]),
        ("/api/v1/campaigns/nope/preview", &["x"]),
        ("/api/v1/campaigns/nope/members", &["after", "limit"]),
        ("/api/v1/customers/1/points", &["x"]),
        ("/api/v1/customers/1/coupons", &["x"]),
        ("/api/v1/coupons", &["code", "source", "limit"]),
        ("/api/v1/points/liability", &["x"]),
        ("/audit", &["since", "lang"]),
        ("/reports", &["report", "period", "kind", "lang"]),
        ("/reports.csv", &["report", "period", "kind"]),
        ("/programs", &["lang"]),
        ("/campaigns", &["lang", "segment"]),
        ("/campaigns/nope", &["lang"]),
        ("/tasks", &["lang", "done"]),
        ("/r/1", &["s"]),
        ("/u/1", &["s", "lang"]),
    ];
    let posts = [
        "/segments",
        "/tasks/done",
        "/customers/1/reveal",
        "/u/1",
        "/hooks/sms/reply",
        "/hooks/receipt",
        "/api/v1/tasks/done",
        "/api/v1/service-records",
        "/api/v1/campaigns",
        "/api/v1/campaigns/nope/launch",
        "/campaigns",
        "/campaigns/nope/launch",
        "/api/v1/customers/merge",
        "/api/v1/programs/nope/enable",
        "/api/v1/customers/999999999/erase",
        "/customers/1/points",
        "/customers/1/coupons",
        "/api/v1/customers/1/points/adjustments",
        "/api/v1/customers/1/points/redemptions",
        "/api/v1/customers/1/coupons",
        "/api/v1/webhooks/shopify",
        "/api/v1/events",
    ];
    let mut answers = std::collections::BTreeMap::<u16, u32>::new();
    let started = std::time::Instant::now();
    for round in 0..40 {
        for (path, params) in gets {
            let query: Vec<String> = params
                .iter()
                .map(|p| format!("{p}={}", percent(&hostile(&mut rng))))
                .collect();
            let code = get(&server, &format!("{path}?{}", query.join("&")));
            assert!(code != 0 && code < 500, "{path} answered {code}");
            *answers.entry(code).or_default() += 1;
            // Random path segments too.
            let code = get(&server, &format!("/customers/{}", percent(&hostile(&mut rng))));
            assert!(code != 0 && code < 500, "/customers/… answered {code}");
        }
        for path in posts {
            let body: Vec<u8> = if round % 2 == 0 {
                hostile(&mut rng).into_bytes()
            } else {
                (0..rng.random_range(0..2000)).map(|_| rng.random()).collect()
            };
            for content_type in ["application/x-www-form-urlencoded", "application/json"] {
                let code = post(&server, path, content_type, &body);
                assert!(code != 0 && code < 500, "POST {path} answered {code}");
                *answers.entry(code).or_default() += 1;
            }
        }
        // Within the test's time, whatever the machine.
        if started.elapsed() > std::time::Duration::from_secs(60) {
            break;
        }
    }
    eprintln!("answers by status: {answers:?}");
    alive(&server);
    // Nothing the random input carried was written: customers, orders, lines, records
    // and messages are as they were.
    assert_eq!(held(dir.path()), before);
    assert!(answers.keys().any(|c| *c == 200) && answers.keys().any(|c| (400..500).contains(c)));
}

/// Random text: bytes, segment words, deep nesting, long runs.
fn hostile(rng: &mut impl rand::Rng) -> String {
    const WORDS: &[&str] = &[
        "(",
        ")",
        "not ",
        " and ",
        " or ",
        "r = 1",
        "tier = 'vip'",
        "'",
        "''",
        "in segment 'x'",
        "bought(within = 9d)",
        "9999999999999999999999",
        "-1",
        "%",
        "\0",
        "é",
        "关系",
        ",",
        "=",
    ];
    match rng.random_range(0..5) {
        0 => (0..rng.random_range(0..300))
            .map(|_| char::from_u32(rng.random_range(0..0x800)).unwrap_or('?'))
            .collect(),
        1 => {
            let depth = rng.random_range(0..600);
            format!("{}r = 1{}", "(".repeat(depth), ")".repeat(rng.random_range(0..=depth)))
        }
        2 => "not ".repeat(rng.random_range(0..1500)) + "r = 1",
        3 => vec!["r = 1"; rng.random_range(0..400)].join(" and "),
        _ => (0..rng.random_range(0..200))
            .map(|_| WORDS[rng.random_range(0..WORDS.len())])
            .collect(),
    }
}
