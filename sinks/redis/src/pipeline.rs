//! Sends a batch's commands as pipelines and returns one reply per command.
//!
//! Commands are cut into pipelines of `pipeline_size`; up to
//! `pipelines_in_flight` of them are on the (multiplexed) connection at once.
//! Pipelines are non-transactional and collect every reply, errors included
//! (`ignore_errors`), so the caller sees which command — which record —
//! failed. A request-level error (connection, timeout) fails the whole call:
//! some commands may have executed, which is harmless because every command
//! the sink sends is idempotent.

use futures::{StreamExt, TryStreamExt};
use redis::aio::ConnectionManager;
use redis::{Cmd, Pipeline, RedisError, Value};

/// How to cut a command list into pipelines.
#[derive(Debug, Clone, Copy)]
pub struct PipelineShape {
    pub size: usize,
    pub in_flight: usize,
}

/// Runs `commands` and returns their replies in order (error replies as
/// [`Value::ServerError`]).
pub async fn run(conn: &ConnectionManager, commands: &[Cmd], shape: PipelineShape) -> Result<Vec<Value>, RedisError> {
    let total = commands.len();
    if total == 0 {
        return Ok(Vec::new());
    }
    let size = shape.size.max(1);
    let mut pipelines = Vec::with_capacity(total.div_ceil(size));
    let mut current = Pipeline::with_capacity(size.min(total));
    for cmd in commands {
        current.add_command(cmd.clone());
        if current.len() == size {
            pipelines.push(std::mem::replace(&mut current, Pipeline::with_capacity(size)));
        }
    }
    if !current.is_empty() {
        pipelines.push(current);
    }
    let replies: Vec<Vec<Value>> = futures::stream::iter(pipelines)
        .map(|mut pipeline| {
            let mut conn = conn.clone();
            async move {
                let expected = pipeline.len();
                let replies: Vec<Value> = pipeline.ignore_errors().query_async(&mut conn).await?;
                if replies.len() != expected {
                    return Err(RedisError::from((
                        redis::ErrorKind::UnexpectedReturnType,
                        "pipeline returned a different number of replies than commands",
                    )));
                }
                Ok(replies)
            }
        })
        .buffered(shape.in_flight.max(1))
        .try_collect()
        .await?;
    let mut flat = Vec::with_capacity(total);
    for chunk in replies {
        flat.extend(chunk);
    }
    Ok(flat)
}
