//! MySQL GTIDs: `uuid:transaction_id`, and GTID sets `uuid:1-5:7,uuid2:1-3`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use super::{Flavor, GtidParseError};

/// One MySQL GTID. `tag` is MySQL 8.3+'s optional tag (`uuid:tag:n`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MysqlGtid {
    pub source_id: String,
    pub tag: Option<String>,
    pub transaction_id: u64,
}

impl fmt::Display for MysqlGtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.tag {
            Some(tag) => write!(f, "{}:{tag}:{}", self.source_id, self.transaction_id),
            None => write!(f, "{}:{}", self.source_id, self.transaction_id),
        }
    }
}

fn err(text: &str, reason: impl Into<String>) -> GtidParseError {
    GtidParseError { flavor: Flavor::Mysql, text: text.to_string(), reason: reason.into() }
}

/// Formats 16 raw UUID bytes as `8-4-4-4-12` lowercase hex.
pub fn format_uuid(bytes: &[u8; 16]) -> String {
    let h = hex::encode(bytes);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn valid_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `(uuid, tag)`: one GTID source.
type SourceKey = (String, Option<String>);

/// A MySQL GTID set: per source (uuid and optional tag), sorted, merged,
/// inclusive intervals of transaction ids.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MysqlGtidSet {
    /// (uuid, tag) -> inclusive intervals, sorted and non-adjacent.
    sources: BTreeMap<SourceKey, Vec<(u64, u64)>>,
}

impl MysqlGtidSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// Adds one GTID, merging intervals.
    pub fn add(&mut self, gtid: &MysqlGtid) {
        self.add_interval(&gtid.source_id, gtid.tag.as_deref(), gtid.transaction_id, gtid.transaction_id);
    }

    /// Adds the inclusive interval `start..=end` of `source_id`.
    pub fn add_interval(&mut self, source_id: &str, tag: Option<&str>, start: u64, end: u64) {
        let intervals = self.sources.entry((source_id.to_ascii_lowercase(), tag.map(str::to_string))).or_default();
        intervals.push((start, end));
        intervals.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(intervals.len());
        for &(s, e) in intervals.iter() {
            match merged.last_mut() {
                Some(last) if s <= last.1.saturating_add(1) => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        *intervals = merged;
    }

    /// True when `gtid` is in the set.
    pub fn contains(&self, gtid: &MysqlGtid) -> bool {
        self.sources
            .get(&(gtid.source_id.to_ascii_lowercase(), gtid.tag.clone()))
            .is_some_and(|iv| iv.iter().any(|&(s, e)| s <= gtid.transaction_id && gtid.transaction_id <= e))
    }

    /// `(uuid, tag, intervals)` per source, intervals inclusive.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&str>, &[(u64, u64)])> {
        self.sources.iter().map(|((u, t), iv)| (u.as_str(), t.as_deref(), iv.as_slice()))
    }
}

impl fmt::Display for MysqlGtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut last_uuid: Option<&str> = None;
        let mut first = true;
        for ((uuid, tag), intervals) in &self.sources {
            if last_uuid != Some(uuid.as_str()) {
                if !first {
                    f.write_str(",")?;
                }
                f.write_str(uuid)?;
                last_uuid = Some(uuid);
            }
            first = false;
            if let Some(tag) = tag {
                write!(f, ":{tag}")?;
            }
            for &(s, e) in intervals {
                if s == e {
                    write!(f, ":{s}")?;
                } else {
                    write!(f, ":{s}-{e}")?;
                }
            }
        }
        Ok(())
    }
}

impl FromStr for MysqlGtidSet {
    type Err = GtidParseError;

    /// Parses `uuid:1-5:7,uuid2:tag:1-3` (whitespace and newlines, as in
    /// `@@gtid_executed`, are ignored).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let cleaned: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let mut set = MysqlGtidSet::new();
        for part in cleaned.split(',').filter(|p| !p.is_empty()) {
            let mut pieces = part.split(':');
            let uuid = pieces.next().unwrap_or_default();
            if !valid_uuid(uuid) {
                return Err(err(text, format!("`{uuid}` is not a UUID")));
            }
            let mut tag: Option<String> = None;
            let mut any = false;
            for piece in pieces {
                if piece.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') {
                    tag = Some(piece.to_ascii_lowercase());
                    continue;
                }
                let (s, e) = match piece.split_once('-') {
                    Some((s, e)) => (s, e),
                    None => (piece, piece),
                };
                let s: u64 = s.parse().map_err(|_| err(text, format!("`{piece}` is not an interval")))?;
                let e: u64 = e.parse().map_err(|_| err(text, format!("`{piece}` is not an interval")))?;
                if s == 0 || e < s {
                    return Err(err(text, format!("`{piece}` is not a valid interval")));
                }
                set.add_interval(uuid, tag.as_deref(), s, e);
                any = true;
            }
            if !any {
                return Err(err(text, format!("`{part}` has no transaction interval")));
            }
        }
        Ok(set)
    }
}

impl FromStr for MysqlGtid {
    type Err = GtidParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let pieces: Vec<&str> = text.trim().split(':').collect();
        let (uuid, tag, n) = match pieces.as_slice() {
            [u, n] => (*u, None, *n),
            [u, t, n] => (*u, Some(t.to_ascii_lowercase()), *n),
            _ => return Err(err(text, "expected uuid:number")),
        };
        if !valid_uuid(uuid) {
            return Err(err(text, format!("`{uuid}` is not a UUID")));
        }
        let transaction_id = n.parse().map_err(|_| err(text, "transaction id is not a number"))?;
        Ok(MysqlGtid { source_id: uuid.to_ascii_lowercase(), tag, transaction_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
    const B: &str = "0e4d5dcd-a33b-11ea-80f1-02010a22a99e";

    #[test]
    fn parse_merge_format() {
        let mut set: MysqlGtidSet = format!("{A}:1-5:7-9,\n{B}:10").parse().unwrap();
        assert_eq!(set.to_string(), format!("{B}:10,{A}:1-5:7-9"));
        set.add(&format!("{A}:6").parse().unwrap());
        assert_eq!(set.to_string(), format!("{B}:10,{A}:1-9"));
        set.add(&format!("{B}:11").parse().unwrap());
        assert!(set.contains(&format!("{B}:11").parse().unwrap()));
        assert!(!set.contains(&format!("{B}:12").parse().unwrap()));
        assert_eq!(set.to_string(), format!("{B}:10-11,{A}:1-9"));
        assert!("".parse::<MysqlGtidSet>().unwrap().is_empty());
        assert!("nope:1".parse::<MysqlGtidSet>().is_err());
        assert!(format!("{A}:5-3").parse::<MysqlGtidSet>().is_err());
        assert!(A.parse::<MysqlGtidSet>().is_err());
    }

    #[test]
    fn tagged_and_uuid_bytes() {
        let set: MysqlGtidSet = format!("{A}:1-3:blue:1-2").parse().unwrap();
        assert_eq!(set.to_string(), format!("{A}:1-3:blue:1-2"));
        let bytes: [u8; 16] = hex::decode(A.replace('-', "")).unwrap().try_into().unwrap();
        assert_eq!(format_uuid(&bytes), A);
    }
}
