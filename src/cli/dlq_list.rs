//! `sluice dlq list` and `sluice dlq stats`.

use std::process::ExitCode;

use chrono::Utc;

use super::args::{DlqListArgs, DlqStatsArgs};
use super::dlq::{DlqContext, fmt_opt_time, fmt_time, new_table, one_line};
use super::dlq_filter::to_entry_filter;
use crate::dlq::DlqSummary;

/// The state column: `unresolved`, or the resolution and when.
fn state(e: &DlqSummary) -> String {
    match (&e.resolution, &e.resolved_at) {
        (Some(r), Some(at)) => format!("{r} {}", fmt_time(at)),
        _ => "unresolved".to_string(),
    }
}

/// `sluice dlq list`: newest first; a table, or JSON lines with `--json`.
pub async fn list(args: &DlqListArgs) -> anyhow::Result<ExitCode> {
    let ctx = DlqContext::open(&args.config.config).await?;
    let filter = to_entry_filter(&args.filter, ctx.group.as_deref(), Utc::now())?;
    let entries = ctx.store.list(&filter, args.limit).await?;
    if args.json {
        for e in &entries {
            println!("{}", serde_json::to_string(e)?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if entries.is_empty() {
        eprintln!("no dead letters match");
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = new_table(&["ID", "FAILED AT", "RECORD", "SINK", "TABLE", "CLASS", "ERROR", "RETRIES", "STATE"]);
    for e in &entries {
        table.add_row(vec![
            e.id.to_string(),
            fmt_time(&e.failed_at),
            format!("{}/{}@{}", e.topic, e.partition, e.offset),
            e.sink.clone(),
            e.table.clone().unwrap_or_else(|| "-".into()),
            e.class.clone(),
            one_line(e.last_error.as_deref().unwrap_or(&e.message), 100),
            e.retry_count.to_string(),
            state(e),
        ]);
    }
    println!("{table}");
    if entries.len() as i64 == args.limit {
        let total = ctx.store.count(&filter).await?;
        if total > args.limit {
            eprintln!("showing the newest {} of {total} matching entries (--limit)", args.limit);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `sluice dlq stats`: counts by table and error class.
pub async fn stats(args: &DlqStatsArgs) -> anyhow::Result<ExitCode> {
    let ctx = DlqContext::open(&args.config.config).await?;
    let filter = to_entry_filter(&args.filter, ctx.group.as_deref(), Utc::now())?;
    let rows = ctx.store.stats(&filter).await?;
    if args.json {
        for r in &rows {
            println!("{}", serde_json::to_string(r)?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = new_table(&["TABLE", "CLASS", "UNRESOLVED", "RESOLVED", "OLDEST UNRESOLVED"]);
    let (mut unresolved, mut resolved) = (0i64, 0i64);
    for r in &rows {
        unresolved += r.unresolved;
        resolved += r.resolved;
        table.add_row(vec![
            r.table.clone().unwrap_or_else(|| "- (undecodable)".into()),
            r.class.clone(),
            r.unresolved.to_string(),
            r.resolved.to_string(),
            fmt_opt_time(&r.oldest_unresolved),
        ]);
    }
    table.add_row(vec![
        "total".to_string(),
        String::new(),
        unresolved.to_string(),
        resolved.to_string(),
        String::new(),
    ]);
    let scope = match &filter.group {
        Some(g) => format!("consumer group {g}"),
        None => "every consumer group".to_string(),
    };
    println!("dead letters of {scope} in {}\n{table}", ctx.store.table());
    Ok(ExitCode::SUCCESS)
}
