//! The dedicated instances against the real binaries installed by `scripts/services`:
//! start, answer, kill (SIGKILL), restart on the same port, freeze/thaw, cleanup on drop.
//! A missing binary fails these tests (with a message naming `scripts/services`).

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::Message;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use sluice_testkit::{OsmemInstance, RedisInstance, TansuInstance, kafka_topic, probe, wait_for_port};

#[tokio::test]
async fn redis_instance_kill_freeze_restart_and_drop() {
    let mut redis = RedisInstance::start().await;
    let addr = redis.addr();
    assert!(redis.url().ends_with(&format!(":{}", redis.port())));
    assert!(probe::redis_ping(&addr).await, "fresh instance answers PING");

    redis.freeze();
    assert!(!probe::redis_ping(&addr).await, "a frozen instance must not answer");
    redis.thaw();
    assert!(probe::redis_ping(&addr).await, "a thawed instance answers again");

    redis.kill();
    assert!(!redis.is_running());
    assert!(!probe::redis_ping(&addr).await, "a killed instance must not answer");
    redis.restart().await;
    assert!(redis.is_running());
    assert!(probe::redis_ping(&addr).await, "restarted on the same port");

    let dir = redis.dir().to_path_buf();
    drop(redis);
    assert!(!probe::redis_ping(&addr).await, "drop kills the process");
    assert!(!dir.exists(), "drop removes the instance directory");
}

#[tokio::test]
async fn osmem_instance_answers_and_restarts() {
    let mut osmem = OsmemInstance::start().await;
    let addr = osmem.addr();
    assert!(osmem.url().starts_with("http://127.0.0.1:"));
    assert!(probe::http_get_ok(&addr).await);
    osmem.kill();
    assert!(!probe::http_get_ok(&addr).await);
    osmem.restart().await;
    assert!(probe::http_get_ok(&addr).await);
    wait_for_port(&addr, Duration::from_secs(1)).await.expect("port open after restart");
}

#[tokio::test]
async fn two_instances_get_distinct_ports() {
    let a = RedisInstance::start().await;
    let b = RedisInstance::start().await;
    assert_ne!(a.port(), b.port());
    assert!(probe::redis_ping(&a.addr()).await && probe::redis_ping(&b.addr()).await);
}

/// tansu keeps topics and records in SQLite across kill -9 and a restart on the same port.
#[tokio::test]
async fn tansu_instance_keeps_data_across_kill_and_restart() {
    let mut tansu = TansuInstance::start().await;
    let brokers = tansu.brokers();
    let topic = kafka_topic("testkit-tansu");

    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", &brokers).create().expect("admin client");
    let created = admin
        .create_topics([&NewTopic::new(&topic, 1, TopicReplication::Fixed(1))], &AdminOptions::new())
        .await
        .expect("create_topics request");
    assert!(created.iter().all(|r| r.is_ok()), "{created:?}");

    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("message.timeout.ms", "10000")
        .create()
        .expect("producer");
    producer
        .send(FutureRecord::to(&topic).key("k").payload("survives"), Duration::from_secs(10))
        .await
        .expect("produce");
    drop(producer);

    tansu.kill();
    assert!(!probe::kafka_api_versions(&brokers).await, "killed broker must not answer");
    tansu.restart().await;
    assert_eq!(tansu.brokers(), brokers, "same port after restart");

    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", kafka_topic("testkit-group"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    consumer.subscribe(&[&topic]).expect("subscribe");
    let message = tokio::time::timeout(Duration::from_secs(20), consumer.recv())
        .await
        .expect("the record produced before the kill arrives within 20s")
        .expect("consume");
    assert_eq!(message.payload(), Some(&b"survives"[..]));
    assert_eq!(message.key(), Some(&b"k"[..]));
}
