//! `sluice decode`: print records as normalized change events (JSON lines).
//!
//! With `--registry URL`, Confluent Avro records (a file holding the raw
//! bytes of one key or value) are decoded with their writer schema fetched
//! from that registry (one attempt, no retries: a debugging tool must
//! answer). Credentials may be given in the URL (`https://user:pass@host`).

use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::decode::avro::{AvroConverter, AvroRegistry, avro_registry, wire};
use crate::decode::{Decoder, DecoderOptions, RawRecord, VersionSource, decoded_to_canonical_json};
use crate::pipeline::retry::Backoff;
use crate::registry::{HttpRegistry, HttpSettings, OutagePolicy};

use super::args::DecodeArgs;

fn read_input(path: &std::path::Path) -> Result<Vec<u8>, String> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).map_err(|e| format!("reading stdin: {e}"))?;
        Ok(buf)
    } else {
        std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))
    }
}

/// Splits the input into record values: one JSON document (possibly
/// pretty-printed), JSON lines, or one binary (Avro) record.
fn records(input: &[u8]) -> Vec<Vec<u8>> {
    if wire::is_framed(input) {
        // Binary: every byte counts (an Avro body may end in a byte that looks like whitespace).
        return vec![input.to_vec()];
    }
    let trimmed = input.trim_ascii();
    if trimmed.first() == Some(&0) || serde_json::from_slice::<serde::de::IgnoredAny>(trimmed).is_ok() {
        return vec![trimmed.to_vec()];
    }
    if trimmed.is_empty() {
        // An empty value is a tombstone.
        return vec![Vec::new()];
    }
    trimmed.split(|b| *b == b'\n').filter(|l| !l.trim_ascii().is_empty()).map(|l| l.trim_ascii().to_vec()).collect()
}

pub fn run(args: &DecodeArgs) -> ExitCode {
    let input = match read_input(&args.input) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let key = match &args.key {
        Some(path) => match std::fs::read(path) {
            Ok(k) if wire::is_framed(&k) => Some(k),
            Ok(k) => Some(k.trim_ascii().to_vec()),
            Err(e) => {
                eprintln!("error: reading key file {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let options = DecoderOptions {
        version_source: if args.offset_versions { VersionSource::KafkaOffset } else { VersionSource::Source },
        ..DecoderOptions::default()
    };
    let registry = match args.registry.as_deref().map(registry) {
        None => None,
        Some(Ok(r)) => Some(r),
        Some(Err(e)) => {
            eprintln!("error: --registry: {e}");
            return ExitCode::from(2);
        }
    };
    let decoder = Decoder::with_converter(options, Arc::new(AvroConverter::new(registry)));
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut failed = 0usize;
    for (i, value) in records(&input).iter().enumerate() {
        let offset = args.offset + i as i64;
        let value = if value.is_empty() { None } else { Some(value.as_slice()) };
        let record = RawRecord::new(&args.topic, args.partition, offset, key.as_deref(), value);
        match runtime.block_on(decoder.decode_resolving(&record)) {
            Ok(decoded) => println!("{}", decoded_to_canonical_json(&decoded)),
            Err(e) => {
                failed += 1;
                eprintln!("error: {e}");
            }
        }
    }
    if failed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

/// The registry of `--registry URL`: one attempt per schema, 10 s timeout.
fn registry(url: &str) -> Result<Arc<AvroRegistry>, String> {
    let http = HttpRegistry::new(&HttpSettings {
        url: url.to_string(),
        username: None,
        password: None,
        ca_file: None,
        request_timeout: Duration::from_secs(10),
    })
    .map_err(|e| e.to_string())?;
    let policy = OutagePolicy {
        unavailable_retry: Duration::ZERO,
        backoff: Backoff { initial: Duration::ZERO, max: Duration::ZERO, max_attempts: Some(1) },
    };
    Ok(Arc::new(avro_registry(Arc::new(http), 64, policy)))
}
