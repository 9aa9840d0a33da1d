//! Unique names for the objects a test creates on shared services (topics, schemas, indices,
//! key prefixes), so tests running at the same time (threads or processes) never collide.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// `<process id>_<microseconds since the epoch, base 36>_<per-process counter>`.
fn unique_suffix() -> String {
    let micros = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or(0);
    let mut n = micros;
    let mut base36 = Vec::new();
    while n > 0 {
        base36.push(char::from_digit((n % 36) as u32, 36).unwrap_or('0'));
        n /= 36;
    }
    let base36: String = base36.iter().rev().collect();
    format!("{}_{}_{}", std::process::id(), base36, COUNTER.fetch_add(1, Ordering::Relaxed))
}

fn sanitize(prefix: &str, keep: impl Fn(char) -> bool, max: usize) -> String {
    let mut out: String = prefix.chars().map(|c| if keep(c) { c } else { '_' }).collect();
    out.truncate(max);
    out
}

/// A Kafka topic name unique to this call: `<prefix>-<pid>_<time>_<n>`. Characters Kafka does
/// not allow in topic names (anything but `[a-zA-Z0-9._-]`) become `_`; at most 249 chars.
pub fn kafka_topic(prefix: &str) -> String {
    let prefix = sanitize(prefix, |c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'), 200);
    format!("{prefix}-{}", unique_suffix())
}

/// A name unique to this call that is valid unquoted as a PostgreSQL/MariaDB identifier, an
/// Elasticsearch/OpenSearch index name and a Redis key prefix: lowercase `[a-z0-9_]`,
/// starting with a letter, at most 63 characters (`<prefix>_<pid>_<time>_<n>`).
pub fn unique_name(prefix: &str) -> String {
    let prefix =
        sanitize(&prefix.to_ascii_lowercase(), |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_', 30);
    let prefix = if prefix.starts_with(|c: char| c.is_ascii_lowercase()) { prefix } else { format!("t{prefix}") };
    let mut name = format!("{prefix}_{}", unique_suffix());
    name.truncate(63);
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn kafka_topics_are_unique_and_legal() {
        let names: HashSet<String> = (0..1000).map(|_| kafka_topic("orders/v1 ü")).collect();
        assert_eq!(names.len(), 1000);
        for name in &names {
            assert!(name.starts_with("orders_v1__-"), "{name}");
            assert!(name.len() <= 249);
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')), "{name}");
        }
        assert!(kafka_topic(&"x".repeat(400)).len() <= 249);
    }

    #[test]
    fn unique_names_are_identifiers() {
        let names: HashSet<String> = (0..1000).map(|_| unique_name("Sink-Test")).collect();
        assert_eq!(names.len(), 1000);
        for name in names.iter().chain([unique_name("1abc"), unique_name(&"y".repeat(100))].iter()) {
            assert!(name.len() <= 63, "{name}");
            assert!(name.starts_with(|c: char| c.is_ascii_lowercase()), "{name}");
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'), "{name}");
        }
    }
}
