//! Reading JSON straight into [`ConnectValue`]s, through the Connect schema
//! when there is one (a serde `DeserializeSeed`), without building an
//! intermediate `serde_json::Value` tree.
//!
//! The JSON token types are checked against the schema as they are read:
//! integers against their width (integers written as strings are accepted),
//! `bytes` as base64 (or a number for a `Decimal` in
//! `decimal.format=NUMERIC`), structs member by member (members the schema
//! does not declare are kept with an inferred type; a required member that is
//! missing or null is an error). Without a schema, types are inferred.
//!
//! serde's error type cannot carry a field path, so a failure is recorded in
//! an [`ErrorSlot`] as a [`FieldError`] and every enclosing level prepends its
//! segment while the serde error unwinds. serde_json's recursion limit bounds
//! the nesting.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

use base64::Engine as _;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use sluice_sink_api::UNAVAILABLE_PLACEHOLDER;

use super::connect::{ConnectSchema, ConnectType, ConnectValue};
use super::error::FieldError;
use super::names::CONNECT_DECIMAL;
use super::numbers::parse_decimal_text;

/// Where a visitor records the field error behind a failed deserialization.
pub type ErrorSlot = RefCell<Option<FieldError>>;

/// Records `err` and returns the serde error that stops deserialization.
pub fn fail<E: de::Error>(slot: &ErrorSlot, err: FieldError) -> E {
    *slot.borrow_mut() = Some(err);
    E::custom("field error")
}

/// Prepends `segment` to the recorded field error, if any.
pub fn prefix<E>(slot: &ErrorSlot, segment: &str, err: E) -> E {
    let recorded = slot.borrow_mut().take();
    if let Some(field_error) = recorded {
        *slot.borrow_mut() = Some(field_error.at(segment));
    }
    err
}

/// A JSON object key, borrowed when it has no escapes.
pub struct Key<'a>(pub Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// `int32`, or `int32 (io.debezium.time.Date)` for named primitives.
pub fn type_label(schema: &ConnectSchema) -> String {
    match schema.name() {
        Some(name) if !matches!(schema.kind, ConnectType::Struct) => format!("{} ({name})", schema.kind.as_str()),
        _ => schema.kind.as_str().to_string(),
    }
}

fn shorten(text: String) -> String {
    const MAX: usize = 56;
    if text.chars().count() > MAX { format!("{}…", text.chars().take(MAX).collect::<String>()) } else { text }
}

/// Reads one JSON value: through `schema` when given, inferred otherwise.
#[derive(Clone, Copy)]
pub struct ValueSeed<'a> {
    pub schema: Option<&'a ConnectSchema>,
    pub slot: &'a ErrorSlot,
}

impl<'a> ValueSeed<'a> {
    pub fn new(schema: Option<&'a ConnectSchema>, slot: &'a ErrorSlot) -> Self {
        ValueSeed { schema, slot }
    }

