//! `sluice dlq resolve` (by hand) and `sluice dlq purge` (resolved entries only).

use std::process::ExitCode;

use anyhow::bail;
use chrono::Utc;

use super::args::{DlqPurgeArgs, DlqResolveArgs};
use super::dlq::DlqContext;
use super::dlq_filter::{UsageError, parse_duration};
use crate::dlq::{EntryFilter, Resolution};

/// Entry point of `sluice dlq resolve ID…`: all or nothing when an id is unknown.
pub async fn resolve(args: &DlqResolveArgs) -> anyhow::Result<ExitCode> {
    let resolution = match Resolution::parse(&args.resolution) {
        Some(r @ (Resolution::Manual | Resolution::Discarded)) => r,
        _ => {
            return Err(UsageError::error(format!(
                "--resolution: {:?} is not one of {}",
                args.resolution,
                Resolution::MANUAL_CHOICES.join(", ")
            )));
        }
    };
    let ctx = DlqContext::open(&args.config.config).await?;
    let outcome = ctx.store.resolve_by_hand(&args.ids, resolution).await?;
    if !outcome.unknown.is_empty() {
        let list: Vec<String> = outcome.unknown.iter().map(i64::to_string).collect();
        bail!("no dead letter with id {} in {}; nothing was changed", list.join(", "), ctx.store.table());
    }
    for (id, previous) in &outcome.already {
        eprintln!("entry {id} was already resolved ({previous}); left unchanged");
    }
    eprintln!("resolved {} entr{} as {resolution}", outcome.resolved.len(), plural_y(outcome.resolved.len()));
    Ok(ExitCode::SUCCESS)
}

fn plural_y(n: usize) -> &'static str {
    if n == 1 { "y" } else { "ies" }
}

/// Entry point of `sluice dlq purge --resolved [--older-than D] [--dry-run]`.
pub async fn purge(args: &DlqPurgeArgs) -> anyhow::Result<ExitCode> {
    if !args.resolved {
        return Err(UsageError::error("--resolved is required: unresolved entries are never purged"));
    }
    let now = Utc::now();
    let cutoff = match &args.older_than {
        Some(text) => {
            let d = parse_duration("--older-than", text)?;
            let d = chrono::Duration::from_std(d)
                .map_err(|_| UsageError::error(format!("--older-than: {text:?} is too long")))?;
            Some(
                now.checked_sub_signed(d)
                    .ok_or_else(|| UsageError::error(format!("--older-than: {text:?} is too long")))?,
            )
        }
        None => None,
    };
    let ctx = DlqContext::open(&args.config.config).await?;
    let filter = EntryFilter { group: args.group.clone().or(ctx.group.clone()), ..EntryFilter::default() };
    let n = ctx.store.purge(&filter, cutoff, args.dry_run).await?;
    let when = match (&args.older_than, cutoff) {
        (Some(text), Some(c)) => format!(" resolved more than {text} ago (before {})", super::dlq::fmt_time(&c)),
        _ => String::new(),
    };
    if args.dry_run {
        eprintln!("dry run: would purge {n} resolved entr{}{when}; nothing was deleted", plural_y(n as usize));
    } else {
        eprintln!("purged {n} resolved entr{}{when}", plural_y(n as usize));
    }
    Ok(ExitCode::SUCCESS)
}
