//! Schema tracking: DDL classification and the schema history.

pub mod ddl;
pub mod history;

pub use ddl::{Ddl, DdlKind, classify};
pub use history::{SchemaChange, SchemaHistory, SchemaVersion};
