//! The Confluent wire format: magic byte `0x00`, the schema id as 4 bytes
//! big-endian, then the Avro binary datum. Keys and values carry it
//! independently.

use crate::decode::error::FieldError;

/// The first byte of every Confluent-framed record.
pub const MAGIC_BYTE: u8 = 0;
/// Magic byte and schema id.
pub const HEADER_LEN: usize = 5;

/// Whether `bytes` start like a Confluent-framed record (JSON never starts with 0x00).
pub fn is_framed(bytes: &[u8]) -> bool {
    bytes.first() == Some(&MAGIC_BYTE)
}

/// The schema id and the Avro body of a framed record.
pub fn split(bytes: &[u8]) -> Result<(u32, &[u8]), FieldError> {
    match bytes {
        [MAGIC_BYTE, a, b, c, d, body @ ..] => Ok((u32::from_be_bytes([*a, *b, *c, *d]), body)),
        [MAGIC_BYTE, ..] => Err(FieldError::whole(format!(
            "Confluent Avro record of {} bytes is too short: the magic byte and a 4-byte schema id take 5",
            bytes.len()
        ))),
        [first, ..] => Err(FieldError::whole(format!(
            "not a Confluent Avro record: first byte is {first:#04x}, expected the magic byte 0x00{}",
            if *first == b'{' || *first == b'[' {
                " (this looks like JSON: use decode.format = \"auto\" or \"json\")"
            } else {
                ""
            }
        ))),
        [] => Err(FieldError::whole("empty bytes: expected a Confluent Avro record")),
    }
}

/// The schema id alone, when `bytes` are framed and long enough.
pub fn schema_id(bytes: &[u8]) -> Option<u32> {
    split(bytes).ok().map(|(id, _)| id)
}

/// Frames an Avro body with its schema id (for tests, benchmarks and tools).
pub fn frame(id: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.push(MAGIC_BYTE);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_round_trips_and_bad_frames_say_why() {
        let framed = frame(0x0102_0304, b"\x02x");
        assert_eq!(framed, b"\x00\x01\x02\x03\x04\x02x");
        assert_eq!(split(&framed).unwrap(), (0x0102_0304, &b"\x02x"[..]));
        assert_eq!(split(&frame(7, b"")).unwrap(), (7, &b""[..]));
        assert!(split(b"\x00\x00\x01").unwrap_err().message().contains("too short"));
        let err = split(b"{\"a\":1}").unwrap_err();
        assert!(
            err.is_whole() && err.message().contains("0x7b") && err.message().contains("JSON"),
            "{}",
            err.message()
        );
        assert_eq!(schema_id(b"\x01\x00\x00\x00\x07"), None);
    }
}
