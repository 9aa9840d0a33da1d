//! Benchmark: documents/s through the Elasticsearch sink vs a minimal raw
//! `_bulk` client indexing the same documents with the same versions, chunk
//! size and concurrency, in the same run. Run it with `bench/elasticsearch-sink`.
//!
//! Options: `--url URL` (default `SLUICE_TEST_ES_URL` or http://127.0.0.1:19200),
//! `--docs N` (100000), `--batch N` events per `apply` (5000),
//! `--bulk-actions N` (1000), `--concurrency N` (2), `--rounds N` (3; the best round counts).

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{NaiveDate, TimeZone, Utc};
use futures::StreamExt;
use serde_json::{Value as Json, json};
use sluice_sink_api::testing::EventBuilder;
use sluice_sink_api::{ChangeBatch, ChangeEvent, Decimal, Precision, Row, Sink, TableId, Value};
use sluice_sink_elasticsearch::{ElasticsearchSink, ElasticsearchSinkConfig};

struct Options {
    url: String,
    docs: usize,
    batch: usize,
    bulk_actions: usize,
    concurrency: usize,
    rounds: usize,
}

fn options() -> anyhow::Result<Options> {
    let mut o = Options {
        url: std::env::var("SLUICE_TEST_ES_URL").unwrap_or_else(|_| "http://127.0.0.1:19200".into()),
        docs: 100_000,
        batch: 5000,
        bulk_actions: 1000,
        concurrency: 2,
        rounds: 3,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = pair.get(1).with_context(|| format!("{} needs a value", pair[0]))?;
        let number = || value.parse::<usize>().with_context(|| format!("{}: not a number: {value}", pair[0]));
        match pair[0].as_str() {
            "--url" => o.url = value.clone(),
            "--docs" => o.docs = number()?,
            "--batch" => o.batch = number()?,
            "--bulk-actions" => o.bulk_actions = number()?,
            "--concurrency" => o.concurrency = number()?,
            "--rounds" => o.rounds = number()?,
            other => bail!("unknown option {other}"),
        }
    }
    Ok(o)
}

/// A realistic row: a few strings, numbers, a decimal, a timestamp.
fn events(table: &TableId, n: usize) -> Vec<ChangeEvent> {
    let b = EventBuilder::new(table.clone());
    let day = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
    (0..n)
        .map(|i| {
            let row = Row::new()
                .with("name", format!("customer {i}").as_str())
                .with("email", format!("user{i}@example.com").as_str())
                .with("note", "a short free-text note about the customer, long enough to be indexed")
                .with("qty", Value::Int((i % 97) as i64))
                .with("active", i % 3 != 0)
                .with("price", Value::Decimal(Decimal::parse(&format!("{}.{:02}", i % 10_000, i % 100)).unwrap()))
                .with(
                    "created",
                    Value::Timestamp { value: day + chrono::Duration::seconds(i as i64), precision: Precision::MICROS },
                )
                .with(
                    "updated",
                    Value::TimestampTz {
                        value: Utc.timestamp_opt(1_700_000_000 + i as i64, 0).unwrap(),
                        precision: Precision::MILLIS,
                    },
                );
            let mut e = b.upsert_row(i as i64, i as u64 + 1, row);
            e.schema = None;
            e
        })
        .collect()
}

async fn through_sink(o: &Options, events: &[ChangeEvent], index_prefix: &str) -> anyhow::Result<Duration> {
    let mut config = ElasticsearchSinkConfig::new(vec![o.url.clone()]);
    config.index = format!("{index_prefix}-{{table}}");
    config.max_bulk_actions = o.bulk_actions;
    config.max_concurrent_requests = o.concurrency;
    let sink = ElasticsearchSink::new("bench", config)?;
    let started = Instant::now();
    let mut applied = 0;
    for chunk in events.chunks(o.batch) {
        let report = sink
            .apply(&ChangeBatch::from_events(chunk.to_vec()))
            .await
            .map_err(|e| anyhow::anyhow!(e.full_message()))?;
        if !report.rejected.is_empty() {
            bail!("rejections: {:?}", &report.rejected[..1]);
        }
        applied += report.applied + report.stale;
    }
    let elapsed = started.elapsed();
    if applied as usize != events.len() {
        bail!("sink applied {applied} of {}", events.len());
    }
    Ok(elapsed)
}

