//! `sluice dlq replay`: re-decode dead letters with today's configuration and
//! apply them through the versioned sink path; resolve what applied, count
//! and record the error of what did not. See [`crate::dlq::Replayer`] for
//! the semantics and docs/dlq.md for the runbook.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use chrono::Utc;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use sluice_sink_api::Sink;

use super::args::DlqReplayArgs;
use super::dlq::{DlqContext, build_decoder};
use super::dlq_filter::{UsageError, has_conditions, to_entry_filter};
use super::run::build_sinks;
use crate::decode::decoded_to_canonical_json;
use crate::dlq::{DlqEntry, EntryFilter, EntryState, Outcome, RecordCursor, Replayer};
use crate::pipeline::retry::Backoff;

/// Entries read and applied per round trip.
pub const REPLAY_CHUNK: i64 = 1000;

/// Attempts per batch against a failing sink when `retry.max_attempts` is not
/// set: a replay is interactive and must end (the pipeline retries forever).
pub const REPLAY_MAX_ATTEMPTS: u32 = 5;

fn selection_errors(args: &DlqReplayArgs) -> anyhow::Result<()> {
    let conditions = has_conditions(&args.filter);
    if args.ids.is_empty() && !conditions && !args.all {
        return Err(UsageError::error(
            "nothing selected: pass --id ID (repeatable), filters (--table, --topic, --class, --sink, --since, \
             --until), or --all",
        ));
    }
    if args.all && conditions {
        return Err(UsageError::error(
            "--all replays every unresolved entry and cannot be combined with filters; drop --all to replay what \
             the filters select",
        ));
    }
    if args.filter.resolved {
        return Err(UsageError::error("--resolved: replay only takes unresolved entries"));
    }
    Ok(())
}

/// Retries `startup` of every sink a bounded number of times.
async fn start_sinks(sinks: &[Arc<dyn Sink>], backoff: &Backoff) -> anyhow::Result<()> {
    for sink in sinks {
        let mut attempt = 0;
        loop {
            match sink.startup().await {
                Ok(()) => break,
                Err(e) if e.is_transient() && backoff.allows(attempt + 1) => {
                    tracing::warn!(sink = sink.name(), error = %e.full_message(), "sink not reachable yet; retrying");
                    tokio::time::sleep(backoff.delay(attempt)).await;
                    attempt += 1;
                }
                Err(e) => bail!("sink {} cannot start: {}", sink.name(), e.full_message()),
            }
        }
    }
    Ok(())
}

