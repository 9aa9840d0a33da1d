//! GTID positions in both flavours.
//!
//! * MySQL: a GTID is `source_uuid:transaction_id`; a GTID *set* is
//!   `uuid:1-5:7-9,uuid2:1-3` ([`MysqlGtidSet`]).
//! * MariaDB: a GTID is `domain-server-sequence`; a position is the last
//!   GTID per replication domain, `0-1-100,1-2-5` ([`MariadbGtidList`]).
//!
//! [`GtidSet`] holds either, parses and formats the server's own text form.

mod mariadb;
mod mysql;

pub use mariadb::{MariadbGtid, MariadbGtidList};
pub use mysql::{MysqlGtid, MysqlGtidSet, format_uuid as mysql_format_uuid};

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Which server family a position belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    Mysql,
    Mariadb,
}

impl fmt::Display for Flavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flavor::Mysql => "mysql",
            Flavor::Mariadb => "mariadb",
        })
    }
}

/// A GTID position of either flavour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GtidSet {
    Mysql(MysqlGtidSet),
    Mariadb(MariadbGtidList),
}

/// Why a GTID text could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {flavor} GTID `{text}`: {reason}")]
pub struct GtidParseError {
    pub flavor: Flavor,
    pub text: String,
    pub reason: String,
}

impl GtidSet {
    /// Parses the server's text form for `flavor` (empty text = empty set).
    pub fn parse(flavor: Flavor, text: &str) -> Result<Self, GtidParseError> {
        Ok(match flavor {
            Flavor::Mysql => GtidSet::Mysql(text.parse()?),
            Flavor::Mariadb => GtidSet::Mariadb(text.parse()?),
        })
    }

    pub fn flavor(&self) -> Flavor {
        match self {
            GtidSet::Mysql(_) => Flavor::Mysql,
            GtidSet::Mariadb(_) => Flavor::Mariadb,
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            GtidSet::Mysql(s) => s.is_empty(),
            GtidSet::Mariadb(l) => l.is_empty(),
        }
    }
}

impl fmt::Display for GtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GtidSet::Mysql(s) => s.fmt(f),
            GtidSet::Mariadb(l) => l.fmt(f),
        }
    }
}

/// Serialized as `{"flavor":"mariadb","set":"0-1-100"}`.
impl Serialize for GtidSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Repr<'a> {
            flavor: Flavor,
            set: &'a str,
        }
        Repr { flavor: self.flavor(), set: &self.to_string() }.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for GtidSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Repr {
            flavor: Flavor,
            set: String,
        }
        let repr = Repr::deserialize(deserializer)?;
        GtidSet::parse(repr.flavor, &repr.set).map_err(serde::de::Error::custom)
    }
}
