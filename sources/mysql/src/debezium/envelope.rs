//! Debezium MySQL envelopes, record keys, transaction metadata and
//! schema-change records, as JsonConverter writes them with
//! `schemas.enable=true`: `{"schema": …, "payload": …}`.
//!
//! Topics: `<server>.<db>.<table>` (row changes, followed by a tombstone after
//! a delete), `<server>.transaction` (BEGIN/END), `<server>` (schema changes).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value as Json, json};
use sluice_sink_api::{Op, TableId, TableSchema};

use super::connect_schema::column_schema;
use super::json_writer;
use crate::schema::SchemaChange;
use crate::stream::{SourceChange, SourceTransaction};

/// `source.version` of every record.
pub const CONNECTOR_VERSION: &str = concat!("sluice-", env!("CARGO_PKG_VERSION"));

/// One Kafka record (JSON bytes). `value: None` is a tombstone.
#[derive(Debug, Clone, PartialEq)]
pub struct KafkaRecord {
    pub topic: String,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
}

/// One table version's pre-serialized parts.
#[derive(Debug)]
struct Cached {
    /// Keeps the schema alive, so its address identifies this entry.
    schema: Arc<TableSchema>,
    topic: String,
    /// `{"schema":<envelope schema>,"payload":` (empty without schemas).
    value_prefix: Vec<u8>,
    /// `{"schema":<key schema>,"payload":` (empty without schemas); `None`
    /// for tables without a primary key (records without key).
    key_prefix: Option<Vec<u8>>,
    /// `"column":` per column of the schema.
    column_keys: Vec<Vec<u8>>,
    /// Indexes of the key columns in `schema.columns`.
    key_columns: Vec<usize>,
}

/// Serializes source items as Debezium would. The schema parts of a table
/// version are serialized once ([`Cached`]); payloads are written straight
/// into the record buffer ([`super::json_writer`]).
#[derive(Debug)]
pub struct DebeziumSerializer {
    server: String,
    /// JsonConverter `schemas.enable`: `{"schema":…,"payload":…}` (true) or the bare payload.
    schemas: bool,
    /// Per table, its recent schema versions (bounded).
    cache: HashMap<TableId, Vec<Arc<Cached>>>,
    /// The last entry used, by schema address (the entry keeps the schema alive).
    last: Option<(usize, Arc<Cached>)>,
}

/// Schema versions kept per table (older ones are rebuilt if they come back).
const VERSIONS_PER_TABLE: usize = 8;

