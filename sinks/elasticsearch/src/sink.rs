//! [`ElasticsearchSink`]: the [`Sink`] implementation.
//!
//! One `apply`:
//! 1. plans one bulk action per event (index name, `_id`, external version,
//!    document); an event that cannot be planned (version too large, no key,
//!    bad template, truncate) is rejected at once;
//! 2. creates missing indexes (`auto_create_indexes`);
//! 3. fills unavailable columns from stored documents ([`crate::unavailable`]);
//! 4. sends the actions in `_bulk` chunks, `max_concurrent_requests` at a time;
//!    items that fail transiently are re-sent alone with backoff for up to
//!    `retry.retry_for`, then `apply` returns a transient error (nothing is
//!    assumed durable; the engine retries the batch, which the external
//!    versions make harmless);
//! 5. reports applied, stale (409) and rejected (mapping errors) events.
//!
//! A request the cluster refuses as a whole (400, 413) is split in halves
//! until the refused action is alone; that action alone is rejected.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Instant;

use async_trait::async_trait;
use futures::StreamExt;
use sluice_sink_api::{
    ApplyReport, ChangeBatch, ChangeEvent, ErrorClass, Op, RejectKind, Rejection, Row, Sink, SinkError, TableId,
};

use crate::bulk::{BulkAction, Chunk, chunk_actions, parse_response};
use crate::client::EsClient;
use crate::config::{DeleteMode, ElasticsearchSinkConfig, UnavailableMode};
use crate::document::{DocumentOptions, build_document, tombstone_document};
use crate::errors::{ActionKind, EsError, ItemOutcome, classify_item};
use crate::mapping::{MappingOptions, create_index_body};
use crate::metrics;
use crate::retry::Backoff;
use crate::templates::{DocIdRule, IdTemplate, IndexTemplate};
use crate::unavailable;

/// Index and `_id` rules of one table.
#[derive(Debug, Clone)]
struct TableRules {
    index: IndexTemplate,
    id: DocIdRule,
}

/// The Elasticsearch/OpenSearch sink. See the crate docs for the guarantees.
pub struct ElasticsearchSink {
    name: String,
    config: ElasticsearchSinkConfig,
    client: EsClient,
    default_rules: TableRules,
    overrides: HashMap<String, TableRules>,
    documents: DocumentOptions,
    mappings: MappingOptions,
    known_indexes: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for ElasticsearchSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElasticsearchSink").field("name", &self.name).field("client", &self.client).finish()
    }
}

/// The planned write of one event and its missing columns.
struct Planned {
    action: BulkAction,
    missing: Vec<String>,
}

fn setup_error(path: &str, e: String) -> SinkError {
    SinkError::fatal(format!("elasticsearch sink config {path}: {e}"))
}

impl ElasticsearchSink {
    /// Builds the sink (no network). Invalid templates or an unreadable CA
    /// file are [`ErrorClass::Fatal`]; run `validate` first for all problems at once.
    pub fn new(name: impl Into<String>, config: ElasticsearchSinkConfig) -> Result<Self, SinkError> {
        let rule_for_id = |id: &Option<String>, path: &str| -> Result<DocIdRule, SinkError> {
            Ok(match id {
                Some(t) => DocIdRule::Template(IdTemplate::parse(t).map_err(|e| setup_error(path, e))?),
                None => DocIdRule::Joined { separator: config.id_separator.clone() },
            })
        };
        let default_rules = TableRules {
            index: IndexTemplate::parse(&config.index).map_err(|e| setup_error("index", e))?,
            id: rule_for_id(&config.id, "id")?,
        };
        let mut overrides = HashMap::new();
        for (table, over) in &config.tables {
            let index = match &over.index {
                Some(t) => IndexTemplate::parse(t).map_err(|e| setup_error(&format!("tables.{table}.index"), e))?,
                None => default_rules.index.clone(),
            };
            let id = match &over.id {
                Some(_) => rule_for_id(&over.id, &format!("tables.{table}.id"))?,
                None => default_rules.id.clone(),
            };
            overrides.insert(table.clone(), TableRules { index, id });
        }
        let client = EsClient::build(&config).map_err(EsError::into_sink_error)?;
        let documents = DocumentOptions { decimal: config.decimal, unsigned: config.unsigned, json: config.json };
        let mappings = MappingOptions {
            decimal: config.decimal,
            unsigned: config.unsigned,
            json: config.json,
            delete_mode: config.delete_mode,
            gc_deletes_secs: config.gc_deletes.as_secs(),
            extra_settings: config.index_settings.clone(),
        };
        Ok(ElasticsearchSink {
            name: name.into(),
            config,
            client,
            default_rules,
            overrides,
            documents,
            mappings,
            known_indexes: Mutex::new(HashSet::new()),
        })
    }