    fn child(&self, schema: Option<&'a ConnectSchema>) -> ValueSeed<'a> {
        ValueSeed { schema, slot: self.slot }
    }

    fn mismatch<E: de::Error>(&self, schema: &ConnectSchema, found: String) -> E {
        fail(self.slot, FieldError::mismatch(type_label(schema), shorten(found)))
    }

    fn integer<E: de::Error>(
        &self,
        schema: &ConnectSchema,
        value: i128,
        found: impl Fn() -> String,
    ) -> Result<ConnectValue, E> {
        let (min, max): (i128, i128) = match schema.kind {
            ConnectType::Int8 => (i8::MIN.into(), i8::MAX.into()),
            ConnectType::Int16 => (i16::MIN.into(), i16::MAX.into()),
            ConnectType::Int32 => (i32::MIN.into(), i32::MAX.into()),
            // int64 also takes values up to u64::MAX (unsigned producers).
            _ => (i64::MIN.into(), u64::MAX.into()),
        };
        if value < min || value > max {
            return Err(self.mismatch(schema, found()));
        }
        Ok(match i64::try_from(value) {
            Ok(i) => ConnectValue::Int(i),
            Err(_) => ConnectValue::UInt(value as u64),
        })
    }

    fn number<E: de::Error>(&self, value: i128, found: impl Fn() -> String) -> Result<ConnectValue, E> {
        let Some(schema) = self.schema else {
            return Ok(match i64::try_from(value) {
                Ok(i) => ConnectValue::Int(i),
                Err(_) => ConnectValue::UInt(value as u64),
            });
        };
        match schema.kind {
            k if k.is_integer() => self.integer(schema, value, found),
            ConnectType::Float32 | ConnectType::Float64 => Ok(ConnectValue::Float(value as f64)),
            ConnectType::Bytes if schema.name() == Some(CONNECT_DECIMAL) => parse_decimal_text(&value.to_string())
                .map(ConnectValue::Decimal)
                .ok_or_else(|| self.mismatch(schema, found())),
            _ => Err(self.mismatch(schema, found())),
        }
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = ConnectValue;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<ConnectValue, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = ConnectValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.schema {
            Some(schema) => f.write_str(&type_label(schema)),
            None => f.write_str("a JSON value"),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<ConnectValue, E> {
        match self.schema {
            Some(schema) if !schema.optional => {
                Err(fail(self.slot, FieldError::new(format!("null for a required {} field", type_label(schema)))))
            }
            _ => Ok(ConnectValue::Null),
        }
    }

    fn visit_none<E: de::Error>(self) -> Result<ConnectValue, E> {
        self.visit_unit()
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<ConnectValue, E> {
        match self.schema {
            None => Ok(ConnectValue::Bool(v)),
            Some(s) if s.kind == ConnectType::Boolean => Ok(ConnectValue::Bool(v)),
            Some(s) => Err(self.mismatch(s, format!("boolean {v}"))),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<ConnectValue, E> {
        self.number(v.into(), || format!("number {v}"))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<ConnectValue, E> {
        self.number(v.into(), || format!("number {v}"))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<ConnectValue, E> {
        let Some(schema) = self.schema else {
            return Ok(ConnectValue::Float(v));
        };
        match schema.kind {
            ConnectType::Float32 | ConnectType::Float64 => Ok(ConnectValue::Float(v)),
            k if k.is_integer() && v.fract() == 0.0 && v.abs() < 9.0e15 => {
                self.integer(schema, v as i128, || format!("number {v}"))
            }
            ConnectType::Bytes if schema.name() == Some(CONNECT_DECIMAL) => parse_decimal_text(&v.to_string())
                .map(ConnectValue::Decimal)
                .ok_or_else(|| self.mismatch(schema, format!("number {v}"))),
            _ => Err(self.mismatch(schema, format!("number {v}"))),
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<ConnectValue, E> {
        let Some(schema) = self.schema else {
            return Ok(ConnectValue::String(v.to_string()));
        };
        let found = || format!("string {v:?}");
        match schema.kind {
            ConnectType::String => Ok(ConnectValue::String(v.to_string())),
            ConnectType::Bytes => match base64::engine::general_purpose::STANDARD.decode(v.as_bytes()) {
                Ok(bytes) => Ok(ConnectValue::Bytes(bytes)),
                // The TOAST placeholder written as text into a bytes column:
                // the interpreter turns it into `Unavailable`.
                Err(_) if v == UNAVAILABLE_PLACEHOLDER => Ok(ConnectValue::String(v.to_string())),
                Err(e) => Err(fail(
                    self.slot,
                    FieldError::new(format!(
                        "expected base64 {}, found {} ({e})",
                        type_label(schema),
                        shorten(found())
                    )),
                )),
            },
            // Documentation quirk: integers printed as strings.
            k if k.is_integer() => match v.trim().parse::<i128>() {
                Ok(n) => self.integer(schema, n, found),
                Err(_) => Err(self.mismatch(schema, found())),
            },
            ConnectType::Float32 | ConnectType::Float64 => match v {
                "NaN" => Ok(ConnectValue::Float(f64::NAN)),
                "Infinity" => Ok(ConnectValue::Float(f64::INFINITY)),
                "-Infinity" => Ok(ConnectValue::Float(f64::NEG_INFINITY)),
                text => text.trim().parse::<f64>().map(ConnectValue::Float).map_err(|_| self.mismatch(schema, found())),
            },
            ConnectType::Boolean if v == "true" || v == "false" => Ok(ConnectValue::Bool(v == "true")),
            _ => Err(self.mismatch(schema, found())),
        }
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<ConnectValue, E> {
        match self.schema {
            None => Ok(ConnectValue::String(v)),
            Some(s) if s.kind == ConnectType::String => Ok(ConnectValue::String(v)),
            Some(_) => self.visit_str(&v),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ConnectValue, A::Error> {
        let items_schema = match self.schema {
            None => None,
            Some(s) if s.kind == ConnectType::Array => s.items.as_deref(),
            Some(s) if s.kind == ConnectType::Map => return self.map_pairs(s, seq),
            Some(s) => return Err(self.mismatch(s, "an array".to_string())),
        };
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        loop {
            let index = items.len();
            match seq.next_element_seed(self.child(items_schema)) {
                Ok(Some(item)) => items.push(item),
                Ok(None) => break,
                Err(e) => return Err(prefix(self.slot, &index.to_string(), e)),
            }
        }
        Ok(ConnectValue::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ConnectValue, A::Error> {
        let schema = match self.schema {
            None => {
                let mut fields = Vec::new();
                while let Some(Key(name)) = map.next_key::<Key<'de>>()? {
                    let value = map.next_value_seed(self.child(None)).map_err(|e| prefix(self.slot, &name, e))?;
                    fields.push((name.into_owned(), value));
                }
                return Ok(ConnectValue::Struct(fields));
            }
            Some(s) => s,
        };
        match schema.kind {
            ConnectType::Struct => self.structure(schema, map),
            ConnectType::Map => {
                let mut entries = Vec::new();
                while let Some(Key(name)) = map.next_key::<Key<'de>>()? {
                    let value = map
                        .next_value_seed(self.child(schema.items.as_deref()))
                        .map_err(|e| prefix(self.slot, &name, e))?;
                    entries.push((ConnectValue::String(name.into_owned()), value));
                }
                Ok(ConnectValue::Map(entries))
            }
            _ => Err(self.mismatch(schema, "an object".to_string())),
        }
    }
}

impl<'a> ValueSeed<'a> {
    fn structure<'de, A: MapAccess<'de>>(
        &self,
        schema: &'a ConnectSchema,
        mut map: A,
    ) -> Result<ConnectValue, A::Error> {
        let fields = &schema.fields;
        let mut values: Vec<Option<(String, ConnectValue)>> = (0..fields.len()).map(|_| None).collect();
        let mut extras = Vec::new();
        let mut next = 0;
        while let Some(Key(name)) = map.next_key::<Key<'de>>()? {
            // Members usually arrive in schema order.
            let index = if fields.get(next).is_some_and(|f| f.name == name) {
                Some(next)
            } else {
                fields.iter().position(|f| f.name == name)
            };
            match index {
                Some(i) => {
                    let value = map
                        .next_value_seed(self.child(Some(&fields[i].schema)))
                        .map_err(|e| prefix(self.slot, &name, e))?;
                    values[i] = Some((name.into_owned(), value));
                    next = i + 1;
                }
                None => {
                    // Not declared by the schema: tolerated, type inferred.
                    let value = map.next_value_seed(self.child(None)).map_err(|e| prefix(self.slot, &name, e))?;
                    extras.push((name.into_owned(), value));
                }
            }
        }
        let mut out = Vec::with_capacity(fields.len() + extras.len());
        for (field, value) in fields.iter().zip(values) {
            match value {
                Some(member) => out.push(member),
                None if field.schema.optional => {}
                None => {
                    return Err(fail(
                        self.slot,
                        FieldError::at_field(
                            &field.name,
                            format!("missing required {} field", type_label(&field.schema)),
                        ),
                    ));
                }
            }
        }
        out.extend(extras);
        Ok(ConnectValue::Struct(out))
    }

    /// A map with non-string keys: JsonConverter writes `[[key, value], …]`.
    fn map_pairs<'de, A: SeqAccess<'de>>(
        &self,
        schema: &'a ConnectSchema,
        mut seq: A,
    ) -> Result<ConnectValue, A::Error> {
        let mut entries = Vec::new();
        loop {
            let index = entries.len();
            let pair =
                PairSeed { keys: self.child(schema.keys.as_deref()), values: self.child(schema.items.as_deref()) };
            match seq.next_element_seed(pair) {
                Ok(Some(entry)) => entries.push(entry),
                Ok(None) => break,
                Err(e) => return Err(prefix(self.slot, &index.to_string(), e)),
            }
        }
        Ok(ConnectValue::Map(entries))
    }
}

/// One `[key, value]` pair of a map written as an array.
struct PairSeed<'a> {
    keys: ValueSeed<'a>,
    values: ValueSeed<'a>,
}

impl<'de> DeserializeSeed<'de> for PairSeed<'_> {
    type Value = (ConnectValue, ConnectValue);

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PairSeed<'_> {
    type Value = (ConnectValue, ConnectValue);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a [key, value] pair")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let slot = self.keys.slot;
        let bad = || fail(slot, FieldError::new("expected a [key, value] pair"));
        let key = seq.next_element_seed(self.keys)?.ok_or_else(bad)?;
        let value = seq.next_element_seed(self.values)?.ok_or_else(bad)?;
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(bad());
        }
        Ok((key, value))
    }
}
