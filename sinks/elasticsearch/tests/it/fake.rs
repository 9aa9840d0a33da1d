//! Behaviour osmem-server cannot produce, against a scripted HTTP server:
//! authentication headers, round-robin over nodes, 429/503 items retried
//! alone, a request refused as a whole (413) bisected down to one document,
//! 401 as a fatal error.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sluice_sink_api::testing::EventBuilder;
use sluice_sink_api::{ChangeBatch, ErrorClass, RejectKind, Secret, Sink, TableId};
use sluice_sink_elasticsearch::{AuthConfig, ElasticsearchSinkConfig};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::common::sink;

/// One request as the fake server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub body: String,
}

type Handler = Arc<dyn Fn(&Seen, usize) -> (u16, String) + Send + Sync>;

/// A scripted HTTP/1.1 server: `handler(request, n)` (n = requests so far) answers.
pub struct FakeNode {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeNode {
    pub async fn start(handler: impl Fn(&Seen, usize) -> (u16, String) + Send + Sync + 'static) -> FakeNode {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let handler: Handler = Arc::new(handler);
        let seen_task = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let (seen, handler) = (seen_task.clone(), handler.clone());
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut reader = BufReader::new(read);
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let mut parts = line.split_whitespace();
                        let (method, path) =
                            (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
                        let (mut length, mut authorization) = (0usize, None);
                        loop {
                            let mut header = String::new();
                            reader.read_line(&mut header).await.unwrap();
                            let header = header.trim_end();
                            if header.is_empty() {
                                break;
                            }
                            let (name, value) = header.split_once(':').unwrap_or((header, ""));
                            match name.to_ascii_lowercase().as_str() {
                                "content-length" => length = value.trim().parse().unwrap_or(0),
                                "authorization" => authorization = Some(value.trim().to_string()),
                                _ => {}
                            }
                        }
                        let mut body = vec![0; length];
                        reader.read_exact(&mut body).await.unwrap();
                        let request = Seen { method, path, authorization, body: String::from_utf8_lossy(&body).into() };
                        let n = {
                            let mut seen = seen.lock().unwrap();
                            seen.push(request.clone());
                            seen.len()
                        };
                        let (status, body) = handler(&request, n);
                        let response = format!(
                            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if write.write_all(response.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        FakeNode { url, seen }
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

const GREEN: &str = r#"{"status":"green"}"#;

/// The `_id`s of the actions in a `_bulk` body, in order.
fn bulk_ids(body: &str) -> Vec<String> {
    body.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("index").or(v.get("delete")).and_then(|a| a["_id"].as_str().map(str::to_string)))
        .collect()
}

fn items(statuses: &[u16]) -> String {
    let items: Vec<String> = statuses
        .iter()
        .map(|s| match s {
            200..=299 => format!(r#"{{"index":{{"status":{s}}}}}"#),
            _ => format!(r#"{{"index":{{"status":{s},"error":{{"type":"x_exception","reason":"busy"}}}}}}"#),
        })
        .collect();
    format!(r#"{{"errors":true,"items":[{}]}}"#, items.join(","))
}

fn config(urls: Vec<String>) -> ElasticsearchSinkConfig {
    let mut c = crate::common::config(&urls[0]);
    c.urls = urls;
    c.auto_create_indexes = false;
    // The builder's rows lack the schema's `note`: no stored-document reads here.
    c.unavailable = sluice_sink_elasticsearch::UnavailableMode::Omit;
    c
}

fn batch(n: i64) -> ChangeBatch {
    let b = EventBuilder::new(TableId::new(Some("fake"), None, "t"));
    ChangeBatch::from_events((0..n).map(|i| b.upsert(i, i as u64 + 1, "x")).collect())
}

#[tokio::test]
async fn basic_auth_and_round_robin_over_nodes() {
    let one = FakeNode::start(|_, _| (200, GREEN.into())).await;
    let two = FakeNode::start(|_, _| (200, GREEN.into())).await;
    let mut c = config(vec![one.url.clone(), two.url.clone()]);
    c.auth = Some(AuthConfig::Basic { username: "elastic".into(), password: Secret::literal("hunter2") });
    let sink = sink(c);
    for _ in 0..4 {
        sink.healthcheck().await.unwrap();
    }
    assert_eq!((one.requests().len(), two.requests().len()), (2, 2), "round robin");
    let seen = one.requests()[0].clone();
    assert_eq!((seen.method.as_str(), seen.path.as_str()), ("GET", "/_cluster/health"));
    // base64("elastic:hunter2")
    assert_eq!(seen.authorization.as_deref(), Some("Basic ZWxhc3RpYzpodW50ZXIy"));
    assert!(!format!("{sink:?}").contains("hunter2"));
}

#[tokio::test]
async fn api_key_auth_and_red_or_unauthorized_health() {
    let node = FakeNode::start(|_, n| match n {
        1 => (200, GREEN.into()),
        2 => (200, r#"{"status":"red"}"#.into()),
        _ => (401, r#"{"error":{"type":"security_exception","reason":"unable to authenticate"},"status":401}"#.into()),
    })
    .await;
    let mut c = config(vec![node.url.clone()]);
    c.auth = Some(AuthConfig::ApiKey { id: None, key: Secret::literal("a2V5aWQ6c2VjcmV0") });
    let sink = sink(c);
    sink.healthcheck().await.unwrap();
    assert!(sink.healthcheck().await.unwrap_err().is_transient(), "red is transient");
    let err = sink.healthcheck().await.unwrap_err();
    assert!(err.is_fatal() && err.message.contains("security_exception"), "{}", err.full_message());
    assert_eq!(node.requests()[0].authorization.as_deref(), Some("ApiKey a2V5aWQ6c2VjcmV0"));
}

#[tokio::test]
async fn only_failed_items_are_retried() {
    // First _bulk: items 1 and 3 get 429 and 503; then everything succeeds.
    let node = FakeNode::start(|req, n| {
        let ids = bulk_ids(&req.body);
        let statuses: Vec<u16> = ids
            .iter()
            .enumerate()
            .map(|(i, _)| {
                if n == 1 && i == 1 {
                    429
                } else if n == 1 && i == 3 {
                    503
                } else {
                    201
                }
            })
            .collect();
        (200, items(&statuses))
    })
    .await;
    let sink = sink(config(vec![node.url.clone()]));
    let report = sink.apply(&batch(5)).await.unwrap();
    assert_eq!(report.applied, 5);
    let requests = node.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(bulk_ids(&requests[1].body), vec!["1", "3"], "only the failed items are sent again");
    assert!(requests[1].body.contains(r#""version":4,"version_type":"external_gte""#));
}

#[tokio::test]
async fn persistent_item_failures_become_transient_after_the_budget() {
    let node = FakeNode::start(|req, _| {
        let statuses: Vec<u16> = bulk_ids(&req.body).iter().map(|_| 429).collect();
        (200, items(&statuses))
    })
    .await;
    let mut c = config(vec![node.url.clone()]);
    c.retry.retry_for = Duration::from_millis(300);
    let sink = sink(c);
    let err = sink.apply(&batch(3)).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Transient);
    assert!(err.message.contains("3 bulk item(s) still failing") && err.message.contains("429"), "{}", err.message);
    assert!(node.requests().len() >= 2);
}

#[tokio::test]
async fn a_request_refused_whole_is_bisected_to_the_bad_document() {
    // The server refuses any request holding _id 5 with 413.
    let node = FakeNode::start(|req, _| {
        let ids = bulk_ids(&req.body);
        if ids.iter().any(|id| id == "5") {
            return (413, r#"{"error":{"type":"content_too_long","reason":"too large"},"status":413}"#.into());
        }
        (200, items(&vec![201; ids.len()]))
    })
    .await;
    let sink = sink(config(vec![node.url.clone()]));
    let report = sink.apply(&batch(8)).await.unwrap();
    assert_eq!(report.applied, 7);
    assert_eq!(report.rejected.len(), 1);
    assert_eq!((report.rejected[0].index, report.rejected[0].kind), (5, RejectKind::Mapping));
    assert!(report.rejected[0].message.contains("413"), "{}", report.rejected[0].message);
}
