//! What to do at start: snapshot (fresh or resumed) or stream, and from where.
//! Pure, so every mode is unit-tested.

use crate::config::SnapshotMode;
use crate::position::BinlogPosition;

/// What the stored state says.
#[derive(Debug, Clone, Default)]
pub struct Stored {
    /// The position saved after the last durable item.
    pub offset: Option<BinlogPosition>,
    /// A snapshot was started: `(first epoch position, completed)`.
    pub snapshot: Option<(BinlogPosition, bool)>,
}

/// The decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartPlan {
    /// Run (or resume) the snapshot, then stream from its first epoch.
    Snapshot { resume: bool },
    /// Record the current position without reading rows, then stream from it.
    SchemaOnly,
    /// Stream from this position (`None`: the configured start, else the server's current position).
    Stream(Option<BinlogPosition>),
}

/// Decides per `mode`. `offset_available` tells whether the stored offset's
/// binlog file is still on the server.
pub fn plan(mode: SnapshotMode, stored: &Stored, offset_available: bool) -> Result<StartPlan, String> {
    let unfinished = matches!(stored.snapshot, Some((_, false)));
    match mode {
        SnapshotMode::Never => Ok(StartPlan::Stream(stored.offset.clone())),
        SnapshotMode::SchemaOnly => match &stored.offset {
            Some(o) => Ok(StartPlan::Stream(Some(o.clone()))),
            None => Ok(StartPlan::SchemaOnly),
        },
        SnapshotMode::Initial | SnapshotMode::WhenNeeded => {
            if unfinished {
                return Ok(StartPlan::Snapshot { resume: true });
            }
            match &stored.offset {
                None => Ok(StartPlan::Snapshot { resume: false }),
                Some(o) if offset_available => Ok(StartPlan::Stream(Some(o.clone()))),
                Some(o) if mode == SnapshotMode::WhenNeeded => {
                    let _ = o;
                    Ok(StartPlan::Snapshot { resume: false })
                }
                Some(o) => Err(format!(
                    "the stored position {o} is no longer on the server (binlogs purged); \
                     use snapshot_mode = \"when_needed\" to take a new snapshot"
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos() -> BinlogPosition {
        BinlogPosition::new("mysql-bin.000003", 120)
    }

    #[test]
    fn modes() {
        let none = Stored::default();
        let streaming = Stored { offset: Some(pos()), snapshot: Some((pos(), true)) };
        let unfinished = Stored { offset: None, snapshot: Some((pos(), false)) };
        assert_eq!(plan(SnapshotMode::Initial, &none, true), Ok(StartPlan::Snapshot { resume: false }));
        assert_eq!(plan(SnapshotMode::Initial, &unfinished, true), Ok(StartPlan::Snapshot { resume: true }));
        assert_eq!(plan(SnapshotMode::Initial, &streaming, true), Ok(StartPlan::Stream(Some(pos()))));
        assert!(plan(SnapshotMode::Initial, &streaming, false).unwrap_err().contains("when_needed"));
        assert_eq!(plan(SnapshotMode::WhenNeeded, &streaming, false), Ok(StartPlan::Snapshot { resume: false }));
        assert_eq!(plan(SnapshotMode::Never, &none, true), Ok(StartPlan::Stream(None)));
        assert_eq!(plan(SnapshotMode::SchemaOnly, &none, true), Ok(StartPlan::SchemaOnly));
        assert_eq!(plan(SnapshotMode::SchemaOnly, &streaming, true), Ok(StartPlan::Stream(Some(pos()))));
    }
}
