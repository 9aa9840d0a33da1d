//! Turning the `sluice dlq` filter flags into an [`EntryFilter`], with errors
//! that name the flag and what was expected.

use chrono::{DateTime, NaiveDate, Utc};
use sluice_sink_api::RejectKind;

use super::args::DlqFilter;
use crate::config::ERROR_CLASSES;
use crate::dlq::{EntryFilter, EntryState};

/// A bad command-line argument: printed as `error: …`, exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl UsageError {
    /// The usage error as an `anyhow::Error` (the CLI maps it to exit code 2).
    pub fn error(message: impl Into<String>) -> anyhow::Error {
        anyhow::Error::new(UsageError(message.into()))
    }
}

/// An instant given as RFC 3339 (`2025-06-01T12:00:00Z`), a date
/// (`2025-06-01`, midnight UTC), or a duration before `now` (`2h`, `30m`, `7d`).
pub fn parse_instant(flag: &str, text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, anyhow::Error> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
    }
    if let Ok(d) = parse_duration(flag, text) {
        let d = chrono::Duration::from_std(d)
            .map_err(|_| UsageError::error(format!("{flag}: {text:?} is too long ago")))?;
        return now.checked_sub_signed(d).ok_or_else(|| UsageError::error(format!("{flag}: {text:?} is too long ago")));
    }
    Err(UsageError::error(format!(
        "{flag}: {text:?} is neither an RFC 3339 time (2025-06-01T12:00:00Z), a date (2025-06-01) nor a duration \
         ago (30m, 2h, 7d)"
    )))
}

/// A duration such as `30d`, `2h`, `90m`, `1h 30m`.
pub fn parse_duration(flag: &str, text: &str) -> Result<std::time::Duration, anyhow::Error> {
    humantime::parse_duration(text.trim())
        .map_err(|e| UsageError::error(format!("{flag}: {text:?} is not a duration ({e}); examples: 30m, 2h, 7d, 30d")))
}

/// Validates an error class name.
pub fn parse_class(text: &str) -> Result<String, anyhow::Error> {
    match RejectKind::parse(text) {
        Some(k) => Ok(k.as_str().to_string()),
        None => Err(UsageError::error(format!(
            "--class: unknown error class {text:?}; one of {}",
            ERROR_CLASSES.join(", ")
        ))),
    }
}

/// The filter flags as an [`EntryFilter`] scoped to `default_group` (the
/// configuration's consumer group) unless `--group` names another.
pub fn to_entry_filter(
    args: &DlqFilter,
    default_group: Option<&str>,
    now: DateTime<Utc>,
) -> Result<EntryFilter, anyhow::Error> {
    let since = args.since.as_deref().map(|s| parse_instant("--since", s, now)).transpose()?;
    let until = args.until.as_deref().map(|s| parse_instant("--until", s, now)).transpose()?;
    if let (Some(s), Some(u)) = (since, until)
        && s >= u
    {
        return Err(UsageError::error(format!("--since ({s}) must be before --until ({u})")));
    }
    let state = match (args.unresolved, args.resolved) {
        (true, false) => EntryState::Unresolved,
        (false, true) => EntryState::Resolved,
        _ => EntryState::Any,
    };
    for (flag, value) in
        [("--table", &args.table), ("--topic", &args.topic), ("--sink", &args.sink), ("--group", &args.group)]
    {
        if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
            return Err(UsageError::error(format!("{flag}: must not be empty")));
        }
    }
    Ok(EntryFilter {
        group: args.group.clone().or_else(|| default_group.map(str::to_string)),
        ids: Vec::new(),
        table: args.table.clone(),
        topic: args.topic.clone(),
        class: args.class.as_deref().map(parse_class).transpose()?,
        sink: args.sink.clone(),
        since,
        until,
        state,
        resolved_before: None,
    })
}

/// Whether any filter flag (other than the group) is set.
pub fn has_conditions(args: &DlqFilter) -> bool {
    args.table.is_some()
        || args.topic.is_some()
        || args.class.is_some()
        || args.since.is_some()
        || args.until.is_some()
        || args.unresolved
        || args.resolved
        || args.sink.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-06-10T12:00:00Z").unwrap().with_timezone(&Utc)
    }

    #[test]
    fn instants() {
        assert_eq!(parse_instant("--since", "2h", now()).unwrap().to_rfc3339(), "2025-06-10T10:00:00+00:00");
        assert_eq!(parse_instant("--since", "7d", now()).unwrap().to_rfc3339(), "2025-06-03T12:00:00+00:00");
        assert_eq!(
            parse_instant("--since", "2025-06-01T08:30:00+02:00", now()).unwrap().to_rfc3339(),
            "2025-06-01T06:30:00+00:00"
        );
        assert_eq!(parse_instant("--until", "2025-06-01", now()).unwrap().to_rfc3339(), "2025-06-01T00:00:00+00:00");
        let err = parse_instant("--since", "yesterday", now()).unwrap_err().to_string();
        assert!(err.starts_with("--since: \"yesterday\" is neither"), "{err}");
    }

    #[test]
    fn classes_and_filters() {
        assert_eq!(parse_class("data_type").unwrap(), "data_type");
        let err = parse_class("typo").unwrap_err().to_string();
        assert!(err.contains("one of decode, schema"), "{err}");
        let args = DlqFilter { since: Some("1h".into()), until: Some("2h".into()), ..DlqFilter::default() };
        let err = to_entry_filter(&args, None, now()).unwrap_err().to_string();
        assert!(err.contains("must be before --until"), "{err}");
        let args = DlqFilter { unresolved: true, class: Some("decode".into()), ..DlqFilter::default() };
        let f = to_entry_filter(&args, Some("g"), now()).unwrap();
        assert_eq!(
            (f.group.as_deref(), f.state, f.class.as_deref()),
            (Some("g"), EntryState::Unresolved, Some("decode"))
        );
        assert!(has_conditions(&args));
        assert!(!has_conditions(&DlqFilter { group: Some("x".into()), ..DlqFilter::default() }));
    }
}
