//! Version derivation from the Debezium `source` block (DESIGN.md §5,
//! `docs/versions.md`).
//!
//! | connector | inputs | [`Version`] |
//! |---|---|---|
//! | MySQL / MariaDB / sluice source | `file` (`mysql-bin.000003` → 3), `pos`, `row` | [`Version::mysql`] |
//! | PostgreSQL | `sequence` = `["<last commit LSN>", "<change LSN>"]`, else `lsn` | [`Version::postgres`] |
//! | MongoDB | `ts_ms / 1000`, `ord`, in-transaction order (`tord`, else `transaction.total_order`) | [`Version::mongo`] |
//! | SQL Server | `commit_lsn`, `change_lsn`, `event_serial_no` | [`Version::sqlserver`] |
//!
//! The connector is read from `source.connector`; records without it (legacy
//! MySQL records) are recognised by their fields. A record that lacks what
//! its scheme needs is an error naming the missing field, unless the topic is
//! configured to version by Kafka offset.

use sluice_sink_api::Version;

use super::connect::ConnectValue;
use super::error::FieldError;
use super::numbers::{lenient_i64, lenient_u64};

/// Where a topic's versions come from (configured per topic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum VersionSource {
    /// From the record's `source` block, per connector (the default).
    #[default]
    Source,
    /// From the Kafka offset of the record. Valid only while every key of the
    /// table maps to one partition (Debezium's default key partitioner) and
    /// the topic is never re-created; see `docs/versions.md`.
    KafkaOffset,
}

/// The connector families sluice knows how to version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Connector {
    /// MySQL, MariaDB and sluice's own binlog source.
    MySql,
    Postgres,
    MongoDb,
    SqlServer,
    /// Any other `source.connector` value.
    Other(String),
}

fn field<'a>(source: &'a ConnectValue, name: &str) -> Option<&'a ConnectValue> {
    source.field(name).filter(|v| !v.is_null())
}

/// Which connector wrote `source` (None when nothing identifies it).
pub fn detect_connector(source: &ConnectValue) -> Option<Connector> {
    if let Some(name) = field(source, "connector").and_then(ConnectValue::as_str) {
        return Some(match name {
            "mysql" | "mariadb" => Connector::MySql,
            n if n.starts_with("sluice") => Connector::MySql,
            "postgresql" | "postgres" => Connector::Postgres,
            "mongodb" => Connector::MongoDb,
            "sqlserver" => Connector::SqlServer,
            other => Connector::Other(other.to_string()),
        });
    }
    let has = |name: &str| source.field(name).is_some();
    if has("file") && has("pos") {
        Some(Connector::MySql)
    } else if has("commit_lsn") || has("change_lsn") {
        Some(Connector::SqlServer)
    } else if has("lsn") || has("sequence") || has("txId") {
        Some(Connector::Postgres)
    } else if has("ord") || (has("rs") && has("collection")) {
        Some(Connector::MongoDb)
    } else {
        None
    }
}

fn required_u64(source: &ConnectValue, name: &str, what: &str) -> Result<u64, FieldError> {
    match field(source, name) {
        None => Err(FieldError::at_field(name, format!("missing: {what} is needed to derive the version"))),
        Some(v) => lenient_u64(v).ok_or_else(|| {
            FieldError::at_field(name, format!("expected a non-negative integer ({what}), found {}", v.describe()))
        }),
    }
}

/// Derives the version of a change from its `source` block (errors name
/// `source.<field>`). `tx_total_order` is the change's `transaction.total_order`.
pub fn derive(source: &ConnectValue, tx_total_order: Option<u64>) -> Result<Version, FieldError> {
    let version = match detect_connector(source) {
        None => Err(FieldError::at_field(
            "connector",
            "missing: cannot tell which connector wrote the record (no connector, and none of file/pos, lsn, ord, \
             commit_lsn); configure version = \"kafka_offset\" for this topic",
        )),
        Some(Connector::MySql) => mysql(source),
        Some(Connector::Postgres) => postgres(source),
        Some(Connector::MongoDb) => mongo(source, tx_total_order),
        Some(Connector::SqlServer) => sqlserver(source),
        Some(Connector::Other(name)) => Err(FieldError::at_field(
            "connector",
            format!("no version scheme for connector {name:?}; configure version = \"kafka_offset\" for this topic"),
        )),
    };
    version.map_err(|e| e.at("source"))
}

