//! Connecting to the server: options, the start-up checks, the current
//! position, and the binlog dump request (file/pos, MySQL GTID set or MariaDB
//! GTID list, heartbeat period, MariaDB capability).

use std::collections::HashMap;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStream, BinlogStreamRequest, Conn, GnoInterval, Opts, OptsBuilder, Sid};

use crate::config::MysqlSourceConfig;
use crate::decode::Charsets;
use crate::error::{Result, SourceError};
use crate::gtid::{Flavor, GtidSet, MariadbGtidList};
use crate::position::BinlogPosition;
use crate::server_check::{CHECKED_VARIABLES, check_binlog_settings, detect_flavor};

/// What sluice learns about the server when it connects.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    pub flavor: Flavor,
    pub version: String,
    /// The server's own `server_id`.
    pub server_id: u32,
    /// MySQL `gtid_mode=ON`, or MariaDB (always has GTIDs).
    pub gtids: bool,
    pub variables: HashMap<String, String>,
    pub charsets: Charsets,
}

/// Builds connection options from the config (password from its secret).
pub fn opts(config: &MysqlSourceConfig) -> Result<Opts> {
    let url = config.url.replacen("mariadb://", "mysql://", 1);
    let base = Opts::from_url(&url).map_err(|e| SourceError::Config(format!("url: {e}")))?;
    let mut builder = OptsBuilder::from_opts(base).prefer_socket(false);
    if let Some(secret) = &config.password {
        let password = secret.expose().map_err(|e| SourceError::Config(format!("password: {e}")))?;
        builder = builder.pass(Some(password));
    }
    Ok(builder.into())
}

/// Opens one connection within the configured timeout.
pub async fn open(config: &MysqlSourceConfig) -> Result<Conn> {
    let opts = opts(config)?;
    match tokio::time::timeout(config.connect_timeout, Conn::new(opts)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(SourceError::from_mysql("connecting", e)),
        Err(_) => Err(SourceError::Connection {
            message: format!("connecting: no answer within {:?}", config.connect_timeout),
            source: None,
        }),
    }
}

fn q(context: &'static str) -> impl Fn(mysql_async::Error) -> SourceError {
    move |e| SourceError::from_mysql(context, e)
}

/// Reads the server's variables, checks the binlog settings (fatal error
/// naming each wrong setting), and loads the collation table.
pub async fn server_info(conn: &mut Conn) -> Result<ServerInfo> {
    let list = CHECKED_VARIABLES
        .iter()
        .chain(["binlog_row_value_options"].iter())
        .map(|v| format!("'{v}'"))
        .collect::<Vec<_>>()
        .join(",");
    let rows: Vec<(String, String)> = conn
        .query(format!("SHOW GLOBAL VARIABLES WHERE Variable_name IN ({list})"))
        .await
        .map_err(q("reading server variables"))?;
    let variables: HashMap<String, String> = rows.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
    check_binlog_settings(&variables)?;
    if let Some(v) = variables.get("binlog_row_value_options")
        && !v.trim().is_empty()
    {
        return Err(SourceError::ServerSettings(format!(
            "binlog_row_value_options is `{v}` but must be empty (partial JSON updates lose the full after image)"
        )));
    }
    let version = variables.get("version").cloned().unwrap_or_default();
    let flavor = detect_flavor(&version);
    let server_id = variables.get("server_id").and_then(|v| v.parse().ok()).unwrap_or(0);
    let gtids = match flavor {
        Flavor::Mariadb => true,
        Flavor::Mysql => variables.get("gtid_mode").is_some_and(|m| m.eq_ignore_ascii_case("ON")),
    };
    let collations: Vec<(u16, String, u8)> = conn
        .query(
            "SELECT c.ID, c.CHARACTER_SET_NAME, s.MAXLEN FROM information_schema.COLLATIONS c \
             JOIN information_schema.CHARACTER_SETS s ON s.CHARACTER_SET_NAME = c.CHARACTER_SET_NAME",
        )
        .await
        .map_err(q("reading collations"))?;
    let mut charsets = Charsets::builtin();
    if !collations.is_empty() {
        charsets = Charsets::from_rows(collations);
    }
    Ok(ServerInfo { flavor, version, server_id, gtids, variables, charsets })
}

