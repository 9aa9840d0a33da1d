//! SQL identifiers: every name that reaches SQL text goes through here.
//!
//! * [`pg_name`] maps a source name to the name stored in Postgres. Postgres
//!   silently truncates identifiers to 63 bytes (NAMEDATALEN - 1), which could
//!   make two long source names collide. Names longer than 63 bytes are
//!   therefore cut at a character boundary to at most 54 bytes and suffixed
//!   with `_` and 8 hex digits of the SHA-256 of the full name: deterministic,
//!   collision-resistant, and always ≤ 63 bytes. NUL (not allowed in Postgres
//!   names) becomes `_`.
//! * [`quote`] double-quotes a name (doubling embedded quotes), so quotes,
//!   semicolons, `--`, unicode and reserved words are plain names.

use sha2::{Digest, Sha256};

/// Postgres' maximum identifier length in bytes.
pub const MAX_IDENT_BYTES: usize = 63;
const HASH_HEX_DIGITS: usize = 8;

/// The Postgres name for a source name (see the module docs).
pub fn pg_name(name: &str) -> String {
    let clean: std::borrow::Cow<'_, str> =
        if name.contains('\0') { name.replace('\0', "_").into() } else { name.into() };
    if clean.len() <= MAX_IDENT_BYTES {
        return clean.into_owned();
    }
    let digest = Sha256::digest(name.as_bytes());
    let suffix = &hex::encode(digest)[..HASH_HEX_DIGITS];
    let budget = MAX_IDENT_BYTES - HASH_HEX_DIGITS - 1;
    let mut cut = budget;
    while !clean.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{suffix}", &clean[..cut])
}

/// [`pg_name`] without allocating when the name is already a valid Postgres name.
pub fn pg_name_cow(name: &str) -> std::borrow::Cow<'_, str> {
    if name.len() <= MAX_IDENT_BYTES && !name.contains('\0') {
        std::borrow::Cow::Borrowed(name)
    } else {
        std::borrow::Cow::Owned(pg_name(name))
    }
}

/// `"name"` with embedded `"` doubled. The name must already be a Postgres
/// name ([`pg_name`]); quoting does not shorten it.
pub fn quote(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `"schema"."table"`.
pub fn qualified(schema: &str, table: &str) -> String {
    format!("{}.{}", quote(schema), quote(table))
}

/// A string literal for DDL statements that cannot take bind parameters
/// (`COMMENT ON`): single quotes doubled, standard_conforming_strings assumed
/// (the default since Postgres 9.1), so backslashes are literal.
pub fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_hostile_names() {
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote("x; DROP TABLE y; --"), "\"x; DROP TABLE y; --\"");
        assert_eq!(qualified("s", "t\""), "\"s\".\"t\"\"\"");
        assert_eq!(literal("it's"), "'it''s'");
    }

    #[test]
    fn long_names_are_cut_and_hashed_deterministically() {
        let long_a = "a".repeat(70);
        let long_b = format!("{}b", "a".repeat(69));
        assert_eq!(pg_name(&long_a).len(), 63);
        assert_eq!(pg_name(&long_a), pg_name(&long_a));
        assert_ne!(pg_name(&long_a), pg_name(&long_b));
        assert_eq!(pg_name("short"), "short");
        assert_eq!(pg_name(&"a".repeat(63)), "a".repeat(63));
        // multi-byte characters are never split
        let unicode = "é".repeat(40);
        let mapped = pg_name(&unicode);
        assert!(mapped.len() <= 63);
        assert!(mapped.starts_with("éé"));
        assert_eq!(pg_name("a\0b"), "a_b");
    }
}
