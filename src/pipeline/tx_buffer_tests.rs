//! Unit tests of the transaction buffer: every edge case of issue 5 point 3.

use std::time::{Duration, Instant};

use sluice_sink_api::testing::EventBuilder;
use sluice_sink_api::{ChangeEvent, Origin, TableId};

use super::*;

/// Sources are strings naming the record (`"a:0@3"`): easy to assert on.
type Src = String;

const TX_TOPIC: &str = "srv.transaction";

fn buffer() -> TxBuffer<Src> {
    buffer_with(TxLimits { max_events: 1000, max_bytes: 1 << 30, max_wait: Duration::from_secs(60) })
}

fn buffer_with(limits: TxLimits) -> TxBuffer<Src> {
    let filter = collection_filter(TX_TOPIC, &["srv.db.a".to_string(), "srv.db.b".to_string()], None).unwrap();
    TxBuffer::new(limits, filter)
}

/// A change of table `db.<table>` in tx `tx` at `order`, from `<table>/<partition>@<offset>`.
fn change(table: &str, partition: i32, offset: i64, tx: &str, order: u64) -> (ChangeEvent, Src) {
    let b = EventBuilder::new(TableId::new(Some("db"), None, table));
    let mut e = EventBuilder::in_tx(b.upsert(offset, offset as u64 + 1, "x"), tx, order);
    e.origin = Origin::new(&format!("srv.db.{table}"), partition, offset);
    (e, format!("{table}:{partition}@{offset}"))
}

fn begin(offset: i64, tx: &str) -> (TxMarker, Src) {
    marker(offset, tx, TxStatus::Begin, None, vec![])
}

fn end(offset: i64, tx: &str, counts: &[(&str, u64)]) -> (TxMarker, Src) {
    let total = counts.iter().map(|(_, n)| n).sum();
    marker(offset, tx, TxStatus::End, Some(total), counts.iter().map(|(c, n)| (c.to_string(), *n)).collect())
}

fn marker(offset: i64, tx: &str, status: TxStatus, count: Option<u64>, dc: Vec<(String, u64)>) -> (TxMarker, Src) {
    (
        TxMarker {
            origin: Origin::new(TX_TOPIC, 0, offset),
            status,
            id: tx.to_string(),
            event_count: count,
            data_collections: dc,
            ts: None,
        },
        format!("tx:{offset}"),
    )
}

fn push_c(buf: &mut TxBuffer<Src>, (e, s): (ChangeEvent, Src)) -> Vec<Unit<Src>> {
    buf.push_change(e, s, 100)
}

fn push_m(buf: &mut TxBuffer<Src>, (m, s): (TxMarker, Src)) -> Vec<Unit<Src>> {
    buf.push_marker(m, s)
}

/// (event sources in order, extra sources) of a unit.
fn shape(unit: &Unit<Src>) -> (Vec<Src>, Vec<Src>) {
    (unit.events.iter().flat_map(|p| p.sources.clone()).collect(), unit.extra_sources.clone())
}

fn strs(v: &[&str]) -> Vec<Src> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn complete_transaction_is_released_whole_in_total_order() {
    let mut buf = buffer();
    assert!(push_m(&mut buf, begin(0, "t1")).is_empty());
    assert!(push_c(&mut buf, change("a", 0, 10, "t1", 2)).is_empty());
    assert!(push_c(&mut buf, change("a", 0, 9, "t1", 1)).is_empty());
    assert!(push_c(&mut buf, change("b", 0, 5, "t1", 3)).is_empty());
    let units = push_m(&mut buf, end(1, "t1", &[("db.a", 2), ("db.b", 1)]));
    assert_eq!(units.len(), 1);
    assert_eq!(shape(&units[0]), (strs(&["a:0@9", "a:0@10", "b:0@5"]), strs(&["tx:0", "tx:1"])));
    assert_eq!(buf.buffered(), 0);
    assert!(buf.resolved_now().is_empty());
}

#[test]
fn end_before_data_waits_for_the_counts() {
    let mut buf = buffer();
    push_m(&mut buf, begin(0, "t1"));
    assert!(push_m(&mut buf, end(1, "t1", &[("db.a", 1), ("db.b", 2)])).is_empty());
    assert!(push_c(&mut buf, change("b", 0, 0, "t1", 2)).is_empty());
    assert!(push_c(&mut buf, change("a", 0, 0, "t1", 1)).is_empty(), "db.b still misses one event");
    let units = push_c(&mut buf, change("b", 0, 1, "t1", 3));
    assert_eq!(units.len(), 1);
    assert_eq!(shape(&units[0]).0, strs(&["a:0@0", "b:0@0", "b:0@1"]));
}

