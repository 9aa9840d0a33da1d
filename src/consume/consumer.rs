//! The Kafka consumer: a dedicated thread that polls librdkafka, registers
//! every record with the ack tracker, applies back-pressure by pausing
//! partitions, commits safe offsets, and detects `--drain` completion.
//!
//! A dedicated OS thread (rather than a task) keeps rebalance callbacks —
//! which may wait for in-flight work and commit synchronously — off the async
//! runtime, and keeps the group heartbeat alive whatever the pipeline does:
//! the thread never blocks on the pipeline (records go through an unbounded
//! channel whose memory is bounded by the in-flight byte limit, at which the
//! thread pauses every partition).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

use super::ack_tracker::{AckToken, AckTracker, TopicPartition};
use super::client_config::consumer_config;
use super::context::{Shared, SluiceContext};
use super::hook::AssignmentHook;
use super::record::{ConsumedRecord, ConsumerEvent};
use crate::config::KafkaSection;
use crate::telemetry::names;

const POLL_TIMEOUT: Duration = Duration::from_millis(100);
const DRAIN_CHECK_INTERVAL: Duration = Duration::from_millis(500);

/// Settings of the consumer thread.
#[derive(Debug, Clone)]
pub struct ConsumerSettings {
    pub commit_interval: Duration,
    pub max_in_flight_bytes: u64,
    /// How long a revoke waits for in-flight work before abandoning it.
    pub revoke_wait: Duration,
    /// Emit [`ConsumerEvent::Drained`] once every subscribed partition is caught
    /// up: the assigned ones applied and committed to their high watermark,
    /// the others committed to it by the group.
    pub drain: bool,
}

/// Why the consumer could not start.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    #[error(transparent)]
    Secret(#[from] super::client_config::SecretError),
    #[error("cannot create the Kafka consumer: {0}")]
    Create(rdkafka::error::KafkaError),
    #[error("cannot subscribe to {what}: {source}")]
    Subscribe {
        what: String,
        #[source]
        source: rdkafka::error::KafkaError,
    },
}

/// The pipeline's handle on the consumer thread.
pub struct ConsumerHandle {
    shared: Arc<Shared>,
    consumer: Arc<BaseConsumer<SluiceContext>>,
    thread: Option<JoinHandle<()>>,
}

impl ConsumerHandle {
    /// Creates the consumer, subscribes and starts the polling thread.
    /// Returns the handle and the stream of consumer events.
    pub fn start(
        kafka: &KafkaSection,
        settings: ConsumerSettings,
        hook: Option<Arc<dyn AssignmentHook>>,
    ) -> Result<(ConsumerHandle, UnboundedReceiver<ConsumerEvent>), ConsumerError> {
        let (tx, rx) = unbounded_channel();
        let shared = Arc::new(Shared {
            tracker: Mutex::new(AckTracker::new()),
            retry_paused: Mutex::new(HashSet::new()),
            start_offsets: Mutex::new(HashMap::new()),
            stop: Default::default(),
            fatal: Mutex::new(None),
            events: tx,
            revoke_wait: settings.revoke_wait,
            hook,
        });
        let consumer: BaseConsumer<SluiceContext> = consumer_config(kafka)?
            .create_with_context(SluiceContext { shared: shared.clone() })
            .map_err(ConsumerError::Create)?;
        let consumer = Arc::new(consumer);
        if let Some(re) = &kafka.topic_regex {
            let pattern = if re.starts_with('^') { re.clone() } else { format!("^{re}") };
            // The transaction topic is consumed whether or not the regex matches it
            // (as with `topics`); librdkafka mixes a regex and literal names.
            let mut subscription = vec![pattern.as_str()];
            if let Some(tx_topic) = &kafka.transaction_topic {
                subscription.push(tx_topic);
            }
            consumer
                .subscribe(&subscription)
                .map_err(|source| ConsumerError::Subscribe { what: subscription.join(","), source })?;
        } else {
            let mut topics: Vec<&str> = kafka.topics.iter().map(String::as_str).collect();
            if let Some(tx_topic) = &kafka.transaction_topic
                && !topics.contains(&tx_topic.as_str())
            {
                topics.push(tx_topic);
            }
            consumer
                .subscribe(&topics)
                .map_err(|source| ConsumerError::Subscribe { what: topics.join(","), source })?;
        }
        let thread_shared = shared.clone();
        let thread_consumer = consumer.clone();
        let thread = std::thread::Builder::new()
            .name("sluice-consumer".into())
            .spawn(move || Poller::new(thread_consumer, thread_shared, settings).run())
            .expect("spawn the consumer thread");
        Ok((ConsumerHandle { shared, consumer, thread: Some(thread) }, rx))
    }

