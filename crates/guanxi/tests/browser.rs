//! The web UI in a real browser: Debian's Chromium driven through chromedriver (WebDriver)
//! over `guanxi serve` on the demo shop. A person's path: the dashboard, the language
//! switch, finding a customer and their 360 page, building a segment whose count equals
//! the CLI's, every report. Each page's screenshot is written as a test artifact to
//! `$CARGO_TARGET_DIR/e2e-screenshots/` (else `target/e2e-screenshots/`).
//!
//! Runs where chromedriver is installed (`.ci/run` installs chromium and chromium-driver);
//! skipped elsewhere unless GUANXI_REQUIRE_BROWSER=1, which makes a missing browser fail.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Server, demo_shop, ok};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// chromedriver on a free port of 127.0.0.1, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    /// The test is ignored (build.rs) where the browser is missing, unless CI requires it.
    fn start() -> Driver {
        assert!(
            Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists(),
            "GUANXI_REQUIRE_BROWSER is set but {CHROMEDRIVER} or {CHROMIUM} is missing (apt-get install chromium chromium-driver)"
        );
        let port = common::free_port();
        let child = Command::new(CHROMEDRIVER)
            .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        driver
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("e2e-screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshots' directory");
    dir
}

/// The browser: headless Chromium that asks for English first and reaches nothing but
/// loopback.
async fn browser(driver: &Driver) -> Client {
    let caps = json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--no-first-run",
                "--disable-sync", "--disable-quic", "--window-size=1280,1600",
            ],
            "prefs": { "intl": { "accept_languages": "en-US,en" } }
        }
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a WebDriver session")
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("a screenshot");
    std::fs::write(artifacts().join(format!("{name}.png")), png).expect("the screenshot written");
}

/// The text of the first element `css` selects, waiting for it to appear (a click's
/// navigation completes after the click returns).
async fn text_of(c: &Client, css: &str) -> String {
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap_or_default()
}

/// Clicks the first element `css` selects.
async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
}

/// Types `text` into the first element `css` selects.
async fn type_into(c: &Client, css: &str, text: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
}

