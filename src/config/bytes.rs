//! Byte sizes in configuration: `16MiB`, `512 KB`, `1048576`.
//!
//! Written by hand: the few crates that parse sizes either lack serde support
//! in their current release or pull in more than this 40-line parser.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// A number of bytes, written in config as an integer or a string with a unit
/// (`B`, `KB`/`KiB`, `MB`/`MiB`, `GB`/`GiB`; decimal units are powers of 1000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub const fn mib(n: u64) -> Self {
        ByteSize(n * 1024 * 1024)
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let split = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let number: f64 = number.parse().map_err(|_| format!("invalid size {text:?}: expected e.g. 16MiB"))?;
        let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "kb" | "k" => 1_000,
            "kib" => 1 << 10,
            "mb" | "m" => 1_000_000,
            "mib" => 1 << 20,
            "gb" | "g" => 1_000_000_000,
            "gib" => 1 << 30,
            other => {
                return Err(format!("invalid size unit {other:?} in {text:?}: use B, KiB, MiB, GiB, KB, MB or GB"));
            }
        };
        Ok(ByteSize((number * multiplier as f64) as u64))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 >= 1 << 20 && self.0.is_multiple_of(1 << 20) {
            write!(f, "{}MiB", self.0 >> 20)
        } else {
            write!(f, "{}B", self.0)
        }
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Int(u64),
            Text(String),
        }
        match Repr::deserialize(deserializer)? {
            Repr::Int(n) => Ok(ByteSize(n)),
            Repr::Text(s) => ByteSize::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(ByteSize::parse("16MiB").unwrap().0, 16 << 20);
        assert_eq!(ByteSize::parse("512 KB").unwrap().0, 512_000);
        assert_eq!(ByteSize::parse("1048576").unwrap().0, 1 << 20);
        assert!(ByteSize::parse("12 parsecs").is_err());
    }
}
