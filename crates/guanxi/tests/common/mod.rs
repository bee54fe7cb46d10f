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
}

impl Server {
    pub fn start(dir: &Path) -> Server {
        Server::start_with(dir, &[])
    }

    /// `guanxi serve` with these environment variables (the secrets a shop's settings name).
    pub fn start_with(dir: &Path, env: &[(&str, &str)]) -> Server {
        let addr = format!("127.0.0.1:{}", free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_guanxi"))
            .current_dir(dir)
            .args(["--db", "guanxi-demo.db", "serve", "--addr", &addr])
            .env_remove("GUANXI_DATABASE_URL")
            .envs(env.iter().copied())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("guanxi serve starts");
        let server = Server { child, addr };
        assert!(
            listening(&server.addr),
            "guanxi serve did not listen on {}",
            server.addr
        );
        server
    }

    /// The body of a GET, asserting a 200.
    pub fn get(&self, path: &str, accept_language: &str) -> String {
        let (head, body) = self.request(path, accept_language);
        assert!(head.starts_with("HTTP/1.1 200"), "{path}: {head}");
        body
    }

    /// The status line and headers, and the body, of a GET.
    pub fn request(&self, path: &str, accept_language: &str) -> (String, String) {
        use std::io::{Read as _, Write as _};
        let mut s = std::net::TcpStream::connect(&self.addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept-Language: {accept_language}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
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