fn progress_bar(total: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} replaying [{bar:40}] {pos}/{len} ({per_sec}, eta {eta}) {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Checks `--id` entries exist; returns the filter for them (unresolved only).
async fn id_filter(ctx: &DlqContext, args: &DlqReplayArgs, base: EntryFilter) -> anyhow::Result<EntryFilter> {
    let ids = args.ids.clone();
    let lookup = EntryFilter { ids: ids.clone(), ..EntryFilter::default() };
    let found = ctx.store.list(&lookup, ids.len() as i64 + 1).await?;
    let mut unknown: Vec<i64> = ids.iter().copied().filter(|id| !found.iter().any(|e| e.id == *id)).collect();
    unknown.dedup();
    if !unknown.is_empty() {
        let list: Vec<String> = unknown.iter().map(i64::to_string).collect();
        bail!("no dead letter with id {} in {} (see `sluice dlq list`)", list.join(", "), ctx.store.table());
    }
    for e in found.iter().filter(|e| e.resolved_at.is_some()) {
        eprintln!(
            "entry {} is already resolved ({} at {}); skipped",
            e.id,
            e.resolution.as_deref().unwrap_or("?"),
            super::dlq::fmt_opt_time(&e.resolved_at)
        );
    }
    // Ids select across consumer groups unless --group narrows them.
    Ok(EntryFilter { ids, group: args.filter.group.clone(), ..base })
}

fn print_plan(replayer: &Replayer<'_>, entry: &DlqEntry, json_lines: bool) {
    let targets = replayer.target_names(entry);
    let decoded = replayer.decode(entry);
    let (action, error) = match (&targets, &decoded) {
        (Err(e), _) => ("fail", Some(e.clone())),
        (_, Err(e)) => ("fail", Some(format!("cannot decode: {e}"))),
        (Ok(_), Ok(d)) if d.as_change().is_some() => ("apply", None),
        (Ok(_), Ok(_)) => ("resolve", None),
    };
    let decoded_json = decoded.as_ref().ok().map(decoded_to_canonical_json);
    if json_lines {
        let line = json!({
            "id": entry.id, "record": entry.origin(), "table": entry.table, "sinks": targets.as_ref().ok(),
            "action": action, "decoded": decoded_json, "error": error,
        });
        println!("{line}");
        return;
    }
    let sinks = targets.map(|t| t.join(", ")).unwrap_or_default();
    match action {
        "apply" => println!("entry {} ({}): would apply to {sinks}", entry.id, entry.origin()),
        "resolve" => println!(
            "entry {} ({}): decodes to a {} (nothing to apply); would be resolved",
            entry.id,
            entry.origin(),
            decoded.as_ref().map(|d| d.kind()).unwrap_or("?")
        ),
        _ => println!("entry {} ({}): would fail: {}", entry.id, entry.origin(), error.unwrap_or_default()),
    }
    if let Some(j) = decoded_json {
        println!("  {j}");
    }
}

/// Entry point of `sluice dlq replay`.
pub async fn run(args: &DlqReplayArgs) -> anyhow::Result<ExitCode> {
    selection_errors(args)?;
    let ctx = DlqContext::open(&args.config.config).await?;
    let mut filter = to_entry_filter(&args.filter, ctx.group.as_deref(), Utc::now())?;
    filter.state = EntryState::Unresolved;
    if !args.ids.is_empty() {
        filter = id_filter(&ctx, args, filter).await?;
    }
    let total = ctx.store.count(&filter).await?;
    if total == 0 {
        eprintln!("nothing to replay: no unresolved dead letter matches");
        return Ok(ExitCode::SUCCESS);
    }
    let c = &ctx.loaded.config;
    let decoder = build_decoder(&ctx.loaded)?;
    let sinks = build_sinks(&ctx.loaded)?;
    let backoff = Backoff {
        max_attempts: Some(c.retry.max_attempts.unwrap_or(REPLAY_MAX_ATTEMPTS)),
        ..Backoff::from_config(&c.retry)
    };
    let replayer = Replayer { decoder: &decoder, sinks: &sinks, backoff };
    if !args.dry_run {
        start_sinks(&sinks, &backoff).await?;
    }
    let bar = if args.dry_run { ProgressBar::hidden() } else { progress_bar(total as u64) };
    let (mut resolved, mut failed, mut seen) = (0u64, 0u64, 0u64);
    let mut cursor: Option<RecordCursor> = None;
    loop {
        let page = ctx.store.page_in_record_order(&filter, cursor.as_ref(), REPLAY_CHUNK).await?;
        let Some(last) = page.last() else { break };
        cursor = Some((last.topic.clone(), last.partition, last.offset, last.id));
        seen += page.len() as u64;
        if args.dry_run {
            replayer.fetch_schemas(&page).await;
            for entry in &page {
                print_plan(&replayer, entry, args.json);
            }
            continue;
        }
        let results = replayer.replay(&page).await;
        let ok: Vec<i64> = results.iter().filter(|r| r.is_resolved()).map(|r| r.id).collect();
        let errors: Vec<(i64, String)> = results
            .iter()
            .filter_map(|r| match &r.outcome {
                Outcome::Failed { error } => Some((r.id, error.clone())),
                Outcome::Resolved { .. } => None,
            })
            .collect();
        ctx.store.mark_replayed(&ok).await?;
        ctx.store.record_failures(&errors).await?;
        resolved += ok.len() as u64;
        failed += errors.len() as u64;
        bar.suspend(|| {
            for r in &results {
                if args.json {
                    println!("{}", serde_json::to_string(r).unwrap_or_default());
                } else if let Outcome::Failed { error } = &r.outcome {
                    println!("entry {} ({}) failed: {error}", r.id, r.record);
                }
            }
        });
        bar.inc(page.len() as u64);
        bar.set_message(format!("{failed} failed"));
    }
    bar.finish_and_clear();
    for sink in &sinks {
        if !args.dry_run
            && let Err(e) = sink.shutdown().await
        {
            tracing::warn!(sink = sink.name(), error = %e.full_message(), "sink shutdown failed");
        }
    }
    if args.dry_run {
        eprintln!("dry run: {seen} entries would be replayed; nothing was changed");
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("replayed {seen} entries: {resolved} resolved, {failed} failed");
    Ok(if failed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