/// Waits until the element's text satisfies `ok`: after a navigation, or the live count
/// answering after its pause.
async fn wait_text(c: &Client, css: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = text_of(c, css).await;
        if ok(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "{css}: {text:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_browser, ignore = "no browser: apt-get install chromium chromium-driver")]
async fn a_person_uses_the_web_ui_in_chromium() {
    let driver = Driver::start();
    let (dir, _) = demo_shop();
    let cli = |args: &[&str]| ok(dir.path(), args);
    // A build at an earlier date, then the latest again: the movements report has rows.
    cli(&["profile", "build", "--as-of", "2026-03-31"]);
    cli(&["profile", "build"]);
    // A parcel of C0000005 stuck since 1 July: order care makes it a task for staff.
    std::fs::write(
        dir.path().join("stuck.csv"),
        "order_id,customer_id,ordered_at,amount,paid_at,shipped_at,status,title,quantity\n\
         STUCK1,C0000005,2026-07-01 10:00:00,99.00,2026-07-01 10:01:00,2026-07-01 12:00:00,shipped,纸尿裤 L,2\n",
    )
    .unwrap();
    cli(&[
        "import",
        "orders",
        "--format",
        "generic",
        "stuck.csv",
        "--source",
        "demo",
    ]);
    cli(&["program", "enable", "order-care", "--since", "2026-07-01 00:00"]);
    cli(&["program", "run", "--now", "2026-07-04 13:00"]);
    let server = Server::start(dir.path());
    let base = format!("http://{}", server.addr);
    let c = browser(&driver).await;

    // Signed out, the dashboard is the sign-in form; a wrong password keeps it, with the
    // reason; the right one leads to the dashboard.
    c.goto(&format!("{base}/")).await.unwrap();
    assert_eq!(text_of(&c, "h1").await, "Sign in");
    let sign_in = |password: &'static str| {
        let c = c.clone();
        async move {
            type_into(&c, "input[name='name']", common::E2E_USER).await;
            type_into(&c, "input[name='password']", password).await;
            click(&c, "form button[type='submit']").await;
        }
    };
    sign_in("not the password").await;
    wait_text(&c, "p.error", |t| t.contains("Wrong name or password")).await;
    shot(&c, "00-sign-in").await;
    sign_in(common::E2E_PASSWORD).await;

    // The dashboard, in English as the browser asks, then in Chinese from the switch.
    wait_text(&c, "h1", |t| t == "Dashboard").await;
    assert_eq!(text_of(&c, "h1").await, "Dashboard");
    assert!(c.find(Locator::Css(".kpis .value")).await.is_ok());
    shot(&c, "01-dashboard-en").await;
    click(&c, "header .langs a[hreflang='zh-CN']").await;
    wait_text(&c, "h1", |t| t == "概览").await;
    assert!(text_of(&c, "html").await.contains("购买客户"));
    shot(&c, "02-dashboard-zh").await;

    // Find a customer by name from the customers page (the language stays Chinese) and
    // open their 360 page.
    let shown = cli(&["customer", "show", "C0000005", "--source", "demo"]);
    let name = shown["customer"]["name"]
        .as_str()
        .expect("the demo customer's name")
        .to_string();
    click(&c, "header nav a[href^='/customers']").await;
    wait_text(&c, "h1", |t| t == "客户").await;
    type_into(&c, "#s", &name).await;
    click(&c, "form.search button").await;
    let found = wait_text(&c, "#found", |t| t.contains("找到")).await;
    assert!(!found.contains("找到 0"), "{found}");
    shot(&c, "03-customer-search").await;
    c.find(Locator::LinkText(&name)).await.unwrap().click().await.unwrap();
    wait_text(&c, "h1", |t| t == name).await;
    let orders = text_of(&c, "#orders").await;
    assert!(orders.starts_with("订单"), "{orders}");
    assert!(text_of(&c, "#classes").await.contains("分类"));
    shot(&c, "04-customer-360").await;

    // Their membership: 120 points of goodwill with a reason, and a birthday coupon, from
    // the forms on the page; the ledger the CLI reads has them.
    assert!(text_of(&c, "#membership").await.starts_with("会员"));
    type_into(&c, "form[action$='/points'] input[name='points']", "120").await;
    type_into(&c, "form[action$='/points'] input[name='reason']", "补偿：包裹丢失").await;
    click(&c, "form[action$='/points'] button").await;
    wait_text(&c, "section[aria-labelledby='membership']", |t| {
        t.contains("+120 补偿：包裹丢失")
    })
    .await;
    click(&c, "form[action$='/coupons'] select option[value='BIRTHDAY']").await;
    click(&c, "form[action$='/coupons'] button").await;
    let member = wait_text(&c, "section[aria-labelledby='membership']", |t| t.contains("GX-")).await;
    assert!(member.contains("BIRTHDAY"), "{member}");
    shot(&c, "04b-member").await;
    let ledger = cli(&["member", "show", "C0000005", "--source", "demo"]);
    assert_eq!(ledger["balance"], 120, "{ledger}");

    // Build a segment from the lists: the live count, then the applied filter, equal the
    // CLI's count of the same expression.
    let decline = cli(&["segment", "count", "lifecycle = 'decline' and tier = 'small'"])["customers"]
        .as_u64()
        .unwrap();
    c.goto(&format!("{base}/customers?lang=en")).await.unwrap();
    click(&c, "select[name='lifecycle'] option[value='decline']").await;
    click(&c, "select[name='tier'] option[value='small']").await;
    let expected = format!("{decline} customers");
    wait_text(&c, "#live-count", |t| t == expected).await;
    click(&c, "#filter button[type='submit']").await;
    wait_text(&c, "#seg-q", |_| true).await;
    assert_eq!(text_of(&c, "#live-count").await, expected);
    let saved_expression = c
        .find(Locator::Css("#seg-q"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert_eq!(saved_expression, "lifecycle = 'decline' and tier = 'small'");
    shot(&c, "05-segment").await;
    // Saved under a name, listed by the CLI.
    type_into(&c, "#seg-name", "small-decliners").await;
    click(&c, "form[action='/segments'] button").await;
    wait_text(&c, "[role='status']", |t| t.contains("small-decliners")).await;
    shot(&c, "05b-segment-saved").await;
    let listed = cli(&["segment", "count", "in segment 'small-decliners'"]);
    assert_eq!(listed["customers"].as_u64(), Some(decline));

    // From the saved segment to a launched campaign (a 618 campaign of this June, so
    // that its window has orders): the form starts from the segment, a bad day is named
    // on the form, the campaign's page shows the sizes and the lift they can detect,
    // launching shows the report with a verdict in words, in both languages.
    click(&c, "#to-campaign").await;
    wait_text(&c, "h1", |t| t == "Campaigns").await;
    let chosen = c
        .find(Locator::Css("#c-segment option[selected]"))
        .await
        .unwrap()
        .attr("value")
        .await
        .unwrap();
    assert_eq!(chosen.as_deref(), Some("small-decliners"));
    let fill = |css: &'static str, text: &'static str| {
        let c = c.clone();
        async move {
            let field = c.find(Locator::Css(css)).await.unwrap();
            field.clear().await.unwrap();
            field.send_keys(text).await.unwrap();
        }
    };
    fill("#c-name", "mid-year-618").await;
    fill("#c-title", "618 for small decliners").await;
    // A date input takes keys in the browser's locale order; set the values directly.
    c.execute(
        "document.getElementById('c-starts').value = arguments[0]; document.getElementById('c-ends').value = arguments[1];",
        vec![json!("2026-06-18"), json!("2026-06-10")],
    )
    .await
    .unwrap();
    fill("#c-holdout", "20").await;
    click(&c, "#campaign-form button[type='submit']").await;
    let why = wait_text(&c, "#campaign-error", |_| true).await;
    assert!(why.contains("ends"), "the goal window ends before it starts: {why}");
    c.execute(
        "document.getElementById('c-starts').value = arguments[0]; document.getElementById('c-ends').value = arguments[1];",
        vec![json!("2026-06-10"), json!("2026-06-18")],
    )
    .await
    .unwrap();
    click(&c, "#campaign-form button[type='submit']").await;
    wait_text(&c, "h1", |t| t == "618 for small decliners").await;
    let sizes = text_of(&c, "#sizes tbody").await;
    assert!(sizes.contains(&decline.to_string()), "{sizes}");
    let mde = text_of(&c, "p.mde").await;
    assert!(mde.contains("can detect a conversion lift of ≥"), "{mde}");
    let gone = text_of(&c, "main [role='alert']").await;
    assert!(
        gone.starts_with("3 of its 3 waves are already past"),
        "June's waves: {gone}"
    );
    shot(&c, "23-campaign-preview").await;
    click(&c, "#launch").await;
    wait_text(&c, "#verdicts", |t| !t.is_empty()).await;
    let verdicts = text_of(&c, "#verdicts").await;
    assert!(verdicts.contains("the campaign to small-decliners"), "{verdicts}");
    let rows = c.find_all(Locator::Css("#effect tbody tr")).await.unwrap();
    assert!(!rows.is_empty());
    shot(&c, "24-campaign-report").await;
    let launched = cli(&["campaign", "list"]);
    assert_eq!(launched[0]["name"], "mid-year-618");
    assert_eq!(launched[0]["members"].as_u64(), Some(decline), "{launched}");
    assert!(!launched[0]["launched_at"].is_null());
    c.goto(&format!("{base}/campaigns/mid-year-618?lang=zh-CN"))
        .await
        .unwrap();
    let verdicts = wait_text(&c, "#verdicts", |t| t.contains("整个活动对small-decliners")).await;
    assert!(
        ["赚了钱", "亏了钱", "无定论", "不下结论"]
            .iter()
            .any(|v| verdicts.contains(v)),
        "{verdicts}"
    );
    shot(&c, "25-campaign-report-zh").await;

    // Every report, from its tab: a chart or a table with rows, the tab marked current.
    c.goto(&format!("{base}/reports?lang=en")).await.unwrap();
    let tabs = c.find_all(Locator::Css("ul.tabs a")).await.unwrap();
    let mut hrefs = Vec::new();
    for tab in tabs {
        hrefs.push(tab.attr("href").await.unwrap().expect("a tab's link"));
    }
    assert_eq!(hrefs.len(), 10, "{hrefs:?}");
    for (i, href) in hrefs.iter().enumerate() {
        let report = href
            .split("report=")
            .nth(1)
            .and_then(|r| r.split('&').next())
            .unwrap()
            .to_string();
        click(&c, &format!("ul.tabs a[href='{href}']")).await;
        let current = Locator::Css("ul.tabs a[aria-current='page']");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let at = match c.find(current).await {
                Ok(e) => e.attr("href").await.ok().flatten(),
                Err(_) => None,
            };
            if at.as_deref() == Some(href.as_str()) {
                break;
            }
            assert!(Instant::now() < deadline, "{report}: the tab is not current ({at:?})");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let rows = c.find_all(Locator::Css("main table tbody tr")).await.unwrap();
        assert!(!rows.is_empty(), "{report}: no rows");
        shot(&c, &format!("{:02}-report-{report}", 6 + i)).await;
    }

    // The programs, from the navigation: the seven built-ins, off, with their steps.
    click(&c, "header nav a[href^='/programs']").await;
    wait_text(&c, "h1", |t| t == "Programs").await;
    let titles = c.find_all(Locator::Css("main h2")).await.unwrap();
    assert_eq!(titles.len(), 7, "the seven built-in programs");
    assert!(text_of(&c, "main").await.contains("payment-reminder-1"));
    shot(&c, "20-programs").await;

    // The tasks, from the navigation: the stuck parcel's, closed with its button.
    click(&c, "header nav a[href^='/tasks']").await;
    wait_text(&c, "h1", |t| t == "Service tasks").await;
    assert!(text_of(&c, "main table").await.contains("call the carrier"));
    shot(&c, "21-tasks").await;
    click(&c, "main table form button").await;
    wait_text(&c, "main [role=status]", |t| t.starts_with("Closed: parcel not moving")).await;
    assert!(text_of(&c, "main").await.contains("No open tasks."));
    shot(&c, "22-task-closed").await;
    c.close().await.unwrap();
}