/// The numeric suffix of a binlog file name (`mysql-bin.000003` → 3).
pub fn binlog_file_sequence(file: &str) -> Option<u64> {
    let (_, suffix) = file.rsplit_once('.')?;
    if suffix.is_empty() || !suffix.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    suffix.parse().ok()
}

fn mysql(source: &ConnectValue) -> Result<Version, FieldError> {
    let file = match field(source, "file") {
        Some(ConnectValue::String(f)) => f,
        Some(other) => {
            return Err(FieldError::at_field(
                "file",
                format!("expected a binlog file name, found {}", other.describe()),
            ));
        }
        None => return Err(FieldError::at_field("file", "missing: the binlog file is needed to derive the version")),
    };
    let seq = binlog_file_sequence(file).ok_or_else(|| {
        FieldError::at_field(
            "file",
            format!("expected a binlog file name ending in a sequence number (mysql-bin.000003), found {file:?}"),
        )
    })?;
    let pos = required_u64(source, "pos", "the binlog position")?;
    let row = required_u64(source, "row", "the row index in the rows event")?;
    Ok(Version::mysql(seq, pos, row))
}

fn lsn_of(value: &ConnectValue) -> Option<u64> {
    lenient_u64(value)
}

/// Parses Debezium PostgreSQL's `source.sequence`: a JSON array (usually
/// carried as a string) of `[last commit LSN, change LSN]`, elements as
/// strings, numbers or null.
fn sequence(value: &ConnectValue) -> Result<(Option<u64>, Option<u64>), FieldError> {
    let bad = || {
        FieldError::new(format!("expected a JSON array [\"<last commit LSN>\", \"<LSN>\"], found {}", value.describe()))
    };
    let items: Vec<ConnectValue> = match value {
        ConnectValue::String(text) => match serde_json::from_str::<serde_json::Value>(text).map_err(|_| bad())? {
            serde_json::Value::Array(items) => items.into_iter().map(super::json::infer).collect(),
            _ => return Err(bad()),
        },
        ConnectValue::Array(items) => items.clone(),
        _ => return Err(bad()),
    };
    if items.len() != 2 {
        return Err(bad());
    }
    let element = |v: &ConnectValue| -> Result<Option<u64>, FieldError> {
        match v {
            ConnectValue::Null => Ok(None),
            ConnectValue::String(s) if s == "null" => Ok(None),
            other => lsn_of(other).map(Some).ok_or_else(bad),
        }
    };
    Ok((element(&items[0])?, element(&items[1])?))
}

fn postgres(source: &ConnectValue) -> Result<Version, FieldError> {
    let (commit, change) = match field(source, "sequence") {
        Some(seq) => sequence(seq).map_err(|e| e.at("sequence"))?,
        None => (None, None),
    };
    let change = match change {
        Some(lsn) => lsn,
        None => required_u64(source, "lsn", "the change LSN")?,
    };
    // Without the previous commit LSN, the change LSN stands in for it: per
    // key, writers are serialized by row locks, so a later change of the same
    // key always has a change LSN above the earlier transaction's commit LSN.
    Ok(Version::postgres(commit.unwrap_or(change), change))
}

fn mongo(source: &ConnectValue, tx_total_order: Option<u64>) -> Result<Version, FieldError> {
    let ts_ms = match field(source, "ts_ms") {
        Some(v) => lenient_i64(v).ok_or_else(|| {
            FieldError::at_field("ts_ms", format!("expected int64 milliseconds, found {}", v.describe()))
        })?,
        None => return Err(FieldError::at_field("ts_ms", "missing: the oplog time is needed to derive the version")),
    };
    let seconds = u32::try_from(ts_ms.div_euclid(1000))
        .map_err(|_| FieldError::at_field("ts_ms", format!("oplog time {ts_ms} ms is out of range")))?;
    let ord = required_u64(source, "ord", "the oplog ordinal")?;
    let ord = u32::try_from(ord).map_err(|_| FieldError::at_field("ord", format!("ordinal {ord} is out of range")))?;
    let in_tx = match field(source, "tord") {
        Some(v) => lenient_u64(v)
            .ok_or_else(|| FieldError::at_field("tord", format!("expected an integer, found {}", v.describe())))?,
        None => tx_total_order.unwrap_or(0),
    };
    Ok(Version::mongo(seconds, ord, in_tx.min(u64::from(u32::MAX)) as u32))
}

