//! The commands planned for one batch, and how their replies become
//! per-record outcomes.
//!
//! Each mode's planner ([`crate::invalidate`], [`crate::materialize`]) turns
//! events into commands, remembering which event owns each command, and
//! rejects the records it cannot plan (a template that cannot be rendered).
//! After the pipelines ran, [`sort_replies`] decides per reply: a transient
//! or fatal error reply fails the whole `apply`; any other error reply
//! rejects the owning record only.

use redis::{Cmd, Value};
use sluice_sink_api::{ChangeEvent, ErrorClass, RejectKind, Rejection};

use crate::errors::{ReplyClass, classify_reply, reply_text};

/// Commands of one batch and their owners.
#[derive(Debug, Default)]
pub struct BatchPlan {
    pub commands: Vec<Cmd>,
    /// `owners[i]`: index of the event (in the batch) that command `i` belongs to.
    pub owners: Vec<usize>,
    /// Records refused while planning.
    pub rejections: Vec<Rejection>,
}

impl BatchPlan {
    pub fn push(&mut self, owner: usize, cmd: Cmd) {
        self.commands.push(cmd);
        self.owners.push(owner);
    }

    pub fn reject(&mut self, index: usize, kind: RejectKind, message: String) {
        self.rejections.push(Rejection { index, kind, message });
    }

    /// True when event `index` was rejected while planning.
    pub fn is_rejected(&self, index: usize) -> bool {
        self.rejections.iter().any(|r| r.index == index)
    }
}

/// A reply that fails the whole batch.
#[derive(Debug)]
pub struct BatchFailure {
    pub class: ErrorClass,
    pub reply: String,
    /// The event whose command got the reply.
    pub index: usize,
}

/// Checks every reply: returns the first transient/fatal failure (fatal
/// wins), or adds a rejection for each record whose command got any other
/// error reply. `NOSCRIPT` replies still present here (the reload did not
/// help) count as transient.
pub fn sort_replies(
    replies: &[Value],
    owners: &[usize],
    events: &[ChangeEvent],
    rejections: &mut Vec<Rejection>,
) -> Result<(), BatchFailure> {
    let mut failure: Option<BatchFailure> = None;
    for (i, reply) in replies.iter().enumerate() {
        let Value::ServerError(error) = reply else { continue };
        let index = owners[i];
        let class = match classify_reply(error) {
            ReplyClass::Permanent => {
                if !rejections.iter().any(|r| r.index == index) {
                    let event = &events[index];
                    rejections.push(Rejection {
                        index,
                        kind: RejectKind::DataType,
                        message: format!(
                            "table {}: redis refused the write for record {}: {}",
                            event.table,
                            event.origin,
                            reply_text(error)
                        ),
                    });
                }
                continue;
            }
            ReplyClass::Fatal => ErrorClass::Fatal,
            ReplyClass::Transient | ReplyClass::NoScript => ErrorClass::Transient,
        };
        let replace = match &failure {
            None => true,
            Some(f) => f.class == ErrorClass::Transient && class == ErrorClass::Fatal,
        };
        if replace {
            failure = Some(BatchFailure { class, reply: reply_text(error), index });
        }
    }
    match failure {
        Some(f) => Err(f),
        None => Ok(()),
    }
}