    fn rules(&self, table: &TableId) -> &TableRules {
        self.overrides.get(&table.qualified()).unwrap_or(&self.default_rules)
    }

    /// The index that events of `table` from `topic` are written to.
    pub fn index_for(&self, table: &TableId, topic: &str) -> Result<String, String> {
        self.rules(table).index.render(table, topic)
    }

    /// The `_id` of the document of `key` in `table`.
    pub fn doc_id(&self, table: &TableId, key: &Row) -> Result<String, String> {
        self.rules(table).id.render(key)
    }

    /// Plans the write of one event, or says why it can never apply.
    fn plan(&self, position: usize, event: &ChangeEvent) -> Result<Planned, Rejection> {
        let reject = |kind, message: String| Rejection {
            index: position,
            kind,
            message: format!("{message} (event of {} at {})", event.table, event.origin),
        };
        let version = event.version.to_es_version().map_err(|e| reject(RejectKind::Version, e.to_string()))?;
        if event.op == Op::Truncate {
            return Err(reject(
                RejectKind::Other,
                "the elasticsearch sink does not apply truncates (a whole-index delete cannot be versioned); \
                 delete the documents by hand if intended, then resolve this record"
                    .to_string(),
            ));
        }
        let key =
            event.key.as_ref().ok_or_else(|| reject(RejectKind::Key, "no primary key: no document _id".into()))?;
        let index = self.index_for(&event.table, &event.origin.topic).map_err(|e| reject(RejectKind::Key, e))?;
        let id = self.doc_id(&event.table, key).map_err(|e| reject(RejectKind::Key, e))?;
        let (kind, doc, missing) = match (event.op, self.config.delete_mode) {
            (Op::Delete, DeleteMode::Delete) => (ActionKind::Delete, None, Vec::new()),
            (Op::Delete, DeleteMode::Soft) => {
                (ActionKind::Index, Some(tombstone_document(key, &self.documents)), Vec::new())
            }
            _ => {
                let after = event
                    .after
                    .as_ref()
                    .ok_or_else(|| reject(RejectKind::Other, format!("{:?} without an after image", event.op)))?;
                let doc = build_document(after, event.schema.as_deref(), &self.documents);
                (ActionKind::Index, Some(doc.fields), doc.missing)
            }
        };
        Ok(Planned { action: BulkAction { event: position, kind, index, id, version, doc }, missing })
    }

    /// Creates the indexes of `planned` that do not exist yet. Returns the
    /// indexes the cluster refused to create, with the reason.
    async fn ensure_indexes(
        &self,
        planned: &[Planned],
        batch: &ChangeBatch,
    ) -> Result<HashMap<String, String>, SinkError> {
        let mut refused = HashMap::new();
        if !self.config.auto_create_indexes {
            return Ok(refused);
        }
        let mut wanted: Vec<(&str, usize)> = Vec::new();
        {
            let known = self.known_indexes.lock().expect("known_indexes lock");
            for p in planned {
                if !known.contains(&p.action.index) && !wanted.iter().any(|(i, _)| *i == p.action.index) {
                    wanted.push((&p.action.index, p.action.event));
                }
            }
        }
        for (index, first_event) in wanted {
            // The mapping comes from the first event of this index that carries a schema.
            let schema = planned
                .iter()
                .filter(|p| p.action.index == index)
                .find_map(|p| batch.events[p.action.event].schema.as_deref())
                .or(batch.events[first_event].schema.as_deref());
            let exists = self.client.index_exists(index).await.map_err(EsError::into_sink_error)?;
            if !exists {
                match self.client.create_index(index, &create_index_body(schema, &self.mappings)).await {
                    Ok(created) => {
                        if created {
                            metrics::index_created(&self.name);
                            tracing::info!(sink = %self.name, index, "created index");
                        }
                    }
                    Err(e) if e.class() == ErrorClass::Permanent => {
                        refused.insert(index.to_string(), e.to_string());
                        continue;
                    }
                    Err(e) => return Err(e.into_sink_error()),
                }
            }
            self.known_indexes.lock().expect("known_indexes lock").insert(index.to_string());
        }
        Ok(refused)
    }

