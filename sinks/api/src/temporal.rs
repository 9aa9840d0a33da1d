//! ISO-8601 rendering of temporal values at their own precision.
//!
//! chrono's formatter only knows 3, 6 or 9 fraction digits; Debezium values can
//! carry any number from 0 to 9 (a `TIMESTAMP(2)` zoned string), so the
//! fraction is written here.

use chrono::{DateTime, NaiveDateTime, Timelike, Utc};

use crate::value::Precision;

const NANOS_PER_SECOND: i64 = 1_000_000_000;

fn fraction(nanos_of_second: u32, precision: Precision) -> String {
    let digits = precision.digits() as usize;
    if digits == 0 {
        return String::new();
    }
    let full = format!("{nanos_of_second:09}");
    format!(".{}", &full[..digits])
}

/// `HH:MM:SS[.f…]`; negative times get a leading `-`, hours may exceed 23.
pub fn format_time(nanos: i64, precision: Precision) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let abs = nanos.unsigned_abs();
    let secs = abs / NANOS_PER_SECOND as u64;
    let sub = (abs % NANOS_PER_SECOND as u64) as u32;
    format!("{sign}{:02}:{:02}:{:02}{}", secs / 3600, (secs / 60) % 60, secs % 60, fraction(sub, precision))
}

/// `+HH:MM` / `-HH:MM`, or `Z` for zero.
pub fn format_offset(offset_seconds: i32) -> String {
    if offset_seconds == 0 {
        return "Z".to_string();
    }
    let sign = if offset_seconds < 0 { '-' } else { '+' };
    let abs = offset_seconds.unsigned_abs();
    format!("{sign}{:02}:{:02}", abs / 3600, (abs / 60) % 60)
}

/// `YYYY-MM-DDTHH:MM:SS[.f…]` (no zone).
pub fn format_naive(value: &NaiveDateTime, precision: Precision) -> String {
    format!("{}{}", value.format("%Y-%m-%dT%H:%M:%S"), fraction(value.nanosecond() % 1_000_000_000, precision))
}

/// `YYYY-MM-DDTHH:MM:SS[.f…]Z`.
pub fn format_utc(value: &DateTime<Utc>, precision: Precision) -> String {
    format!("{}Z", format_naive(&value.naive_utc(), precision))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn renders_each_precision() {
        let ts = NaiveDate::from_ymd_opt(2014, 9, 8).unwrap().and_hms_nano_opt(17, 51, 4, 780_000_000).unwrap();
        assert_eq!(format_naive(&ts, Precision::MILLIS), "2014-09-08T17:51:04.780");
        assert_eq!(format_naive(&ts, Precision::new(2)), "2014-09-08T17:51:04.78");
        assert_eq!(format_naive(&ts, Precision::SECONDS), "2014-09-08T17:51:04");
        assert_eq!(format_time(64_264_780_000_000, Precision::MILLIS), "17:51:04.780");
        assert_eq!(format_time(-3_600_000_000_000, Precision::SECONDS), "-01:00:00");
        assert_eq!(format_time(838 * 3600 * 1_000_000_000, Precision::SECONDS), "838:00:00");
        assert_eq!(format_offset(-6 * 3600), "-06:00");
        assert_eq!(format_offset(0), "Z");
    }
}