#[test]
fn data_before_begin_joins_its_transaction() {
    let mut buf = buffer();
    assert!(push_c(&mut buf, change("a", 0, 0, "t1", 1)).is_empty());
    assert!(push_c(&mut buf, change("b", 0, 0, "t1", 2)).is_empty());
    assert_eq!(buf.buffered(), 1);
    assert!(push_m(&mut buf, begin(0, "t1")).is_empty(), "no END yet");
    let units = push_m(&mut buf, end(1, "t1", &[("db.a", 1), ("db.b", 1)]));
    assert_eq!(units.len(), 1);
    assert_eq!(shape(&units[0]), (strs(&["a:0@0", "b:0@0"]), strs(&["tx:0", "tx:1"])));
}

#[test]
fn releases_in_commit_order_even_when_a_later_one_completes_first() {
    let mut buf = buffer();
    push_m(&mut buf, begin(0, "t1"));
    push_m(&mut buf, end(1, "t1", &[("db.a", 1)]));
    push_m(&mut buf, begin(2, "t2"));
    push_m(&mut buf, end(3, "t2", &[("db.b", 1)]));
    assert!(push_c(&mut buf, change("b", 0, 0, "t2", 1)).is_empty(), "t2 is complete but t1 is not released yet");
    let units = push_c(&mut buf, change("a", 0, 0, "t1", 1));
    assert_eq!(units.len(), 2);
    assert_eq!(shape(&units[0]).0, strs(&["a:0@0"]));
    assert_eq!(shape(&units[1]).0, strs(&["b:0@0"]));
}

#[test]
fn transaction_spanning_topics_and_partitions() {
    let mut buf = buffer();
    push_m(&mut buf, begin(0, "t1"));
    push_c(&mut buf, change("a", 1, 7, "t1", 2));
    push_c(&mut buf, change("b", 2, 3, "t1", 3));
    push_c(&mut buf, change("a", 0, 4, "t1", 1));
    assert!(push_c(&mut buf, change("b", 0, 9, "t1", 4)).is_empty());
    let units = push_m(&mut buf, end(1, "t1", &[("db.a", 2), ("db.b", 2)]));
    assert_eq!(units.len(), 1);
    assert_eq!(shape(&units[0]).0, strs(&["a:0@4", "a:1@7", "b:2@3", "b:0@9"]));
}

#[test]
fn collections_the_pipeline_does_not_consume_are_not_waited_for() {
    let mut buf = buffer();
    push_m(&mut buf, begin(0, "t1"));
    push_c(&mut buf, change("a", 0, 0, "t1", 1));
    let units = push_m(&mut buf, end(1, "t1", &[("db.a", 1), ("db.other", 5)]));
    assert_eq!(units.len(), 1, "db.other is not subscribed (no srv.db.other topic)");
}

#[test]
fn empty_transaction_resolves_its_markers_at_once() {
    let mut buf = buffer();
    assert!(push_m(&mut buf, begin(0, "ddl")).is_empty());
    assert!(buf.resolved_now().is_empty(), "BEGIN alone: END may still name data");
    assert!(push_m(&mut buf, end(1, "ddl", &[])).is_empty());
    assert_eq!(buf.resolved_now(), strs(&["tx:0", "tx:1"]));
    assert_eq!(buf.buffered(), 0);
    // and it does not block the transaction after it
    push_m(&mut buf, begin(2, "t2"));
    push_c(&mut buf, change("a", 0, 0, "t2", 1));
    assert_eq!(push_m(&mut buf, end(3, "t2", &[("db.a", 1)])).len(), 1);
}

#[test]
fn empty_transaction_behind_an_incomplete_one_does_not_wait() {
    let mut buf = buffer();
    push_m(&mut buf, begin(0, "t1"));
    push_m(&mut buf, begin(1, "ddl"));
    push_m(&mut buf, end(2, "ddl", &[]));
    assert_eq!(buf.resolved_now(), strs(&["tx:1", "tx:2"]));
    push_c(&mut buf, change("a", 0, 0, "t1", 1));
    assert_eq!(push_m(&mut buf, end(3, "t1", &[("db.a", 1)])).len(), 1);
}

