//! Engagement end to end: the binary schedules and sends to real components — an HTTP
//! sink standing in for the SMS gateway and webhook receiver, and a real SMTP server
//! (Python's aiosmtpd on 127.0.0.1, installed by `.ci/run`; without it the email test is
//! skipped with a note unless `GUANXI_REQUIRE_SMTP=1`).

mod common;

use std::path::Path;
use std::process::Command;

use common::{demo_shop, free_port, json, listening};
use guanxi_engage::sink::Sink;
use serde_json::Value;

/// The settings file of a test shop: every channel pointed at the sinks.
fn settings(dir: &Path, sink: &Sink, smtp_port: Option<u16>, quiet: &str) {
    let mut toml = format!(
        "[contact]\nquiet_hours = \"{quiet}\"\n\n[channels]\nshop_name = \"好孩子旗舰店\"\nbase_url = \"http://guanxi.test\"\n\n\
         [channels.sms]\nurl = \"{0}/sms\"\nreply_secret_env = \"GUANXI_TEST_REPLY_SECRET\"\n\n[channels.webhook]\nurl = \"{0}/hook\"\nsecret_env = \"GUANXI_TEST_HOOK_SECRET\"\n",
        sink.url
    );
    if let Some(port) = smtp_port {
        toml += &format!(
            "\n[channels.email]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nfrom = \"好孩子 <shop@example.com>\"\n"
        );
    }
    std::fs::write(dir.join("guanxi.toml"), toml).unwrap();
}

/// The secrets the test shop's settings name.
const SECRETS: &[(&str, &str)] = &[
    ("GUANXI_TEST_HOOK_SECRET", "s3cret"),
    ("GUANXI_TEST_REPLY_SECRET", "r3ply"),
];