fn source_schema() -> Json {
    json!({"type": "struct", "name": "io.debezium.connector.mysql.Source", "optional": false, "field": "source", "fields": [
        {"type": "string", "optional": false, "field": "version"},
        {"type": "string", "optional": false, "field": "connector"},
        {"type": "string", "optional": false, "field": "name"},
        {"type": "int64", "optional": false, "field": "ts_ms"},
        {"type": "int64", "optional": true, "field": "ts_us"},
        {"type": "int64", "optional": true, "field": "ts_ns"},
        {"type": "string", "optional": true, "name": "io.debezium.data.Enum", "version": 1,
         "parameters": {"allowed": "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},
         "default": "false", "field": "snapshot"},
        {"type": "string", "optional": false, "field": "db"},
        {"type": "string", "optional": true, "field": "sequence"},
        {"type": "string", "optional": true, "field": "table"},
        {"type": "int64", "optional": false, "field": "server_id"},
        {"type": "string", "optional": true, "field": "gtid"},
        {"type": "string", "optional": false, "field": "file"},
        {"type": "int64", "optional": false, "field": "pos"},
        {"type": "int32", "optional": false, "field": "row"},
        {"type": "int64", "optional": true, "field": "thread"},
        {"type": "string", "optional": true, "field": "query"}
    ]})
}

fn block_schema() -> Json {
    json!({"type": "struct", "name": "event.block", "version": 1, "optional": true, "field": "transaction", "fields": [
        {"type": "string", "optional": false, "field": "id"},
        {"type": "int64", "optional": false, "field": "total_order"},
        {"type": "int64", "optional": false, "field": "data_collection_order"}
    ]})
}

fn build_cached(server: &str, schemas: bool, table: &TableId, schema: &Arc<TableSchema>) -> Cached {
    let topic = format!("{server}.{}.{}", table.database.as_deref().unwrap_or_default(), table.table);
    let prefix = &topic;
    let key_columns: Vec<usize> =
        schema.primary_key.iter().filter_map(|k| schema.columns.iter().position(|c| &c.name == k)).collect();
    let column_keys = schema
        .columns
        .iter()
        .map(|c| {
            let mut k = Vec::with_capacity(c.name.len() + 3);
            json_writer::write_key(&mut k, &c.name);
            k
        })
        .collect();
    let (value_prefix, key_prefix) = if schemas {
        let fields: Vec<Json> = schema.columns.iter().map(column_schema).collect();
        let row = |field: &str| json!({"type": "struct", "fields": fields, "optional": true, "name": format!("{prefix}.Value"), "field": field});
        let value_schema = json!({"type": "struct", "optional": false, "name": format!("{prefix}.Envelope"), "version": 2,
            "fields": [row("before"), row("after"), source_schema(),
                {"type": "string", "optional": false, "field": "op"},
                {"type": "int64", "optional": true, "field": "ts_ms"},
                {"type": "int64", "optional": true, "field": "ts_us"},
                {"type": "int64", "optional": true, "field": "ts_ns"},
                block_schema()]});
        let key_prefix = (!key_columns.is_empty()).then(|| {
            let key_fields: Vec<Json> = key_columns
                .iter()
                .map(|&i| {
                    let mut c = schema.columns[i].clone();
                    c.optional = false;
                    column_schema(&c)
                })
                .collect();
            let ks =
                json!({"type": "struct", "fields": key_fields, "optional": false, "name": format!("{prefix}.Key")});
            format!("{{\"schema\":{ks},\"payload\":").into_bytes()
        });
        (format!("{{\"schema\":{value_schema},\"payload\":").into_bytes(), key_prefix)
    } else {
        (Vec::new(), (!key_columns.is_empty()).then(Vec::new))
    };
    Cached { schema: schema.clone(), topic, value_prefix, key_prefix, column_keys, key_columns }
}

impl DebeziumSerializer {
    /// `server` is the logical server name (topic prefix, `source.name`).
    /// Records carry their schema (JsonConverter `schemas.enable=true`).
    pub fn new(server: &str) -> Self {
        DebeziumSerializer::with_schemas(server, true)
    }

    /// Like [`DebeziumSerializer::new`]; `schemas = false` writes the bare
    /// payloads (JsonConverter `schemas.enable=false`).
    pub fn with_schemas(server: &str, schemas: bool) -> Self {
        DebeziumSerializer { server: server.to_string(), schemas, cache: HashMap::new(), last: None }
    }

    pub fn server(&self) -> &str {
        &self.server
    }

    /// Whether records carry their schema.
    pub fn schemas(&self) -> bool {
        self.schemas
    }

    pub fn table_topic(&self, table: &TableId) -> String {
        format!("{}.{}.{}", self.server, table.database.as_deref().unwrap_or_default(), table.table)
    }

    pub fn transaction_topic(&self) -> String {
        format!("{}.transaction", self.server)
    }

    pub fn schema_change_topic(&self) -> String {
        self.server.clone()
    }

    fn cached(&mut self, table: &TableId, schema: &Arc<TableSchema>) -> Arc<Cached> {
        let addr = Arc::as_ptr(schema) as usize;
        if let Some((a, c)) = &self.last
            && *a == addr
        {
            return c.clone();
        }
        let versions = self.cache.entry(table.clone()).or_default();
        let entry = match versions.iter().position(|c| Arc::ptr_eq(&c.schema, schema)) {
            Some(i) => versions[i].clone(),
            None => {
                // The same shape under a new Arc (after a reconnect): reuse its parts.
                let built = match versions.iter().position(|c| c.schema == *schema) {
                    Some(i) => {
                        let old = versions.remove(i);
                        Cached {
                            schema: schema.clone(),
                            topic: old.topic.clone(),
                            value_prefix: old.value_prefix.clone(),
                            key_prefix: old.key_prefix.clone(),
                            column_keys: old.column_keys.clone(),
                            key_columns: old.key_columns.clone(),
                        }
                    }
                    None => build_cached(&self.server, self.schemas, table, schema),
                };
                let c = Arc::new(built);
                if versions.len() >= VERSIONS_PER_TABLE {
                    versions.remove(0);
                }
                versions.push(c.clone());
                c
            }
        };
        // The entry holds this very Arc, so its address cannot be reused while remembered.
        self.last = Some((addr, entry.clone()));
        entry
    }

    fn write_source(&self, buf: &mut Vec<u8>, change: &SourceChange, gtid: Option<&str>, snapshot: &str) {
        let e = &change.event;
        let ts = e.source_ts.unwrap_or_default();
        buf.extend_from_slice(b"{\"version\":\"");
        buf.extend_from_slice(CONNECTOR_VERSION.as_bytes());
        buf.extend_from_slice(b"\",\"connector\":\"mysql\",\"name\":");
        json_writer::write_str(buf, &self.server);
        buf.extend_from_slice(b",\"ts_ms\":");
        json_writer::write_i64(buf, ts.timestamp_millis());
        buf.extend_from_slice(b",\"ts_us\":");
        json_writer::write_i64(buf, ts.timestamp_micros());
        buf.extend_from_slice(b",\"ts_ns\":");
        json_writer::write_i64(buf, ts.timestamp_nanos_opt().unwrap_or(0));
        buf.extend_from_slice(b",\"snapshot\":");
        json_writer::write_str(buf, snapshot);
        buf.extend_from_slice(b",\"db\":");
        json_writer::write_str(buf, e.table.database.as_deref().unwrap_or_default());
        buf.extend_from_slice(b",\"sequence\":null,\"table\":");
        json_writer::write_str(buf, &e.table.table);
        buf.extend_from_slice(b",\"server_id\":");
        json_writer::write_u64(buf, u64::from(change.server_id));
        buf.extend_from_slice(b",\"gtid\":");
        json_writer::write_opt_str(buf, gtid);
        buf.extend_from_slice(b",\"file\":");
        json_writer::write_str(buf, &change.file);
        buf.extend_from_slice(b",\"pos\":");
        json_writer::write_u64(buf, change.pos);
        buf.extend_from_slice(b",\"row\":");
        json_writer::write_u64(buf, u64::from(change.row));
        buf.extend_from_slice(b",\"thread\":");
        match change.thread {
            Some(t) => json_writer::write_u64(buf, u64::from(t)),
            None => buf.extend_from_slice(b"null"),
        }
        buf.extend_from_slice(b",\"query\":");
        json_writer::write_opt_str(buf, change.query.as_deref());
        buf.push(b'}');
    }

    /// The row-change record(s) of one change: the envelope and, after a
    /// delete when `tombstones` is set, a tombstone with the same key.
    /// `snapshot` is Debezium's `source.snapshot` (`"false"` when streaming,
    /// `"true"`/`"last"` for snapshot reads).
    pub fn change_records(
        &mut self,
        change: &SourceChange,
        gtid: Option<&str>,
        snapshot: &str,
        tombstones: bool,
    ) -> Vec<KafkaRecord> {
        let e = &change.event;
        let Some(schema) = e.schema.as_ref() else {
            return Vec::new();
        };
        let cached = self.cached(&e.table, schema);
        let schema = &cached.schema;
        let now = chrono::Utc::now();
        let mut value = Vec::with_capacity(cached.value_prefix.len() + 512);
        value.extend_from_slice(&cached.value_prefix);
        value.extend_from_slice(b"{\"before\":");
        json_writer::write_row(&mut value, schema, &cached.column_keys, e.before.as_ref());
        value.extend_from_slice(b",\"after\":");
        json_writer::write_row(&mut value, schema, &cached.column_keys, e.after.as_ref());
        value.extend_from_slice(b",\"source\":");
        self.write_source(&mut value, change, gtid, snapshot);
        value.extend_from_slice(b",\"op\":\"");
        value.push(e.op.code() as u8);
        value.extend_from_slice(b"\",\"ts_ms\":");
        json_writer::write_i64(&mut value, now.timestamp_millis());
        value.extend_from_slice(b",\"ts_us\":");
        json_writer::write_i64(&mut value, now.timestamp_micros());
        value.extend_from_slice(b",\"ts_ns\":");
        json_writer::write_i64(&mut value, now.timestamp_nanos_opt().unwrap_or(0));
        value.extend_from_slice(b",\"transaction\":");
        match (&e.tx, e.op) {
            (Some(t), op) if op != Op::Read => {
                value.extend_from_slice(b"{\"id\":");
                json_writer::write_str(&mut value, &t.id);
                value.extend_from_slice(b",\"total_order\":");
                json_writer::write_u64(&mut value, t.total_order);
                value.extend_from_slice(b",\"data_collection_order\":");
                json_writer::write_u64(&mut value, t.data_collection_order);
                value.push(b'}');
            }
            _ => value.extend_from_slice(b"null"),
        }
        value.push(b'}');
        if self.schemas {
            value.push(b'}');
        }
        let key = match (&cached.key_prefix, &e.key) {
            (Some(prefix), Some(k)) => {
                let mut buf = Vec::with_capacity(prefix.len() + 32);
                buf.extend_from_slice(prefix);
                buf.push(b'{');
                let mut first = true;
                for &i in &cached.key_columns {
                    let col = &schema.columns[i];
                    if let Some(v) = k.get(&col.name) {
                        if !first {
                            buf.push(b',');
                        }
                        first = false;
                        buf.extend_from_slice(&cached.column_keys[i]);
                        json_writer::write_value(&mut buf, col, v);
                    }
                }
                buf.push(b'}');
                if self.schemas {
                    buf.push(b'}');
                }
                Some(buf)
            }
            _ => None,
        };
        let delete = tombstones && e.op == Op::Delete && key.is_some();
        let mut out = Vec::with_capacity(if delete { 2 } else { 1 });
        if delete {
            out.push(KafkaRecord { topic: cached.topic.clone(), key: key.clone(), value: Some(value) });
            out.push(KafkaRecord { topic: cached.topic.clone(), key, value: None });
        } else {
            out.push(KafkaRecord { topic: cached.topic.clone(), key, value: Some(value) });
        }
        out
    }

    /// Wraps a payload as a record value in this serializer's form.
    fn wrap(&self, schema: Json, payload: Json) -> Vec<u8> {
        if self.schemas {
            json!({"schema": schema, "payload": payload}).to_string().into_bytes()
        } else {
            payload.to_string().into_bytes()
        }
    }

    fn tx_key(&self, id: &str) -> Vec<u8> {
        self.wrap(
            json!({"type": "struct", "optional": false, "name": "io.debezium.connector.common.TransactionMetadataKey",
                "fields": [{"type": "string", "optional": false, "field": "id"}]}),
            json!({"id": id}),
        )
    }

    fn tx_value_schema() -> Json {
        json!({"type": "struct", "optional": false, "name": "io.debezium.connector.common.TransactionMetadataValue", "version": 1,
            "fields": [
                {"type": "string", "optional": false, "field": "status"},
                {"type": "string", "optional": false, "field": "id"},
                {"type": "int64", "optional": true, "field": "event_count"},
                {"type": "array", "optional": true, "field": "data_collections", "items": {"type": "struct", "optional": false,
                    "name": "event.collection", "version": 1, "fields": [
                        {"type": "string", "optional": false, "field": "data_collection"},
                        {"type": "int64", "optional": false, "field": "event_count"}]}},
                {"type": "int64", "optional": false, "field": "ts_ms"}]})
    }

    /// The BEGIN record of a transaction (`<server>.transaction`).
    pub fn transaction_begin(&self, tx: &SourceTransaction) -> KafkaRecord {
        let payload = json!({"status": "BEGIN", "id": tx.id, "event_count": null, "data_collections": null,
            "ts_ms": tx.commit_ts.timestamp_millis()});
        KafkaRecord {
            topic: self.transaction_topic(),
            key: Some(self.tx_key(&tx.id)),
            value: Some(self.wrap(Self::tx_value_schema(), payload)),
        }
    }

    /// The END record of a transaction, with per-table event counts.
    pub fn transaction_end(&self, tx: &SourceTransaction) -> KafkaRecord {
        let collections: Vec<Json> =
            tx.counts.iter().map(|(t, n)| json!({"data_collection": t.data_collection(), "event_count": n})).collect();
        let payload = json!({"status": "END", "id": tx.id, "event_count": tx.changes.len(),
            "data_collections": collections, "ts_ms": tx.commit_ts.timestamp_millis()});
        KafkaRecord {
            topic: self.transaction_topic(),
            key: Some(self.tx_key(&tx.id)),
            value: Some(self.wrap(Self::tx_value_schema(), payload)),
        }
    }

    /// A schema-change record (`<server>`), keyed by database. `tables` are
    /// the current schemas of the affected tables, when known.
    pub fn schema_change(&self, change: &SchemaChange, tables: &[(TableId, Option<Arc<TableSchema>>)]) -> KafkaRecord {
        let key = self.wrap(
            json!({"type": "struct", "optional": false, "name": "io.debezium.connector.mysql.SchemaChangeKey",
                "version": 1, "fields": [{"type": "string", "optional": false, "field": "databaseName"}]}),
            json!({"databaseName": change.database}),
        );
        let kind = match change.kind {
            crate::schema::DdlKind::CreateTable => "CREATE",
            crate::schema::DdlKind::DropTable => "DROP",
            _ => "ALTER",
        };
        let table_changes: Vec<Json> = tables
            .iter()
            .map(|(id, schema)| {
                let table = schema.as_ref().map(|s| {
                    json!({
                        "defaultCharsetName": null,
                        "primaryKeyColumnNames": s.primary_key,
                        "columns": s.columns.iter().enumerate().map(|(i, c)| json!({
                            "name": c.name,
                            "typeName": c.source_type.as_deref().unwrap_or_default().split('(').next().unwrap_or_default().to_ascii_uppercase(),
                            "typeExpression": c.source_type,
                            "position": i + 1,
                            "optional": c.optional,
                        })).collect::<Vec<_>>(),
                    })
                });
                json!({"type": kind, "id": format!("\"{}\".\"{}\"", id.database.as_deref().unwrap_or_default(), id.table), "table": table})
            })
            .collect();
        let ts = change.ts;
        let payload = json!({
            "source": {
                "version": CONNECTOR_VERSION, "connector": "mysql", "name": self.server,
                "ts_ms": ts.timestamp_millis(), "ts_us": ts.timestamp_micros(), "ts_ns": ts.timestamp_nanos_opt().unwrap_or(0),
                "snapshot": "false", "db": change.database, "sequence": null,
                "table": change.tables.first().map(|t| t.table.clone()),
                "server_id": change.server_id, "gtid": change.gtid, "file": change.file, "pos": change.pos, "row": 0,
                "thread": change.thread, "query": null,
            },
            "ts_ms": ts.timestamp_millis(),
            "databaseName": change.database,
            "schemaName": null,
            "ddl": change.ddl,
            "tableChanges": table_changes,
        });
        let column = json!({"type": "struct", "optional": false, "name": "io.debezium.connector.schema.Column", "version": 1,
            "fields": [
                {"type": "string", "optional": false, "field": "name"},
                {"type": "string", "optional": false, "field": "typeName"},
                {"type": "string", "optional": true, "field": "typeExpression"},
                {"type": "int32", "optional": false, "field": "position"},
                {"type": "boolean", "optional": true, "field": "optional"}]});
        let table = json!({"type": "struct", "optional": true, "field": "table", "name": "io.debezium.connector.schema.Table",
            "version": 1, "fields": [
                {"type": "string", "optional": true, "field": "defaultCharsetName"},
                {"type": "array", "optional": true, "field": "primaryKeyColumnNames", "items": {"type": "string", "optional": false}},
                {"type": "array", "optional": false, "field": "columns", "items": column}]});
        let change_item = json!({"type": "struct", "optional": false, "name": "io.debezium.connector.schema.Change", "version": 1,
            "fields": [
                {"type": "string", "optional": false, "field": "type"},
                {"type": "string", "optional": false, "field": "id"},
                table]});
        let schema = json!({"type": "struct", "optional": false, "name": "io.debezium.connector.mysql.SchemaChangeValue", "version": 1,
            "fields": [source_schema(),
                {"type": "int64", "optional": false, "field": "ts_ms"},
                {"type": "string", "optional": true, "field": "databaseName"},
                {"type": "string", "optional": true, "field": "schemaName"},
                {"type": "string", "optional": true, "field": "ddl"},
                {"type": "array", "optional": false, "field": "tableChanges", "items": change_item}]});
        KafkaRecord { topic: self.schema_change_topic(), key: Some(key), value: Some(self.wrap(schema, payload)) }
    }
}