#[test]
fn end_counts_never_reached_split_on_timeout() {
    let limits = TxLimits { max_events: 1000, max_bytes: 1 << 30, max_wait: Duration::from_millis(50) };
    let mut buf = buffer_with(limits);
    push_m(&mut buf, begin(0, "t1"));
    push_c(&mut buf, change("a", 0, 0, "t1", 1));
    assert!(push_m(&mut buf, end(1, "t1", &[("db.a", 3)])).is_empty());
    push_m(&mut buf, begin(2, "t2"));
    push_c(&mut buf, change("b", 0, 0, "t2", 1));
    assert!(push_m(&mut buf, end(3, "t2", &[("db.b", 1)])).is_empty(), "t2 waits behind t1");
    assert!(buf.next_deadline().is_some(), "something is buffered");
    let units = buf.tick(Instant::now() + Duration::from_secs(1));
    assert_eq!(units.len(), 2, "t1 in part, then t2 whole");
    assert_eq!(shape(&units[0]), (strs(&["a:0@0"]), strs(&["tx:0", "tx:1"])));
    assert_eq!(shape(&units[1]), (strs(&["b:0@0"]), strs(&["tx:2", "tx:3"])));
    // the late rest of t1 passes through, one by one; nothing is dropped
    let late = push_c(&mut buf, change("a", 0, 1, "t1", 2));
    assert_eq!(late.len(), 1);
    assert_eq!(buf.buffered(), 0);
    assert_eq!(buf.next_deadline(), None);
}

#[test]
fn data_without_markers_is_released_by_the_timeout() {
    let limits = TxLimits { max_events: 1000, max_bytes: 1 << 30, max_wait: Duration::from_millis(10) };
    let mut buf = buffer_with(limits);
    push_c(&mut buf, change("a", 0, 0, "orphan", 1));
    push_c(&mut buf, change("a", 0, 1, "orphan", 2));
    let units = buf.tick(Instant::now() + Duration::from_secs(1));
    assert_eq!(units.len(), 1);
    assert_eq!(shape(&units[0]).0, strs(&["a:0@0", "a:0@1"]));
}

#[test]
fn oversized_transactions_are_split_never_dropped() {
    let limits = TxLimits { max_events: 2, max_bytes: 1 << 30, max_wait: Duration::from_secs(60) };
    let mut buf = buffer_with(limits);
    push_m(&mut buf, begin(0, "big"));
    assert!(push_c(&mut buf, change("a", 0, 0, "big", 1)).is_empty());
    assert!(push_c(&mut buf, change("a", 0, 1, "big", 2)).is_empty());
    let part = push_c(&mut buf, change("a", 0, 2, "big", 3));
    assert_eq!(part.len(), 1);
    assert_eq!(shape(&part[0]), (strs(&["a:0@0", "a:0@1", "a:0@2"]), strs(&["tx:0"])));
    assert_eq!(push_c(&mut buf, change("a", 0, 3, "big", 4)).len(), 1);
    assert!(push_m(&mut buf, end(1, "big", &[("db.a", 4)])).is_empty());
    assert_eq!(buf.resolved_now(), strs(&["tx:1"]));
    let by_bytes = TxLimits { max_events: 1000, max_bytes: 150, max_wait: Duration::from_secs(60) };
    let mut buf = buffer_with(by_bytes);
    assert!(push_c(&mut buf, change("a", 0, 0, "t", 1)).is_empty());
    assert_eq!(push_c(&mut buf, change("a", 0, 1, "t", 2)).len(), 1, "200 bytes > 150");
}

#[test]
fn duplicates_of_released_transactions_are_recognised() {
    let mut buf = buffer();
    push_m(&mut buf, begin(0, "t1"));
    push_c(&mut buf, change("a", 0, 0, "t1", 1));
    assert_eq!(push_m(&mut buf, end(1, "t1", &[("db.a", 1)])).len(), 1);
    // re-delivered after a re-assignment: BEGIN, data, END again
    assert!(push_m(&mut buf, begin(0, "t1")).is_empty());
    let again = push_c(&mut buf, change("a", 0, 0, "t1", 1));
    assert_eq!(again.len(), 1, "applied alone (stale in the sinks), never held");
    assert!(push_m(&mut buf, end(1, "t1", &[("db.a", 1)])).is_empty());
    assert_eq!(buf.resolved_now(), strs(&["tx:0", "tx:1"]), "duplicate markers resolve at once");
    assert_eq!(buf.buffered(), 0, "nothing waits for a transaction that was already applied");
    // a later transaction is not blocked by the duplicates
    push_m(&mut buf, begin(2, "t2"));
    push_c(&mut buf, change("a", 0, 1, "t2", 1));
    assert_eq!(push_m(&mut buf, end(3, "t2", &[("db.a", 1)])).len(), 1);
}

