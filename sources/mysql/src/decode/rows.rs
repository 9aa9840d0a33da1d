//! Rows events: every row image of a WRITE/UPDATE/DELETE_ROWS event (MySQL
//! v2 and MariaDB v1 layouts), decoded with the table's [`TableLayout`].
//!
//! `mysql_common` parses the event header (table id, flags, column bitmaps);
//! the row images are walked here against the precomputed layout, which is
//! cheaper than building `mysql_common`'s per-row column metadata.

use mysql_common::binlog::events::RowsEventData;
use sluice_sink_api::{Row, Value};

use super::layout::TableLayout;
use super::value::decode_value;

/// The kind of a rows event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowsKind {
    Write,
    Update,
    Delete,
}

/// The before/after images of one changed row (absent image = `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct RowChange {
    pub before: Option<Row>,
    pub after: Option<Row>,
}

/// The kind of `event`, or an error for MySQL's partial JSON updates, which
/// need `binlog_row_value_options=''`.
pub fn rows_kind(event: &RowsEventData<'_>) -> Result<RowsKind, String> {
    Ok(match event {
        RowsEventData::WriteRowsEventV1(_) | RowsEventData::WriteRowsEvent(_) => RowsKind::Write,
        RowsEventData::UpdateRowsEventV1(_) | RowsEventData::UpdateRowsEvent(_) => RowsKind::Update,
        RowsEventData::DeleteRowsEventV1(_) | RowsEventData::DeleteRowsEvent(_) => RowsKind::Delete,
        RowsEventData::PartialUpdateRowsEvent(_) => {
            return Err("PARTIAL_UPDATE_ROWS_EVENT (binlog_row_value_options=PARTIAL_JSON) is not supported: \
                        set binlog_row_value_options=''"
                .into());
        }
    })
}

/// A column-present bitmap, one `bool` per table column.
fn bitmap(bits: Option<impl IntoIterator<Item = bool>>, columns: usize) -> Vec<bool> {
    match bits {
        Some(b) => {
            let mut v: Vec<bool> = b.into_iter().take(columns).collect();
            v.resize(columns, false);
            v
        }
        None => Vec::new(),
    }
}

fn decode_image(layout: &TableLayout, present: &[bool], buf: &mut &[u8]) -> Result<Row, String> {
    let present_count = present.iter().filter(|p| **p).count();
    let null_len = present_count.div_ceil(8);
    if buf.len() < null_len {
        return Err("row image truncated in its NULL bitmap".into());
    }
    let (nulls, rest) = buf.split_at(null_len);
    *buf = rest;
    let mut row = Row::with_capacity(present_count);
    let mut image_index = 0usize;
    for (i, col) in layout.columns.iter().enumerate() {
        if !present.get(i).copied().unwrap_or(false) {
            continue;
        }
        let is_null = nulls[image_index / 8] >> (image_index % 8) & 1 == 1;
        image_index += 1;
        let value = if is_null {
            Value::Null
        } else {
            decode_value(col, buf).map_err(|e| format!("column `{}` ({}): {e}", col.name, col.source_type()))?
        };
        if col.included {
            row.insert(col.name.to_string(), value);
        }
    }
    Ok(row)
}

/// Decodes every row of `event` with `layout`.
pub fn decode_rows(layout: &TableLayout, event: &RowsEventData<'_>) -> Result<(RowsKind, Vec<RowChange>), String> {
    let kind = rows_kind(event)?;
    let columns = layout.columns.len();
    if event.num_columns() as usize != columns {
        return Err(format!(
            "rows event has {} columns but the table map of {} has {columns}",
            event.num_columns(),
            layout.table
        ));
    }
    let before_bits = bitmap(event.columns_before_image().map(|b| b.iter().by_vals()), columns);
    let after_bits = bitmap(event.columns_after_image().map(|b| b.iter().by_vals()), columns);
    let mut buf = event.rows_data();
    let mut out = Vec::new();
    while !buf.is_empty() {
        let change = match kind {
            RowsKind::Write => RowChange { before: None, after: Some(decode_image(layout, &after_bits, &mut buf)?) },
            RowsKind::Delete => RowChange { before: Some(decode_image(layout, &before_bits, &mut buf)?), after: None },
            RowsKind::Update => {
                let before = decode_image(layout, &before_bits, &mut buf)?;
                let after = decode_image(layout, &after_bits, &mut buf)?;
                RowChange { before: Some(before), after: Some(after) }
            }
        };
        out.push(change);
    }
    Ok((kind, out))
}
