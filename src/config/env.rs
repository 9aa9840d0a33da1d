//! `SLUICE_<SECTION>__<KEY>` environment overrides.
//!
//! A variable whose name starts with `SLUICE_` and contains `__` overrides one
//! setting: `SLUICE_KAFKA__BROKERS=b1:9092` sets `kafka.brokers`,
//! `SLUICE_SINK__0__URL` sets `url` of the first `[[sink]]`, and
//! `SLUICE_SINK__PG__URL` sets it on the sink named `pg`. Names are
//! case-insensitive; `__` separates path segments. The value keeps the type of
//! the setting it replaces (a string stays a string even if it looks like a
//! number); a new setting is parsed as a TOML value (`5000`, `true`,
//! `["a","b"]`) or taken as a string. Variables without `__`
//! (`SLUICE_TEST_PG_URL`, `SLUICE_LOG`) are not overrides.

use toml::Value;

/// One applied override, for `sluice check` to report (values are not shown:
/// they may be secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedOverride {
    pub variable: String,
    pub path: String,
}

fn parse_scalar(raw: &str) -> Value {
    match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => t.remove("v").unwrap_or_else(|| Value::String(raw.to_string())),
        Err(_) => Value::String(raw.to_string()),
    }
}

fn coerce_like(existing: Option<&Value>, raw: &str) -> Value {
    match existing {
        Some(Value::String(_)) => Value::String(raw.to_string()),
        _ => parse_scalar(raw),
    }
}

/// Applies every override from `vars` to `root`. Returns what was applied, or
/// an error naming the variable that could not be applied.
pub fn apply_overrides(
    root: &mut Value,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<AppliedOverride>, String> {
    let mut applied = Vec::new();
    let mut vars: Vec<(String, String)> =
        vars.into_iter().filter(|(k, _)| k.starts_with("SLUICE_") && k.contains("__")).collect();
    vars.sort();
    for (name, raw) in vars {
        let segments: Vec<String> = name["SLUICE_".len()..].split("__").map(|s| s.to_ascii_lowercase()).collect();
        if segments.iter().any(String::is_empty) {
            return Err(format!("{name}: empty path segment"));
        }
        let path = set_path(root, &segments, &raw).map_err(|e| format!("{name}: {e}"))?;
        applied.push(AppliedOverride { variable: name, path });
    }
    Ok(applied)
}

fn set_path(root: &mut Value, segments: &[String], raw: &str) -> Result<String, String> {
    let mut node = root;
    let mut shown = String::new();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        // `sink` is an array of tables: next segment is an index or a sink name.
        if let Value::Array(items) = node {
            let index = match segment.parse::<usize>() {
                Ok(n) => n,
                Err(_) => items
                    .iter()
                    .position(|t| {
                        t.get("name").and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref() == Some(segment)
                    })
                    .ok_or_else(|| format!("no [[sink]] named {segment:?}"))?,
            };
            let item = items.get_mut(index).ok_or_else(|| format!("index {index} out of range"))?;
            shown.push_str(&format!("[{index}]"));
            if last {
                *item = coerce_like(Some(item), raw);
                return Ok(shown);
            }
            node = item;
            continue;
        }
        let table = node.as_table_mut().ok_or_else(|| format!("{shown} is not a table"))?;
        if !shown.is_empty() {
            shown.push('.');
        }
        shown.push_str(segment);
        if last {
            let value = coerce_like(table.get(segment.as_str()), raw);
            table.insert(segment.clone(), value);
            return Ok(shown);
        }
        node = table.entry(segment.clone()).or_insert_with(|| Value::Table(toml::Table::new()));
    }
    Ok(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        toml::from_str(
            r#"
            [kafka]
            brokers = "a:1"
            [batch]
            max_events = 10
            [[sink]]
            name = "pg"
            kind = "postgres"
            url = "postgres://x"
            "#,
        )
        .unwrap()
    }

    #[test]
    fn overrides_by_path_index_and_name() {
        let mut d = doc();
        let applied = apply_overrides(
            &mut d,
            vec![
                ("SLUICE_KAFKA__BROKERS".into(), "b:2".into()),
                ("SLUICE_BATCH__MAX_EVENTS".into(), "500".into()),
                ("SLUICE_SINK__PG__URL".into(), "postgres://y".into()),
                ("SLUICE_SINK__0__POOL_SIZE".into(), "4".into()),
                ("SLUICE_TEST_PG_URL".into(), "ignored".into()),
                ("SLUICE_KAFKA__GROUP_ID".into(), "1234".into()),
            ],
        )
        .unwrap();
        assert_eq!(applied.len(), 5);
        assert_eq!(d["kafka"]["brokers"].as_str(), Some("b:2"));
        assert_eq!(d["batch"]["max_events"].as_integer(), Some(500));
        assert_eq!(d["sink"][0]["url"].as_str(), Some("postgres://y"));
        assert_eq!(d["sink"][0]["pool_size"].as_integer(), Some(4));
        // a new key is parsed as TOML: numbers become numbers
        assert_eq!(d["kafka"]["group_id"].as_integer(), Some(1234));
    }

    #[test]
    fn unknown_sink_name_is_an_error_naming_the_variable() {
        let mut d = doc();
        let err = apply_overrides(&mut d, vec![("SLUICE_SINK__NOPE__URL".into(), "x".into())]).unwrap_err();
        assert!(err.contains("SLUICE_SINK__NOPE__URL"), "{err}");
    }
}
