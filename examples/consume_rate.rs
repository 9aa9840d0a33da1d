//! Reads a topic from the beginning to its high watermarks with a bare
//! librdkafka consumer (no decoding, no sink) and prints records/s: the
//! broker's own consume rate, the ceiling `bench/pipeline` compares sluice to.
//!
//! `cargo run --release --example consume_rate -- BROKERS TOPIC PARTITIONS`

use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (brokers, topic, partitions) = match args.as_slice() {
        [_, b, t, p] => (b.clone(), t.clone(), p.parse::<i32>().expect("PARTITIONS is a number")),
        _ => {
            eprintln!("usage: consume_rate BROKERS TOPIC PARTITIONS");
            std::process::exit(2);
        }
    };
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", format!("consume-rate-{}", std::process::id()))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    let mut total = 0i64;
    for p in 0..partitions {
        tpl.add_partition_offset(&topic, p, Offset::Beginning).expect("partition");
        let (low, high) = consumer.fetch_watermarks(&topic, p, Duration::from_secs(10)).expect("watermarks");
        total += high - low;
    }
    consumer.assign(&tpl).expect("assign");
    let started = Instant::now();
    let (mut n, mut bytes) = (0i64, 0usize);
    while n < total {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(500)) {
            n += 1;
            bytes += m.payload().map_or(0, <[u8]>::len) + m.key().map_or(0, <[u8]>::len);
        }
        assert!(started.elapsed() < Duration::from_secs(600), "timed out at {n} of {total}");
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "raw consume: {n} records, {:.1} MiB in {secs:.2}s = {:.0} records/s",
        bytes as f64 / 1048576.0,
        n as f64 / secs
    );
}
