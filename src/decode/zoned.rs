//! Parsing of Debezium's zoned temporal strings.
//!
//! `io.debezium.time.ZonedTimestamp` is an ISO-8601 date-time with an offset
//! (`2014-09-08T17:51:04.78-06:00`, `2011-01-11T16:40:30.123456789Z`);
//! `io.debezium.time.ZonedTime` a time with an offset (`17:51:04.78Z`). Java's
//! ISO formatter omits the seconds when they are zero (`…T16:40Z`) and writes
//! only as many fraction digits as it needs. The precision of the value is the
//! number of fraction digits written.

use chrono::{DateTime, FixedOffset, NaiveDateTime, NaiveTime, Timelike, Utc};
use sluice_sink_api::Precision;

fn fraction_digits(time_part: &str) -> u8 {
    match time_part.find('.') {
        Some(dot) => time_part[dot + 1..].bytes().take_while(u8::is_ascii_digit).count().min(9) as u8,
        None => 0,
    }
}

/// Splits `text` into the part before the zone designator and the offset in seconds.
fn split_offset(text: &str) -> Option<(&str, i32)> {
    if let Some(body) = text.strip_suffix(['Z', 'z']) {
        return Some((body, 0));
    }
    // The offset starts at the last '+' or '-' after the time's first colon.
    let first_colon = text.find(':')?;
    let sign_at = text[first_colon..].rfind(['+', '-'])? + first_colon;
    let (body, offset) = text.split_at(sign_at);
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let digits: String = offset[1..].chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m, s) = match digits.len() {
        2 => (digits[0..2].parse::<i32>().ok()?, 0, 0),
        4 => (digits[0..2].parse::<i32>().ok()?, digits[2..4].parse::<i32>().ok()?, 0),
        6 => (digits[0..2].parse::<i32>().ok()?, digits[2..4].parse::<i32>().ok()?, digits[4..6].parse::<i32>().ok()?),
        _ => return None,
    };
    if h > 18 || m > 59 || s > 59 {
        return None;
    }
    Some((body, sign * (h * 3600 + m * 60 + s)))
}

fn parse_naive_time(text: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(text, "%H:%M:%S%.f").or_else(|_| NaiveTime::parse_from_str(text, "%H:%M")).ok()
}

/// Parses a `ZonedTimestamp` string into the UTC instant and its precision.
pub fn parse_zoned_timestamp(text: &str) -> Option<(DateTime<Utc>, Precision)> {
    let (body, offset_seconds) = split_offset(text.trim())?;
    let (date, time) = body.split_once(['T', 't', ' '])?;
    let date = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    let time = parse_naive_time(time)?;
    let offset = FixedOffset::east_opt(offset_seconds)?;
    let local = NaiveDateTime::new(date, time);
    let instant = local.and_local_timezone(offset).single()?.with_timezone(&Utc);
    Some((instant, Precision::new(fraction_digits(body))))
}

/// Parses a `ZonedTime` string into nanoseconds past midnight, the offset in
/// seconds, and the precision.
pub fn parse_zoned_time(text: &str) -> Option<(i64, i32, Precision)> {
    let (body, offset_seconds) = split_offset(text.trim())?;
    let time = parse_naive_time(body)?;
    let nanos =
        i64::from(time.num_seconds_from_midnight()) * 1_000_000_000 + i64::from(time.nanosecond() % 1_000_000_000);
    Some((nanos, offset_seconds, Precision::new(fraction_digits(body))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_sink_api::temporal::format_utc;

    fn ts(text: &str) -> Option<String> {
        parse_zoned_timestamp(text).map(|(v, p)| format_utc(&v, p))
    }

    #[test]
    fn zoned_timestamps() {
        assert_eq!(ts("2014-09-08T17:51:04.78-06:00").as_deref(), Some("2014-09-08T23:51:04.78Z"));
        assert_eq!(ts("2011-01-11T16:40:30.123456789+00:00").as_deref(), Some("2011-01-11T16:40:30.123456789Z"));
        assert_eq!(ts("2011-01-11T11:40:30.123456789-05:00").as_deref(), Some("2011-01-11T16:40:30.123456789Z"));
        assert_eq!(ts("1970-01-01T00:00:00-06:00").as_deref(), Some("1970-01-01T06:00:00Z"));
        assert_eq!(ts("2020-02-02T10:20Z").as_deref(), Some("2020-02-02T10:20:00Z"));
        assert_eq!(ts("2020-02-02T10:20:00.5+0530").as_deref(), Some("2020-02-02T04:50:00.5Z"));
        assert_eq!(ts("2020-02-02"), None);
        assert_eq!(ts("2020-02-02T10:20:00"), None);
        assert_eq!(ts("garbage"), None);
    }

    #[test]
    fn zoned_times() {
        assert_eq!(parse_zoned_time("17:51:04.78Z"), Some((64_264_780_000_000, 0, Precision::new(2))));
        assert_eq!(parse_zoned_time("01:00:00-06:00"), Some((3_600_000_000_000, -21_600, Precision::SECONDS)));
        assert_eq!(parse_zoned_time("25:00:00Z"), None);
    }
}
