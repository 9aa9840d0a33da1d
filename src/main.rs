//! The `sluice` binary. `anyhow` lives only here, at the edge.

use std::process::ExitCode;

use clap::Parser;
use sluice::cli::args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Command::Check(args) => return sluice::cli::check::run(args),
        Command::Decode(args) => return sluice::cli::decode::run(args),
        _ => {}
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match &cli.command {
            Command::Run(args) => sluice::cli::run::run(args).await,
            Command::Demo(sluice::cli::args::DemoCommand::Generate(args)) => sluice::cli::demo::run(args).await,
            Command::Dlq(command) => sluice::cli::dlq::run(command).await,
            Command::Status(args) => sluice::cli::status::run(args).await,
            Command::Migrate(args) => sluice::cli::migrate::run(args).await,
            Command::Source(command) => sluice::cli::source::run(command).await,
            other => anyhow::bail!("`{}` is not available in this build yet", command_name(other)),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn command_name(c: &Command) -> &'static str {
    match c {
        Command::Run(_) => "run",
        Command::Check(_) => "check",
        Command::Decode(_) => "decode",
        Command::Dlq(_) => "dlq",
        Command::Status(_) => "status",
        Command::Migrate(_) => "migrate",
        Command::Source(_) => "source",
        Command::Demo(_) => "demo",
    }
}