/// Parses an SQL Server LSN `0000002a:00000758:0003` (VLF:block:slot) into
/// its 80-bit value.
pub fn sqlserver_lsn(text: &str) -> Option<u128> {
    let mut parts = text.split(':');
    let (vlf, block, slot) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || vlf.len() > 8 || block.len() > 8 || slot.len() > 4 {
        return None;
    }
    let vlf = u128::from(u32::from_str_radix(vlf, 16).ok()?);
    let block = u128::from(u32::from_str_radix(block, 16).ok()?);
    let slot = u128::from(u16::from_str_radix(slot, 16).ok()?);
    Some((vlf << 48) | (block << 16) | slot)
}

fn sqlserver(source: &ConnectValue) -> Result<Version, FieldError> {
    let lsn = |name: &str, required: bool| -> Result<u128, FieldError> {
        match field(source, name) {
            Some(ConnectValue::String(text)) => sqlserver_lsn(text).ok_or_else(|| {
                FieldError::at_field(name, format!("expected an LSN like 00000027:00000758:0003, found {text:?}"))
            }),
            Some(other) => {
                Err(FieldError::at_field(name, format!("expected an LSN string, found {}", other.describe())))
            }
            None if required => {
                Err(FieldError::at_field(name, "missing: the commit LSN is needed to derive the version"))
            }
            // Snapshot records carry no change LSN.
            None => Ok(0),
        }
    };
    let commit = lsn("commit_lsn", true)?;
    let change = lsn("change_lsn", false)?;
    let serial = match field(source, "event_serial_no") {
        Some(v) => lenient_u64(v).ok_or_else(|| {
            FieldError::at_field("event_serial_no", format!("expected an integer, found {}", v.describe()))
        })?,
        None => 0,
    };
    Ok(Version::sqlserver(commit, change, serial))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(fields: &[(&str, ConnectValue)]) -> ConnectValue {
        ConnectValue::Struct(fields.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }

    fn s(text: &str) -> ConnectValue {
        ConnectValue::String(text.into())
    }

    #[test]
    fn mysql_rows_of_one_event_and_successive_events_increase() {
        let at = |pos: i64, row: i64| {
            derive(
                &source(&[
                    ("connector", s("mysql")),
                    ("file", s("mysql-bin.000003")),
                    ("pos", ConnectValue::Int(pos)),
                    ("row", ConnectValue::Int(row)),
                ]),
                None,
            )
            .unwrap()
        };
        assert!(at(484, 0) < at(484, 1));
        assert!(at(484, 1) < at(805, 0));
        assert_eq!(at(484, 1), Version::mysql(3, 484, 1));
    }

    #[test]
    fn postgres_sequence_and_fallback() {
        let v = derive(
            &source(&[
                ("connector", s("postgresql")),
                ("sequence", s(r#"["24023119","24023128"]"#)),
                ("lsn", ConnectValue::Int(24023128)),
            ]),
            None,
        )
        .unwrap();
        assert_eq!(v, Version::postgres(24_023_119, 24_023_128));
        let a = derive(&source(&[("connector", s("postgresql")), ("lsn", ConnectValue::Int(100))]), None).unwrap();
        let b = derive(&source(&[("connector", s("postgresql")), ("lsn", ConnectValue::Int(101))]), None).unwrap();
        assert!(a < b);
        let err = derive(&source(&[("connector", s("postgresql")), ("sequence", s("[1]"))]), None).unwrap_err();
        assert_eq!(err.path(), "source.sequence");
        let err = derive(&source(&[("connector", s("postgresql"))]), None).unwrap_err();
        assert_eq!(err.path(), "source.lsn");
    }

    #[test]
    fn sqlserver_lsns() {
        assert_eq!(sqlserver_lsn("00000027:00000758:0005"), Some((0x27u128 << 48) | (0x758 << 16) | 5));
        assert_eq!(sqlserver_lsn("0027:0758"), None);
        assert_eq!(sqlserver_lsn("zz:00000758:0005"), None);
    }

    #[test]
    fn unknown_connector_is_named() {
        let err = derive(&source(&[("connector", s("oracle"))]), None).unwrap_err();
        assert_eq!(err.path(), "source.connector");
        let err = derive(&source(&[]), None).unwrap_err();
        assert_eq!(err.path(), "source.connector");
    }
}
