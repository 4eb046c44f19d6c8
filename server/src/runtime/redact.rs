//! Secrets out of captured log lines: the values of the server's own environment variables
//! and the shapes credentials usually take (bearer tokens, `token=…`, well-known key prefixes),
//! replaced before a line is kept, logged or shown.

use std::sync::LazyLock;

use regex::Regex;

/// What replaces a secret.
const HIDDEN: &str = "[redacted]";
/// Environment values shorter than this (`debug`, `1`, `true`) are not treated as secrets.
const MIN_VALUE_LEN: usize = 6;

static PATTERNS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    let rules: [(&str, &str); 3] = [
        // `Authorization: Bearer abc…`, `bearer abc…`
        (
            r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}",
            "$1 [redacted]",
        ),
        // `api_key=…`, `"token": "…"`, `password: …`
        (
            r#"(?i)((?:api[_-]?key|access[_-]?key|token|secret|password|passwd|authorization|client[_-]?secret)["']?\s*[:=]\s*["']?)[^\s"',;&]{4,}"#,
            "${1}[redacted]",
        ),
        // GitHub, OpenAI/Anthropic-style, Slack and AWS key shapes.
        (
            r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_-]{16,}|xox[abpr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16})\b",
            "[redacted]",
        ),
    ];
    rules
        .into_iter()
        .map(|(pattern, with)| (Regex::new(pattern).expect("a valid pattern"), with))
        .collect()
});

/// Redacts the lines of one server.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    values: Vec<String>,
}

impl Redactor {
    /// A redactor that also hides these environment values.
    pub fn new<'a>(env_values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut values: Vec<String> = env_values
            .into_iter()
            .filter(|v| v.chars().count() >= MIN_VALUE_LEN)
            .map(str::to_owned)
            .collect();
        // Longest first, so a value that contains another is hidden whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        Self { values }
    }

    /// `line` with every secret replaced by `[redacted]`.
    pub fn redact(&self, line: &str) -> String {
        let mut out = line.to_owned();
        for value in &self.values {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), HIDDEN);
            }
        }
        for (pattern, with) in PATTERNS.iter() {
            if pattern.is_match(&out) {
                out = pattern.replace_all(&out, *with).into_owned();
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_values_and_credential_shapes_are_hidden() {
        let r = Redactor::new(["s3cr3t-value-123", "debug"]);
        assert_eq!(
            r.redact("using s3cr3t-value-123 at level debug"),
            "using [redacted] at level debug"
        );
        assert_eq!(
            r.redact("sent Bearer abcdefgh12345678"),
            "sent Bearer [redacted]"
        );
        assert!(!r
            .redact("Authorization: Bearer abcdefgh12345678")
            .contains("abcdefgh"));
        assert_eq!(r.redact("api_key=abcd1234 ok"), "api_key=[redacted] ok");
        assert_eq!(
            r.redact(r#"{"token": "xyz98765"}"#),
            r#"{"token": "[redacted]"}"#
        );
        assert_eq!(
            r.redact("key ghp_abcdefghijklmnopqrstuvwxyz0123 leaked"),
            "key [redacted] leaked"
        );
        assert_eq!(
            r.redact("Error: connect ECONNREFUSED 127.0.0.1:5432"),
            "Error: connect ECONNREFUSED 127.0.0.1:5432"
        );
    }
}