/// Runs the binary on the demo store (with the webhook secret), asserting success.
fn run(dir: &Path, args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_guanxi"))
        .current_dir(dir)
        .args([&["--db", "guanxi-demo.db", "--json"][..], args].concat())
        .env_remove("GUANXI_DATABASE_URL")
        .envs(SECRETS.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "guanxi {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json(&out)
}

/// Imports a generic orders file of `source`.
fn import_orders(dir: &Path, file: &str, source: &str) {
    run(
        dir,
        &["import", "orders", "--format", "generic", file, "--source", source],
    );
}

/// Four shoppers of 1 July 2026 (after the demo's last day), each with one order at 10:00
/// shop time: R1 and R2 leave theirs unpaid, R3 pays within 5 minutes, R4 has refused SMS.
fn shoppers(dir: &Path) {
    std::fs::write(
        dir.join("customers.csv"),
        "customer_id,name,mobile,email,consent_sms,consent_email,consent_at\n\
         R1,王芳,13800000001,wang@example.com,granted,granted,2026-01-01\n\
         R2,李娜,13800000002,li@example.com,granted,denied,2026-01-01\n\
         R3,张伟,13800000003,zhang@example.com,granted,granted,2026-01-01\n\
         R4,刘洋,13800000004,liu@example.com,denied,granted,2026-01-01\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("orders.csv"),
        "order_id,customer_id,ordered_at,amount,paid_at,status,title,quantity\n\
         T1,R1,2026-07-01 10:00:00,99.00,,created,纸尿裤 L,2\n\
         T2,R2,2026-07-01 10:00:00,59.00,,created,湿巾,1\n\
         T3,R3,2026-07-01 10:00:00,59.00,2026-07-01 10:05:00,paid,湿巾,1\n\
         T4,R4,2026-07-01 10:00:00,59.00,,created,奶粉,1\n",
    )
    .unwrap();
    run(dir, &["import", "customers", "customers.csv", "--source", "shop"]);
    import_orders(dir, "orders.csv", "shop");
}

/// A demo shop with the four shoppers, its channels pointed at a fresh HTTP sink (which
/// lives as long as the runtime it runs on).
struct Shop {
    sink: Sink,
    dir: tempfile::TempDir,
    _rt: tokio::runtime::Runtime,
}

fn shop(quiet_hours: &str, smtp_port: Option<u16>) -> Shop {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sink = rt.block_on(Sink::start()).unwrap();
    let (dir, _) = demo_shop();
    settings(dir.path(), &sink, smtp_port, quiet_hours);
    shoppers(dir.path());
    Shop { sink, dir, _rt: rt }
}

/// The error of enabling `definition` with `from` replaced by `to` (written as
/// `bad.toml`), asserting it is refused as bad input.
fn refused(dir: &Path, definition: &str, from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(dir.join(definition)).unwrap();
    std::fs::write(dir.join("bad.toml"), text.replace(from, to)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_guanxi"))
        .current_dir(dir)
        .args(["--db", "guanxi-demo.db", "program", "enable", "bad.toml"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(65), "{err}");
    err
}

/// Messages at the sink under `path`, as (to, text) sorted.
fn received(sink: &Sink, path: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = sink
        .deliveries()
        .into_iter()
        .filter(|d| d.path == path)
        .map(|d| {
            let body: Value = serde_json::from_str(&d.body).unwrap();
            (
                body["to"].as_str().unwrap().to_string(),
                body["text"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn unpaid_orders_get_exactly_the_reminders_due_and_none_after_payment() {
    let shop = shop("21:00-08:00", None);
    let (dir, sink) = (shop.dir.path(), &shop.sink);
    run(
        dir,
        &["program", "enable", "payment-reminder", "--since", "2026-07-01 00:00"],
    );

    // 10:45: the first reminder (due 10:30) of the two unpaid orders whose buyers consent.
    let first = run(dir, &["program", "run", "--now", "2026-07-01 10:45"]);
    assert_eq!(first["worked"]["sent"], 2, "{first}");
    assert_eq!(first["worked"]["dropped"], 1, "R4 refused SMS: {first}");
    let got = received(sink, "/sms");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, "13800000001");
    assert_eq!(
        got[0].1,
        "王芳您好，您在好孩子旗舰店的订单T1（纸尿裤 L × 2）还未付款，库存有限，请尽快完成支付哦。"
    );
    assert_eq!(got[1].0, "13800000002");

    // R2 pays at 12:00; at 17:00 only R1's second reminder (due 16:00) goes.
    std::fs::write(
        dir.join("paid.csv"),
        "order_id,customer_id,ordered_at,amount,paid_at,status,title,quantity\n\
         T2,R2,2026-07-01 10:00:00,59.00,2026-07-01 12:00:00,paid,湿巾,1\n",
    )
    .unwrap();
    import_orders(dir, "paid.csv", "shop");
    let second = run(dir, &["program", "run", "--now", "2026-07-01 17:00"]);
    assert_eq!(second["worked"]["sent"], 1, "{second}");
    let got = received(sink, "/sms");
    assert_eq!(got.len(), 3);
    assert_eq!(got.iter().filter(|m| m.0 == "13800000001").count(), 2);
    assert_eq!(
        got.iter().filter(|m| m.0 == "13800000002").count(),
        1,
        "none after payment"
    );
    assert!(got.iter().all(|m| m.0 != "13800000003"), "paid at once: no reminder");

    // Running again sends nothing: every touch is in the ledger.
    let again = run(dir, &["program", "run", "--now", "2026-07-01 17:00"]);
    assert_eq!(
        (again["planned"].as_u64(), again["worked"]["sent"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(sink.counts(), (3, 0, 3));

    let stats = run(dir, &["program", "stats", "payment-reminder"]);
    let step = |name: &str| {
        stats
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["step"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        (step("first")["sent"].as_u64(), step("first")["dropped"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        (step("second")["sent"].as_u64(), step("second")["dropped"].as_u64()),
        (Some(1), Some(1))
    );
    // R2 paid after the first reminder: a conversion within the attribution window.
    assert_eq!(step("first")["converted"], 1);

    // The dry run over the same day tells the same story before anything is enabled.
    let dry = run(
        dir,
        &[
            "program",
            "dry-run",
            "payment-reminder",
            "--from",
            "2026-07-01",
            "--to",
            "2026-07-01",
        ],
    );
    assert_eq!(dry["runs"], 4, "{dry}");
    assert_eq!(
        dry["messages"], 5,
        "T1 ×2, T2 ×1 (paid before the second), T4 ×2: {dry}"
    );
    assert_eq!(dry["sent"], 3, "{dry}");
    assert_eq!(dry["dropped"]["no-consent"], 2, "{dry}");
    assert_eq!(dry["per_day"][0]["messages"], 3, "{dry}");
    assert_eq!(sink.counts(), (3, 0, 3), "a dry run sends nothing");
}

#[test]
fn quiet_hours_defer_and_consent_withdrawn_before_sending_is_respected() {
    let shop = shop("21:00-08:00", None);
    let (dir, sink) = (shop.dir.path(), &shop.sink);
    run(
        dir,
        &["program", "enable", "payment-reminder", "--since", "2026-07-01 00:00"],
    );
    // At 22:00 both reminders are due, and held by the quiet hours until 08:00.
    let night = run(dir, &["program", "run", "--now", "2026-07-01 22:00"]);
    assert_eq!(night["worked"]["sent"], 0, "{night}");
    assert_eq!(night["worked"]["deferred"], 4, "{night}");
    // Before morning R2 replies TD: consent withdrawn between queueing and sending.
    std::fs::write(
        dir.join("optout.csv"),
        "customer_id,mobile,consent_sms,consent_at\nR2,13800000002,denied,2026-07-01 23:00\n",
    )
    .unwrap();
    run(dir, &["import", "customers", "optout.csv", "--source", "shop"]);
    // 07:59 is still quiet: nothing goes. At 08:00 R1's two reminders go (not expired:
    // 24 hours from due); R2's are dropped for the consent withdrawn after queueing.
    let early = run(dir, &["program", "run", "--now", "2026-07-02 07:59"]);
    assert_eq!(early["worked"]["sent"], 0, "{early}");
    let morning = run(dir, &["program", "run", "--now", "2026-07-02 08:00"]);
    assert_eq!(
        (
            morning["worked"]["sent"].as_u64(),
            morning["worked"]["dropped"].as_u64()
        ),
        (Some(2), Some(2)),
        "{morning}"
    );
    let got = received(sink, "/sms");
    assert!(got.iter().all(|m| m.0 != "13800000002"), "R2 withdrew consent: {got:?}");
    assert_eq!(
        got.iter().filter(|m| m.0 == "13800000001").count(),
        2,
        "{morning} {got:?}"
    );
}

#[test]
fn webhooks_are_signed_and_a_failing_gateway_is_retried() {
    let shop = shop("00:00-00:00", None);
    let (dir, sink) = (shop.dir.path(), &shop.sink);
    std::fs::write(
        dir.join("paid-hook.toml"),
        "name = \"paid-hook\"\ntitle = \"Tell the ERP\"\npriority = \"transactional\"\ntrigger = { order = \"paid\" }\n\n\
         [[steps]]\nname = \"notify\"\nafter = \"0m\"\naction = { send = \"webhook\", template = \"care-signed\" }\n",
    )
    .unwrap();
    run(
        dir,
        &["program", "enable", "paid-hook.toml", "--since", "2026-07-01 00:00"],
    );
    sink.fail_next(1);
    let first = run(dir, &["program", "run", "--now", "2026-07-01 11:00"]);
    assert_eq!(
        first["worked"]["retried"], 1,
        "the gateway's 503 is retried later: {first}"
    );
    assert!(sink.deliveries().is_empty());
    // After the backoff (30 s) the retry goes through.
    let later = run(dir, &["program", "run", "--now", "2026-07-01 11:01"]);
    assert_eq!(later["worked"]["sent"], 1, "{later}");
    let d = &sink.deliveries()[0];
    assert_eq!(d.path, "/hook");
    assert!(
        d.key.contains("/paid-hook/notify/o"),
        "the ledger key as idempotency key: {}",
        d.key
    );
    assert_eq!(
        d.signature.as_deref(),
        Some(guanxi_engage::signature(b"s3cret", d.body.as_bytes()).as_str())
    );
    let body: Value = serde_json::from_str(&d.body).unwrap();
    assert_eq!(body["program"], "paid-hook");
    assert_eq!(
        body["text"],
        "张伟您好，您的订单T3已签收，使用中有任何问题请随时联系我们。"
    );

    // The shop's own templates replace the built-ins by name; a broken one is refused
    // before anything is sent, naming the file and the template.
    std::fs::write(
        dir.join("mine.toml"),
        "[care-signed.zh-CN]\nsubject = \"谢谢\"\ntext = \"谢谢{{ name }}，订单{{ order }}已付款。\"\n",
    )
    .unwrap();
    let toml = std::fs::read_to_string(dir.join("guanxi.toml")).unwrap();
    std::fs::write(
        dir.join("guanxi.toml"),
        toml.replacen("[channels]\n", "[channels]\ntemplates = \"mine.toml\"\n", 1),
    )
    .unwrap();
    std::fs::write(
        dir.join("more.csv"),
        "order_id,customer_id,ordered_at,amount,paid_at,status\nT5,R1,2026-07-01 11:00,9.90,2026-07-01 11:02,paid\n",
    )
    .unwrap();
    run(
        dir,
        &[
            "import", "orders", "--format", "generic", "more.csv", "--source", "shop",
        ],
    );
    run(dir, &["program", "run", "--now", "2026-07-01 11:05"]);
    let texts: Vec<String> = sink
        .deliveries()
        .iter()
        .map(|d| {
            serde_json::from_str::<Value>(&d.body).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(texts.contains(&"谢谢王芳，订单T5已付款。".to_string()), "{texts:?}");
    std::fs::write(
        dir.join("mine.toml"),
        "[care-signed.zh-CN]\nsubject = \"x\"\ntext = \"{{ name \"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_guanxi"))
        .current_dir(dir)
        .args(["--db", "guanxi-demo.db", "program", "run"])
        .env("GUANXI_TEST_HOOK_SECRET", "s3cret")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("mine.toml: [care-signed.zh-CN] text"),
        "{err}"
    );
}

/// A real SMTP server: aiosmtpd writing each message to a Maildir.
struct Smtp {
    child: std::process::Child,
    port: u16,
    maildir: tempfile::TempDir,
}

impl Smtp {
    /// The test is ignored (build.rs) where aiosmtpd is missing, unless CI requires it.
    fn start() -> Smtp {
        let available = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            available,
            "GUANXI_REQUIRE_SMTP is set but python3 cannot import aiosmtpd (pip install aiosmtpd)"
        );
        let port = free_port();
        let maildir = tempfile::tempdir().unwrap();
        let child = Command::new("python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            // A Maildir aiosmtpd makes itself (an existing empty directory lacks new/ and tmp/).
            .arg(maildir.path().join("mail"))
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Owned at once, so that the server is stopped (Drop) whatever happens next.
        let smtp = Smtp { child, port, maildir };
        assert!(
            listening(&format!("127.0.0.1:{port}")),
            "aiosmtpd did not listen on {port}"
        );
        smtp
    }

    /// Every message received, as raw RFC 5322 text.
    fn messages(&self) -> Vec<String> {
        let new = self.maildir.path().join("mail").join("new");
        let Ok(entries) = std::fs::read_dir(new) else {
            return Vec::new();
        };
        entries
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
#[cfg_attr(no_smtp, ignore = "no SMTP server: pip install aiosmtpd")]
fn marketing_email_goes_over_smtp_with_its_unsubscribe_link() {
    let smtp = Smtp::start();
    let shop = shop("00:00-00:00", Some(smtp.port));
    let dir = shop.dir.path();
    // A marketing email an hour after each paid order: R3 paid and consented to email.
    std::fs::write(
        dir.join("thanks.toml"),
        "name = \"thanks\"\ntitle = \"Thanks\"\npriority = \"marketing\"\ntrigger = { order = \"paid\" }\n\n\
         [[steps]]\nname = \"offer\"\nafter = \"1h\"\naction = { send = \"email\", template = \"win-back-offer\" }\n",
    )
    .unwrap();
    run(
        dir,
        &["program", "enable", "thanks.toml", "--since", "2026-07-01 00:00"],
    );
    let ran = run(dir, &["program", "run", "--now", "2026-07-01 12:00"]);
    assert_eq!(ran["worked"]["sent"], 1, "{ran}");
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert!(mail.contains("To: zhang@example.com"), "{mail}");
    assert!(
        mail.contains(".thanks.offer.o"),
        "Message-ID carries the ledger key: {mail}"
    );
    assert!(mail.contains("List-Unsubscribe: <http://guanxi.test/u/"), "{mail}");
    // Running again sends no second email.
    let again = run(dir, &["program", "run", "--now", "2026-07-01 13:00"]);
    assert_eq!(again["worked"]["sent"], 0);
    assert_eq!(smtp.messages().len(), 1);
}

/// A raw HTTP/1.1 request to `addr`: the status line and headers, and the body.
fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (String, String) {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req += &format!("{k}: {v}\r\n");
    }
    req += "\r\n";
    req += body;
    s.write_all(req.as_bytes()).unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.to_string(), body.to_string())
}

/// A customer's consent on a channel: (state, evidence).
fn consent(dir: &Path, id: &str, channel: &str) -> (String, String) {
    let shown = run(dir, &["customer", "show", id, "--source", "shop"]);
    let c = shown["customer"]["consents"]
        .as_array()
        .unwrap_or_else(|| panic!("consents in {shown}"))
        .iter()
        .find(|c| c["channel"] == channel)
        .unwrap_or_else(|| panic!("{channel} consent of {id} in {shown}"))
        .clone();
    (
        c["state"].as_str().unwrap().to_string(),
        c["evidence"].as_str().unwrap().to_string(),
    )
}

#[test]
fn clicks_unsubscribes_and_sms_replies_reach_the_store() {
    let shop = shop("00:00-00:00", None);
    let (dir, sink) = (shop.dir.path(), &shop.sink);
    // WeChat through a gateway whose body carries the unsubscribe link guanxi adds to
    // marketing messages.
    let mut toml = std::fs::read_to_string(dir.join("guanxi.toml")).unwrap();
    toml += &format!(
        "\n[channels.wechat]\nurl = \"{}/wechat\"\nbody = '{{\"to\": {{{{ to | tojson }}}}, \"text\": {{{{ text | tojson }}}}, \"unsubscribe\": {{{{ unsubscribe | tojson }}}}}}'\n",
        sink.url
    );
    std::fs::write(dir.join("guanxi.toml"), toml).unwrap();
    std::fs::write(
        dir.join("wechat.csv"),
        "customer_id,name,mobile,wechat,consent_sms,consent_wechat,consent_at\n\
         R1,王芳,13800000001,wx_wang,granted,granted,2026-01-01\n\
         R2,李娜,13800000002,wx_li,granted,granted,2026-01-01\n\
         R4,刘洋,13800000004,wx_liu,denied,denied,2026-01-01\n",
    )
    .unwrap();
    run(dir, &["import", "customers", "wechat.csv", "--source", "shop"]);
    std::fs::write(
        dir.join("offer.toml"),
        "name = \"offer\"\ntitle = \"Offer\"\npriority = \"marketing\"\ntrigger = { order = \"created-unpaid\" }\n\n\
         [[steps]]\nname = \"offer\"\nafter = \"0m\"\naction = { send = \"wechat\", template = \"win-back-offer\" }\n",
    )
    .unwrap();
    run(dir, &["program", "enable", "offer.toml", "--since", "2026-07-01 00:00"]);
    let ran = run(dir, &["program", "run", "--now", "2026-07-01 11:00"]);
    assert_eq!(
        (ran["worked"]["sent"].as_u64(), ran["worked"]["dropped"].as_u64()),
        (Some(2), Some(2)),
        "R3 has no WeChat id, R4 refused WeChat: {ran}"
    );
    let to_wang = sink
        .deliveries()
        .into_iter()
        .map(|d| serde_json::from_str::<Value>(&d.body).unwrap())
        .find(|b| b["to"] == "wx_wang")
        .expect("R1's message");
    let text = to_wang["text"].as_str().unwrap();
    let click = text[text.find("http://guanxi.test/r/").expect(text)..].trim_start_matches("http://guanxi.test");
    let unsubscribe = to_wang["unsubscribe"]
        .as_str()
        .expect("marketing carries its unsubscribe link");
    let unsubscribe = unsubscribe.trim_start_matches("http://guanxi.test");

    let server = common::Server::start_with(dir, SECRETS);
    let addr = server.addr.clone();

    // A click is recorded, then the customer goes on; a forged link is a 404.
    let (head, _) = http(&addr, "GET", click, &[], "");
    assert!(head.starts_with("HTTP/1.1 303"), "{head}");
    // The signature's last hex digit changed (to another one: a signature may end in 0).
    let last = if click.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{last}", &click[..click.len() - 1]);
    assert!(http(&addr, "GET", &forged, &[], "").0.starts_with("HTTP/1.1 404"));
    let stats = run(dir, &["program", "stats", "offer"]);
    assert_eq!(
        (stats[0]["sent"].as_u64(), stats[0]["clicked"].as_u64()),
        (Some(2), Some(1)),
        "{stats}"
    );

    // The gateway's delivery receipt for R2's message, signed like its replies.
    let key = sink
        .deliveries()
        .into_iter()
        .find(|d| serde_json::from_str::<Value>(&d.body).unwrap()["to"] == "wx_li")
        .expect("R2's message")
        .key;
    let receipt = format!(r#"{{"id": "{key}", "status": "delivered"}}"#);
    let sig = guanxi_engage::signature(b"r3ply", receipt.as_bytes());
    let (head, answer) = http(
        &addr,
        "POST",
        "/hooks/receipt",
        &[("X-Guanxi-Signature", &sig)],
        &receipt,
    );
    assert!(
        head.starts_with("HTTP/1.1 200") && answer.contains("\"updated\":true"),
        "{head}\n{answer}"
    );
    let stats = run(dir, &["program", "stats", "offer"]);
    assert_eq!(stats[0]["delivered"], 1, "{stats}");

    // The unsubscribe link asks first (GET: mail scanners fetch links), then withdraws
    // consent on the message's channel (POST), with the evidence.
    let (head, page) = http(&addr, "GET", unsubscribe, &[("Accept-Language", "zh-CN")], "");
    assert!(
        head.starts_with("HTTP/1.1 200") && page.contains("确认退订"),
        "{head}\n{page}"
    );
    assert_eq!(consent(dir, "R1", "wechat").0, "granted", "a GET changes nothing");
    let (head, _) = http(&addr, "POST", unsubscribe, &[], "");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let (state, evidence) = consent(dir, "R1", "wechat");
    assert_eq!(state, "denied");
    assert!(evidence.contains("unsubscribe link in message #"), "{evidence}");
    assert_eq!(consent(dir, "R1", "sms").0, "granted", "only the message's channel");

    // 回复TD退订: the gateway reports R2's reply, signed with the shared secret.
    let reply = r#"{"from": "138-0000-0002", "text": " TD "}"#;
    let (head, _) = http(
        &addr,
        "POST",
        "/hooks/sms/reply",
        &[("X-Guanxi-Signature", "sha256=00")],
        reply,
    );
    assert!(head.starts_with("HTTP/1.1 401"), "a forged callback is refused: {head}");
    let sig = guanxi_engage::signature(b"r3ply", reply.as_bytes());
    let (head, answer) = http(
        &addr,
        "POST",
        "/hooks/sms/reply",
        &[("X-Guanxi-Signature", &sig)],
        reply,
    );
    assert!(head.starts_with("HTTP/1.1 200"), "{head}\n{answer}");
    assert_eq!(
        serde_json::from_str::<Value>(&answer).unwrap()["opt_out"],
        true,
        "{answer}"
    );
    drop(server);
    let (state, evidence) = consent(dir, "R2", "sms");
    assert_eq!(state, "denied");
    assert!(evidence.contains("SMS reply \"TD\""), "{evidence}");
    assert_eq!(consent(dir, "R1", "sms").0, "granted", "others keep theirs");
}

#[test]
fn caps_and_open_complaints_hold_care_and_marketing() {
    let shop = shop("00:00-00:00", None);
    let (dir, sink) = (shop.dir.path(), &shop.sink);
    // R1 has an open complaint.
    let complaint = |status: &str, closed: &str| {
        std::fs::write(
            dir.join("service.csv"),
            format!("record_id,customer_id,kind,status,opened_at,closed_at\nK1,R1,complaint,{status},2026-07-01 09:00,{closed}\n"),
        )
        .unwrap();
        run(dir, &["import", "service", "service.csv", "--source", "shop"]);
    };
    complaint("open", "");
    // A care touch and a marketing touch at the same moment, both by SMS.
    for (name, priority) in [("care-touch", "care"), ("promo", "marketing")] {
        std::fs::write(
            dir.join(format!("{name}.toml")),
            format!(
                "name = \"{name}\"\ntitle = \"{name}\"\npriority = \"{priority}\"\ntrigger = {{ order = \"created-unpaid\" }}\n\n\
                 [[steps]]\nname = \"touch\"\nafter = \"0m\"\naction = {{ send = \"sms\", template = \"care-shipped\" }}\n"
            ),
        )
        .unwrap();
        run(
            dir,
            &[
                "program",
                "enable",
                &format!("{name}.toml"),
                "--since",
                "2026-07-01 00:00",
            ],
        );
    }
    let count = |program: &str, status: &str| -> u64 {
        let stats = run(dir, &["program", "stats", program]);
        stats
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s[status].as_u64().unwrap())
            .sum()
    };
    let first = run(dir, &["program", "run", "--now", "2026-07-01 11:00"]);
    // R2 and R3 get the care touch; their marketing touch waits for tomorrow (one SMS a day);
    // R1's complaint holds both; R4 refused SMS.
    assert_eq!(first["worked"]["sent"], 2, "{first}");
    assert_eq!(first["worked"]["deferred"], 4, "{first}");
    assert_eq!(first["worked"]["dropped"], 2, "{first}");
    assert_eq!((count("care-touch", "sent"), count("promo", "sent")), (2, 0));
    // Past midnight the daily cap is fresh: the marketing touches go; the complaint still holds R1.
    let night = run(dir, &["program", "run", "--now", "2026-07-02 00:30"]);
    assert_eq!(night["worked"]["sent"], 2, "{night}");
    assert_eq!(count("promo", "sent"), 2);
    // The complaint closes: R1's care touch goes first (priority), the marketing one the next day.
    complaint("closed", "2026-07-02 10:00");
    let noon = run(dir, &["program", "run", "--now", "2026-07-02 12:00"]);
    assert_eq!(
        (noon["worked"]["sent"].as_u64(), noon["worked"]["deferred"].as_u64()),
        (Some(1), Some(1)),
        "{noon}"
    );
    assert_eq!(count("care-touch", "sent"), 3);
    let next = run(dir, &["program", "run", "--now", "2026-07-03 09:00"]);
    assert_eq!(next["worked"]["sent"], 1, "{next}");
    assert_eq!(count("promo", "sent"), 3);
    let to_r1: Vec<String> = received(sink, "/sms")
        .into_iter()
        .filter(|m| m.0 == "13800000001")
        .map(|m| m.1)
        .collect();
    assert_eq!(to_r1.len(), 2);
    assert!(
        to_r1.iter().any(|t| t.ends_with("回复TD退订")),
        "marketing SMS carries the opt-out: {to_r1:?}"
    );
}

#[test]
fn calendar_days_reach_their_audience_in_waves_before_the_day() {
    let shop = shop("00:00-00:00", None);
    let dir = shop.dir.path();
    std::fs::write(
        dir.join("anniversary.toml"),
        "name = \"anniversary\"\ntitle = \"Shop anniversary\"\npriority = \"marketing\"\ntrigger = { date = \"07-10\" }\n\
         audience = \"activity = 'active'\"\nstop_on = [\"paid\"]\n\n\
         [[steps]]\nname = \"t-3\"\nafter = \"-3d\"\naction = { send = \"sms\", template = \"preheat-3\" }\n\n\
         [[steps]]\nname = \"day\"\nafter = \"0m\"\naction = { send = \"sms\", template = \"preheat-1\" }\n\n\
         [[steps]]\nname = \"vip-gift\"\nafter = \"0m\"\nwhen = \"tier in ('vip', 'major')\"\naction = { add_tag = \"周年礼\" }\n",
    )
    .unwrap();
    let audience = run(dir, &["segment", "count", "activity = 'active'"])["customers"]
        .as_u64()
        .unwrap();
    let vips = run(
        dir,
        &["segment", "count", "activity = 'active' and tier in ('vip', 'major')"],
    )["customers"]
        .as_u64()
        .unwrap();
    assert!(audience > 0 && vips > 0 && vips < audience, "{audience} {vips}");
    run(
        dir,
        &["program", "enable", "anniversary.toml", "--since", "2026-07-01 00:00"],
    );
    // Before the first wave nothing is due.
    let early = run(dir, &["program", "run", "--now", "2026-07-06 12:00"]);
    assert_eq!(early["planned"], 0, "{early}");
    // T−3: the first wave, one message per member of the audience.
    let wave = run(dir, &["program", "run", "--now", "2026-07-07 12:00"]);
    assert_eq!(wave["planned"].as_u64(), Some(audience), "{wave}");
    // The day: the second wave; the first is not queued again.
    let day = run(dir, &["program", "run", "--now", "2026-07-10 12:00"]);
    assert_eq!(day["planned"].as_u64(), Some(audience), "{day}");
    let stats = run(dir, &["program", "stats", "anniversary"]);
    let gifts = stats
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "vip-gift")
        .unwrap()["actions"]
        .clone();
    assert_eq!(
        gifts.as_u64(),
        Some(vips),
        "the conditioned step only for VIP and major customers: {stats}"
    );
    let total: u64 = stats
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            ["queued", "sent", "dropped", "failed"]
                .iter()
                .map(|k| s[k].as_u64().unwrap())
                .sum::<u64>()
        })
        .sum();
    assert_eq!(total, 2 * audience, "{stats}");
    // An unknown day is refused with where and what.
    let err = refused(dir, "anniversary.toml", "07-10", "black-friday");
    assert!(
        err.contains("bad.toml:4:") && err.contains("unknown day \"black-friday\""),
        "{err}"
    );
}

#[test]
fn segment_runs_go_on_after_entry_and_stop_at_a_purchase() {
    let shop = shop("00:00-00:00", None);
    let dir = shop.dir.path();
    std::fs::write(
        dir.join("nurture.toml"),
        "name = \"nurture\"\ntitle = \"Nurture\"\npriority = \"care\"\ntrigger = { segment = \"activity = 'active'\" }\n\
         stop_on = [\"paid\"]\n\n\
         [[steps]]\nname = \"hello\"\nafter = \"0m\"\naction = { add_tag = \"nurtured\" }\n\n\
         [[steps]]\nname = \"follow-up\"\nafter = \"7d\"\naction = { task = \"call to ask how it went\" }\n",
    )
    .unwrap();
    let members = run(dir, &["segment", "list", "activity = 'active'", "--limit", "1000"]);
    let members = members["members"].as_array().unwrap();
    let audience = members.len() as u64;
    assert!(audience > 1);
    let buyer = members[0]["external_id"].as_str().unwrap().to_string();
    run(
        dir,
        &["program", "enable", "nurture.toml", "--since", "2026-07-01 00:00"],
    );
    let actions = |step: &str| -> u64 {
        let stats = run(dir, &["program", "stats", "nurture"]);
        stats
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["step"] == step)
            .map(|s| s["actions"].as_u64().unwrap())
            .sum()
    };
    run(dir, &["program", "run", "--now", "2026-07-01 10:00"]);
    assert_eq!(
        actions("hello"),
        audience,
        "every member entered and got the first step"
    );
    run(dir, &["program", "run", "--now", "2026-07-05 10:00"]);
    assert_eq!(actions("follow-up"), 0, "not due before 7 days");
    // One member buys on 3 July: their run stops; the others' follow-up comes due.
    std::fs::write(
        dir.join("bought.csv"),
        format!(
            "order_id,customer_id,ordered_at,amount,paid_at,status\nN1,{buyer},2026-07-03 09:00,10.00,2026-07-03 09:01,paid\n"
        ),
    )
    .unwrap();
    import_orders(dir, "bought.csv", "demo");
    run(dir, &["program", "run", "--now", "2026-07-08 11:00"]);
    assert_eq!(actions("follow-up"), audience - 1);
    run(dir, &["program", "run", "--now", "2026-07-09 11:00"]);
    assert_eq!(actions("hello"), audience, "nothing twice");
}

#[test]
fn schedules_run_every_period_from_enabling() {
    let shop = shop("00:00-00:00", None);
    let dir = shop.dir.path();
    std::fs::write(
        dir.join("weekly.toml"),
        "name = \"weekly\"\ntitle = \"Weekly picks\"\npriority = \"marketing\"\ntrigger = { every = \"7d\" }\n\
         audience = \"activity = 'active'\"\n\n\
         [[steps]]\nname = \"picks\"\nafter = \"0m\"\naction = { add_tag = \"weekly\" }\n",
    )
    .unwrap();
    let audience = run(dir, &["segment", "count", "activity = 'active'"])["customers"]
        .as_u64()
        .unwrap();
    run(
        dir,
        &["program", "enable", "weekly.toml", "--since", "2026-07-01 00:00"],
    );
    let actions = || -> u64 {
        let stats = run(dir, &["program", "stats", "weekly"]);
        stats
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["actions"].as_u64().unwrap())
            .sum()
    };
    run(dir, &["program", "run", "--now", "2026-07-01 10:00"]);
    assert_eq!(actions(), audience, "the first period");
    run(dir, &["program", "run", "--now", "2026-07-07 23:00"]);
    assert_eq!(actions(), audience, "nothing until the next period");
    run(dir, &["program", "run", "--now", "2026-07-08 01:00"]);
    assert_eq!(actions(), 2 * audience, "the second period");
    std::fs::write(
        dir.join("often.toml"),
        std::fs::read_to_string(dir.join("weekly.toml"))
            .unwrap()
            .replace("7d", "30m"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_guanxi"))
        .current_dir(dir)
        .args(["--db", "guanxi-demo.db", "program", "enable", "often.toml"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("often.toml:4:") && err.contains("every hour or longer"),
        "{err}"
    );
}

#[test]
fn a_stuck_parcel_becomes_a_service_task_that_staff_close_once() {
    let shop = shop("00:00-00:00", None);
    let dir = shop.dir.path();
    // R1's parcel left on 1 July at 12:00 and has not moved since; R3's arrived.
    std::fs::write(
        dir.join("shipped.csv"),
        "order_id,customer_id,ordered_at,amount,paid_at,shipped_at,arrived_at,status,title,quantity\n\
         S1,R1,2026-07-01 10:00:00,99.00,2026-07-01 10:01:00,2026-07-01 12:00:00,,shipped,纸尿裤 L,2\n\
         S3,R3,2026-07-01 10:00:00,59.00,2026-07-01 10:01:00,2026-07-01 12:00:00,2026-07-02 09:00:00,shipped,湿巾,1\n",
    )
    .unwrap();
    import_orders(dir, "shipped.csv", "shop");
    run(dir, &["program", "enable", "order-care", "--since", "2026-07-01 00:00"]);
    let tasks = || run(dir, &["task", "list"]);
    run(dir, &["program", "run", "--now", "2026-07-04 11:00"]);
    assert_eq!(tasks(), serde_json::json!([]), "not yet 72 hours");
    run(dir, &["program", "run", "--now", "2026-07-04 13:00"]);
    let open = tasks();
    let open = open.as_array().unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(
        (
            open[0]["customer_external_id"].as_str(),
            open[0]["program"].as_str(),
            open[0]["task"].as_str()
        ),
        (
            Some("R1"),
            Some("order-care"),
            Some("parcel not moving for 72 hours: call the carrier")
        )
    );
    let key = open[0]["key"].as_str().unwrap().to_string();
    run(dir, &["program", "run", "--now", "2026-07-05 13:00"]);
    assert_eq!(tasks().as_array().unwrap().len(), 1, "a step's task is created once");

    // Staff see it on the tasks page and close it there.
    let server = common::Server::start_with(dir, SECRETS);
    let page = server.get("/tasks?lang=en", "en");
    assert!(page.contains("parcel not moving for 72 hours"), "{page}");
    assert!(page.contains("action=\"/tasks/done\""), "{page}");
    assert!(server.get("/tasks", "zh-CN").contains("服务任务"));
    let r1 = open[0]["customer_id"].as_i64().unwrap();
    let customer = server.get(&format!("/customers/{r1}?lang=en"), "en");
    assert!(
        customer.contains("Open service tasks") && customer.contains("call the carrier"),
        "{customer}"
    );
    let form = format!("key={}&lang=en", common::percent(&key));
    let (head, _) = server.post_form("/tasks/done", &form);
    assert!(
        head.starts_with("HTTP/1.1 303") && head.contains("location: /tasks?lang=en&closed="),
        "{head}"
    );
    let page = server.get("/tasks?lang=en", "en");
    assert!(page.contains("No open tasks."), "{page}");
    let customer = server.get(&format!("/customers/{r1}?lang=en"), "en");
    assert!(!customer.contains("Open service tasks"), "{customer}");
    assert!(server.get("/tasks?all=1&lang=en", "en").contains("Done 20"));
    let (head, _) = server.post_form("/tasks/done", &form);
    assert!(head.contains("location: /tasks?lang=en&gone=1"), "{head}");
    assert_eq!(tasks(), serde_json::json!([]));

    // Closing it again from the command line is refused, saying what was expected.
    let out = Command::new(env!("CARGO_BIN_EXE_guanxi"))
        .current_dir(dir)
        .args(["--db", "guanxi-demo.db", "task", "done", &key])
        .env_remove("GUANXI_DATABASE_URL")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(65), "{err}");
    assert!(
        err.contains("no open task") && err.contains("guanxi task list"),
        "{err}"
    );
    let all = run(dir, &["task", "list", "--all", "--customer", "R1", "--source", "shop"]);
    assert!(all[0]["done_at"].is_string(), "{all}");
}

#[test]
fn a_pass_after_downtime_queues_only_what_has_not_expired() {
    let shop = shop("00:00-00:00", None);
    let (dir, sink) = (shop.dir.path(), &shop.sink);
    run(
        dir,
        &["program", "enable", "payment-reminder", "--since", "2026-07-01 00:00"],
    );
    // No pass from the orders of 1 July 10:00 until 2 July 12:00: the first reminder (due
    // 10:30, transactional, expired after 24 h) is past saving, the second (due 16:00) not.
    let late = run(dir, &["program", "run", "--now", "2026-07-02 12:00"]);
    assert_eq!(late["planned"], 3, "the second reminder of T1, T2, T4: {late}");
    assert_eq!(
        (late["worked"]["sent"].as_u64(), late["worked"]["dropped"].as_u64()),
        (Some(2), Some(1)),
        "R4 refused SMS: {late}"
    );
    let texts = received(sink, "/sms");
    assert_eq!(texts.len(), 2);
    assert!(texts.iter().all(|(_, text)| text.contains("即将自动关闭")), "{texts:?}");
    // A day later both are past saving: nothing is queued.
    let later = run(dir, &["program", "run", "--now", "2026-07-03 12:00"]);
    assert_eq!(later["planned"], 0, "{later}");
}

#[test]
fn a_program_that_cannot_run_is_skipped_and_reported_while_others_go_on() {
    let shop = shop("00:00-00:00", None);
    let dir = shop.dir.path();
    run(dir, &["segment", "save", "actives", "activity = 'active'"]);
    let program = |name: &str, segment: &str| {
        format!(
            "name = \"{name}\"\ntitle = \"{name}\"\npriority = \"care\"\ntrigger = {{ segment = \"in segment '{segment}'\" }}\n\n\
             [[steps]]\nname = \"hello\"\nafter = \"0m\"\naction = {{ add_tag = \"{name}\" }}\n"
        )
    };
    std::fs::write(dir.join("good.toml"), program("good", "actives")).unwrap();
    std::fs::write(dir.join("ghost.toml"), program("ghost", "gone")).unwrap();
    for file in ["good.toml", "ghost.toml"] {
        run(dir, &["program", "enable", file, "--since", "2026-07-01 00:00"]);
    }
    // A segment a program uses cannot be deleted; the refusal names the program.
    let out = common::guanxi(
        dir,
        &["--db", "guanxi-demo.db", "--json", "segment", "delete", "actives"],
    );
    assert_eq!(out.status.code(), Some(65));
    let refusal = json(&out);
    assert_eq!(refusal["error"]["code"], "segment_in_use");
    assert!(
        refusal["error"]["message"].as_str().unwrap().contains("program 'good'"),
        "{refusal}"
    );
    // The pass skips the program whose segment does not exist and runs the other.
    let ran = run(dir, &["program", "run", "--now", "2026-07-01 10:00"]);
    assert_eq!(ran["skipped"][0]["program"], "ghost", "{ran}");
    assert!(ran["skipped"][0]["error"].as_str().unwrap().contains("gone"), "{ran}");
    let audience = run(dir, &["segment", "count", "in segment 'actives'"])["customers"]
        .as_u64()
        .unwrap();
    assert!(audience > 0);
    let stats = run(dir, &["program", "stats", "good"]);
    let actions: u64 = stats
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["actions"].as_u64().unwrap())
        .sum();
    assert_eq!(actions, audience, "the good program ran for its whole audience");
    // guanxi status names it, until it can run again.
    let status = run(dir, &["status"]);
    assert_eq!(status["engine"]["programs"][0]["program"], "ghost", "{status}");
    run(dir, &["segment", "save", "gone", "activity = 'churned'"]);
    let ran = run(dir, &["program", "run", "--now", "2026-07-01 11:00"]);
    assert_eq!(ran["skipped"].as_array().unwrap().len(), 0, "{ran}");
    assert_eq!(run(dir, &["status"])["engine"]["programs"].as_array().unwrap().len(), 0);
}

/// A campaign's waves go through the outbox: on each wave's day every treated member gets
/// their variant's message, held-out members get nothing and are recorded as held out,
/// a second pass queues nothing again, a buyer since the first wave is skipped from the
/// second on — and the report counts what was delivered and what it cost.
#[test]
fn campaign_waves_reach_the_treated_hold_out_the_rest_and_skip_buyers() {
    let shop = shop("00:00-00:00", None);
    let dir = shop.dir.path();
    std::fs::write(
        dir.join("summer.toml"),
        "name = \"summer\"\nstarts = \"2026-07-10\"\nends = \"2026-07-12\"\n\n\
         [[audiences]]\nname = \"buyers\"\nsegment = \"paid_orders >= 1\"\nholdout = 0.3\n\n\
         [[audiences.variants]]\nname = \"main\"\ncoupon = \"BIRTHDAY\"\n",
    )
    .unwrap();
    run(dir, &["campaign", "create", "summer.toml"]);
    let launched = run(dir, &["campaign", "launch", "summer"]);
    let audience = &launched["audiences"][0];
    let (members, held) = (
        audience["members"].as_u64().unwrap(),
        audience["held_out"].as_u64().unwrap(),
    );
    let treated = members - held;
    assert!(held > 0 && treated > held, "{launched}");

    // Before the first wave (T−7: 3 July) nothing is due.
    assert_eq!(run(dir, &["program", "run", "--now", "2026-07-02 12:00"])["planned"], 0);
    let first = run(dir, &["program", "run", "--now", "2026-07-03 12:00"]);
    assert_eq!(first["planned"].as_u64(), Some(treated), "{first}");
    let again = run(dir, &["program", "run", "--now", "2026-07-03 13:00"]);
    assert_eq!(again["planned"], 0, "a wave is queued once: {again}");
    let sent_first = received(&shop.sink, "/sms").len() as u64;
    assert!(sent_first > 0 && sent_first <= treated, "{sent_first} of {treated}");
    // The variant's coupon came with the first wave, to each treated member, once.
    let coupons = || {
        run(
            dir,
            &["coupon", "list", "--source", "campaign:summer", "--limit", "1000"],
        )
        .as_array()
        .unwrap()
        .clone()
    };
    assert_eq!(coupons().len() as u64, treated);

    // A treated member buys on 5 July: the second wave (7 July) skips them.
    let list = run(dir, &["campaign", "members", "summer"]);
    let buyer = list
        .as_array()
        .unwrap()
        .iter()
        .find(|m| !m["variant"].is_null())
        .unwrap()["customer_id"]
        .as_i64()
        .unwrap();
    let external = format!("C{buyer:07}");
    let code = coupons()
        .into_iter()
        .find(|c| c["customer_id"].as_i64() == Some(buyer))
        .unwrap()["code"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        run(dir, &["customer", "show", &external, "--source", "demo"])["id"].as_i64(),
        Some(buyer),
        "the demo's ids follow its customer numbers"
    );
    std::fs::write(
        dir.join("sale.csv"),
        format!(
            "order_id,customer_id,ordered_at,amount,paid_at,status,title,quantity,coupon\n\
             S1,{external},2026-07-05 10:00:00,199.00,2026-07-05 10:01:00,paid,纸尿裤 L,2,{code}\n"
        ),
    )
    .unwrap();
    import_orders(dir, "sale.csv", "demo");
    let second = run(dir, &["program", "run", "--now", "2026-07-07 12:00"]);
    assert_eq!(second["planned"].as_u64(), Some(treated - 1), "{second}");

    let report = run(dir, &["campaign", "report", "summer"]);
    let rows = report["rows"].as_array().unwrap();
    let row = |wave: Option<u64>| {
        rows.iter()
            .find(|r| r["wave"].as_u64() == wave && r["variant"].is_null())
            .unwrap_or_else(|| panic!("a row for wave {wave:?}: {report}"))
    };
    let all = row(None);
    assert_eq!(all["treated"]["size"].as_u64(), Some(treated));
    assert_eq!(all["control"]["size"].as_u64(), Some(held));
    assert_eq!(all["control"]["delivered"], 0, "the held out get nothing");
    // Distinct customers reached, by the ledger key each request carries (customer/…):
    // two demo customers may share a mobile number (a merge candidate), so the numbers
    // at the gateway can be fewer.
    let delivered: u64 = shop
        .sink
        .deliveries()
        .into_iter()
        .filter(|d| d.path == "/sms")
        .map(|d| d.key.split('/').next().unwrap_or_default().to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .len() as u64;
    assert_eq!(all["treated"]["delivered"].as_u64(), Some(delivered), "{all}");
    let messages = received(&shop.sink, "/sms").len() as i64;
    assert_eq!(
        all["treated"]["cost"].as_i64(),
        Some(5 * messages + 2_000),
        "5 fen an SMS, and the ¥20 the buyer's coupon saved them"
    );
    assert!(
        all["treated"]["converted"].as_u64().unwrap() >= 1,
        "the buyer converted"
    );
    let (one, two) = (row(Some(1)), row(Some(2)));
    assert_eq!(one["treated"]["size"].as_u64(), Some(treated));
    assert_eq!(
        one["control"]["size"].as_u64(),
        Some(held),
        "held out, recorded for the wave"
    );
    assert_eq!(two["treated"]["size"].as_u64(), Some(treated - 1), "the buyer skipped");
    assert!(
        rows.iter().all(|r| r["wave"].as_u64() != Some(3)),
        "wave 3 has not come"
    );
}

/// A program with a holdout: its share of the customers (drawn by the program's name,
/// the same at every pass) get nothing and are recorded as held out for each step; the
/// stats compare everyone the step was meant for with them.
#[test]
fn a_program_holdout_gets_nothing_and_is_measured_against() {
    let shop = shop("00:00-00:00", None);
    let dir = shop.dir.path();
    std::fs::write(
        dir.join("nurture.toml"),
        "name = \"nurture\"\ntitle = \"Nurture\"\npriority = \"marketing\"\ntrigger = { segment = \"activity = 'active'\" }\n\
         stop_on = [\"paid\"]\nholdout = 0.3\n\n\
         [[steps]]\nname = \"hello\"\nafter = \"0m\"\naction = { send = \"sms\", template = \"second-purchase-1\" }\n",
    )
    .unwrap();
    let audience = run(dir, &["segment", "count", "activity = 'active'"])["customers"]
        .as_u64()
        .unwrap();
    run(
        dir,
        &["program", "enable", "nurture.toml", "--since", "2026-07-01 00:00"],
    );
    let first = run(dir, &["program", "run", "--now", "2026-07-01 10:00"]);
    let stats = run(dir, &["program", "stats", "nurture"]);
    let hello = stats
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "hello")
        .unwrap()
        .clone();
    let held = hello["held"].as_u64().unwrap();
    let treated = audience - held;
    assert_eq!(first["planned"].as_u64(), Some(treated), "{first}");
    // 30 % ± 4 standard errors.
    let sd = (audience as f64 * 0.3 * 0.7).sqrt();
    assert!(
        (held as f64 - 0.3 * audience as f64).abs() < 4.0 * sd,
        "{held} of {audience}"
    );
    let settled: u64 = ["queued", "sent", "dropped", "failed"]
        .iter()
        .map(|k| hello[k].as_u64().unwrap())
        .sum();
    assert_eq!(settled, treated, "a message for each treated customer only: {hello}");
    assert!(received(&shop.sink, "/sms").len() as u64 <= treated);
    assert_eq!(hello["lift"]["treated"].as_u64(), Some(treated), "{hello}");
    assert_eq!(hello["lift"]["held"].as_u64(), Some(held), "{hello}");
    assert!(hello["lift"]["conversion_lift"]["low"].is_number(), "{hello}");
    // Another pass: nothing again, on either side.
    let again = run(dir, &["program", "run", "--now", "2026-07-01 11:00"]);
    assert_eq!(again["planned"], 0);
    let stats = run(dir, &["program", "stats", "nurture"]);
    assert_eq!(stats[0]["held"].as_u64(), Some(held));
    // A share outside 0–0.5 is refused where it is written.
    let err = refused(dir, "nurture.toml", "holdout = 0.3", "holdout = 0.9");
    assert!(
        err.contains("bad.toml:6:1:") && err.contains("holdout: expected a share from 0 to 0.5"),
        "{err}"
    );
}

/// A tier change starts a program: a shopper whose order takes them to 银卡 gets the
/// program's welcome once, however often the scheduler passes.
#[test]
fn entering_a_tier_starts_a_program_once() {
    let shop = shop("00:00-00:00", None);
    let dir = shop.dir.path();
    std::fs::write(
        dir.join("big.csv"),
        "order_id,customer_id,ordered_at,amount,paid_at,status,title,quantity\n\
         T9,R3,2026-07-02 10:00:00,1200.00,2026-07-02 10:00:00,paid,婴儿车,1\n",
    )
    .unwrap();
    import_orders(dir, "big.csv", "shop");
    let evaluated = run(dir, &["member", "evaluate", "--now", "2026-07-02 12:00"]);
    assert!(evaluated["changes"].as_u64().unwrap() > 0, "{evaluated}");
    std::fs::write(
        dir.join("silver.toml"),
        "name = \"silver-welcome\"\ntitle = \"Welcome to 银卡\"\npriority = \"care\"\n\
         trigger = { became = { kind = \"tier\", class = \"银卡\" } }\n\n\
         [[steps]]\nname = \"welcome\"\nafter = \"0m\"\naction = { add_tag = \"银卡会员\" }\n",
    )
    .unwrap();
    run(
        dir,
        &["program", "enable", "silver.toml", "--since", "2026-07-02 00:00"],
    );
    let welcomed = || -> u64 {
        run(dir, &["program", "stats", "silver-welcome"])
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["actions"].as_u64().unwrap())
            .sum()
    };
    run(dir, &["program", "run", "--now", "2026-07-02 12:00"]);
    assert_eq!(welcomed(), 1, "R3 entered 银卡 at their ¥1,200 order");
    run(dir, &["program", "run", "--now", "2026-07-02 12:30"]);
    assert_eq!(welcomed(), 1, "once");
    let r3 = run(dir, &["customer", "show", "R3", "--source", "shop"]);
    assert!(r3.to_string().contains("银卡会员"), "{r3}");
}

/// The built-in birthday program's coupon step issues one BIRTHDAY coupon per birthday,
/// whatever passes repeat; the greeting carries its code; the first paid order naming
/// the code redeems it; a tier-benefit step issues what the member's tier gives; an
/// operator's issue with a key issues once; a coupon no definition describes is refused.
#[test]
fn coupons_are_issued_once_carried_by_the_greeting_and_redeemed_by_the_order_naming_them() {
    let shop = shop("00:00-00:00", None);
    let dir = shop.dir.path();
    std::fs::write(
        dir.join("birthdays.csv"),
        "customer_id,name,mobile,birthday,consent_sms,consent_at\n\
         B1,陈静,13900000001,1990-07-10,granted,2026-01-01\n",
    )
    .unwrap();
    run(dir, &["import", "customers", "birthdays.csv", "--source", "shop"]);
    let b1 = run(dir, &["customer", "show", "B1", "--source", "shop"])["id"]
        .as_i64()
        .unwrap();
    run(
        dir,
        &[
            "program",
            "enable",
            "birthday-holiday-care",
            "--since",
            "2026-07-10 00:00",
        ],
    );
    run(dir, &["program", "run", "--now", "2026-07-10 09:00"]);
    run(dir, &["program", "run", "--now", "2026-07-10 09:30"]);
    let of_b1 = |args: &[&str]| -> Vec<Value> {
        let customer = b1.to_string();
        run(dir, &[&["coupon", "list", "--customer", &customer][..], args].concat())
            .as_array()
            .unwrap()
            .clone()
    };
    let issued = of_b1(&[]);
    assert_eq!(issued.len(), 1, "one coupon for one birthday: {issued:?}");
    let coupon = &issued[0];
    assert_eq!(
        (coupon["definition"].as_str(), coupon["value_cents"].as_i64()),
        (Some("BIRTHDAY"), Some(2_000))
    );
    assert_eq!(coupon["source"], "birthday-holiday-care");
    let code = coupon["code"].as_str().unwrap().to_string();
    let greetings: Vec<(String, String)> = received(&shop.sink, "/sms")
        .into_iter()
        .filter(|(to, _)| to == "13900000001")
        .collect();
    assert_eq!(greetings.len(), 1, "{greetings:?}");
    assert!(greetings[0].1.contains(&format!("券码 {code}")), "{}", greetings[0].1);

    // An order before nothing; the first paid order naming the code redeems it, a later
    // one does not take it over.
    std::fs::write(
        dir.join("redeem.csv"),
        "order_id,customer_id,ordered_at,amount,paid_at,status,title,quantity,coupon\n\
         U1,B1,2026-07-12 10:00:00,180.00,2026-07-12 10:01:00,paid,推车,1,"
            .to_string()
            + &code
            + "\nU2,B1,2026-07-20 10:00:00,90.00,2026-07-20 10:01:00,paid,湿巾,1,"
            + &code
            + "\n",
    )
    .unwrap();
    import_orders(dir, "redeem.csv", "shop");
    let redeemed = of_b1(&["--code", &code]);
    assert!(redeemed[0]["redeemed_order"].is_i64(), "{redeemed:?}");
    // U1's payment (10:01 shop time), not U2's.
    assert_eq!(redeemed[0]["redeemed_at"], "2026-07-12T02:01:00Z", "{redeemed:?}");

    // Tier benefits: B1's ¥6,000 order takes them to 金卡, which ships free and has no
    // coupons of its own.
    std::fs::write(
        dir.join("gold.csv"),
        "order_id,customer_id,ordered_at,amount,paid_at,status,title,quantity\n\
         G1,B1,2026-07-21 10:00:00,6000.00,2026-07-21 10:00:00,paid,婴儿床,1\n",
    )
    .unwrap();
    import_orders(dir, "gold.csv", "shop");
    run(dir, &["member", "evaluate", "--now", "2026-07-21 12:00"]);
    std::fs::write(
        dir.join("gold.toml"),
        "name = \"gold-perks\"\ntitle = \"金卡 perks\"\npriority = \"care\"\n\
         trigger = { became = { kind = \"tier\", class = \"金卡\" } }\n\n\
         [[steps]]\nname = \"shipping\"\nafter = \"0m\"\naction = { benefit = \"free_shipping\" }\n\n\
         [[steps]]\nname = \"own\"\nafter = \"0m\"\naction = { benefit = \"coupons\" }\n\n\
         [[steps]]\nname = \"bonus\"\nafter = \"0m\"\naction = { points = 500 }\n",
    )
    .unwrap();
    run(dir, &["program", "enable", "gold.toml", "--since", "2026-07-21 00:00"]);
    run(dir, &["program", "run", "--now", "2026-07-21 12:00"]);
    run(dir, &["program", "run", "--now", "2026-07-21 12:30"]);
    let perks = of_b1(&["--source", "gold-perks"]);
    assert_eq!(
        perks
            .iter()
            .map(|c| c["definition"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["FREE-SHIPPING"],
        "金卡 ships free and has no coupons of its own"
    );
    // The bonus step's points reach the ledger once, by the program, with the step as why.
    let earned = run(dir, &["member", "earn", "--from", "2026-07-21"]);
    assert_eq!(
        (
            earned["programs"]["steps"].as_u64(),
            earned["programs"]["points"].as_i64()
        ),
        (Some(1), Some(500)),
        "{earned}"
    );
    let again = run(dir, &["member", "earn", "--from", "2026-07-21"]);
    assert_eq!(again["programs"]["steps"], 0, "{again}");
    let member = run(dir, &["member", "show", "B1", "--source", "shop"]);
    let bonus: Vec<&Value> = member["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == "program:gold-perks")
        .collect();
    assert_eq!(bonus.len(), 1, "{member}");
    assert!(bonus[0].to_string().contains("gold-perks step bonus"), "{}", bonus[0]);

    // A program naming a coupon the settings do not define is refused when enabled.
    let err = refused(dir, "gold.toml", "benefit = \"coupons\"", "coupon = \"WELCOME10\"");
    assert!(
        err.contains("gold-perks: step \"own\": no coupon \"WELCOME10\" is defined"),
        "{err}"
    );

    // By hand: a key issues once; an undefined coupon is refused with what exists.
    let by_hand = |key: &str| {
        run(
            dir,
            &["coupon", "issue", "B1", "--source", "shop", "BIRTHDAY", "--key", key],
        )
    };
    let first = by_hand("complaint-118");
    assert_eq!(by_hand("complaint-118")["code"], first["code"]);
    assert_ne!(by_hand("complaint-119")["code"], first["code"]);
    let out = Command::new(env!("CARGO_BIN_EXE_guanxi"))
        .current_dir(dir)
        .args([
            "--db",
            "guanxi-demo.db",
            "coupon",
            "issue",
            "B1",
            "--source",
            "shop",
            "WELCOME10",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(65), "{err}");
    assert!(
        err.contains("no coupon \"WELCOME10\" is defined: expected one of BIRTHDAY, FREE-SHIPPING"),
        "{err}"
    );
}

/// The built-in tier warning: a member whom the coming evaluation would lower is sent
/// the warning once, [tiers] warning_days before it.
#[test]
fn a_member_about_to_lose_their_tier_is_warned_once() {
    let shop = shop("00:00-00:00", None);
    let dir = shop.dir.path();
    std::fs::write(
        dir.join("members.csv"),
        "customer_id,name,mobile,consent_sms,consent_at\nW1,周敏,13900000009,granted,2025-01-01\n",
    )
    .unwrap();
    run(dir, &["import", "customers", "members.csv", "--source", "shop"]);
    // 银卡 from 1 August 2025; the evaluation a year on finds nothing in its window.
    std::fs::write(
        dir.join("w.csv"),
        "order_id,customer_id,ordered_at,amount,paid_at,status,title,quantity\n\
         W-1,W1,2025-08-01 10:00:00,1200.00,2025-08-01 10:00:00,paid,婴儿车,1\n",
    )
    .unwrap();
    import_orders(dir, "w.csv", "shop");
    run(
        dir,
        &["program", "enable", "tier-warning", "--since", "2026-07-01 00:00"],
    );
    let warned = || {
        received(&shop.sink, "/sms")
            .into_iter()
            .filter(|(to, _)| to == "13900000009")
            .count()
    };
    run(dir, &["member", "evaluate", "--now", "2026-07-01 12:00"]);
    run(dir, &["program", "run", "--now", "2026-07-01 12:00"]);
    assert_eq!(warned(), 0, "31 days before the evaluation: not yet");
    run(dir, &["member", "evaluate", "--now", "2026-07-02 12:00"]);
    run(dir, &["program", "run", "--now", "2026-07-02 12:00"]);
    run(dir, &["member", "evaluate", "--now", "2026-07-02 13:00"]);
    run(dir, &["program", "run", "--now", "2026-07-02 13:00"]);
    assert_eq!(warned(), 1, "warned 30 days before, once");
    let text = &received(&shop.sink, "/sms")
        .into_iter()
        .find(|(to, _)| to == "13900000009")
        .unwrap()
        .1;
    assert!(text.contains("会员等级将在下次评定时调整"), "{text}");
}
