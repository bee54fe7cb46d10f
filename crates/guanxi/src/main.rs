//! The `guanxi` binary: command-line parsing, opening the store, and the commands.
//! Each command lives in `commands/`; this file only wires them and reports errors.

mod cli;
mod commands;
mod open;
mod output;

use clap::Parser;

/// Imports allocate and free millions of small values (fields, bind arguments): perf put
/// ~25% of an import in glibc's malloc/free; with mimalloc a 1M-line import went from
/// 13.6 s to 10.1 s (see the foundation issue's note).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use crate::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GUANXI_LOG")
                .unwrap_or_else(|_| "warn,sqlx::query=error".into()),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let json = cli.global.json;
    let result = runtime.block_on(async {
        match cli.command {
            Command::Demo(args) => commands::demo::run(&cli.global, args).await,
            Command::Import(args) => commands::import::run(&cli.global, args).await,
            Command::Export(args) => commands::export::run(&cli.global, args).await,
            Command::Lake(cmd) => commands::lake::run(&cli.global, cmd).await,
            Command::Status => commands::status::run(&cli.global).await,
            Command::Serve {
                addr,
                token_requests,
                address_requests,
            } => {
                let quotas = guanxi_web::auth::Quotas {
                    per_token: token_requests,
                    per_address: address_requests,
                    ..Default::default()
                };
                commands::serve::run(&cli.global, addr, quotas).await
            }
            Command::Config(cmd) => commands::config::run(&cli.global, cmd),
            Command::Profile(cmd) => commands::profile::run(&cli.global, cmd).await,
            Command::Customer(cmd) => commands::customer::run(&cli.global, cmd).await,
            Command::Segment(cmd) => commands::segment::run(&cli.global, cmd).await,
            Command::Report(cmd) => commands::report::run(&cli.global, cmd).await,
            Command::Bench(cmd) => commands::bench::run(&cli.global, cmd).await,
            Command::Clv(cmd) => commands::clv::run(&cli.global, cmd).await,
            Command::Program(cmd) => commands::program::run(&cli.global, cmd).await,
            Command::Task(cmd) => commands::task::run(&cli.global, cmd).await,
            Command::Campaign(cmd) => commands::campaign::run(&cli.global, cmd).await,
            Command::Member(cmd) => commands::member::run(&cli.global, cmd).await,
            Command::Coupon(cmd) => commands::member::coupons(&cli.global, cmd).await,
            Command::User(cmd) => commands::user::run(&cli.global, cmd).await,
            Command::Audit(cmd) => commands::user::audit(&cli.global, cmd).await,
            Command::Privacy(cmd) => commands::privacy::run(&cli.global, cmd).await,
            Command::Token(cmd) => commands::user::token(&cli.global, cmd).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => output::error(&e, json),
    }
}
