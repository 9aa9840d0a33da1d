//! The librdkafka context: rebalance handling and statistics.
//!
//! # Rebalance contract
//!
//! * **Assign**: the partitions start a new ack-tracker epoch; in exactly-once
//!   mode the [`AssignmentHook`] supplies the offsets to start from (they are
//!   set on the assignment itself, so no record before them is ever fetched).
//! * **Revoke**: the consumer waits (bounded) for in-flight work of the revoked
//!   partitions to resolve, then commits synchronously what is safe and stops
//!   tracking them; later acks for them are ignored. Work that did not finish
//!   in time is abandoned: the next owner re-applies it, which versions make
//!   harmless.
//! * A lost assignment commits nothing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::KafkaError;
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use tokio::sync::mpsc::UnboundedSender;

use super::ack_tracker::{AckTracker, TopicPartition};
use super::hook::AssignmentHook;
use super::record::ConsumerEvent;
use crate::telemetry::names;

/// State shared by the consumer thread, its context and the pipeline.
#[derive(Debug)]
pub struct Shared {
    pub tracker: Mutex<AckTracker>,
    /// Partitions paused because their batch is being retried.
    pub retry_paused: Mutex<HashSet<TopicPartition>>,
    /// Where each assigned partition started (committed or hook offset).
    pub start_offsets: Mutex<HashMap<TopicPartition, i64>>,
    pub stop: AtomicBool,
    pub fatal: Mutex<Option<String>>,
    pub events: UnboundedSender<ConsumerEvent>,
    pub revoke_wait: Duration,
    pub hook: Option<Arc<dyn AssignmentHook>>,
}

