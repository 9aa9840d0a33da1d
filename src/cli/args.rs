//! Command-line arguments (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// sluice applies Debezium change-data-capture streams to Postgres,
/// Elasticsearch/OpenSearch and Redis: versioned, idempotent, transaction
/// preserving, with a replayable dead-letter queue.
#[derive(Debug, Parser)]
#[command(name = "sluice", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The pipeline configuration file.
#[derive(Debug, Args, Clone)]
pub struct ConfigArg {
    /// Pipeline configuration (TOML). `SLUICE_<SECTION>__<KEY>` environment
    /// variables override its settings.
    #[arg(short = 'c', long = "config", env = "SLUICE_CONFIG", value_name = "FILE")]
    pub config: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Consume the configured topics and apply them to the sinks until stopped
    /// (SIGINT/SIGTERM drain in-flight work, commit and exit 0).
    Run(RunArgs),
    /// Validate a configuration without touching the network; lists every
    /// problem with its path and exits 2 if there is any.
    Check(ConfigArg),
    /// Decode Debezium records from a file (or stdin) and print the normalized
    /// change events as JSON lines (see docs/canonical-form.md).
    Decode(DecodeArgs),
    /// Inspect and replay the dead-letter queue.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Show consumer lag per partition and dead-letter queue depth.
    Status(StatusArgs),
    /// Create or upgrade sluice's own tables (the DLQ, offsets, tombstones).
    /// `sluice run` does this at start; operators may run it separately.
    Migrate(ConfigArg),
    /// The built-in MySQL/MariaDB binlog source.
    #[command(subcommand)]
    Source(SourceCommand),
    /// Demo and benchmark helpers.
    #[command(subcommand)]
    Demo(DemoCommand),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Exit 0 once every subscribed partition is caught up: this member's
    /// applied and committed, the others' committed by the group (for batch
    /// jobs and tests).
    #[arg(long)]
    pub drain: bool,
    /// Override `metrics.listen` (e.g. `127.0.0.1:0` for an ephemeral port).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,
}

#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// A file holding one record value (JSON, possibly pretty-printed; or raw
    /// Avro bytes), or JSON lines of values; `-` for stdin.
    #[arg(value_name = "FILE", default_value = "-")]
    pub input: PathBuf,
    /// The record key (a file holding the key bytes).
    #[arg(long, value_name = "KEYFILE")]
    pub key: Option<PathBuf>,
    /// The topic the record came from (names the table of legacy records
    /// without `source.db`/`source.table`, e.g. `server.db.table`).
    #[arg(long, default_value = "")]
    pub topic: String,
    #[arg(long, default_value_t = 0)]
    pub partition: i32,
    /// Offset of the (first) record; later JSON lines count up from it.
    #[arg(long, default_value_t = 0)]
    pub offset: i64,
    /// Derive versions from the Kafka offset instead of the source position.
    #[arg(long)]
    pub offset_versions: bool,
    /// Confluent Schema Registry URL, for Avro records.
    #[arg(long, value_name = "URL")]
    pub registry: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List dead letters (a table, or JSON with --json).
    List(DlqListArgs),
    /// Show one dead letter, with decoded and raw key/value.
    Show(DlqShowArgs),
    /// Re-decode and re-apply dead letters through the versioned sink path.
    Replay(DlqReplayArgs),
    /// Mark dead letters resolved by hand.
    Resolve(DlqResolveArgs),
    /// Delete resolved dead letters.
    Purge(DlqPurgeArgs),
    /// Counts of dead letters by table and error class.
    Stats(DlqStatsArgs),
}

/// Filters shared by `dlq list` and `dlq replay`.
#[derive(Debug, Args, Clone, Default)]
pub struct DlqFilter {
    /// Only this table (`db.table`).
    #[arg(long)]
    pub table: Option<String>,
    /// Only this topic.
    #[arg(long)]
    pub topic: Option<String>,
    /// Only this error class (decode, schema, schema_unavailable, constraint,
    /// data_type, mapping, version, key, other).
    #[arg(long)]
    pub class: Option<String>,
    /// Only entries that failed at or after this time (RFC 3339, or a
    /// duration ago such as `2h`).
    #[arg(long)]
    pub since: Option<String>,
    /// Only entries that failed before this time (RFC 3339, or a duration ago).
    #[arg(long)]
    pub until: Option<String>,
    /// Only unresolved entries.
    #[arg(long, conflicts_with = "resolved")]
    pub unresolved: bool,
    /// Only resolved entries.
    #[arg(long)]
    pub resolved: bool,
    /// Only this sink (`*` for records that failed to decode).
    #[arg(long)]
    pub sink: Option<String>,
    /// Only this consumer group (default: the configuration's `kafka.group_id`).
    #[arg(long)]
    pub group: Option<String>,
}

