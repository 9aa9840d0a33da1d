//! MariaDB GTIDs: `domain-server-sequence`, and the per-domain position list.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use super::{Flavor, GtidParseError};

/// One MariaDB GTID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MariadbGtid {
    pub domain_id: u32,
    pub server_id: u32,
    pub sequence: u64,
}

impl fmt::Display for MariadbGtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.domain_id, self.server_id, self.sequence)
    }
}

fn err(text: &str, reason: impl Into<String>) -> GtidParseError {
    GtidParseError { flavor: Flavor::Mariadb, text: text.to_string(), reason: reason.into() }
}

impl FromStr for MariadbGtid {
    type Err = GtidParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = text.trim().split('-').collect();
        if parts.len() != 3 {
            return Err(err(text, "expected domain-server-sequence"));
        }
        let domain_id = parts[0].parse().map_err(|_| err(text, "domain id is not a 32-bit number"))?;
        let server_id = parts[1].parse().map_err(|_| err(text, "server id is not a 32-bit number"))?;
        let sequence = parts[2].parse().map_err(|_| err(text, "sequence is not a 64-bit number"))?;
        Ok(MariadbGtid { domain_id, server_id, sequence })
    }
}

/// A MariaDB GTID position: the last GTID applied per replication domain
/// (the form of `@@gtid_binlog_pos`, `@slave_connect_state` and GTID_LIST events).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MariadbGtidList {
    domains: BTreeMap<u32, MariadbGtid>,
}

impl MariadbGtidList {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }

    /// Records `gtid` as the latest of its domain.
    pub fn update(&mut self, gtid: MariadbGtid) {
        self.domains.insert(gtid.domain_id, gtid);
    }

    /// The last GTID of `domain_id`.
    pub fn get(&self, domain_id: u32) -> Option<&MariadbGtid> {
        self.domains.get(&domain_id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &MariadbGtid> {
        self.domains.values()
    }

    /// True when `gtid` is at or before this position in its domain.
    pub fn contains(&self, gtid: &MariadbGtid) -> bool {
        self.domains.get(&gtid.domain_id).is_some_and(|last| gtid.sequence <= last.sequence)
    }
}

impl FromIterator<MariadbGtid> for MariadbGtidList {
    fn from_iter<T: IntoIterator<Item = MariadbGtid>>(iter: T) -> Self {
        let mut list = MariadbGtidList::new();
        for gtid in iter {
            list.update(gtid);
        }
        list
    }
}

impl fmt::Display for MariadbGtidList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, gtid) in self.domains.values().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            gtid.fmt(f)?;
        }
        Ok(())
    }
}

impl FromStr for MariadbGtidList {
    type Err = GtidParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut list = MariadbGtidList::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let gtid: MariadbGtid = part.parse().map_err(|e: GtidParseError| err(text, e.reason))?;
            if list.domains.contains_key(&gtid.domain_id) {
                return Err(err(text, format!("domain {} appears twice", gtid.domain_id)));
            }
            list.update(gtid);
        }
        Ok(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_format_update() {
        let mut list: MariadbGtidList = "0-1-100, 1-2-5".parse().unwrap();
        assert_eq!(list.to_string(), "0-1-100,1-2-5");
        list.update("0-3-101".parse().unwrap());
        assert_eq!(list.to_string(), "0-3-101,1-2-5");
        assert!(list.contains(&"1-9-4".parse().unwrap()));
        assert!(!list.contains(&"2-1-1".parse().unwrap()));
        assert_eq!("".parse::<MariadbGtidList>().unwrap(), MariadbGtidList::new());
        assert!("0-1".parse::<MariadbGtidList>().is_err());
        assert!("0-1-x".parse::<MariadbGtidList>().is_err());
        assert!("0-1-1,0-2-2".parse::<MariadbGtidList>().unwrap_err().reason.contains("twice"));
        assert_eq!("4294967295-4294967295-18446744073709551615".parse::<MariadbGtid>().unwrap().sequence, u64::MAX);
    }
}
