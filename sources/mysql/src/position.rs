//! Binlog positions: what a checkpoint stores and what streaming resumes from.
//!
//! A [`BinlogPosition`] is the position *after* a fully processed transaction
//! (file, offset of the next event) plus, when the server has GTIDs, the GTID
//! set / MariaDB GTID list including that transaction. Resuming from it never
//! re-emits that transaction and never skips the next one. Positions are
//! totally ordered on one server by `(file sequence, pos)`; stores keep them
//! monotonic with [`BinlogPosition::order_key`].

use serde::{Deserialize, Serialize};
use sluice_sink_api::Version;

use crate::gtid::GtidSet;

/// A resumable position in the binlog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BinlogPosition {
    pub file: String,
    pub pos: u64,
    /// GTIDs executed up to here (MySQL set or MariaDB per-domain list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gtid: Option<GtidSet>,
}

impl BinlogPosition {
    pub fn new(file: impl Into<String>, pos: u64) -> Self {
        BinlogPosition { file: file.into(), pos, gtid: None }
    }

    pub fn with_gtid(mut self, gtid: Option<GtidSet>) -> Self {
        self.gtid = gtid;
        self
    }

    /// The numeric suffix of the file name (`mysql-bin.000042` -> 42).
    pub fn file_seq(&self) -> u64 {
        file_seq(&self.file)
    }

    /// A number that grows with the position on one server: `file_seq << 40 | pos`.
    pub fn order_key(&self) -> u128 {
        (u128::from(self.file_seq()) << 64) | u128::from(self.pos)
    }

    /// The version every snapshot row read at this position carries: above
    /// every change committed before it (their rows events start before
    /// `pos`), below every change committed after it (their rows events start
    /// after `pos`, which is where the next event group begins).
    pub fn snapshot_version(&self) -> Version {
        Version::mysql(self.file_seq(), self.pos, 0)
    }
}

impl std::fmt::Display for BinlogPosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.pos)?;
        if let Some(g) = &self.gtid
            && !g.is_empty()
        {
            write!(f, " (gtid {g})")?;
        }
        Ok(())
    }
}

/// The numeric suffix of a binlog file name, 0 when there is none.
pub fn file_seq(file: &str) -> u64 {
    file.rsplit_once('.').and_then(|(_, n)| n.parse().ok()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gtid::Flavor;

    #[test]
    fn seq_order_and_serde() {
        assert_eq!(file_seq("mysql-bin.000042"), 42);
        assert_eq!(file_seq("nodots"), 0);
        let a = BinlogPosition::new("mysql-bin.000002", 900);
        let b = BinlogPosition::new("mysql-bin.000003", 4);
        assert!(a.order_key() < b.order_key());
        assert!(a.snapshot_version() < sluice_sink_api::Version::mysql(2, 901, 0));
        assert!(a.snapshot_version() > sluice_sink_api::Version::mysql(2, 899, 5));
        let g = a.clone().with_gtid(Some(GtidSet::parse(Flavor::Mariadb, "0-1-7").unwrap()));
        let json = serde_json::to_string(&g).unwrap();
        assert_eq!(json, r#"{"file":"mysql-bin.000002","pos":900,"gtid":{"flavor":"mariadb","set":"0-1-7"}}"#);
        assert_eq!(serde_json::from_str::<BinlogPosition>(&json).unwrap(), g);
        assert_eq!(g.to_string(), "mysql-bin.000002:900 (gtid 0-1-7)");
    }
}
