//! Change versions: the total order every sink uses to guard its writes.
//!
//! A [`Version`] orders the changes of one source: it agrees with commit order
//! across transactions and with change order inside a transaction, so two
//! changes of the same key inside one transaction are told apart. Sinks keep
//! the version of the last change they applied per key and ignore anything not
//! newer — that is what makes replays, duplicates and reordering harmless.
//!
//! The value is a `u128` laid out per [`VersionScheme`] (see each constructor).
//! Versions of different schemes are not comparable in a meaningful way; a
//! table is fed by one source, so one scheme. `docs/versions.md` explains the
//! derivation per connector and the Elasticsearch mapping.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Which source position a version was derived from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionScheme {
    /// MySQL/MariaDB binlog: file sequence, event position, row index
    /// (Debezium MySQL and sluice's own binlog source).
    MysqlBinlog,
    /// PostgreSQL: commit LSN of the previous transaction, change LSN
    /// (Debezium `source.sequence`).
    PostgresLsn,
    /// MongoDB: oplog timestamp seconds, ordinal, order inside a transaction.
    MongoOplog,
    /// SQL Server: commit LSN, change LSN, event serial number.
    SqlServerLsn,
    /// Fallback: the Kafka offset. Valid only while every key maps to one
    /// partition (Debezium's default partitioner by key).
    KafkaOffset,
}

/// Returned when a version does not fit the 63-bit mapping Elasticsearch needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("version {version} ({scheme:?}) does not fit the Elasticsearch external version mapping: {reason}")]
pub struct VersionOverflow {
    pub version: u128,
    pub scheme: VersionScheme,
    pub reason: String,
}

/// A totally ordered change version. Ordering compares the value only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Version {
    scheme: VersionScheme,
    value: u128,
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.value.cmp(&other.value)
    }
}

const MYSQL_ROW_BITS: u32 = 20;
const MYSQL_POS_BITS: u32 = 44;

impl Version {
    /// The raw value with its scheme (as stored by a sink and read back).
    pub const fn from_raw(scheme: VersionScheme, value: u128) -> Self {
        Version { scheme, value }
    }

    /// MySQL binlog: `file_seq << 64 | pos << 20 | row`.
    /// `file_seq` is the numeric suffix of `mysql-bin.000042`; `pos` the event
    /// position (< 2^44), `row` the row index inside the rows event (< 2^20).
    /// Out-of-range parts saturate their field, which can only merge versions,
    /// never reorder them.
    pub fn mysql(file_seq: u64, pos: u64, row: u64) -> Self {
        let pos = pos.min((1 << MYSQL_POS_BITS) - 1);
        let row = row.min((1 << MYSQL_ROW_BITS) - 1);
        Version {
            scheme: VersionScheme::MysqlBinlog,
            value: (u128::from(file_seq) << 64) | (u128::from(pos) << MYSQL_ROW_BITS) | u128::from(row),
        }
    }

    /// PostgreSQL: `commit_lsn << 64 | change_lsn`. `commit_lsn` is the first
    /// element of Debezium's `source.sequence` (the commit LSN of the previous
    /// transaction, monotonic in commit order), `change_lsn` the change's LSN.
    pub fn postgres(commit_lsn: u64, change_lsn: u64) -> Self {
        Version { scheme: VersionScheme::PostgresLsn, value: (u128::from(commit_lsn) << 64) | u128::from(change_lsn) }
    }

    /// MongoDB: `seconds << 64 | ord << 32 | in_tx_order`.
    pub fn mongo(seconds: u32, ord: u32, in_tx_order: u32) -> Self {
        Version {
            scheme: VersionScheme::MongoOplog,
            value: (u128::from(seconds) << 64) | (u128::from(ord) << 32) | u128::from(in_tx_order),
        }
    }

    /// SQL Server: `commit_lsn (80 bits) << 48 | change_lsn low 40 bits << 8 | serial`.
    /// Per key the commit LSN grows with commit order; inside one commit the
    /// change LSN (block offset and slot) orders the changes and the event
    /// serial number orders the records of one change. The change LSN is cut to
    /// its low 40 bits, which is exact for transactions spanning less than
    /// 2^24 log blocks of one virtual log file.
    pub fn sqlserver(commit_lsn: u128, change_lsn: u128, event_serial_no: u64) -> Self {
        let commit = commit_lsn & ((1u128 << 80) - 1);
        let change = change_lsn & ((1u128 << 40) - 1);
        Version {
            scheme: VersionScheme::SqlServerLsn,
            value: (commit << 48) | (change << 8) | u128::from(event_serial_no.min(255)),
        }
    }

