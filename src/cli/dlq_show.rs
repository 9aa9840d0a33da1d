//! `sluice dlq show ID`: everything about one entry — where it came from, why
//! it failed, its replay history, its raw key/value/headers (hex, base64 and
//! text when UTF-8), and how it decodes with today's configuration.

use std::process::ExitCode;

use base64::Engine as _;
use serde_json::{Value as Json, json};

use super::args::DlqShowArgs;
use super::dlq::{DlqContext, build_decoder, fmt_opt_time, fmt_time};
use crate::decode::decoded_to_canonical_json;
use crate::dlq::{DlqEntry, decode_entry, fetch_entry_schemas};

/// Raw bytes in every useful form.
fn bytes_json(bytes: &Option<Vec<u8>>) -> Json {
    match bytes {
        None => Json::Null,
        Some(b) => json!({
            "bytes": b.len(),
            "text": std::str::from_utf8(b).ok(),
            "hex": hex::encode(b),
            "base64": base64::engine::general_purpose::STANDARD.encode(b),
        }),
    }
}

fn entry_json(entry: &DlqEntry, decoded: &Result<Json, String>) -> Json {
    json!({
        "id": entry.id,
        "topic": entry.topic,
        "partition": entry.partition,
        "offset": entry.offset,
        "consumer_group": entry.consumer_group,
        "sink": entry.sink,
        "table": entry.table,
        "class": entry.class,
        "message": entry.message,
        "schema_id": entry.schema_id,
        "failed_at": entry.failed_at,
        "retry_count": entry.retry_count,
        "last_retry_at": entry.last_retry_at,
        "last_error": entry.last_error,
        "resolved_at": entry.resolved_at,
        "resolution": entry.resolution,
        "key": bytes_json(&entry.raw_key),
        "value": bytes_json(&entry.raw_value),
        "headers": entry.header_pairs().iter().map(|(k, v)| json!({"key": k, "value": bytes_json(v)})).collect::<Vec<_>>(),
        "decoded": decoded.as_ref().ok(),
        "decode_error": decoded.as_ref().err(),
    })
}

fn print_bytes(label: &str, bytes: &Option<Vec<u8>>) {
    match bytes {
        None => println!("{label}: none"),
        Some(b) => {
            println!("{label} ({} bytes)", b.len());
            if let Ok(text) = std::str::from_utf8(b) {
                println!("  text    {text}");
            }
            println!("  hex     {}", hex::encode(b));
            println!("  base64  {}", base64::engine::general_purpose::STANDARD.encode(b));
        }
    }
}

fn print_text(entry: &DlqEntry, decoded: &Result<Json, String>) {
    let state = match (&entry.resolution, &entry.resolved_at) {
        (Some(r), Some(at)) => format!("resolved: {r} at {}", fmt_time(at)),
        _ => "unresolved".to_string(),
    };
    println!("dead letter {} ({state})", entry.id);
    let rows: Vec<(&str, String)> = vec![
        ("record", entry.origin()),
        ("consumer group", entry.consumer_group.clone()),
        ("sink", if entry.sink == crate::dlq::ALL_SINKS { "* (every sink)".into() } else { entry.sink.clone() }),
        ("table", entry.table.clone().unwrap_or_else(|| "-".into())),
        ("class", entry.class.clone()),
        ("error", entry.message.clone()),
        ("schema id", entry.schema_id.map(|s| s.to_string()).unwrap_or_else(|| "-".into())),
        ("failed at", fmt_time(&entry.failed_at)),
        ("replays", entry.retry_count.to_string()),
        ("last replay", fmt_opt_time(&entry.last_retry_at)),
        ("last error", entry.last_error.clone().unwrap_or_else(|| "-".into())),
    ];
    for (name, value) in rows {
        println!("  {name:<15}{value}");
    }
    print_bytes("key", &entry.raw_key);
    print_bytes("value", &entry.raw_value);
    let headers = entry.header_pairs();
    if headers.is_empty() {
        println!("headers: none");
    }
    for (k, v) in &headers {
        print_bytes(&format!("header {k:?}"), v);
    }
    match decoded {
        Ok(json) => println!(
            "decoded with today's configuration:\n{}",
            serde_json::to_string_pretty(json).unwrap_or_else(|_| json.to_string())
        ),
        Err(e) => println!("decoded with today's configuration: error: {e}"),
    }
}

/// Entry point of `sluice dlq show`.
pub async fn run(args: &DlqShowArgs) -> anyhow::Result<ExitCode> {
    let ctx = DlqContext::open(&args.config.config).await?;
    let Some(entry) = ctx.store.get(args.id).await? else {
        anyhow::bail!("no dead letter with id {} in {} (see `sluice dlq list`)", args.id, ctx.store.table());
    };
    let decoder = build_decoder(&ctx.loaded)?;
    fetch_entry_schemas(&decoder, &entry).await;
    let decoded = decode_entry(&decoder, &entry).map(|d| decoded_to_canonical_json(&d)).map_err(|e| e.to_string());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&entry_json(&entry, &decoded))?);
    } else {
        print_text(&entry, &decoded);
    }
    Ok(ExitCode::SUCCESS)
}
