use super::*;

const GOOD: &str = r#"
[kafka]
brokers = "127.0.0.1:19092"
group_id = "g"
topics = ["dbserver1.inventory.customers"]

[batch]
max_events = 1000
max_bytes = "4MiB"
max_wait = "20ms"

[dlq]
url = "postgres://postgres@127.0.0.1:5432/test"

[[sink]]
name = "mem"
kind = "memory"
"#;

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

fn problems_of(text: &str) -> Vec<String> {
    match load_str(text, "test.toml", no_env()) {
        Ok(_) => Vec::new(),
        Err(ConfigError::Invalid { problems, .. }) => problems.iter().map(|p| p.to_string()).collect(),
        Err(e) => vec![e.to_string()],
    }
}

#[test]
fn good_config_loads_with_defaults() {
    let c = load_str(GOOD, "test.toml", no_env()).unwrap();
    assert_eq!(c.config.batch.max_events, 1000);
    assert_eq!(c.config.batch.max_bytes.0, 4 << 20);
    assert_eq!(c.config.batch.max_wait, std::time::Duration::from_millis(20));
    assert_eq!(c.config.commit.interval, DEFAULT_COMMIT_INTERVAL);
    assert_eq!(c.pipeline_name(), "g");
    assert_eq!(c.sinks.len(), 1);
}

#[test]
fn every_problem_is_reported_with_its_path() {
    let text = r#"
[kafka]
brokers = "nohostport"
group_id = ""
topics = ["bad topic!"]
properties = { "enable.auto.commit" = "true" }

[batch]
max_events = 0
max_wait = "soon"

[dlq]
url = "mysql://x"
class_tolerance = { nonsense = "none" }

[[sink]]
name = "a"
kind = "memory"
colour = "blue"

[[sink]]
name = "b"
kind = "teleport"

[bogus]
x = 1
"#;
    let p = problems_of(text);
    let has = |prefix: &str| p.iter().any(|l| l.starts_with(prefix));
    for path in [
        "kafka.brokers:",
        "kafka.group_id:",
        "kafka.topics[0]:",
        "kafka.properties.enable.auto.commit:",
        "batch.max_wait:",
        "dlq.url:",
        "dlq.class_tolerance.nonsense:",
        "sink[0].colour:",
        "sink[1].kind:",
        "bogus:",
    ] {
        assert!(has(path), "missing problem at {path}; got:\n{}", p.join("\n"));
    }
}

#[test]
fn env_overrides_apply_before_validation() {
    let vars = vec![("SLUICE_KAFKA__BROKERS".to_string(), "10.0.0.1:9092,10.0.0.2:9092".to_string())];
    let c = load_str(GOOD, "test.toml", vars).unwrap();
    assert_eq!(c.config.kafka.unwrap().brokers, "10.0.0.1:9092,10.0.0.2:9092");
    assert_eq!(c.overrides.len(), 1);
}

#[test]
fn secrets_resolve_from_env_and_never_print() {
    let text = format!(
        "{GOOD}\n[schema_registry]\nurl = \"http://r:8081\"\nusername = \"u\"\npassword = {{ env = \"SLUICE_CFG_TEST_UNSET_VAR\" }}\n"
    );
    let p = problems_of(&text);
    assert!(
        p.iter().any(|l| l.starts_with("schema_registry.password:") && l.contains("SLUICE_CFG_TEST_UNSET_VAR")),
        "{p:?}"
    );
    let text =
        format!("{GOOD}\n[schema_registry]\nurl = \"http://r:8081\"\nusername = \"u\"\npassword = \"hunter2\"\n");
    let c = load_str(&text, "t", no_env()).unwrap();
    assert!(!format!("{c:?}").contains("hunter2"));
}

#[test]
fn syntax_errors_name_the_file() {
    let err = load_str("[kafka\nbrokers=1", "pipeline.toml", no_env()).unwrap_err();
    assert!(err.to_string().starts_with("pipeline.toml: TOML syntax error"), "{err}");
}

#[test]
fn dlq_url_required_without_postgres_sink() {
    let text = GOOD.replace("[dlq]\nurl = \"postgres://postgres@127.0.0.1:5432/test\"\n", "");
    let p = problems_of(&text);
    assert!(p.iter().any(|l| l.starts_with("dlq.url:")), "{p:?}");
}

#[test]
fn every_sink_kind_types_and_validates_with_its_path() {
    let text = r#"
[kafka]
brokers = "127.0.0.1:19092"
group_id = "g"
topics = ["t"]

[[sink]]
name = "pg"
kind = "postgres"
url = "postgres://postgres@127.0.0.1:5432/test"

[[sink]]
name = "cache"
kind = "redis"
url = "ftp://not-redis"
mode = "invalidate"

[[sink]]
name = "search"
kind = "elasticsearch"
urls = ["not a url"]
"#;
    let p = problems_of(text);
    assert!(p.iter().any(|l| l.starts_with("sink[1].url:")), "redis url problem named by path: {p:?}");
    assert!(p.iter().any(|l| l.starts_with("sink[2].urls")), "elasticsearch url problem named by path: {p:?}");
    assert!(!p.iter().any(|l| l.starts_with("sink[0]")), "the postgres sink is valid: {p:?}");
    assert!(!p.iter().any(|l| l.starts_with("dlq.url")), "the postgres sink provides the DLQ default: {p:?}");
}

#[test]
fn exactly_once_needs_a_postgres_sink() {
    let text = format!("{GOOD}\n[commit]\nexactly_once_sink = \"mem\"\n");
    let p = problems_of(&text);
    assert!(p.iter().any(|l| l.starts_with("commit.exactly_once_sink:") && l.contains("postgres")), "{p:?}");
}
