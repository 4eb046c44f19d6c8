//! Secrets stay out of specs: an environment variable whose name looks like a secret must not
//! carry a literal value, and no value may look like a credential. Both belong in a Kubernetes
//! Secret, referenced from `spec.secrets`.

use std::sync::LazyLock;

use crate::registry::policy::{NamePattern, Policy};

/// The schema contract's forbidden property-name patterns (password, secret, token, api key,
/// ...), reused for variable names.
static SECRET_NAMES: LazyLock<Vec<NamePattern>> =
    LazyLock::new(|| Policy::default().forbidden_property_patterns);

/// Prefixes of well-known credential formats.
const CREDENTIAL_PREFIXES: &[&str] = &[
    "ghp_",
    "gho_",
    "ghs_",
    "ghu_",
    "github_pat_",
    "glpat-",
    "sk-",
    "sk_live_",
    "rk_live_",
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "AKIA",
    "ASIA",
    "AIza",
    "-----BEGIN",
];

/// True when an environment variable called `name` would hold a secret.
pub fn name_looks_secret(name: &str) -> bool {
    SECRET_NAMES.iter().any(|pattern| pattern.matches(name))
}

/// True when `value` looks like a credential: a known token format, a JWT, a URL with a
/// password, or a long random-looking string.
pub fn value_looks_secret(value: &str) -> bool {
    let value = value.trim();
    if CREDENTIAL_PREFIXES.iter().any(|p| value.starts_with(p)) && value.len() >= 16 {
        return true;
    }
    if is_jwt(value) || url_with_password(value) {
        return true;
    }
    high_entropy(value)
}

fn is_jwt(value: &str) -> bool {
    let parts: Vec<&str> = value.split('.').collect();
    parts.len() == 3
        && value.starts_with("eyJ")
        && parts.iter().all(|p| {
            p.len() >= 4
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

fn url_with_password(value: &str) -> bool {
    let Some((_, rest)) = value.split_once("://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
}

/// A string of 24 or more token characters mixing upper case, lower case and digits, with a
/// high Shannon entropy: what generated keys look like, and what words and paths do not.
fn high_entropy(value: &str) -> bool {
    if value.len() < 24
        || !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+/=_-.".contains(c))
    {
        return false;
    }
    let classes = [
        value.chars().any(|c| c.is_ascii_lowercase()),
        value.chars().any(|c| c.is_ascii_uppercase()),
        value.chars().any(|c| c.is_ascii_digit()),
    ];
    if classes.iter().filter(|c| **c).count() < 3 {
        return false;
    }
    let mut counts = std::collections::HashMap::new();
    for c in value.chars() {
        *counts.entry(c).or_insert(0usize) += 1;
    }
    let len = value.chars().count() as f64;
    let entropy: f64 = counts
        .values()
        .map(|&n| {
            let p = n as f64 / len;
            -p * p.log2()
        })
        .sum();
    entropy >= 4.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_follow_the_policy_patterns() {
        for name in [
            "GITHUB_TOKEN",
            "API_KEY",
            "apiKey",
            "DB_PASSWORD",
            "CLIENT_SECRET",
        ] {
            assert!(name_looks_secret(name), "{name}");
        }
        for name in ["LOG_LEVEL", "PORT", "TOKENIZER_MODEL", "HOME"] {
            assert!(!name_looks_secret(name), "{name}");
        }
    }

    #[test]
    fn credentials_are_recognised_and_plain_values_are_not() {
        for value in [
            "ghp_0123456789abcdefABCDEF0123456789abcd",
            "sk-proj-abcdefghijklmnop",
            "AKIAIOSFODNN7EXAMPLE",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXZhbHVl",
            "postgres://app:hunter2@db.internal/app",
            "Zx8Qm2Lp9Rt4Vw7Yb1Nc6Hd3Kf5Jg0Sa",
        ] {
            assert!(value_looks_secret(value), "{value}");
        }
        for value in [
            "info",
            "8080",
            "/var/lib/data/models/embedding-small",
            "https://api.example.com/v1",
            "postgres://db.internal/app",
            "hello world this is a long sentence",
        ] {
            assert!(!value_looks_secret(value), "{value}");
        }
    }
}
