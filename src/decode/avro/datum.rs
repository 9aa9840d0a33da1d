//! Avro binary → [`ConnectValue`], driven by the writer schema's [`Type`] tree.
//!
//! Hand-written (rather than `apache_avro::from_avro_datum` followed by a
//! conversion) so that one pass produces the Connect values the envelope
//! interpreter reads, and so that hostile bytes can never make it allocate
//! beyond the input: every length and block count is checked against the
//! bytes that remain (an array of zero-size items, e.g. nulls, is capped at
//! [`MAX_ZERO_SIZE_ITEMS`]), varints longer than the spec allows are refused,
//! and recursion is bounded by the schema's depth (schemas are not recursive).
//! Errors name the field (`payload.after.email`), the byte offset and what
//! was expected; bytes left over after the datum mean the body does not
//! match its schema id.

use crate::decode::connect::ConnectValue;
use crate::decode::error::{AtField, FieldError};

use super::schema::{Node, Type};

/// Most items an array or map of zero-size values (nulls, empty records) may hold.
pub const MAX_ZERO_SIZE_ITEMS: u64 = 1 << 20;

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// The writer schema's id, for messages.
    schema_id: u32,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn ends_early(&self, what: &str) -> FieldError {
        FieldError::new(format!(
            "the Avro body ends at byte {} while reading {what}: truncated, or not written with schema id {}",
            self.bytes.len(),
            self.schema_id
        ))
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], FieldError> {
        if n > self.remaining() {
            return Err(self.ends_early(what));
        }
        let slice = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }

    /// A zigzag varint of at most 10 bytes.
    fn long(&mut self, what: &str) -> Result<i64, FieldError> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let Some(&byte) = self.bytes.get(self.pos) else {
                return Err(self.ends_early(what));
            };
            self.pos += 1;
            if i == 9 && byte > 1 {
                return Err(FieldError::new(format!("invalid varint at byte {}: more than 64 bits", self.pos - 1)));
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok((value >> 1) as i64 ^ -((value & 1) as i64));
            }
        }
        Err(FieldError::new(format!("invalid varint at byte {}: longer than 10 bytes", self.pos)))
    }

    fn int(&mut self, what: &str) -> Result<i32, FieldError> {
        let start = self.pos;
        let value = self.long(what)?;
        i32::try_from(value).map_err(|_| FieldError::new(format!("int at byte {start} out of range: {value}")))
    }

    /// A length or count: non-negative and (for byte lengths) within the input.
    fn length(&mut self, what: &str) -> Result<usize, FieldError> {
        let start = self.pos;
        let len = self.long(what)?;
        if len < 0 {
            return Err(FieldError::new(format!("negative length {len} at byte {start}")));
        }
        usize::try_from(len).map_err(|_| FieldError::new(format!("length {len} at byte {start} is too large")))
    }

    fn bytes(&mut self, what: &str) -> Result<&'a [u8], FieldError> {
        let len = self.length(what)?;
        self.take(len, what)
    }

    fn string(&mut self) -> Result<String, FieldError> {
        let start = self.pos;
        let raw = self.bytes("a string")?;
        std::str::from_utf8(raw)
            .map(str::to_string)
            .map_err(|e| FieldError::new(format!("the string at byte {start} is not UTF-8: {e}")))
    }

    /// The item count of the next array/map block (0 ends the array), with
    /// the count checked against the remaining bytes.
    fn block(&mut self, item: &Type, total: &mut u64) -> Result<usize, FieldError> {
        let start = self.pos;
        let count = self.long("a block count")?;
        let count = if count < 0 {
            // A negative count is followed by the block's size in bytes.
            self.length("a block size")?;
            count.checked_neg().ok_or_else(|| FieldError::new(format!("invalid block count at byte {start}")))?
        } else {
            count
        } as u64;
        *total += count;
        let fits = if item.min_size == 0 {
            *total <= MAX_ZERO_SIZE_ITEMS
        } else {
            count.saturating_mul(item.min_size as u64) <= self.remaining() as u64
        };
        if !fits {
            return Err(FieldError::new(format!(
                "block of {count} items at byte {start} cannot fit in the {} bytes left",
                self.remaining()
            )));
        }
        Ok(count as usize)
    }
}

/// Decodes one datum of `schema` (registry id `schema_id`) from `bytes`,
/// which must hold exactly one. Errors are rooted at `payload` (the record's
/// data), like the JSON converter's.
pub fn decode(schema: &Type, schema_id: u32, bytes: &[u8]) -> Result<ConnectValue, FieldError> {
    let mut reader = Reader { bytes, pos: 0, schema_id };
    let value = read(&mut reader, schema).at("payload").map_err(|e| {
        if e.message().contains("schema id") {
            e
        } else {
            e.append(&format!(" (Avro body read with schema id {schema_id}: corrupt, or written with another schema)"))
        }
    })?;
    if reader.pos != bytes.len() {
        return Err(FieldError::whole(format!(
            "{} bytes left over after the Avro datum ({} of {} bytes read): the body was not written with schema id {}",
            bytes.len() - reader.pos,
            reader.pos,
            bytes.len(),
            schema_id
        )));
    }
    Ok(value)
}

