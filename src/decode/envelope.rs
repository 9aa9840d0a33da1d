//! The envelope interpreter: [`ConnectData`] → [`Decoded`].
//!
//! One interpreter serves every wire format. It tells the record kinds apart
//! by content (a configured transaction or heartbeat topic only confirms it),
//! reads the Debezium change envelope (`before`, `after`, `source`, `op`,
//! `transaction`), converts row images with their logical types, derives the
//! version, and checks the record key against the row image.

use sluice_sink_api::{ChangeEvent, Op, Origin, Row, TableId, Value, Version};

use super::connect::{ConnectData, ConnectSchema, ConnectType, ConnectValue};
use super::decoded::{Decoded, Heartbeat, Tombstone};
use super::error::{AtField, DecodeError, FieldError};
use super::logical::{to_plain_json, to_value};
use super::markers::{self, is_heartbeat, is_schema_change, is_tx_marker};
use super::mongo::{self, ID_COLUMN};
use super::names::{HEARTBEAT_VALUE, TX_METADATA_VALUE};
use super::options::DecoderOptions;
use super::record::RawRecord;
use super::source_info::{source_ts, table_from_topic, table_id, tx_ref};
use super::table_schema::TableSchemaCache;
use super::version::{self, Connector, VersionSource};

/// Interprets converted records (see the module docs).
#[derive(Debug)]
pub struct Interpreter<'a> {
    pub options: &'a DecoderOptions,
    pub tables: &'a TableSchemaCache,
}