    /// Marks a record resolved (applied, stale or dead-lettered in every sink).
    pub fn resolve(&self, token: &AckToken) -> bool {
        self.shared.tracker.lock().resolve(token)
    }

    /// Marks records resolved.
    pub fn resolve_all<'a>(&self, tokens: impl IntoIterator<Item = &'a AckToken>) {
        let mut tracker = self.shared.tracker.lock();
        for t in tokens {
            tracker.resolve(t);
        }
    }

    /// Per partition of `tokens`, the next offset safe to commit once they are
    /// resolved ([`AckTracker::safe_next_with`]); tokens of an older
    /// assignment are left out.
    pub fn positions_after(&self, tokens: &[AckToken]) -> Vec<(TopicPartition, i64)> {
        let mut by_tp: HashMap<(TopicPartition, u64), Vec<i64>> = HashMap::new();
        for t in tokens {
            by_tp.entry((t.tp.clone(), t.epoch)).or_default().push(t.offset);
        }
        let tracker = self.shared.tracker.lock();
        let mut out: Vec<(TopicPartition, i64)> = by_tp
            .into_iter()
            .filter_map(|((tp, epoch), mut offsets)| {
                offsets.sort_unstable();
                tracker.safe_next_with(&tp, epoch, &offsets).map(|next| (tp, next))
            })
            .collect();
        out.sort();
        out
    }

    /// Whether every token belongs to the current assignment of its partition.
    pub fn all_current(&self, tokens: &[AckToken]) -> bool {
        let tracker = self.shared.tracker.lock();
        tokens.iter().all(|t| tracker.epoch_of(&t.tp) == Some(t.epoch))
    }

    /// Pins a record: its partition never commits past it.
    pub fn pin(&self, token: &AckToken) {
        self.shared.tracker.lock().pin(token);
    }

    /// Whether a token still belongs to the current assignment.
    pub fn is_current(&self, token: &AckToken) -> bool {
        self.shared.tracker.lock().is_assigned(&token.tp)
    }

    /// Pauses (or resumes) partitions whose batch is being retried.
    pub fn set_retry_paused(&self, partitions: &[TopicPartition], paused: bool) {
        let mut set = self.shared.retry_paused.lock();
        for tp in partitions {
            if paused {
                set.insert(tp.clone());
            } else {
                set.remove(tp);
            }
        }
    }

    pub fn in_flight_bytes(&self) -> u64 {
        self.shared.tracker.lock().in_flight_bytes()
    }

    /// The fatal error that stopped the consumer, if any.
    pub fn fatal(&self) -> Option<String> {
        self.shared.fatal.lock().clone()
    }

    /// Stops polling, commits what is safe synchronously, leaves the group.
    pub fn shutdown(mut self) {
        self.stop_thread();
    }

    fn stop_thread(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// The underlying consumer (for metadata queries).
    pub fn consumer(&self) -> &BaseConsumer<SluiceContext> {
        &self.consumer
    }
}

impl std::fmt::Debug for ConsumerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsumerHandle").field("shared", &self.shared).finish_non_exhaustive()
    }
}

impl Drop for ConsumerHandle {
    fn drop(&mut self) {
        self.stop_thread();
    }
}

struct Poller {
    consumer: Arc<BaseConsumer<SluiceContext>>,
    shared: Arc<Shared>,
    settings: ConsumerSettings,
    paused: HashSet<TopicPartition>,
    backpressure: bool,
    last_commit: Instant,
    last_drain_check: Instant,
    drained_sent: bool,
    skipped_warned: u64,
    /// Last consumer error logged and when, to log a repeating error (an
    /// unknown topic, an unreachable broker) once per interval, not per poll.
    last_error: Option<(String, Instant, u64)>,
}

/// How often a repeating consumer error is logged again.
const ERROR_LOG_INTERVAL: Duration = Duration::from_secs(30);

impl Poller {
    fn new(consumer: Arc<BaseConsumer<SluiceContext>>, shared: Arc<Shared>, settings: ConsumerSettings) -> Self {
        Poller {
            consumer,
            shared,
            settings,
            paused: HashSet::new(),
            backpressure: false,
            last_commit: Instant::now(),
            last_drain_check: Instant::now(),
            drained_sent: false,
            skipped_warned: 0,
            last_error: None,
        }
    }