fn read(r: &mut Reader<'_>, t: &Type) -> Result<ConnectValue, FieldError> {
    Ok(match &t.node {
        Node::Null => ConnectValue::Null,
        Node::Boolean => match r.take(1, "a boolean")?[0] {
            0 => ConnectValue::Bool(false),
            1 => ConnectValue::Bool(true),
            other => return Err(FieldError::new(format!("invalid boolean byte {other:#04x} at byte {}", r.pos - 1))),
        },
        Node::Int => ConnectValue::Int(i64::from(r.int("an int")?)),
        Node::Long => ConnectValue::Int(r.long("a long")?),
        Node::Float => {
            let raw = r.take(4, "a float")?;
            ConnectValue::Float(float32_as_written(f32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]])))
        }
        Node::Double => {
            let raw = r.take(8, "a double")?;
            let mut b = [0u8; 8];
            b.copy_from_slice(raw);
            ConnectValue::Float(f64::from_le_bytes(b))
        }
        Node::Bytes => ConnectValue::Bytes(r.bytes("bytes")?.to_vec()),
        Node::String => ConnectValue::String(r.string()?),
        Node::Fixed(size) => ConnectValue::Bytes(r.take(*size, "a fixed")?.to_vec()),
        Node::Enum(symbols) => {
            let start = r.pos;
            let index = r.long("an enum index")?;
            match usize::try_from(index).ok().and_then(|i| symbols.get(i)) {
                Some(symbol) => ConnectValue::String(symbol.clone()),
                None => {
                    return Err(FieldError::new(format!(
                        "enum index {index} at byte {start} is out of range ({} symbols)",
                        symbols.len()
                    )));
                }
            }
        }
        Node::Array(items) => {
            let mut values = Vec::new();
            let mut total = 0u64;
            loop {
                let count = r.block(items, &mut total)?;
                if count == 0 {
                    break;
                }
                values.reserve(count.min(r.remaining() + 1));
                for _ in 0..count {
                    let i = values.len();
                    values.push(read(r, items).at(&i.to_string())?);
                }
            }
            ConnectValue::Array(values)
        }
        Node::Map(values) => {
            let mut entries = Vec::new();
            let mut total = 0u64;
            loop {
                let count = r.block(values, &mut total)?;
                if count == 0 {
                    break;
                }
                entries.reserve(count.min(r.remaining() + 1));
                for _ in 0..count {
                    let key = r.string()?;
                    let value = read(r, values).at(&key)?;
                    entries.push((ConnectValue::String(key), value));
                }
            }
            ConnectValue::Map(entries)
        }
        Node::MapEntries { key, value } => {
            let mut entries = Vec::new();
            let mut total = 0u64;
            let entry_min = key.min_size + value.min_size;
            let probe = Type { node: Node::Null, connect: t.connect.clone(), min_size: entry_min };
            loop {
                let count = r.block(&probe, &mut total)?;
                if count == 0 {
                    break;
                }
                for _ in 0..count {
                    let i = entries.len().to_string();
                    let k = read(r, key).at("key").at(&i)?;
                    let v = read(r, value).at("value").at(&i)?;
                    entries.push((k, v));
                }
            }
            ConnectValue::Map(entries)
        }
        Node::Record(fields) => {
            let mut members = Vec::with_capacity(fields.len());
            for (name, field) in fields {
                members.push((name.clone(), read(r, field).at(name)?));
            }
            ConnectValue::Struct(members)
        }
        Node::Nullable { null_index, inner } => {
            let start = r.pos;
            match r.long("a union index")? {
                i if i == i64::from(*null_index) => ConnectValue::Null,
                i if i == i64::from(1 - *null_index) => read(r, inner)?,
                i => {
                    return Err(FieldError::new(format!(
                        "union index {i} at byte {start} is out of range (2 branches)"
                    )));
                }
            }
        }
        Node::Union(branches) => {
            let start = r.pos;
            let index = r.long("a union index")?;
            let Some((chosen, (_, branch))) = usize::try_from(index).ok().and_then(|i| branches.get(i).map(|b| (i, b)))
            else {
                return Err(FieldError::new(format!(
                    "union index {index} at byte {start} is out of range ({} branches)",
                    branches.len()
                )));
            };
            let value = read(r, branch)?;
            if branches.len() == 1 || value.is_null() {
                value
            } else {
                let mut members = Vec::with_capacity(branches.len());
                let mut value = Some(value);
                for (j, (name, b)) in branches.iter().enumerate() {
                    if matches!(b.node, Node::Null) {
                        continue;
                    }
                    let v = if j == chosen { value.take().unwrap_or(ConnectValue::Null) } else { ConnectValue::Null };
                    members.push((name.clone(), v));
                }
                ConnectValue::Struct(members)
            }
        }
    })
}

/// A float32 as the shortest decimal that reads back to it (what Java's
/// `Float.toString` and so JsonConverter print), so that an Avro `float`
/// yields the same f64 as its JSON twin (1.1, not 1.100000023841858).
fn float32_as_written(f: f32) -> f64 {
    if !f.is_finite() {
        return f64::from(f);
    }
    f.to_string().parse().unwrap_or(f64::from(f))
}