/// The minimal client: NDJSON of the same documents (already JSON), one
/// `_bulk` per chunk, `errors` checked.
async fn raw_bulk(o: &Options, docs: &[(String, i64, Json)], index: &str) -> anyhow::Result<Duration> {
    let http = reqwest::Client::new();
    let url = format!("{}/_bulk", o.url.trim_end_matches('/'));
    let started = Instant::now();
    let bodies = docs.chunks(o.bulk_actions).map(|chunk| {
        let mut body = Vec::new();
        for (id, version, doc) in chunk {
            let action =
                json!({"index": {"_index": index, "_id": id, "version": version, "version_type": "external_gte"}});
            serde_json::to_writer(&mut body, &action).unwrap();
            body.push(b'\n');
            serde_json::to_writer(&mut body, doc).unwrap();
            body.push(b'\n');
        }
        body
    });
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(bodies)
        .map(|body| {
            let http = http.clone();
            let url = url.clone();
            async move {
                let response = http.post(&url).header("content-type", "application/x-ndjson").body(body).send().await?;
                let parsed: Json = response.json().await?;
                if parsed["errors"] != Json::Bool(false) {
                    bail!("raw _bulk reported errors");
                }
                Ok(())
            }
        })
        .buffer_unordered(o.concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    for r in results {
        r?;
    }
    Ok(elapsed)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let o = options()?;
    let prefix = format!("bench{}", std::process::id());
    let table = TableId::new(Some("bench"), None, "customers");
    let events = events(&table, o.docs);
    let docs: Vec<(String, i64, Json)> = events
        .iter()
        .map(|e| {
            let doc = sluice_sink_elasticsearch::document::build_document(
                e.after.as_ref().unwrap(),
                None,
                &Default::default(),
            );
            (
                e.key.as_ref().unwrap().get("id").unwrap().to_plain_string().unwrap(),
                e.version.to_es_version().unwrap(),
                Json::Object(doc.fields),
            )
        })
        .collect();
    println!(
        "elasticsearch sink benchmark: {} docs, {} events per apply, {} actions per _bulk, concurrency {}, {} rounds, {}",
        o.docs, o.batch, o.bulk_actions, o.concurrency, o.rounds, o.url
    );
    // The sink's own CPU ceiling: documents and _bulk bodies built, no network.
    let started = Instant::now();
    let actions: Vec<sluice_sink_elasticsearch::bulk::BulkAction> = events
        .iter()
        .enumerate()
        .map(|(i, e)| sluice_sink_elasticsearch::bulk::BulkAction {
            event: i,
            kind: sluice_sink_elasticsearch::errors::ActionKind::Index,
            index: "bench".into(),
            id: e.key.as_ref().unwrap().get("id").unwrap().to_plain_string().unwrap(),
            version: e.version.to_es_version().unwrap(),
            doc: Some(
                sluice_sink_elasticsearch::document::build_document(
                    e.after.as_ref().unwrap(),
                    None,
                    &Default::default(),
                )
                .fields,
            ),
        })
        .collect();
    let chunks = sluice_sink_elasticsearch::bulk::chunk_actions(&actions, o.bulk_actions, 5 << 20);
    let encode = started.elapsed();
    println!(
        "encode only (rows -> documents -> {} _bulk bodies, one core): {:.0} docs/s",
        chunks.len(),
        o.docs as f64 / encode.as_secs_f64()
    );
    let (mut best_sink, mut best_raw) = (Duration::MAX, Duration::MAX);
    for round in 0..o.rounds {
        let raw = raw_bulk(&o, &docs, &format!("{prefix}-raw{round}")).await?;
        let sink = through_sink(&o, &events, &format!("{prefix}-sink{round}")).await?;
        let rate = |d: Duration| o.docs as f64 / d.as_secs_f64();
        println!("round {round}: sink {:>9.0} docs/s   raw _bulk {:>9.0} docs/s", rate(sink), rate(raw));
        best_sink = best_sink.min(sink);
        best_raw = best_raw.min(raw);
        let http = reqwest::Client::new();
        for index in [format!("{prefix}-raw{round}"), format!("{prefix}-sink{round}-customers")] {
            http.delete(format!("{}/{index}", o.url.trim_end_matches('/'))).send().await?;
        }
    }
    let rate = |d: Duration| o.docs as f64 / d.as_secs_f64();
    println!(
        "best: sink {:.0} docs/s, raw _bulk {:.0} docs/s, ratio sink/raw = {:.2}",
        rate(best_sink),
        rate(best_raw),
        rate(best_sink) / rate(best_raw)
    );
    Ok(())
}
