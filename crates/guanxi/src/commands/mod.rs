//! One module per command.

pub mod bench;
pub mod bench_big;
pub mod bench_outbox;
pub mod bench_points;
pub mod bench_schedule;
pub mod campaign;
pub mod clv;
pub mod config;
pub mod customer;
pub mod demo;
pub mod export;
pub mod import;
pub mod lake;
pub mod member;
pub mod privacy;
pub mod profile;
pub mod program;
pub mod report;
pub mod segment;
pub mod serve;
pub mod status;
pub mod task;
pub mod user;

use std::path::Path;

/// The store file when neither --db nor --database-url is given.
pub const DEFAULT_DB: &str = "guanxi.db";

pub fn default_db() -> &'static Path {
    Path::new(DEFAULT_DB)
}

/// A progress bar on stderr, drawn only when stderr is a terminal.
pub struct Bar(indicatif::ProgressBar);

impl Bar {
    pub fn bytes() -> Bar {
        let bar = indicatif::ProgressBar::with_draw_target(Some(0), indicatif::ProgressDrawTarget::stderr());
        bar.set_style(
            indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        Bar(bar)
    }

    pub fn count(total: u64, what: &str) -> Bar {
        let bar = indicatif::ProgressBar::with_draw_target(Some(total), indicatif::ProgressDrawTarget::stderr());
        bar.set_style(
            indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({per_sec}, {eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(what.to_string());
        Bar(bar)
    }

    pub fn inc(&self, n: u64) {
        self.0.inc(n);
    }

    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl guanxi_import::Progress for Bar {
    fn file(&mut self, name: &str, bytes: u64) {
        self.0.set_message(name.to_string());
        self.0.set_length(bytes);
        self.0.set_position(0);
    }

    fn advance(&mut self, bytes_read: u64) {
        self.0.set_position(bytes_read);
    }

    fn done(&mut self) {
        self.0.finish_and_clear();
    }
}