impl Shared {
    pub fn set_fatal(&self, reason: String) {
        tracing::error!(%reason, "consumer stopped on a fatal error");
        self.fatal.lock().get_or_insert(reason);
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// See the module docs.
#[derive(Debug)]
pub struct SluiceContext {
    pub shared: Arc<Shared>,
}

fn partitions_of(tpl: &TopicPartitionList) -> Vec<TopicPartition> {
    tpl.elements().iter().map(|e| TopicPartition::new(e.topic(), e.partition())).collect()
}

impl ClientContext for SluiceContext {
    fn stats(&self, statistics: Statistics) {
        for (topic, t) in &statistics.topics {
            for (partition, p) in &t.partitions {
                if *partition < 0 || !p.desired {
                    continue;
                }
                let labels = [("topic", topic.clone()), ("partition", partition.to_string())];
                metrics::gauge!(names::HIGH_WATERMARK, &labels).set(p.hi_offset as f64);
                if p.committed_offset >= 0 {
                    metrics::gauge!(names::COMMITTED_OFFSET, &labels).set(p.committed_offset as f64);
                    metrics::gauge!(names::CONSUMER_LAG, &labels).set((p.hi_offset - p.committed_offset).max(0) as f64);
                }
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // librdkafka reconnects by itself; these are informative (broker down,
        // all brokers down) and repeat until the cluster is reachable again.
        if error.rdkafka_error_code() == Some(rdkafka::types::RDKafkaErrorCode::AllBrokersDown) {
            tracing::warn!(
                reason,
                "no Kafka broker of kafka.brokers is reachable; retrying (nothing is consumed or committed meanwhile)"
            );
        } else {
            tracing::warn!(error = %error, reason, "kafka client error (librdkafka retries)");
        }
    }
}

impl SluiceContext {
    fn on_assign(&self, consumer: &BaseConsumer<Self>, tpl: &mut TopicPartitionList) {
        let partitions = partitions_of(tpl);
        let mut starts: HashMap<TopicPartition, i64> = HashMap::new();
        if let Some(hook) = &self.shared.hook {
            match hook.on_assign(&partitions) {
                Ok(offsets) => {
                    for (tp, offset) in offsets {
                        if let Err(e) = tpl.set_partition_offset(&tp.topic, tp.partition, Offset::Offset(offset)) {
                            self.shared.set_fatal(format!("cannot seek {tp} to stored offset {offset}: {e}"));
                        }
                        starts.insert(tp, offset);
                    }
                }
                Err(reason) => {
                    self.shared.set_fatal(format!("reading stored offsets for the new assignment failed: {reason}"));
                }
            }
        }
        // Where partitions without a hook offset start: their committed offset.
        let unknown: Vec<&TopicPartition> = partitions.iter().filter(|tp| !starts.contains_key(*tp)).collect();
        if !unknown.is_empty() {
            let mut query = TopicPartitionList::new();
            for tp in &unknown {
                query.add_partition(&tp.topic, tp.partition);
            }
            if let Ok(committed) = consumer.committed_offsets(query, Duration::from_secs(10)) {
                for e in committed.elements() {
                    if let Offset::Offset(o) = e.offset() {
                        starts.insert(TopicPartition::new(e.topic(), e.partition()), o);
                    }
                }
            }
        }
        {
            let mut tracker = self.shared.tracker.lock();
            for tp in &partitions {
                tracker.assign(tp.clone());
            }
        }
        self.shared.start_offsets.lock().extend(starts);
        let result = match consumer.rebalance_protocol() {
            RebalanceProtocol::Cooperative => consumer.incremental_assign(tpl),
            _ => consumer.assign(tpl),
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "assigning partitions failed");
        }
        tracing::info!(partitions = %list_partitions(&partitions), "partitions assigned");
        let _ = self.shared.events.send(ConsumerEvent::Assigned(partitions));
    }

    fn on_revoke(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        let partitions = partitions_of(tpl);
        let lost = consumer.assignment_lost();
        if !lost {
            // Give in-flight work of these partitions a bounded chance to finish.
            let deadline = Instant::now() + self.shared.revoke_wait;
            while Instant::now() < deadline {
                let busy = {
                    let tracker = self.shared.tracker.lock();
                    partitions.iter().any(|tp| tracker.has_pending(tp) && !tracker.is_pinned(tp))
                };
                if !busy {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let mut commit = TopicPartitionList::new();
        {
            let mut tracker = self.shared.tracker.lock();
            for tp in &partitions {
                if let Some(next) = tracker.revoke(tp) {
                    let _ = commit.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(next));
                }
            }
        }
        {
            let mut starts = self.shared.start_offsets.lock();
            let mut paused = self.shared.retry_paused.lock();
            for tp in &partitions {
                starts.remove(tp);
                paused.remove(tp);
            }
        }
        if let Some(hook) = &self.shared.hook {
            hook.on_revoke(&partitions);
        }
        if !lost && commit.count() > 0 {
            match consumer.commit(&commit, CommitMode::Sync) {
                Ok(()) => metrics::counter!(names::COMMITS).increment(1),
                Err(e) => {
                    metrics::counter!(names::COMMIT_FAILURES).increment(1);
                    tracing::warn!(error = %e, "commit on revoke failed; the next owner re-applies (harmless)");
                }
            }
        }
        let result = match consumer.rebalance_protocol() {
            RebalanceProtocol::Cooperative => consumer.incremental_unassign(tpl),
            _ => consumer.unassign(),
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "unassigning partitions failed");
        }
        tracing::info!(partitions = %list_partitions(&partitions), lost, "partitions revoked");
        let _ = self.shared.events.send(ConsumerEvent::Revoked(partitions));
    }
}

fn list_partitions(partitions: &[TopicPartition]) -> String {
    partitions.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

impl ConsumerContext for SluiceContext {
    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, tpl: &mut TopicPartitionList) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => self.on_assign(consumer, tpl),
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => self.on_revoke(consumer, tpl),
            other => {
                tracing::error!(error = ?other, "rebalance error; dropping the assignment");
                let all: Vec<TopicPartition> = self.shared.tracker.lock().assigned();
                let mut tracker = self.shared.tracker.lock();
                for tp in &all {
                    tracker.revoke(tp);
                }
                drop(tracker);
                let _ = consumer.unassign();
                let _ = self.shared.events.send(ConsumerEvent::Revoked(all));
            }
        }
    }
}
