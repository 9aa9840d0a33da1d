//! Binlog streaming with reconnect: [`SourceStream`].
//!
//! # Contract
//!
//! * [`SourceStream::next`] yields whole transactions, schema changes and
//!   progress marks in binlog order; every item carries the position to
//!   resume from right after it ([`SourceItem::end_position`]).
//! * A lost connection (I/O error, server restart, three heartbeat periods of
//!   silence) is retried with exponential backoff; streaming resumes from the
//!   end of the last item *yielded*, so nothing is lost or yielded twice by
//!   one `SourceStream`. Across process restarts the caller resumes from the
//!   position it checkpointed (after its own durability), so items after the
//!   checkpoint are yielded again: at-least-once, idempotent through versions.
//! * Fatal problems (server settings, purged position, undecodable event)
//!   are returned as errors and never retried.

pub mod connect;
pub mod reader;
pub mod transaction;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use sluice_sink_api::TableId;
use tracing::{info, warn};

pub use connect::{DumpFrom, ServerInfo};
pub use reader::{BinlogReader, ReaderContext};
pub use transaction::{SourceChange, SourceItem, SourceTransaction};

use crate::config::{GtidUse, MysqlSourceConfig};
use crate::error::{Result, SourceError};
use crate::gtid::{Flavor, GtidSet};
use crate::metrics;
use crate::position::BinlogPosition;
use crate::schema::SchemaHistory;

/// A resumable binlog stream. See the module docs.
pub struct SourceStream {
    config: MysqlSourceConfig,
    info: ServerInfo,
    ctx: Arc<ReaderContext>,
    reader: Option<BinlogReader>,
    position: BinlogPosition,
    history: Arc<parking_lot::Mutex<SchemaHistory>>,
    backoff: Duration,
}

impl std::fmt::Debug for SourceStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceStream").field("name", &self.config.name).field("position", &self.position).finish()
    }
}

/// MariaDB: JSON columns are LONGTEXT with a `json_valid()` check; find them
/// so their values are emitted as JSON.
pub async fn mariadb_json_columns(conn: &mut mysql_async::Conn) -> Result<HashMap<TableId, Vec<String>>> {
    let rows: Vec<(String, String, String)> = conn
        .query(
            "SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS \
             WHERE CHECK_CLAUSE LIKE 'json_valid(%'",
        )
        .await
        .map_err(|e| SourceError::from_mysql("reading JSON check constraints", e))?;
    let mut out: HashMap<TableId, Vec<String>> = HashMap::new();
    for (db, table, clause) in rows {
        let column = clause.trim_start_matches("json_valid(").trim_end_matches(')').trim_matches('`').to_string();
        out.entry(TableId::new(Some(&db), None, &table)).or_default().push(column);
    }
    Ok(out)
}

impl SourceStream {
    /// Connects, checks the server (fatal error naming any wrong binlog
    /// setting), and prepares to stream from `start` (the position after the
    /// last transaction already processed).
    pub async fn connect(config: MysqlSourceConfig, start: BinlogPosition) -> Result<Self> {
        let filters = config.filters().map_err(SourceError::Config)?;
        let mut conn = connect::open(&config).await?;
        let info = connect::server_info(&mut conn).await?;
        let json_columns = match info.flavor {
            Flavor::Mariadb => mariadb_json_columns(&mut conn).await?,
            Flavor::Mysql => HashMap::new(),
        };
        let mut start = start;
        if start.gtid.is_none() && info.flavor == Flavor::Mariadb && !start.file.is_empty() {
            start.gtid = connect::mariadb_gtid_at(&mut conn, &start.file, start.pos).await?.map(GtidSet::Mariadb);
        }
        let _ = conn.disconnect().await;
        let ctx = Arc::new(ReaderContext {
            name: Arc::from(config.name.as_str()),
            filters,
            charsets: info.charsets.clone(),
            json_columns,
            flavor: info.flavor,
        });
        Ok(SourceStream {
            config,
            info,
            ctx,
            reader: None,
            position: start,
            history: Arc::new(parking_lot::Mutex::new(SchemaHistory::new())),
            backoff: Duration::from_millis(100),
        })
    }

    /// The server this stream reads.
    pub fn server(&self) -> &ServerInfo {
        &self.info
    }

    /// The position after the last item yielded.
    pub fn position(&self) -> &BinlogPosition {
        &self.position
    }

