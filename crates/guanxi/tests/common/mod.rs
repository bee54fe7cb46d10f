//! What the binary's test files share: running the binary, reading its JSON, serving.
#![allow(dead_code)] // each test file uses its own part

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

pub fn guanxi(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_guanxi"))
        .current_dir(dir)
        .args(args)
        .env_remove("GUANXI_DATABASE_URL")
        .env_remove("GUANXI_LAKE")
        .output()
        .expect("the binary runs")
}

/// A port of 127.0.0.1 free at the moment of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits (up to 10 s) until something listens at `addr`; whether it does.
pub fn listening(addr: &str) -> bool {
    (0..100).any(|_| {
        if std::net::TcpStream::connect(addr).is_ok() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        false
    })
}

/// `guanxi serve` on a free port of 127.0.0.1, stopped when dropped.
pub struct Server {
    child: std::process::Child,
    pub addr: String,
    /// The signed-in admin's session cookie (`guanxi_session=…`) and form token.
    pub cookie: String,
    pub csrf: String,
}

/// The user the tests sign in as, and their password.
pub const E2E_USER: &str = "e2e-admin";
pub const E2E_PASSWORD: &str = "an e2e test password";

/// Adds a user with `role` to the store in `dir` (`guanxi-demo.db`) through the binary,
/// the password on standard input; an existing one is kept.
pub fn add_user(dir: &Path, name: &str, role: &str, password: &str) {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_guanxi"))
        .current_dir(dir)
        .args(["--db", "guanxi-demo.db", "--json", "user", "add", name, "--role", role])
        .env_remove("GUANXI_DATABASE_URL")
        .env_remove("GUANXI_LAKE")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("guanxi user add runs");
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() || text.contains("user_exists"),
        "guanxi user add: {text}"
    );
}

impl Server {
    pub fn start(dir: &Path) -> Server {
        Server::start_with(dir, &[])
    }

    /// `guanxi serve` with these environment variables (the secrets a shop's settings name),
    /// signed in as an admin.
    pub fn start_with(dir: &Path, env: &[(&str, &str)]) -> Server {
        add_user(dir, E2E_USER, "admin", E2E_PASSWORD);
        let addr = format!("127.0.0.1:{}", free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_guanxi"))
            .current_dir(dir)
            .args(["--db", "guanxi-demo.db", "serve", "--addr", &addr])
            .env_remove("GUANXI_DATABASE_URL")
            .envs(env.iter().copied())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("guanxi serve starts");
        let mut server = Server {
            child,
            addr,
            cookie: String::new(),
            csrf: String::new(),
        };
        assert!(
            listening(&server.addr),
            "guanxi serve did not listen on {}",
            server.addr
        );
        let (head, _) = server.send(
            "POST",
            "/login",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            &format!("name={E2E_USER}&password={}", percent(E2E_PASSWORD)),
        );
        assert!(head.starts_with("HTTP/1.1 303"), "sign-in: {head}");
        server.cookie = head
            .lines()
            .find_map(|l| l.strip_prefix("set-cookie: "))
            .and_then(|c| c.split(';').next())
            .expect("a session cookie")
            .to_string();
        let (_, page) = server.request("/programs", "en");
        server.csrf = page
            .split_once(r#"name="csrf" value=""#)
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(token, _)| token.to_string())
            .expect("the page's form token");
        server
    }

    /// The body of a GET, asserting a 200.
    pub fn get(&self, path: &str, accept_language: &str) -> String {
        let (head, body) = self.request(path, accept_language);
        assert!(head.starts_with("HTTP/1.1 200"), "{path}: {head}");
        body
    }

    /// The status line and headers, and the body, of a GET as the signed-in admin.
    pub fn request(&self, path: &str, accept_language: &str) -> (String, String) {
        self.send("GET", path, &[("Accept-Language", accept_language)], "")
    }

    /// A form POST as the signed-in admin, with the session's form token added.
    pub fn post_form(&self, path: &str, form: &str) -> (String, String) {
        self.send(
            "POST",
            path,
            &[("Content-Type", "application/x-www-form-urlencoded")],
            &format!("{form}&csrf={}", self.csrf),
        )
    }

    /// One request with the session cookie (when signed in): status line and headers,
    /// and body.
    pub fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (String, String) {
        use std::io::{Read as _, Write as _};
        let mut s = std::net::TcpStream::connect(&self.addr).unwrap();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        if !self.cookie.is_empty() {
            req += &format!("Cookie: {}\r\n", self.cookie);
        }
        for (k, v) in headers {
            req += &format!("{k}: {v}\r\n");
        }
        req += "\r\n";
        req += body;
        s.write_all(req.as_bytes()).unwrap();
        let mut response = String::new();
        s.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
        (head.to_string(), body.to_string())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The sum of `field` over the objects of the array `array` of `v`.
/// Percent-encodes a query value.
pub fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is one JSON document ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// A 300-customer demo shop (loaded and profiled) in a new temporary directory, with the
/// demo's JSON output.
pub fn demo_shop() -> (tempfile::TempDir, Value) {
    let dir = tempfile::tempdir().unwrap();
    let out = guanxi(dir.path(), &["demo", "--customers", "300", "--no-serve", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let demo = json(&out);
    (dir, demo)
}

/// Runs a command on the demo shop's store with --json, asserting it succeeds.
pub fn run_demo(dir: &Path, args: &[&str]) -> Output {
    guanxi(dir, &[&["--db", "guanxi-demo.db", "--json"][..], args].concat())
}

/// The JSON document of a command on the demo shop's store, asserting it succeeds.
pub fn ok(dir: &Path, args: &[&str]) -> Value {
    let out = run_demo(dir, args);
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    json(&out)
}