#[derive(Debug, Args)]
pub struct DlqListArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    #[command(flatten)]
    pub filter: DlqFilter,
    /// At most this many entries (newest first).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..))]
    pub limit: i64,
    /// Print JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DlqShowArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Entry id (see `sluice dlq list`).
    #[arg(value_name = "ID")]
    pub id: i64,
    /// Print one JSON document instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DlqReplayArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Replay these entries (repeatable, or comma-separated).
    #[arg(long = "id", value_name = "ID", value_delimiter = ',', conflicts_with = "all")]
    pub ids: Vec<i64>,
    #[command(flatten)]
    pub filter: DlqFilter,
    /// Replay every unresolved entry of the consumer group.
    #[arg(long)]
    pub all: bool,
    /// Show what would be replayed and how it decodes, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DlqResolveArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Entry ids.
    #[arg(required = true, value_name = "ID")]
    pub ids: Vec<i64>,
    /// Resolution to record: `manual` (the target was fixed by hand) or
    /// `discarded` (the record must never apply).
    #[arg(long, default_value = "manual", value_parser = ["manual", "discarded"])]
    pub resolution: String,
}

#[derive(Debug, Args)]
pub struct DlqPurgeArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Only resolved entries (required: unresolved entries are never purged).
    #[arg(long, required = true)]
    pub resolved: bool,
    /// Only entries resolved longer ago than this (e.g. `30d`); without it,
    /// every resolved entry.
    #[arg(long, value_name = "DURATION")]
    pub older_than: Option<String>,
    /// Only this consumer group (default: the configuration's `kafka.group_id`).
    #[arg(long)]
    pub group: Option<String>,
    /// Count what would be purged, delete nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct DlqStatsArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    #[command(flatten)]
    pub filter: DlqFilter,
    /// Print JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Print one JSON document instead of tables.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum SourceCommand {
    /// Run the MySQL/MariaDB binlog source (direct mode into the sinks, or
    /// into Kafka), configured by `[source.mysql]`.
    Mysql(SourceMysqlArgs),
}

#[derive(Debug, Args)]
pub struct SourceMysqlArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Exit 0 once the snapshot is done and the stream caught up with the
    /// binlog position read at start.
    #[arg(long)]
    pub drain: bool,
    /// Kafka output mode (needs `[source.mysql.kafka]`, which also selects
    /// it); without it the source applies straight to the `[[sink]]`s.
    #[arg(long)]
    pub kafka: bool,
}

#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// Produce Debezium-format change events (MySQL connector shape, JSON with
    /// schema) of a demo `inventory.customers` table into Kafka.
    Generate(DemoGenerateArgs),
}

#[derive(Debug, Args)]
pub struct DemoGenerateArgs {
    /// Kafka bootstrap servers.
    #[arg(long, default_value = "127.0.0.1:19092")]
    pub brokers: String,
    /// Topic to produce to (created with `--partitions` if it does not exist).
    #[arg(long, default_value = "demo.inventory.customers")]
    pub topic: String,
    /// Partitions of the topic when sluice creates it.
    #[arg(long, default_value_t = 3)]
    pub partitions: i32,
    /// Number of change events.
    #[arg(long, default_value_t = 10_000)]
    pub events: u64,
    /// Number of distinct keys (rows).
    #[arg(long, default_value_t = 1_000)]
    pub keys: u64,
    /// Percentage of deletes among changes to existing rows.
    #[arg(long, default_value_t = 10)]
    pub delete_percent: u8,
    /// Seed of the deterministic generator.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Write values without the schema block (JsonConverter `schemas.enable=false`).
    #[arg(long)]
    pub no_schema: bool,
    /// Write the expected final table (JSON lines, key → row or deleted) here.
    #[arg(long, value_name = "FILE")]
    pub expect: Option<PathBuf>,
}