    /// The schema history built while streaming.
    pub fn history(&self) -> Arc<parking_lot::Mutex<SchemaHistory>> {
        self.history.clone()
    }

    fn dump_from(&self) -> DumpFrom {
        let use_gtid = match self.config.gtid {
            GtidUse::Off => false,
            GtidUse::On => true,
            GtidUse::Auto => self.info.gtids && self.position.file.is_empty(),
        };
        match (&self.position.gtid, use_gtid) {
            (Some(g), true) if !g.is_empty() => DumpFrom::Gtid(g.clone()),
            _ => DumpFrom::FilePos { file: self.position.file.clone(), pos: self.position.pos.max(4) },
        }
    }

    async fn open_reader(&mut self) -> Result<()> {
        let conn = connect::open(&self.config).await?;
        let from = self.dump_from();
        info!(source = %self.config.name, position = %self.position, ?from, "starting binlog dump");
        let stream = connect::start_dump(conn, self.config.server_id, &from, self.config.heartbeat_interval).await?;
        self.reader = Some(BinlogReader::new(stream, self.ctx.clone(), self.position.clone(), self.history.clone()));
        Ok(())
    }

    /// The next item; reconnects on transient failures. See the module docs.
    pub async fn next(&mut self) -> Result<SourceItem> {
        let silence = self.config.heartbeat_interval * 3;
        loop {
            if self.reader.is_none()
                && let Err(e) = self.open_reader().await
            {
                if !e.is_transient() {
                    return Err(e);
                }
                self.pause_after(&e).await;
                continue;
            }
            let reader = self.reader.as_mut().expect("reader opened above");
            let outcome = tokio::time::timeout(silence, reader.next_item()).await;
            let error = match outcome {
                Ok(Ok(Some(item))) => {
                    self.backoff = Duration::from_millis(100);
                    self.position = item.end_position().clone();
                    self.record_metrics(&item);
                    return Ok(item);
                }
                Ok(Ok(None)) => {
                    SourceError::Connection { message: "the server closed the binlog stream".into(), source: None }
                }
                Ok(Err(e)) if !e.is_transient() => return Err(e),
                Ok(Err(e)) => e,
                Err(_) => SourceError::Connection {
                    message: format!("no binlog event or heartbeat for {silence:?}"),
                    source: None,
                },
            };
            self.reader = None;
            ::metrics::counter!(metrics::RECONNECTS, "source" => self.config.name.clone()).increment(1);
            self.pause_after(&error).await;
        }
    }

    async fn pause_after(&mut self, error: &SourceError) {
        warn!(source = %self.config.name, position = %self.position, error = %error, backoff = ?self.backoff, "binlog connection lost; reconnecting");
        tokio::time::sleep(self.backoff).await;
        self.backoff = (self.backoff * 2).min(self.config.reconnect_backoff_max);
    }

    fn record_metrics(&self, item: &SourceItem) {
        let name = self.config.name.clone();
        let pos = item.end_position();
        ::metrics::gauge!(metrics::BINLOG_FILE_SEQ, "source" => name.clone()).set(pos.file_seq() as f64);
        ::metrics::gauge!(metrics::BINLOG_POSITION, "source" => name.clone()).set(pos.pos as f64);
        let now = chrono::Utc::now();
        match item {
            SourceItem::Transaction(tx) => {
                ::metrics::counter!(metrics::TRANSACTIONS, "source" => name.clone()).increment(1);
                for change in &tx.changes {
                    let op = change.event.op.code().to_string();
                    ::metrics::counter!(metrics::EVENTS, "source" => name.clone(), "op" => op).increment(1);
                }
                let lag = (now - tx.commit_ts).num_milliseconds().max(0);
                ::metrics::gauge!(metrics::MILLIS_BEHIND_SOURCE, "source" => name).set(lag as f64);
            }
            SourceItem::SchemaChange(_) => {
                ::metrics::counter!(metrics::SCHEMA_CHANGES, "source" => name).increment(1);
            }
            SourceItem::Progress { ts, .. } => {
                let lag = ts.map(|t| (now - t).num_milliseconds().max(0)).unwrap_or(0);
                ::metrics::gauge!(metrics::MILLIS_BEHIND_SOURCE, "source" => name).set(lag as f64);
            }
        }
    }
}
