//! Configuration vocabulary shared by the engine and the sinks: validation
//! problems that name their path, and secrets that never print.
//!
//! Sink configs are serde structs owned by each sink crate, with a pure
//! `validate(&self, path: &str, problems: &mut Problems)` (no network, no
//! files other than secret files), so `sluice check` can report every problem
//! at once with its path, e.g. `sink[1].url: invalid URL`.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// One configuration problem: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Dotted path of the offending setting, e.g. `sink[1].url`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Collects [`ConfigProblem`]s.
#[derive(Debug, Default, Clone)]
pub struct Problems(pub Vec<ConfigProblem>);

impl Problems {
    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigProblem { path: path.into(), message: message.into() });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &ConfigProblem> {
        self.0.iter()
    }

    /// Checks that `value` parses as a URL with one of `schemes`.
    pub fn check_url(&mut self, path: &str, value: &str, schemes: &[&str]) {
        match url::Url::parse(value) {
            Ok(u) if schemes.contains(&u.scheme()) => {}
            Ok(u) => {
                self.push(path, format!("invalid URL: scheme `{}` is not one of {}", u.scheme(), schemes.join(", ")))
            }
            Err(e) => self.push(path, format!("invalid URL: {e}")),
        }
    }
}

/// A secret value (password, API key, token).
///
/// In TOML it is written as a plain string, or `{ env = "VAR" }`, or
/// `{ file = "/run/secrets/x" }` (trailing newline trimmed). `Debug` and
/// `Display` print `***`; there is no `Serialize`. Read it with
/// [`Secret::expose`] only where it is handed to a client library.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    source: SecretSource,
}

#[derive(Clone, PartialEq, Eq)]
enum SecretSource {
    Literal(String),
    Env(String),
    File(std::path::PathBuf),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SecretRepr {
    Literal(String),
    Env { env: String },
    File { file: std::path::PathBuf },
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let source = match SecretRepr::deserialize(deserializer)? {
            SecretRepr::Literal(s) => SecretSource::Literal(s),
            SecretRepr::Env { env } => SecretSource::Env(env),
            SecretRepr::File { file } => SecretSource::File(file),
        };
        Ok(Secret { source })
    }
}

impl Secret {
    pub fn literal(value: impl Into<String>) -> Self {
        Secret { source: SecretSource::Literal(value.into()) }
    }

    /// The secret's value; an error names the env var or file (never the value).
    pub fn expose(&self) -> Result<String, String> {
        match &self.source {
            SecretSource::Literal(s) => Ok(s.clone()),
            SecretSource::Env(var) => std::env::var(var).map_err(|_| format!("environment variable {var} is not set")),
            SecretSource::File(path) => std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
                .map_err(|e| format!("cannot read secret file {}: {e}", path.display())),
        }
    }

    /// Validation: the secret can be resolved.
    pub fn validate(&self, path: &str, problems: &mut Problems) {
        if let Err(message) = self.expose() {
            problems.push(path, message);
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Replaces the password of a URL with `***`, for logs and error messages.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "<invalid url>".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    struct C {
        a: Secret,
        b: Secret,
    }

    #[test]
    fn secrets_never_print() {
        // SAFETY-free: env var set for this test process only.
        let c: C = toml::from_str("a = \"hunter2\"\nb = { env = \"SLUICE_TEST_NO_SUCH_VAR\" }").unwrap();
        assert_eq!(c.a.expose().unwrap(), "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(c.b.expose().unwrap_err().contains("SLUICE_TEST_NO_SUCH_VAR"));
        assert_eq!(redact_url("postgres://u:pw@h/db"), "postgres://u:***@h/db");
    }
}