/// The server's current binlog position with its executed GTIDs.
pub async fn current_position(conn: &mut Conn, info: &ServerInfo) -> Result<BinlogPosition> {
    let row: Option<mysql_async::Row> = match conn.query_first("SHOW MASTER STATUS").await {
        Ok(row) => row,
        // MySQL 8.4 renamed it.
        Err(_) => conn.query_first("SHOW BINARY LOG STATUS").await.map_err(q("reading the binlog position"))?,
    };
    let row =
        row.ok_or_else(|| SourceError::ServerSettings("SHOW MASTER STATUS returned nothing: log_bin is OFF".into()))?;
    let file: String = row.get(0).unwrap_or_default();
    let pos: u64 = row.get(1).unwrap_or(4);
    let gtid = current_gtids(conn, info).await?;
    Ok(BinlogPosition::new(file, pos).with_gtid(gtid))
}

/// `@@gtid_binlog_pos` (MariaDB) or `@@gtid_executed` (MySQL with GTIDs).
pub async fn current_gtids(conn: &mut Conn, info: &ServerInfo) -> Result<Option<GtidSet>> {
    let text: Option<String> = match info.flavor {
        Flavor::Mariadb => {
            conn.query_first("SELECT @@GLOBAL.gtid_binlog_pos").await.map_err(q("reading gtid_binlog_pos"))?
        }
        Flavor::Mysql if info.gtids => {
            conn.query_first("SELECT @@GLOBAL.gtid_executed").await.map_err(q("reading gtid_executed"))?
        }
        Flavor::Mysql => None,
    };
    text.map(|t| {
        GtidSet::parse(info.flavor, &t).map_err(|e| SourceError::Decode {
            file: String::new(),
            pos: 0,
            message: e.to_string(),
        })
    })
    .transpose()
}

/// MariaDB: the GTID list in force at a file/pos (`BINLOG_GTID_POS`).
pub async fn mariadb_gtid_at(conn: &mut Conn, file: &str, pos: u64) -> Result<Option<MariadbGtidList>> {
    let text: Option<Option<String>> =
        conn.exec_first("SELECT BINLOG_GTID_POS(?, ?)", (file, pos)).await.map_err(q("BINLOG_GTID_POS"))?;
    match text.flatten() {
        Some(t) => Ok(Some(t.parse().map_err(|e: crate::gtid::GtidParseError| SourceError::Decode {
            file: file.to_string(),
            pos,
            message: e.to_string(),
        })?)),
        None => Ok(None),
    }
}

/// How to ask for the binlog.
#[derive(Debug, Clone)]
pub enum DumpFrom {
    FilePos { file: String, pos: u64 },
    Gtid(GtidSet),
}

/// Turns `conn` into a binlog stream from `from`, registering as replica
/// `replica_id`, asking for heartbeats every `heartbeat`.
pub async fn start_dump(mut conn: Conn, replica_id: u32, from: &DumpFrom, heartbeat: Duration) -> Result<BinlogStream> {
    let period_ns = heartbeat.as_nanos().min(u128::from(u64::MAX)) as u64;
    let mut setup = vec![
        format!("SET @master_heartbeat_period = {period_ns}"),
        format!("SET @source_heartbeat_period = {period_ns}"),
        // MariaDB: send GTID/annotate events as they are (MARIA_SLAVE_CAPABILITY_MINE).
        "SET @mariadb_slave_capability = 4".to_string(),
    ];
    if let DumpFrom::Gtid(GtidSet::Mariadb(list)) = from {
        setup.push(format!("SET @slave_connect_state = '{list}'"));
        setup.push("SET @slave_gtid_strict_mode = 0".into());
        setup.push("SET @slave_gtid_ignore_duplicates = 0".into());
    }
    for statement in setup {
        conn.query_drop(&statement).await.map_err(q("preparing the binlog dump"))?;
    }
    let request = BinlogStreamRequest::new(replica_id);
    let stream = match from {
        DumpFrom::FilePos { file, pos } => {
            conn.get_binlog_stream(request.with_filename(file.as_bytes()).with_pos(*pos)).await
        }
        DumpFrom::Gtid(GtidSet::Mariadb(_)) => conn.get_binlog_stream(request.with_filename(b"").with_pos(4)).await,
        DumpFrom::Gtid(GtidSet::Mysql(set)) => {
            let mut sids = Vec::new();
            for (uuid, _tag, intervals) in set.iter() {
                let bytes: [u8; 16] = hex::decode(uuid.replace('-', ""))
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| SourceError::Config(format!("GTID source id `{uuid}` is not a UUID")))?;
                let mut sid = Sid::new(bytes);
                for &(s, e) in intervals {
                    sid = sid.with_interval(GnoInterval::new(s, e + 1));
                }
                sids.push(sid);
            }
            conn.get_binlog_stream(request.with_gtid().with_gtid_set(sids)).await
        }
    };
    stream.map_err(q("requesting the binlog"))
}
