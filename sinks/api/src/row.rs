//! Rows: ordered column name/value pairs.

use std::fmt;

use crate::value::Value;

/// An ordered list of columns. Order is the source's column order, which
/// sinks use when they create tables or render keys.
///
/// A column *absent* from a row is not written by sinks (partial images,
/// MongoDB patches); a column present with [`Value::Unavailable`] is not
/// written either; a column present with [`Value::Null`] is written as NULL.
#[derive(Clone, PartialEq, Default)]
pub struct Row {
    columns: Vec<(String, Value)>,
}

impl Row {
    pub fn new() -> Self {
        Row::default()
    }

    pub fn with_capacity(capacity: usize) -> Self {
        Row { columns: Vec::with_capacity(capacity) }
    }

    /// Appends a column, or replaces the value of an existing one (keeping its place).
    pub fn insert(&mut self, name: impl Into<String>, value: Value) {
        let name = name.into();
        match self.columns.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.columns.push((name, value)),
        }
    }

    /// Builder form of [`Row::insert`].
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.insert(name, value.into());
        self
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.columns.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let index = self.columns.iter().position(|(n, _)| n == name)?;
        Some(self.columns.remove(index).1)
    }

    pub fn len(&self) -> usize {
        self.columns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.columns.iter().map(|(n, v)| (n.as_str(), v))
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|(n, _)| n.as_str())
    }

    /// Columns whose value is neither absent nor [`Value::Unavailable`].
    pub fn available(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.iter().filter(|(_, v)| !v.is_unavailable())
    }

    /// Overlays `newer` on `self`: every column of `newer` that is available
    /// replaces (or is added to) this row's value. Used to compact a partial or
    /// TOAST-incomplete newer image over an older one.
    pub fn overlay(&mut self, newer: &Row) {
        for (name, value) in newer.available() {
            self.insert(name, value.clone());
        }
    }

    /// A canonical text form of the row's values in order, used as an
    /// identity (for example to compact changes of one key).
    pub fn identity(&self) -> String {
        let mut out = String::new();
        for (i, (name, value)) in self.iter().enumerate() {
            if i > 0 {
                out.push('\u{1f}');
            }
            out.push_str(name);
            out.push('=');
            out.push_str(value.kind());
            out.push(':');
            out.push_str(&value.to_plain_string().unwrap_or_default());
        }
        out
    }
}

impl fmt::Debug for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.columns.iter().map(|(n, v)| (n, v))).finish()
    }
}

impl FromIterator<(String, Value)> for Row {
    fn from_iter<T: IntoIterator<Item = (String, Value)>>(iter: T) -> Self {
        let mut row = Row::new();
        for (n, v) in iter {
            row.insert(n, v);
        }
        row
    }
}

impl IntoIterator for Row {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.columns.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_skips_unavailable() {
        let mut old = Row::new().with("id", 1).with("big", "text").with("n", 1);
        let newer = Row::new().with("id", 1).with("n", 2);
        let mut newer2 = newer.clone();
        newer2.insert("big", Value::Unavailable);
        old.overlay(&newer2);
        assert_eq!(old.get("big"), Some(&Value::Text("text".into())));
        assert_eq!(old.get("n"), Some(&Value::Int(2)));
    }
}