    fn run(mut self) {
        while !self.shared.stop.load(Ordering::SeqCst) {
            self.apply_pauses();
            let consumer = self.consumer.clone();
            let idle = match consumer.poll(POLL_TIMEOUT) {
                Some(Ok(message)) => {
                    self.on_message(&message);
                    false
                }
                Some(Err(e)) => {
                    self.warn_consumer_error(&e);
                    false
                }
                None => true,
            };
            if self.last_commit.elapsed() >= self.settings.commit_interval {
                self.commit(CommitMode::Sync);
            }
            // The drain check asks the broker for watermarks (a round trip per
            // partition): only when the local queue ran dry — while records
            // still arrive the consumer is not caught up, and checking then
            // would throttle consumption to one record per check.
            if self.settings.drain
                && !self.drained_sent
                && idle
                && self.last_drain_check.elapsed() >= DRAIN_CHECK_INTERVAL
            {
                self.last_drain_check = Instant::now();
                if self.caught_up() {
                    self.commit(CommitMode::Sync);
                    self.drained_sent = true;
                    let _ = self.shared.events.send(ConsumerEvent::Drained);
                }
            }
        }
        // Final commit of everything resolved, then leave the group.
        self.commit(CommitMode::Sync);
        self.consumer.unsubscribe();
    }