impl Interpreter<'_> {
    /// Decodes one record from its converted key and value.
    pub fn interpret(
        &self,
        record: &RawRecord<'_>,
        key: Option<ConnectData>,
        value: Option<ConnectData>,
    ) -> Result<Decoded, DecodeError> {
        let origin = record.origin();
        let value = match value {
            Some(v) if !v.value.is_null() => v,
            _ => return self.null_value(record, origin, key),
        };
        let err = |e: FieldError| e.at("payload").into_decode_error(&origin, "value");
        if !matches!(value.value, ConnectValue::Struct(_)) {
            return Err(err(FieldError::mismatch("the Debezium envelope (an object)", value.value.describe())));
        }
        let schema_name = value.schema.as_deref().and_then(ConnectSchema::name);
        let topic = record.topic;
        if self.options.is_transaction_topic(topic)
            || schema_name == Some(TX_METADATA_VALUE)
            || is_tx_marker(&value.value)
        {
            return markers::tx_marker(origin.clone(), &value.value).map(Decoded::TxBoundary).map_err(err);
        }
        if self.options.is_heartbeat_topic(topic) || schema_name == Some(HEARTBEAT_VALUE) || is_heartbeat(&value.value)
        {
            return markers::heartbeat(origin.clone(), &value.value).map(Decoded::Heartbeat).map_err(err);
        }
        if is_schema_change(&value.value) {
            return markers::schema_change(origin.clone(), &value.value).map(Decoded::SchemaChange).map_err(err);
        }
        self.change(record, origin, key, value)
    }

    fn null_value(
        &self,
        record: &RawRecord<'_>,
        origin: Origin,
        key: Option<ConnectData>,
    ) -> Result<Decoded, DecodeError> {
        if self.options.is_heartbeat_topic(record.topic) {
            return Ok(Decoded::Heartbeat(Heartbeat { origin, ts: None }));
        }
        let key = key_row(key, false).map_err(|e| e.into_decode_error(&origin, "key"))?;
        let table = table_from_topic(record.topic, None).unwrap_or_else(|| TableId::new(None, None, record.topic));
        Ok(Decoded::Tombstone(Tombstone { origin, table, key }))
    }

    fn change(
        &self,
        record: &RawRecord<'_>,
        origin: Origin,
        key: Option<ConnectData>,
        value: ConnectData,
    ) -> Result<Decoded, DecodeError> {
        let err = |e: FieldError| e.at("payload").into_decode_error(&origin, "value");
        let ConnectData { schema, value: mut payload } = value;
        let op = match payload.field("op") {
            Some(ConnectValue::String(op)) => op.clone(),
            None | Some(ConnectValue::Null) => {
                return Err(err(FieldError::at_field(
                    "op",
                    "missing: the record is not a change event (no op), transaction marker, schema change or heartbeat",
                )));
            }
            Some(other) => {
                return Err(err(FieldError::at_field("op", format!("expected a string, found {}", other.describe()))));
            }
        };
        if op == "m" {
            return markers::logical_message(origin.clone(), &payload).map(Decoded::Message).map_err(err);
        }
        let op = Op::from_code(&op).ok_or_else(|| {
            err(FieldError::at_field("op", format!("unknown op {op:?} (expected one of c, u, d, r, t, m)")))
        })?;
        let source = match payload.take_field("source") {
            None | Some(ConnectValue::Null) => ConnectValue::Struct(Vec::new()),
            Some(s @ ConnectValue::Struct(_)) => s,
            Some(other) => {
                return Err(err(FieldError::at_field(
                    "source",
                    format!("expected a struct, found {}", other.describe()),
                )));
            }
        };
        let connector = version::detect_connector(&source);
        let table = table_id(&source, record.topic, connector.as_ref()).map_err(&err)?;
        let tx = match payload.field("transaction") {
            None | Some(ConnectValue::Null) => None,
            Some(block) => Some(tx_ref(block).at("transaction").map_err(&err)?),
        };
        let version = match self.options.version_source_for(record.topic) {
            VersionSource::KafkaOffset => Version::kafka_offset(record.offset),
            VersionSource::Source => version::derive(&source, tx.as_ref().map(|t| t.total_order)).map_err(&err)?,
        };

        let before_v = payload.take_field("before").unwrap_or(ConnectValue::Null);
        let after_v = payload.take_field("after").unwrap_or(ConnectValue::Null);
        let is_mongo = connector == Some(Connector::MongoDb)
            || matches!(before_v, ConnectValue::String(_))
            || matches!(after_v, ConnectValue::String(_));
        let key_schema = key.as_ref().and_then(|k| k.schema.clone());
        let key = key_row(key, is_mongo).map_err(|e| e.into_decode_error(&origin, "key"))?;
        let field_schema = |name: &str| schema.as_deref().and_then(|s| s.field(name));
        let (before, after) = if is_mongo {
            mongo_rows(op, &mut payload, before_v, after_v, key.as_ref()).map_err(&err)?
        } else {
            (
                row_from(field_schema("before"), before_v).at("before").map_err(&err)?,
                row_from(field_schema("after"), after_v).at("after").map_err(&err)?,
            )
        };
        match op {
            Op::Create | Op::Read | Op::Update if after.is_none() => {
                return Err(err(FieldError::at_field(
                    "after",
                    format!("missing: an op {:?} event needs the after image", op.code()),
                )));
            }
            Op::Delete if before.is_none() && key.is_none() => {
                return Err(err(FieldError::at_field(
                    "before",
                    "missing: a delete needs the before image or a record key to identify the row",
                )));
            }
            _ => {}
        }
        if let Some(key) = &key {
            let (image, name) = if op == Op::Delete { (before.as_ref(), "before") } else { (after.as_ref(), "after") };
            if let Some(image) = image {
                check_key(key, image, name).map_err(&err)?;
            }
        }
        let table_schema = match &schema {
            Some(envelope) if !is_mongo => {
                let row =
                    field_schema("after").or_else(|| field_schema("before")).filter(|s| s.kind == ConnectType::Struct);
                row.map(|row| self.tables.get(envelope, row, key_schema.as_ref()))
            }
            _ => None,
        };
        Ok(Decoded::Change(ChangeEvent {
            table,
            op,
            key,
            before,
            after,
            version,
            source_ts: source_ts(&source),
            tx,
            origin,
            schema: table_schema,
        }))
    }
}

/// A row image: a struct, each member converted with its field schema.
fn row_from(schema: Option<&ConnectSchema>, value: ConnectValue) -> Result<Option<Row>, FieldError> {
    match value {
        ConnectValue::Null => Ok(None),
        ConnectValue::Struct(fields) => {
            let mut row = Row::with_capacity(fields.len());
            for (name, v) in fields {
                let value = to_value(schema.and_then(|s| s.field(&name)), v).at(&name)?;
                row.insert(name, value);
            }
            Ok(Some(row))
        }
        other => Err(FieldError::mismatch("a row image (struct)", other.describe())),
    }
}

