//! The tolerance policy (`errors.tolerance`-like): for a record that can never
//! apply, dead-letter it and move on (`all`, the default) or stop the pipeline
//! without committing past it (`none`).
//!
//! Precedence: `dlq.table_tolerance` for the record's table, then
//! `dlq.class_tolerance` for its error class, then `dlq.tolerance`.

use std::collections::BTreeMap;

use sluice_sink_api::RejectKind;

use crate::config::{DlqSection, Tolerance};

/// See the module docs.
#[derive(Debug, Clone, Default)]
pub struct TolerancePolicy {
    default: Tolerance,
    tables: BTreeMap<String, Tolerance>,
    classes: BTreeMap<String, Tolerance>,
}

impl TolerancePolicy {
    pub fn from_config(dlq: Option<&DlqSection>) -> Self {
        match dlq {
            None => TolerancePolicy::default(),
            Some(d) => TolerancePolicy {
                default: d.tolerance,
                tables: d.table_tolerance.clone(),
                classes: d.class_tolerance.clone(),
            },
        }
    }

    /// Whether a record of `table` failing with `class` is dead-lettered.
    pub fn dead_letters(&self, table: Option<&str>, class: RejectKind) -> bool {
        let t = table
            .and_then(|t| self.tables.get(t))
            .or_else(|| self.classes.get(class.as_str()))
            .copied()
            .unwrap_or(self.default);
        t == Tolerance::All
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_table_then_class_then_default() {
        let p = TolerancePolicy {
            default: Tolerance::All,
            tables: [("db.orders".to_string(), Tolerance::None), ("db.ok".to_string(), Tolerance::All)].into(),
            classes: [("schema".to_string(), Tolerance::None)].into(),
        };
        assert!(!p.dead_letters(Some("db.orders"), RejectKind::Constraint));
        assert!(p.dead_letters(Some("db.ok"), RejectKind::Schema));
        assert!(!p.dead_letters(Some("db.other"), RejectKind::Schema));
        assert!(p.dead_letters(Some("db.other"), RejectKind::Constraint));
        assert!(p.dead_letters(None, RejectKind::Decode));
    }
}