    fn warn_consumer_error(&mut self, error: &rdkafka::error::KafkaError) {
        use rdkafka::types::RDKafkaErrorCode;
        let text = error.to_string();
        let now = Instant::now();
        if let Some((last, at, repeats)) = &mut self.last_error
            && *last == text
            && now.duration_since(*at) < ERROR_LOG_INTERVAL
        {
            *repeats += 1;
            return;
        }
        let repeats = match self.last_error.take() {
            Some((last, _, n)) if last == text => n,
            _ => 0,
        };
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::UnknownTopicOrPartition) {
            tracing::warn!(error = %text, repeats, "a subscribed topic does not exist (yet); consuming it once it is created");
        } else {
            tracing::warn!(error = %text, repeats, "kafka consumer error (librdkafka retries)");
        }
        self.last_error = Some((text, now, 0));
    }

    fn on_message(&mut self, message: &rdkafka::message::BorrowedMessage<'_>) {
        let tp = TopicPartition::new(message.topic(), message.partition());
        metrics::counter!(names::RECORDS_CONSUMED, "topic" => tp.topic.to_string()).increment(1);
        let headers = message
            .headers()
            .map(|h| h.iter().map(|hdr| (hdr.key.to_string(), hdr.value.map(<[u8]>::to_vec))).collect())
            .unwrap_or_default();
        let mut record = ConsumedRecord {
            token: AckToken { tp: tp.clone(), offset: message.offset(), epoch: 0 },
            key: message.key().map(<[u8]>::to_vec),
            value: message.payload().map(<[u8]>::to_vec),
            timestamp_ms: message.timestamp().to_millis(),
            headers,
        };
        let registered = self.shared.tracker.lock().register(&tp, message.offset(), record.size());
        match registered {
            Ok(token) => {
                record.token = token;
                let _ = self.shared.events.send(ConsumerEvent::Record(record));
            }
            Err(e) => {
                // A record of a partition revoked a moment ago, or a re-delivery
                // after an offset reset: already tracked or no longer ours.
                self.skipped_warned += 1;
                if self.skipped_warned <= 10 || self.skipped_warned.is_power_of_two() {
                    tracing::warn!(error = %e, skipped = self.skipped_warned, "record not tracked; skipped");
                }
            }
        }
    }

    /// Pauses every partition at the in-flight byte limit (resumes below 3/4
    /// of it), and the partitions whose batch is being retried.
    fn apply_pauses(&mut self) {
        let (in_flight, assigned) = {
            let tracker = self.shared.tracker.lock();
            (tracker.in_flight_bytes(), tracker.assigned())
        };
        metrics::gauge!(names::IN_FLIGHT_BYTES).set(in_flight as f64);
        metrics::gauge!(names::PARTITIONS_ASSIGNED).set(assigned.len() as f64);
        let limit = self.settings.max_in_flight_bytes;
        if !self.backpressure && in_flight >= limit {
            self.backpressure = true;
            tracing::info!(in_flight, limit, "in-flight byte limit reached: pausing consumption");
        } else if self.backpressure && in_flight < limit / 4 * 3 {
            self.backpressure = false;
            tracing::info!(in_flight, "below the in-flight byte limit: resuming consumption");
        }
        let desired: HashSet<TopicPartition> = if self.backpressure {
            assigned.iter().cloned().collect()
        } else {
            let retry = self.shared.retry_paused.lock();
            assigned.iter().filter(|tp| retry.contains(*tp)).cloned().collect()
        };
        // librdkafka forgets pauses of revoked partitions; keep our view in sync.
        self.paused.retain(|tp| assigned.contains(tp));
        let to_pause: Vec<_> = desired.difference(&self.paused).cloned().collect();
        let to_resume: Vec<_> = self.paused.difference(&desired).cloned().collect();
        if !to_pause.is_empty() && self.consumer.pause(&tpl(&to_pause)).is_ok() {
            self.paused.extend(to_pause);
        }
        if !to_resume.is_empty() && self.consumer.resume(&tpl(&to_resume)).is_ok() {
            for tp in &to_resume {
                self.paused.remove(tp);
            }
        }
        metrics::gauge!(names::PARTITIONS_PAUSED).set(self.paused.len() as f64);
    }

    fn commit(&mut self, mode: CommitMode) {
        self.last_commit = Instant::now();
        let ready = self.shared.tracker.lock().committable();
        if ready.is_empty() {
            return;
        }
        let mut list = TopicPartitionList::new();
        for (tp, next) in &ready {
            let _ = list.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(*next));
        }
        match self.consumer.commit(&list, mode) {
            Ok(()) => {
                metrics::counter!(names::COMMITS).increment(1);
                let mut tracker = self.shared.tracker.lock();
                for (tp, next) in &ready {
                    tracker.mark_committed(tp, *next);
                }
            }
            Err(e) => {
                metrics::counter!(names::COMMIT_FAILURES).increment(1);
                tracing::warn!(error = %e, "offset commit failed; retrying at the next interval");
            }
        }
    }

    /// Every assigned partition has nothing unresolved and its safe offset
    /// reached the high watermark.
    fn caught_up(&self) -> bool {
        let assigned = self.shared.tracker.lock().assigned();
        if assigned.is_empty() {
            return false;
        }
        // Local state first: no broker round trip while work is pending.
        if assigned.iter().any(|tp| self.shared.tracker.lock().has_pending(tp)) {
            return false;
        }
        for tp in &assigned {
            let (pending, safe) = {
                let tracker = self.shared.tracker.lock();
                (tracker.has_pending(tp), tracker.safe_next(tp))
            };
            if pending {
                return false;
            }
            let Ok((low, high)) = self.consumer.fetch_watermarks(&tp.topic, tp.partition, Duration::from_secs(5))
            else {
                return false;
            };
            let start = self.shared.start_offsets.lock().get(tp).copied();
            let position = safe.or(start).unwrap_or(low).max(low);
            if position < high {
                return false;
            }
        }
        self.unassigned_caught_up(&assigned)
    }

    /// The subscribed partitions this member does not own are caught up too:
    /// the group's committed offset reached their high watermark.
    ///
    /// Without this check a drain started right after a crash could stop
    /// early: until a crashed member's session expires the group may still
    /// assign it partitions, and "every *assigned* partition is caught up"
    /// would hold while those were never consumed (seen with tansu after
    /// repeated kill -9s). Waiting on them also makes several `--drain`
    /// members of one group exit only once the whole group is done.
    fn unassigned_caught_up(&self, assigned: &[TopicPartition]) -> bool {
        let Some(topics) = self.subscribed_topics() else {
            return false;
        };
        let mut others = TopicPartitionList::new();
        for (topic, partitions) in &topics {
            for &partition in partitions {
                if !assigned.iter().any(|tp| tp.topic.as_ref() == topic.as_str() && tp.partition == partition) {
                    others.add_partition(topic, partition);
                }
            }
        }
        if others.count() == 0 {
            return true;
        }
        let Ok(committed) = self.consumer.committed_offsets(others, Duration::from_secs(5)) else {
            return false;
        };
        committed.elements().iter().all(|e| {
            let Ok((low, high)) = self.consumer.fetch_watermarks(e.topic(), e.partition(), Duration::from_secs(5))
            else {
                return false;
            };
            let position = match e.offset() {
                Offset::Offset(o) => o.max(low),
                _ => low,
            };
            position >= high
        })
    }

    /// The topics of the subscription (literal names, and regex patterns
    /// matched against the cluster's topics) with their partitions; `None`
    /// when the subscription or the metadata cannot be read.
    fn subscribed_topics(&self) -> Option<Vec<(String, Vec<i32>)>> {
        let subscription = self.consumer.subscription().ok()?;
        let mut names = HashSet::new();
        let mut patterns = Vec::new();
        for e in subscription.elements() {
            if e.topic().starts_with('^') {
                patterns.push(regex::Regex::new(e.topic()).ok()?);
            } else {
                names.insert(e.topic().to_string());
            }
        }
        let metadata = self.consumer.fetch_metadata(None, Duration::from_secs(5)).ok()?;
        Some(
            metadata
                .topics()
                .iter()
                .filter(|t| t.error().is_none())
                .filter(|t| {
                    names.contains(t.name())
                        || (!t.name().starts_with("__") && patterns.iter().any(|re| re.is_match(t.name())))
                })
                .map(|t| (t.name().to_string(), t.partitions().iter().map(|p| p.id()).collect()))
                .collect(),
        )
    }
}

fn tpl(partitions: &[TopicPartition]) -> TopicPartitionList {
    let mut list = TopicPartitionList::new();
    for tp in partitions {
        list.add_partition(&tp.topic, tp.partition);
    }
    list
}