/// The record key as a row of primary-key columns. MongoDB keys carry the
/// document id as extended JSON in `id`; it becomes the `_id` column.
fn key_row(key: Option<ConnectData>, mongo: bool) -> Result<Option<Row>, FieldError> {
    let Some(ConnectData { schema, value }) = key else {
        return Ok(None);
    };
    match value {
        ConnectValue::Null => Ok(None),
        ConnectValue::Struct(fields) => {
            let mut row = Row::with_capacity(fields.len());
            for (name, v) in fields {
                if mongo
                    && name == "id"
                    && let ConnectValue::String(text) = &v
                {
                    row.insert(ID_COLUMN, mongo::key_id(text).at("id").at("payload")?);
                    continue;
                }
                let value = to_value(schema.as_deref().and_then(|s| s.field(&name)), v).at(&name).at("payload")?;
                row.insert(name, value);
            }
            Ok(Some(row))
        }
        other => Err(FieldError::at_field(
            "payload",
            format!("expected a struct of key columns, found {}", other.describe()),
        )),
    }
}

fn same_value(a: &Value, b: &Value) -> bool {
    a == b || a.to_plain_string().is_some_and(|text| Some(text) == b.to_plain_string())
}

/// Every key column present (and available) in the image must hold the key's value.
fn check_key(key: &Row, image: &Row, image_name: &str) -> Result<(), FieldError> {
    for (column, key_value) in key.available() {
        let Some(image_value) = image.get(column) else { continue };
        if image_value.is_unavailable() || same_value(key_value, image_value) {
            continue;
        }
        let show = |v: &Value| v.to_plain_string().unwrap_or_else(|| v.kind().to_string());
        return Err(FieldError::at_field(
            column,
            format!(
                "key does not match the value's primary key: the record key has {column} = {}, the {image_name} image has {}",
                show(key_value),
                show(image_value)
            ),
        )
        .at(image_name));
    }
    Ok(())
}

/// MongoDB images: documents in extended-JSON strings, partial updates from
/// `updateDescription` or a legacy `patch`, deletes identified by `filter`.
fn mongo_rows(
    op: Op,
    payload: &mut ConnectValue,
    before: ConnectValue,
    after: ConnectValue,
    key: Option<&Row>,
) -> Result<(Option<Row>, Option<Row>), FieldError> {
    let document = |v: ConnectValue, name: &str| -> Result<Option<Row>, FieldError> {
        match v {
            ConnectValue::Null => Ok(None),
            ConnectValue::String(text) => mongo::document_row(&text).map(Some).at(name),
            s @ ConnectValue::Struct(_) => row_from(None, s).at(name),
            other => Err(FieldError::at_field(name, format!("expected a document string, found {}", other.describe()))),
        }
    };
    let before = document(before, "before")?;
    let mut after = document(after, "after")?;
    let filter = match payload.take_field("filter") {
        Some(v @ (ConnectValue::String(_) | ConnectValue::Struct(_))) => document(v, "filter")?,
        _ => None,
    };
    let mut partial = false;
    if after.is_none() && op == Op::Update {
        if let Some(description) = payload.take_field("updateDescription").filter(|d| !d.is_null()) {
            let updated = match description.field("updatedFields") {
                Some(ConnectValue::String(text)) => Some(text.clone()),
                Some(s @ ConnectValue::Struct(_)) => Some(to_plain_json(s.clone()).to_string()),
                _ => None,
            };
            let removed: Vec<String> = match description.field("removedFields") {
                Some(ConnectValue::Array(items)) => {
                    items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect()
                }
                _ => Vec::new(),
            };
            let truncated = match description.field("truncatedArrays") {
                Some(ConnectValue::Array(items)) => items.len(),
                _ => 0,
            };
            after =
                Some(mongo::update_description_row(updated.as_deref(), &removed, truncated).at("updateDescription")?);
            partial = true;
        } else if let Some(ConnectValue::String(patch)) = payload.take_field("patch") {
            let (row, full) = mongo::patch_row(&patch).at("patch")?;
            partial = !full;
            after = Some(row);
        }
    }
    if partial && let Some(row) = after.as_mut().filter(|r| !r.contains(ID_COLUMN)) {
        let id = key.and_then(|k| k.get(ID_COLUMN)).or_else(|| filter.as_ref().and_then(|f| f.get(ID_COLUMN)));
        if let Some(id) = id {
            row.insert(ID_COLUMN, id.clone());
        }
    }
    let before = match (before, op) {
        (None, Op::Delete) => filter,
        (before, _) => before,
    };
    Ok((before, after))
}