    /// Fallback: the Kafka offset of the record.
    pub fn kafka_offset(offset: i64) -> Self {
        Version { scheme: VersionScheme::KafkaOffset, value: u128::from(offset.max(0) as u64) }
    }

    pub const fn scheme(&self) -> VersionScheme {
        self.scheme
    }

    pub const fn value(&self) -> u128 {
        self.value
    }

    /// The version for Elasticsearch's `version_type=external_gte`, which needs
    /// a non-negative `i64`. The mapping keeps the per-key order:
    /// - MySQL: `file_seq (20 bits) | pos (32 bits) | row (11 bits)`;
    /// - PostgreSQL: the change LSN (row locks serialize the writers of one key,
    ///   so per key the change LSN grows with commit order);
    /// - MongoDB: `seconds (32 bits) | ord (20 bits) | order in transaction (11 bits)`;
    /// - others: the raw value when it is below 2^63.
    ///
    /// A part that does not fit is an error, never a wrap.
    pub fn to_es_version(&self) -> Result<i64, VersionOverflow> {
        let overflow = |reason: String| VersionOverflow { version: self.value, scheme: self.scheme, reason };
        match self.scheme {
            VersionScheme::MysqlBinlog => {
                let file_seq = (self.value >> 64) as u64;
                let pos = ((self.value >> MYSQL_ROW_BITS) & ((1u128 << MYSQL_POS_BITS) - 1)) as u64;
                let row = (self.value & ((1u128 << MYSQL_ROW_BITS) - 1)) as u64;
                if file_seq >= 1 << 20 {
                    return Err(overflow(format!("binlog file sequence {file_seq} >= 2^20")));
                }
                if pos >= 1 << 32 {
                    return Err(overflow(format!("binlog position {pos} >= 2^32")));
                }
                if row >= 1 << 11 {
                    return Err(overflow(format!("row index {row} in one rows event >= 2^11")));
                }
                Ok(((file_seq << 43) | (pos << 11) | row) as i64)
            }
            VersionScheme::MongoOplog => {
                let seconds = (self.value >> 64) as u64;
                let ord = ((self.value >> 32) & 0xffff_ffff) as u64;
                let in_tx = (self.value & 0xffff_ffff) as u64;
                if seconds >= 1 << 32 {
                    return Err(overflow(format!("oplog seconds {seconds} >= 2^32")));
                }
                if ord >= 1 << 20 {
                    return Err(overflow(format!("oplog ordinal {ord} >= 2^20")));
                }
                if in_tx >= 1 << 11 {
                    return Err(overflow(format!("order inside the transaction {in_tx} >= 2^11")));
                }
                Ok(((seconds << 31) | (ord << 11) | in_tx) as i64)
            }
            VersionScheme::PostgresLsn => {
                let change_lsn = self.value as u64;
                i64::try_from(change_lsn).map_err(|_| overflow(format!("change LSN {change_lsn} >= 2^63")))
            }
            _ => i64::try_from(self.value).map_err(|_| overflow("value >= 2^63".to_string())),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_orders_by_file_then_pos_then_row() {
        assert!(Version::mysql(3, 154, 0) < Version::mysql(3, 484, 0));
        assert!(Version::mysql(3, 484, 0) < Version::mysql(3, 484, 1));
        assert!(Version::mysql(3, 999_999, 9) < Version::mysql(4, 4, 0));
    }

    #[test]
    fn es_mapping_preserves_order_and_rejects_overflow() {
        let a = Version::mysql(3, 484, 0).to_es_version().unwrap();
        let b = Version::mysql(3, 484, 1).to_es_version().unwrap();
        let c = Version::mysql(4, 4, 0).to_es_version().unwrap();
        assert!(a < b && b < c);
        assert!(Version::mysql(1 << 21, 1, 1).to_es_version().is_err());
        assert!(Version::mysql(1, 1, 5000).to_es_version().is_err());
        assert_eq!(Version::postgres(10, 24_023_128).to_es_version().unwrap(), 24_023_128);
        assert!(Version::postgres(1, u64::MAX).to_es_version().is_err());
        assert_eq!(Version::kafka_offset(42).to_es_version().unwrap(), 42);
        let m1 = Version::mongo(1_558_965_508, 31, 0).to_es_version().unwrap();
        let m2 = Version::mongo(1_558_965_508, 31, 1).to_es_version().unwrap();
        let m3 = Version::mongo(1_558_965_509, 1, 0).to_es_version().unwrap();
        assert!(0 < m1 && m1 < m2 && m2 < m3);
        assert!(Version::mongo(1, 1 << 21, 0).to_es_version().is_err());
    }
}
