//! Marks the tests that need a server this machine lacks `#[ignore]`d, so that cargo
//! test's summary counts them as ignored rather than passed: PostgreSQL
//! (`GUANXI_TEST_POSTGRES_URL`), Chromium with chromedriver (Debian's paths) and the
//! aiosmtpd SMTP server (a Python module). Each `GUANXI_REQUIRE_*` (set by CI) keeps its
//! tests in, where the server's absence fails loudly.

use std::path::Path;
use std::process::Command;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

fn main() {
    for cfg in ["no_postgres", "no_browser", "no_smtp"] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
    }
    for var in [
        "GUANXI_TEST_POSTGRES_URL",
        "GUANXI_REQUIRE_POSTGRES",
        "GUANXI_REQUIRE_BROWSER",
        "GUANXI_REQUIRE_SMTP",
    ] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    // Installing a browser changes these paths' times; a missing one is looked at again.
    println!("cargo::rerun-if-changed={CHROMEDRIVER}");
    println!("cargo::rerun-if-changed={CHROMIUM}");
    println!("cargo::rerun-if-changed=build.rs");
    let required = |v: &str| std::env::var_os(v).is_some();
    if std::env::var_os("GUANXI_TEST_POSTGRES_URL").is_none() && !required("GUANXI_REQUIRE_POSTGRES") {
        println!("cargo::rustc-cfg=no_postgres");
    }
    let browser = Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists();
    if !browser && !required("GUANXI_REQUIRE_BROWSER") {
        println!("cargo::rustc-cfg=no_browser");
    }
    // Looked at when the build script runs (a change of GUANXI_REQUIRE_SMTP or of this
    // file): after `pip install aiosmtpd`, `touch crates/guanxi/build.rs`.
    let smtp = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success());
    if !smtp && !required("GUANXI_REQUIRE_SMTP") {
        println!("cargo::rustc-cfg=no_smtp");
    }
}
