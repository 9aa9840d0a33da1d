//! `sluice check`: validate a configuration without touching the network.

use std::process::ExitCode;

use crate::config::{self, ConfigError};

use super::args::ConfigArg;

/// Exit 0 when valid (with a short summary), 2 with every problem listed otherwise.
pub fn run(args: &ConfigArg) -> ExitCode {
    match config::load(&args.config) {
        Ok(loaded) => {
            println!("{}: OK", loaded.origin);
            println!("  pipeline: {}", loaded.pipeline_name());
            if let Some(k) = &loaded.config.kafka {
                let topics = match &k.topic_regex {
                    Some(re) => format!("regex {re}"),
                    None => k.topics.join(", "),
                };
                println!("  kafka: {} group {} topics {}", k.brokers, k.group_id, topics);
                if let Some(tx) = &k.transaction_topic {
                    println!("  transaction topic: {tx}");
                }
            }
            for s in &loaded.sinks {
                println!("  sink {} ({})", s.name, s.settings.kind());
            }
            for o in &loaded.overrides {
                println!("  override: {} from {}", o.path, o.variable);
            }
            ExitCode::SUCCESS
        }
        Err(ConfigError::Invalid { origin, problems }) => {
            eprintln!("{origin}: {} problem(s)", problems.len());
            for p in &problems {
                eprintln!("  {p}");
            }
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}
