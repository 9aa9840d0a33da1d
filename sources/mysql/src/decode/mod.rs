//! Binlog row decoding: table layouts from TABLE_MAP events, rows events into
//! row images of lossless values.

pub mod charset;
pub mod layout;
pub mod rows;
pub mod value;

pub use charset::Charsets;
pub use layout::{ColumnKind, ColumnLayout, TableLayout};
pub use rows::{RowChange, RowsKind, decode_rows};
