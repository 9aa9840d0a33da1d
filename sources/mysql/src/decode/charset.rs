//! Character sets by collation id: which columns hold text (and how to turn
//! their bytes into UTF-8) and how many bytes a character takes (to render
//! `varchar(N)` from the byte length in the table map).
//!
//! The map is loaded from the server (`information_schema.COLLATIONS`) when
//! the source connects, so MySQL's and MariaDB's ids are both exact; the
//! built-in fallback knows the common ones.

use std::collections::HashMap;
use std::sync::Arc;

/// The `binary` pseudo charset: the column holds bytes, not text.
pub const BINARY_COLLATION: u16 = 63;

/// One character set as far as decoding cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charset {
    pub name: Arc<str>,
    /// Bytes per character at most (utf8mb4 = 4).
    pub max_len: u8,
}

/// Collation id -> charset.
#[derive(Debug, Clone, Default)]
pub struct Charsets {
    by_collation: HashMap<u16, Charset>,
}

impl Charsets {
    /// From `(collation id, charset name, maxlen)` rows.
    pub fn from_rows(rows: impl IntoIterator<Item = (u16, String, u8)>) -> Self {
        let by_collation =
            rows.into_iter().map(|(id, name, max_len)| (id, Charset { name: name.into(), max_len })).collect();
        Charsets { by_collation }
    }

    /// The built-in map of the most common collations (used until the
    /// server's list is loaded, and in unit tests).
    pub fn builtin() -> Self {
        let mut rows: Vec<(u16, String, u8)> = Vec::new();
        for id in [
            45u16, 46, 224, 225, 226, 227, 228, 229, 230, 231, 232, 233, 234, 235, 236, 237, 238, 239, 240, 241, 242,
            243, 244, 245, 246, 247, 255,
        ] {
            rows.push((id, "utf8mb4".into(), 4));
        }
        for id in [
            33u16, 83, 76, 192, 193, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 204, 205, 206, 207, 208, 209,
            210, 211, 223,
        ] {
            rows.push((id, "utf8mb3".into(), 3));
        }
        for id in [5u16, 8, 15, 31, 47, 48, 49, 94] {
            rows.push((id, "latin1".into(), 1));
        }
        for id in [11u16, 65] {
            rows.push((id, "ascii".into(), 1));
        }
        rows.push((BINARY_COLLATION, "binary".into(), 1));
        Charsets::from_rows(rows)
    }

    pub fn get(&self, collation: u16) -> Option<&Charset> {
        self.by_collation.get(&collation)
    }

    /// Bytes per character for `collation` (1 when unknown).
    pub fn max_len(&self, collation: u16) -> u8 {
        self.get(collation).map(|c| c.max_len.max(1)).unwrap_or(1)
    }
}

/// Turns column bytes of `charset` into a string. UTF-8 family and ASCII are
/// taken as is; latin1 is MySQL's cp1252 superset, mapped by code point (the
/// 0x80–0x9f range as Windows-1252); anything else is decoded as UTF-8 with
/// replacement (documented limitation).
pub fn decode_text(bytes: &[u8], charset: Option<&Charset>) -> String {
    match charset.map(|c| &*c.name) {
        Some("latin1") => bytes.iter().map(|&b| latin1_char(b)).collect(),
        _ => match std::str::from_utf8(bytes) {
            Ok(s) => s.to_string(),
            Err(_) => String::from_utf8_lossy(bytes).into_owned(),
        },
    }
}

fn latin1_char(b: u8) -> char {
    const CP1252: [u16; 32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D,
        0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A,
        0x0153, 0x9D, 0x017E, 0x0178,
    ];
    if (0x80..0xa0).contains(&b) {
        char::from_u32(u32::from(CP1252[usize::from(b - 0x80)])).unwrap_or('\u{fffd}')
    } else {
        char::from(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_decoding() {
        let cs = Charsets::builtin();
        assert_eq!(decode_text("héllo".as_bytes(), cs.get(45)), "héllo");
        assert_eq!(decode_text(&[0x68, 0xe9, 0x80], cs.get(8)), "hé€");
        assert_eq!(cs.max_len(45), 4);
        assert_eq!(cs.max_len(9999), 1);
    }
}