    /// Reads the stored documents the unavailable-column merge needs, retrying
    /// transient failures within the retry budget.
    async fn read_for_merge(&self, planned: &mut [Planned]) -> Result<(), SinkError> {
        let missing: Vec<Vec<String>> = planned.iter().map(|p| p.missing.clone()).collect();
        let mut actions: Vec<BulkAction> = planned.iter().map(|p| p.action.clone()).collect();
        let keys = unavailable::keys_to_read(&actions, &missing);
        if keys.is_empty() {
            return Ok(());
        }
        let mut backoff = Backoff::start(&self.config.retry);
        let docs = loop {
            match self.client.mget(&keys).await {
                Ok(docs) => break docs,
                Err(e) if e.is_transient() && backoff.wait().await => {
                    tracing::warn!(sink = %self.name, error = %e, "reading stored documents failed, retrying");
                }
                Err(e) => return Err(e.into_sink_error()),
            }
        };
        let stored = keys.into_iter().zip(docs).filter_map(|(k, d)| d.map(|d| (k, d))).collect();
        let merged = unavailable::merge(&mut actions, &missing, stored);
        metrics::unavailable_merged(&self.name, merged);
        for (p, a) in planned.iter_mut().zip(actions) {
            p.action = a;
        }
        Ok(())
    }

    /// Sends one chunk until every item has a final outcome, retrying the
    /// transiently failed items alone.
    async fn send_chunk(&self, actions: &[BulkAction], chunk: Chunk) -> Result<Vec<(usize, ItemOutcome)>, SinkError> {
        let mut done = Vec::with_capacity(chunk.len());
        let mut pending = chunk;
        let mut backoff = Backoff::start(&self.config.retry);
        loop {
            let started = Instant::now();
            let result = self.client.bulk(pending.body.clone()).await;
            metrics::bulk_request(&self.name, started.elapsed(), result.is_ok());
            let (retry, reason, why): (Vec<usize>, String, &'static str) = match result {
                Ok(body) => match parse_response(&body, pending.len()) {
                    Ok(items) => {
                        let mut retry = Vec::new();
                        let mut reason = String::new();
                        for (position, item) in items.into_iter().enumerate() {
                            let action = pending.items[position].0;
                            let outcome = classify_item(
                                actions[action].kind,
                                item.status,
                                item.error_type.as_deref(),
                                &item.reason,
                            );
                            match outcome {
                                ItemOutcome::Retry(r) => {
                                    retry.push(position);
                                    reason = r;
                                }
                                other => done.push((action, other)),
                            }
                        }
                        (retry, reason, "item")
                    }
                    Err(reason) => ((0..pending.len()).collect(), reason, "request"),
                },
                Err(e) if e.is_transient() => ((0..pending.len()).collect(), e.to_string(), "request"),
                Err(e) if e.class() == ErrorClass::Permanent => {
                    done.extend(self.bisect(actions, pending, e).await?);
                    return Ok(done);
                }
                Err(e) => return Err(e.into_sink_error()),
            };
            if retry.is_empty() {
                return Ok(done);
            }
            if !backoff.wait().await {
                return Err(SinkError::transient(format!(
                    "{} bulk item(s) still failing after {:?} of retries: {reason}",
                    retry.len(),
                    self.config.retry.retry_for
                )));
            }
            tracing::warn!(sink = %self.name, items = retry.len(), %reason, "retrying bulk items");
            metrics::retried(&self.name, why, retry.len());
            pending = pending.subset(&retry);
        }
    }

    /// A chunk refused as a whole: reject it when it is one action, else
    /// send its halves separately.
    async fn bisect(
        &self,
        actions: &[BulkAction],
        chunk: Chunk,
        error: EsError,
    ) -> Result<Vec<(usize, ItemOutcome)>, SinkError> {
        if chunk.len() == 1 {
            let kind = match &error {
                EsError::Status { status: 413, .. } => RejectKind::Mapping,
                _ => RejectKind::Other,
            };
            return Ok(vec![(chunk.items[0].0, ItemOutcome::Reject(kind, error.to_string()))]);
        }
        let half = chunk.len() / 2;
        let first: Vec<usize> = (0..half).collect();
        let second: Vec<usize> = (half..chunk.len()).collect();
        let mut out = Box::pin(self.send_chunk(actions, chunk.subset(&first))).await?;
        out.extend(Box::pin(self.send_chunk(actions, chunk.subset(&second))).await?);
        Ok(out)
    }

