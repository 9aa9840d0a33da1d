//! Start-up check of the server's binlog settings.
//!
//! Row-based CDC needs `log_bin=ON`, `binlog_format=ROW`,
//! `binlog_row_image=FULL` (every column in both images, so updates and
//! deletes carry the whole row and the key) and `binlog_row_metadata=FULL`
//! (column names, signedness, charsets, enum/set values and the primary key in
//! every TABLE_MAP, so events are decoded with the schema in force when they
//! were written). [`check_binlog_settings`] is pure: it takes the variables the
//! server reported and names every wrong setting with the value found.

use std::collections::HashMap;

use crate::error::SourceError;
use crate::gtid::Flavor;

/// The variables the check reads (`SHOW GLOBAL VARIABLES WHERE Variable_name IN (...)`).
pub const CHECKED_VARIABLES: [&str; 9] = [
    "log_bin",
    "binlog_format",
    "binlog_row_image",
    "binlog_row_metadata",
    "server_id",
    "version",
    "binlog_checksum",
    "gtid_mode",
    "log_bin_compress",
];

/// Server family from `@@version` (`10.11.19-MariaDB-…` is MariaDB).
pub fn detect_flavor(version: &str) -> Flavor {
    if version.to_ascii_lowercase().contains("mariadb") { Flavor::Mariadb } else { Flavor::Mysql }
}

/// Checks the binlog settings; `Err` names every problem (setting, value
/// found, value needed). Variable names are matched case-insensitively.
pub fn check_binlog_settings(vars: &HashMap<String, String>) -> Result<(), SourceError> {
    let get = |name: &str| vars.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_string());
    let mut problems = Vec::new();
    let mut expect = |name: &str, wanted: &[&str], hint: &str| match get(name) {
        Some(v) if wanted.iter().any(|w| v.eq_ignore_ascii_case(w)) => {}
        Some(v) => problems.push(format!("{name} is `{v}` but must be {} ({hint})", wanted[0])),
        None => problems.push(format!("{name} is not set on the server but must be {} ({hint})", wanted[0])),
    };
    expect("log_bin", &["ON", "1"], "enable the binary log: log_bin in my.cnf");
    expect("binlog_format", &["ROW"], "SET GLOBAL binlog_format=ROW or binlog_format=ROW in my.cnf");
    expect("binlog_row_image", &["FULL"], "binlog_row_image=FULL so every column is in both images");
    expect(
        "binlog_row_metadata",
        &["FULL"],
        "binlog_row_metadata=FULL (MySQL 8.0.1+, MariaDB 10.5+) so TABLE_MAP events carry column names and keys",
    );
    match get("server_id") {
        Some(v) if v != "0" => {}
        Some(v) => problems.push(format!("server_id is `{v}` but must be a non-zero id")),
        None => {}
    }
    if let Some(v) = get("log_bin_compress")
        && v.eq_ignore_ascii_case("ON")
    {
        problems
            .push("log_bin_compress is `ON` but must be OFF (compressed MariaDB row events are not supported)".into());
    }
    if problems.is_empty() { Ok(()) } else { Err(SourceError::ServerSettings(problems.join("; "))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn good() -> Vec<(&'static str, &'static str)> {
        vec![
            ("log_bin", "ON"),
            ("binlog_format", "ROW"),
            ("binlog_row_image", "FULL"),
            ("binlog_row_metadata", "FULL"),
            ("server_id", "1"),
        ]
    }

    #[test]
    fn accepts_row_full_full() {
        check_binlog_settings(&vars(&good())).unwrap();
    }

    #[test]
    fn names_each_wrong_setting_and_value() {
        for (name, bad) in [
            ("log_bin", "OFF"),
            ("binlog_format", "MIXED"),
            ("binlog_row_image", "MINIMAL"),
            ("binlog_row_metadata", "NO_LOG"),
        ] {
            let mut v = good();
            v.retain(|(k, _)| *k != name);
            v.push((name, bad));
            let msg = check_binlog_settings(&vars(&v)).unwrap_err().to_string();
            assert!(msg.contains(name) && msg.contains(&format!("`{bad}`")), "{msg}");
        }
        let mut v = good();
        v.retain(|(k, _)| *k != "binlog_row_metadata");
        let msg = check_binlog_settings(&vars(&v)).unwrap_err().to_string();
        assert!(msg.contains("binlog_row_metadata is not set"), "{msg}");
        let all_bad = vars(&[("log_bin", "OFF"), ("binlog_format", "STATEMENT")]);
        let msg = check_binlog_settings(&all_bad).unwrap_err().to_string();
        assert!(msg.contains("log_bin is `OFF`") && msg.contains("binlog_format is `STATEMENT`"), "{msg}");
        assert!(msg.contains("binlog_row_image") && msg.contains("binlog_row_metadata"), "{msg}");
    }

    #[test]
    fn flavor_from_version() {
        assert_eq!(detect_flavor("10.11.19-MariaDB-0+deb12u1-log"), Flavor::Mariadb);
        assert_eq!(detect_flavor("8.0.36"), Flavor::Mysql);
    }
}
