//! Shared helpers: unique key prefixes, configs, a state reader, cleanup.

use std::collections::HashMap;

use async_trait::async_trait;
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use sluice_sink_api::conformance::StateReader;
use sluice_sink_api::{Row, Sink, TableId, Value};
use sluice_sink_redis::config::DEFAULT_VERSION_FIELD;
use sluice_sink_redis::{MaterializeConfig, MaterializeFormat, RedisMode, RedisSink, RedisSinkConfig};

/// The shared Redis URL, after failing loudly if it is not reachable.
pub async fn shared_url() -> String {
    let url = sluice_testkit::redis_url();
    sluice_testkit::require("redis", &url).await;
    url
}

/// A key prefix unique to this call (`<name>_<pid>_<time>_<n>:`).
pub fn prefix(name: &str) -> String {
    format!("{}:", sluice_testkit::unique_name(name))
}

/// A plain connection for test setup and checks (generous timeout: the
/// machine may be loaded).
pub async fn connect(url: &str) -> MultiplexedConnection {
    let config = redis::AsyncConnectionConfig::new().set_response_timeout(Some(std::time::Duration::from_secs(10)));
    redis::Client::open(url)
        .expect("redis url")
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .unwrap_or_else(|e| panic!("connecting to {url}: {e}"))
}

/// Removes every key under `prefix` (SCAN + UNLINK; never FLUSHDB).
pub async fn cleanup(url: &str, prefix: &str) {
    let mut conn = connect(url).await;
    let pattern = format!("{prefix}*");
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .expect("scan");
        if !keys.is_empty() {
            let _: i64 = conn.unlink(&keys).await.expect("unlink");
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
}

/// A materialize config with every default, under `prefix`.
pub fn materialize_config(url: &str, prefix: &str, format: MaterializeFormat) -> RedisSinkConfig {
    let mut config = RedisSinkConfig::new(url, RedisMode::Materialize);
    config.key_prefix = prefix.to_string();
    config.materialize = Some(MaterializeConfig { format, ..MaterializeConfig::default() });
    config
}

pub async fn started(name: &str, config: RedisSinkConfig) -> RedisSink {
    let sink = RedisSink::new(name, config).expect("valid config");
    sink.startup().await.expect("startup");
    sink
}

/// Reads rows stored by a materialize sink with the default key template
/// `{qualified}:{key}`: `id` as [`Value::Int`], every other column as
/// [`Value::Text`] (JSON `null` as [`Value::Null`]); the version field is left out.
pub struct Reader {
    pub conn: MultiplexedConnection,
    pub prefix: String,
    pub format: MaterializeFormat,
}

impl Reader {
    pub async fn new(url: &str, prefix: &str, format: MaterializeFormat) -> Self {
        Reader { conn: connect(url).await, prefix: prefix.to_string(), format }
    }

    pub fn key(&self, table: &TableId, key: &Row) -> String {
        let parts: Vec<String> = key.iter().map(|(_, v)| v.to_plain_string().unwrap_or_default()).collect();
        format!("{}{}:{}", self.prefix, table.qualified(), parts.join(":"))
    }
}

fn typed(name: &str, text: String) -> Value {
    if name == "id" { Value::Int(text.parse().expect("integer id")) } else { Value::Text(text) }
}

#[async_trait]
impl StateReader for Reader {
    async fn read(&self, table: &TableId, key: &Row) -> Result<Option<Row>, String> {
        let redis_key = self.key(table, key);
        let mut conn = self.conn.clone();
        match self.format {
            MaterializeFormat::Hash => {
                let fields: HashMap<String, String> = conn.hgetall(&redis_key).await.map_err(|e| e.to_string())?;
                if fields.is_empty() {
                    return Ok(None);
                }
                let mut names: Vec<_> = fields.into_iter().filter(|(n, _)| n != DEFAULT_VERSION_FIELD).collect();
                names.sort();
                Ok(Some(names.into_iter().map(|(n, v)| (n.clone(), typed(&n, v))).collect()))
            }
            MaterializeFormat::Json => {
                let doc: Option<String> = conn.get(&redis_key).await.map_err(|e| e.to_string())?;
                let Some(doc) = doc else { return Ok(None) };
                let json: serde_json::Value = serde_json::from_str(&doc).map_err(|e| format!("{e}: {doc}"))?;
                let object = json.as_object().ok_or_else(|| format!("not an object: {doc}"))?;
                let mut row = Row::new();
                for (name, value) in object {
                    if name == DEFAULT_VERSION_FIELD {
                        continue;
                    }
                    let value = match value {
                        serde_json::Value::Null => Value::Null,
                        serde_json::Value::Number(n) if name == "id" => Value::Int(n.as_i64().ok_or("id")?),
                        serde_json::Value::String(s) => Value::Text(s.clone()),
                        other => return Err(format!("unexpected member {name}: {other}")),
                    };
                    row.insert(name.clone(), value);
                }
                Ok(Some(row))
            }
        }
    }
}