#[test]
fn duplicate_markers_after_restart_without_data_do_not_block_forever() {
    // After a restart the transaction topic is re-read from an older offset
    // than the data partitions: t0's markers come again, its data does not.
    let limits = TxLimits { max_events: 1000, max_bytes: 1 << 30, max_wait: Duration::from_millis(20) };
    let mut buf = buffer_with(limits);
    push_m(&mut buf, begin(0, "t0"));
    push_m(&mut buf, end(1, "t0", &[("db.a", 1)]));
    push_m(&mut buf, begin(2, "t1"));
    push_c(&mut buf, change("a", 0, 5, "t1", 1));
    assert!(push_m(&mut buf, end(3, "t1", &[("db.a", 1)])).is_empty(), "t1 waits behind t0 for now");
    let units = buf.tick(Instant::now() + Duration::from_secs(1));
    assert_eq!(units.len(), 2, "t0 (no data: its markers only) then t1 whole");
    assert_eq!(shape(&units[0]), (vec![], strs(&["tx:0", "tx:1"])));
    assert_eq!(shape(&units[1]).0, strs(&["a:0@5"]));
}

#[test]
fn events_without_transaction_pass_through() {
    let mut buf = buffer();
    let b = EventBuilder::new(TableId::new(Some("db"), None, "a"));
    let units = buf.push_change(b.upsert(1, 1, "snapshot"), "snap".to_string(), 10);
    assert_eq!(units.len(), 1);
    assert!(buf.units_are_transactions());
}

#[test]
fn revoke_drops_buffered_records_of_the_revoked_partitions() {
    let mut buf = buffer();
    push_m(&mut buf, begin(0, "t1"));
    push_c(&mut buf, change("a", 0, 0, "t1", 1));
    push_c(&mut buf, change("b", 1, 0, "t1", 2));
    let mut dropped = buf.revoke(&[TopicPartition::new("srv.db.b", 1)]);
    assert_eq!(dropped, strs(&["b:1@0"]));
    assert!(push_m(&mut buf, end(1, "t1", &[("db.a", 1), ("db.b", 1)])).is_empty(), "db.b's event is gone");
    dropped = buf.revoke(&[TopicPartition::new(TX_TOPIC, 0)]);
    dropped.sort();
    assert_eq!(dropped, strs(&["tx:0", "tx:1"]));
    // re-delivered by the new assignment: completes normally
    push_m(&mut buf, begin(0, "t1"));
    push_c(&mut buf, change("b", 1, 0, "t1", 2));
    assert_eq!(push_m(&mut buf, end(1, "t1", &[("db.a", 1), ("db.b", 1)])).len(), 1);
}

#[test]
fn drain_leaves_incomplete_transactions_unresolved() {
    let mut buf = buffer();
    push_m(&mut buf, begin(0, "t1"));
    push_c(&mut buf, change("a", 0, 0, "t1", 1));
    let mut left = buf.drain_unresolved();
    left.sort();
    assert_eq!(left, strs(&["a:0@0", "tx:0"]));
    assert_eq!(buf.buffered(), 0);
}

#[test]
fn without_data_collections_the_event_count_is_awaited() {
    let mut buf = buffer();
    push_m(&mut buf, begin(0, "t1"));
    push_c(&mut buf, change("a", 0, 0, "t1", 1));
    let (mut m, s) = end(1, "t1", &[]);
    m.event_count = Some(2);
    assert!(buf.push_marker(m, s).is_empty());
    assert_eq!(push_c(&mut buf, change("b", 0, 0, "t1", 2)).len(), 1);
}

#[test]
fn collection_filter_follows_topics_and_regex() {
    let f = collection_filter("srv.transaction", &["srv.db.a".into()], None).unwrap();
    assert!(f("db.a"));
    assert!(!f("db.b"));
    let f = collection_filter("srv.transaction", &[], Some(r"srv\.db\..*")).unwrap();
    assert!(f("db.anything"));
    assert!(!f("other.x"));
}