    /// Steps 2–5 of an apply (see the module docs) for the planned events.
    async fn write(
        &self,
        batch: &ChangeBatch,
        mut planned: Vec<Planned>,
        report: &mut ApplyReport,
    ) -> Result<(), SinkError> {
        let refused = self.ensure_indexes(&planned, batch).await?;
        if !refused.is_empty() {
            planned.retain(|p| match refused.get(&p.action.index) {
                Some(reason) => {
                    let event = &batch.events[p.action.event];
                    report.rejected.push(Rejection {
                        index: p.action.event,
                        kind: RejectKind::Mapping,
                        message: format!(
                            "index {:?} cannot be created: {reason} (event of {} at {})",
                            p.action.index, event.table, event.origin
                        ),
                    });
                    false
                }
                None => true,
            });
        }
        if self.config.unavailable == UnavailableMode::Merge {
            self.read_for_merge(&mut planned).await?;
        }
        let actions: Vec<BulkAction> = planned.into_iter().map(|p| p.action).collect();
        let chunks = chunk_actions(&actions, self.config.max_bulk_actions, self.config.max_bulk_bytes);
        let results: Vec<Result<Vec<(usize, ItemOutcome)>, SinkError>> = futures::stream::iter(chunks)
            .map(|chunk| self.send_chunk(&actions, chunk))
            .buffer_unordered(self.config.max_concurrent_requests)
            .collect()
            .await;
        let mut outcomes = Vec::with_capacity(actions.len());
        let mut first_error: Option<SinkError> = None;
        for result in results {
            match result {
                Ok(o) => outcomes.extend(o),
                // A fatal error wins over a transient one.
                Err(e) if first_error.as_ref().is_none_or(|f| !f.is_fatal() && e.is_fatal()) => first_error = Some(e),
                Err(_) => {}
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        let mut per_index: HashMap<&str, [u64; 3]> = HashMap::new();
        for (action, outcome) in outcomes {
            let a = &actions[action];
            let counts = per_index.entry(a.index.as_str()).or_default();
            match outcome {
                ItemOutcome::Applied => {
                    report.applied += 1;
                    counts[0] += 1;
                }
                ItemOutcome::Stale => {
                    report.stale += 1;
                    counts[1] += 1;
                }
                // send_chunk never leaves an item to retry; be safe if it did.
                ItemOutcome::Retry(reason) => return Err(SinkError::transient(reason)),
                ItemOutcome::Reject(kind, reason) => {
                    counts[2] += 1;
                    let event = &batch.events[a.event];
                    report.rejected.push(Rejection {
                        index: a.event,
                        kind,
                        message: format!(
                            "index {:?}, _id {:?}: {reason} (event of {} at {})",
                            a.index, a.id, event.table, event.origin
                        ),
                    });
                }
            }
        }
        for (index, [applied, stale, rejected]) in per_index {
            metrics::documents(&self.name, index, "applied", applied);
            metrics::documents(&self.name, index, "stale", stale);
            metrics::documents(&self.name, index, "rejected", rejected);
        }
        Ok(())
    }
}

#[async_trait]
impl Sink for ElasticsearchSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn startup(&self) -> Result<(), SinkError> {
        self.healthcheck().await
    }

    /// `GET /_cluster/health`: `red` or no answer is transient; 401/403 fatal.
    async fn healthcheck(&self) -> Result<(), SinkError> {
        let status = self.client.cluster_health().await.map_err(EsError::into_sink_error)?;
        if status == "red" {
            return Err(SinkError::transient("elasticsearch cluster health is red"));
        }
        Ok(())
    }

    async fn apply(&self, batch: &ChangeBatch) -> Result<ApplyReport, SinkError> {
        let mut report = ApplyReport::default();
        let mut planned = Vec::with_capacity(batch.len());
        for (position, event) in batch.events.iter().enumerate() {
            match self.plan(position, event) {
                Ok(p) => planned.push(p),
                Err(rejection) => report.rejected.push(rejection),
            }
        }
        let indexes: HashSet<String> = planned.iter().map(|p| p.action.index.clone()).collect();
        if let Err(e) = self.write(batch, planned, &mut report).await {
            // The cluster may have lost or dropped indexes (a restart, an
            // operator's delete): check them again on the retry instead of
            // letting `_bulk` create them without settings and mappings.
            self.known_indexes.lock().expect("known_indexes lock").retain(|i| !indexes.contains(i));
            return Err(e);
        }
        report.rejected.sort_by_key(|r| r.index);
        Ok(report)
    }

    async fn shutdown(&self) -> Result<(), SinkError> {
        Ok(())
    }
}
