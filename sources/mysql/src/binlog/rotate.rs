//! ROTATE events, including the fake rotate a server sends first.
//!
//! When a replica asks for checksums (`@master_binlog_checksum`), the server
//! appends a CRC32 to every event — also to the artificial ROTATE it sends
//! *before* the FORMAT_DESCRIPTION event that announces the checksum. A reader
//! that does not know the checksum yet would take those 4 bytes as part of the
//! file name (MariaDB and MySQL both do this). We strip them when they are a
//! valid CRC32 of the event.

/// A parsed ROTATE event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotate {
    /// The next file to read.
    pub file: String,
    /// Position in that file of its first event.
    pub position: u64,
    /// True for the artificial rotate the server sends when a dump starts
    /// (header timestamp and log position 0).
    pub fake: bool,
}

/// The 19-byte v4 event header, rebuilt to verify a checksum.
#[derive(Debug, Clone, Copy)]
pub struct RawHeader {
    pub timestamp: u32,
    pub event_type: u8,
    pub server_id: u32,
    pub event_size: u32,
    pub log_pos: u32,
    pub flags: u16,
}

impl RawHeader {
    fn bytes(&self) -> [u8; 19] {
        let mut out = [0u8; 19];
        out[0..4].copy_from_slice(&self.timestamp.to_le_bytes());
        out[4] = self.event_type;
        out[5..9].copy_from_slice(&self.server_id.to_le_bytes());
        out[9..13].copy_from_slice(&self.event_size.to_le_bytes());
        out[13..17].copy_from_slice(&self.log_pos.to_le_bytes());
        out[17..19].copy_from_slice(&self.flags.to_le_bytes());
        out
    }
}

/// Parses a ROTATE body. `checksum_known` is true once a FORMAT_DESCRIPTION
/// event told the reader the checksum algorithm (the body then has no CRC);
/// before that a trailing CRC32 is detected and removed.
pub fn parse_rotate(header: &RawHeader, data: &[u8], checksum_known: bool) -> Option<Rotate> {
    if data.len() < 8 {
        return None;
    }
    let mut name = &data[8..];
    if !checksum_known && name.len() > 4 {
        let (body, crc) = data.split_at(data.len() - 4);
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&header.bytes());
        hasher.update(body);
        if hasher.finalize().to_le_bytes() == crc {
            name = &body[8..];
        }
    }
    let mut pos = [0u8; 8];
    pos.copy_from_slice(&data[0..8]);
    Some(Rotate {
        file: String::from_utf8_lossy(name).into_owned(),
        position: u64::from_le_bytes(pos),
        fake: header.timestamp == 0 || header.log_pos == 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // mysql-bin.000001 at 1092 (end 1139) on MariaDB 10.11: ROTATE to mysql-bin.000002 pos 4,
    // CRC32 0x6aea55f0 (`mariadb-binlog --hexdump`).
    const ROTATE: &str = "9134016b 04 01000000 2f000000 73040000 0000 \
                          0400000000000000 6d7973716c2d62696e2e303030303032 f055ea6a";

    fn header(raw: &[u8]) -> RawHeader {
        RawHeader {
            timestamp: u32::from_le_bytes(raw[0..4].try_into().unwrap()),
            event_type: raw[4],
            server_id: u32::from_le_bytes(raw[5..9].try_into().unwrap()),
            event_size: u32::from_le_bytes(raw[9..13].try_into().unwrap()),
            log_pos: u32::from_le_bytes(raw[13..17].try_into().unwrap()),
            flags: u16::from_le_bytes(raw[17..19].try_into().unwrap()),
        }
    }

    #[test]
    fn strips_crc_before_format_description() {
        let raw = hex::decode(ROTATE.replace(' ', "")).unwrap();
        assert_eq!(raw.len(), 0x2f);
        let h = header(&raw);
        // Before the FDE the body still carries the CRC.
        let r = parse_rotate(&h, &raw[19..], false).unwrap();
        assert_eq!(r.file, "mysql-bin.000002");
        assert_eq!(r.position, 4);
        assert!(!r.fake);
        // After the FDE the reader has removed it already.
        let r = parse_rotate(&h, &raw[19..raw.len() - 4], true).unwrap();
        assert_eq!(r.file, "mysql-bin.000002");
        // A body without CRC before the FDE (server without checksums) is kept whole.
        let mut h2 = h;
        h2.event_size -= 4;
        let r = parse_rotate(&h2, &raw[19..raw.len() - 4], false).unwrap();
        assert_eq!(r.file, "mysql-bin.000002");
    }
}
