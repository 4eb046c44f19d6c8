//! Secrets stay out of specs, wherever they could hide: an environment variable whose name
//! looks like a secret must not carry a literal value, no value may look like a credential, an
//! argument may not carry one (a known token shape, or the value of a flag such as `--api-key`),
//! a URL may not carry one (user info, or a query parameter such as `?api_key=`), and a Secret
//! reference under `spec.secrets` holds only `name`, `key` and `targetEnvName`. Every secret
//! belongs in a Kubernetes Secret, referenced from `spec.secrets`. [`scan`] checks a whole spec;
//! its errors name the field and never quote the value.

use std::sync::LazyLock;

use serde_json::{Map, Value};

use crate::registry::policy::{snake_case, NamePattern, Policy};
use crate::validation::{FieldError, Problems};

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

/// True when `value` looks like a credential: a known token format, a JWT, a URL carrying
/// credentials, or a long random-looking string.
pub fn value_looks_secret(value: &str) -> bool {
    value_is_credential(value) || high_entropy(value.trim())
}

/// True when `value` has the shape of a credential, without guessing from randomness: a known
/// token format, a JWT, or a URL carrying credentials. What arguments and free-form fields are
/// checked with, where long random-looking words (hashes, ids) are common.
pub fn value_is_credential(value: &str) -> bool {
    let value = value.trim();
    (CREDENTIAL_PREFIXES.iter().any(|p| value.starts_with(p)) && value.len() >= 16)
        || is_jwt(value)
        || url_credentials(value)
}

/// How to keep a secret out of the spec, for every message about one.
const USE_SECRETS: &str = "store it in a Kubernetes Secret and reference it under spec.secrets \
     as {name: <secret>, key: <key>, targetEnvName: <VARIABLE>}";

/// The fields of a Secret reference under `spec.secrets`.
const SECRET_REF_FIELDS: [&str; 3] = ["name", "key", "targetEnvName"];

/// Checks every place of `spec` where a secret could be written out, recording an error for
/// each (naming the field, never quoting the value). Returns the values it found, so that no
/// other message may quote them either.
pub fn scan(spec: &Map<String, Value>, problems: &mut Problems) -> Vec<String> {
    let mut found = Vec::new();
    for (key, value) in spec {
        let path = format!("spec.{key}");
        match (key.as_str(), value) {
            ("env", Value::Array(entries)) => {
                for (i, entry) in entries.iter().enumerate() {
                    variable(&format!("{path}[{i}]"), entry, problems, &mut found);
                }
            }
            ("args", Value::Array(args)) => arguments(args, problems, &mut found),
            ("secrets", Value::Array(refs)) => secret_refs(refs, problems, &mut found),
            _ => anywhere(&path, value, problems, &mut found),
        }
    }
    found
}

/// An `{name, value}` environment entry: no literal value for a secret-looking name, and no
/// credential-looking value.
fn variable(path: &str, entry: &Value, problems: &mut Problems, found: &mut Vec<String>) {
    let name = entry
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(value) = entry.get("value").and_then(Value::as_str) else {
        return;
    };
    if value.trim().is_empty() {
        return;
    }
    let reason = if name_looks_secret(name) {
        format!("{name} looks like a secret, so its value may not be written into the spec")
    } else if value_looks_secret(value) {
        format!("the value of {name} looks like a credential")
    } else {
        return;
    };
    found.push(value.to_owned());
    problems.push(FieldError::new(
        format!("{path}.value"),
        format!(
            "{reason}; store it in a Kubernetes Secret and reference it under spec.secrets as \
             {{name: <secret>, key: <key>, targetEnvName: {name}}}"
        ),
    ));
}

/// `spec.args`: no credential-shaped argument, and no value for a flag named like a secret
/// (`--api-key X`, `--token=X`), unless it refers to a variable (`$(TOKEN)`).
fn arguments(args: &[Value], problems: &mut Problems, found: &mut Vec<String>) {
    let mut after_secret_flag = false;
    for (i, arg) in args.iter().enumerate() {
        let Some(arg) = arg.as_str() else {
            after_secret_flag = false;
            continue;
        };
        let reason = if value_is_credential(arg) {
            Some("looks like a credential")
        } else if let Some((flag, value)) = arg.split_once('=').filter(|(f, _)| f.starts_with('-'))
        {
            (flag_looks_secret(flag) && is_literal(value))
                .then_some("gives a secret-named flag a literal value")
        } else if after_secret_flag && !arg.starts_with('-') && is_literal(arg) {
            Some("is the literal value of the secret-named flag before it")
        } else {
            None
        };
        after_secret_flag = arg.starts_with('-') && !arg.contains('=') && flag_looks_secret(arg);
        if let Some(reason) = reason {
            found.push(arg.to_owned());
            problems.push(FieldError::new(
                format!("spec.args[{i}]"),
                format!(
                    "{reason}, and a secret may not be written into the spec; {USE_SECRETS}, \
                     and have the server read that variable (or write $(VARIABLE) in args)"
                ),
            ));
        }
    }
}

/// `spec.secrets`: references only; any other field (such as a `value`) is refused by name.
fn secret_refs(refs: &[Value], problems: &mut Problems, found: &mut Vec<String>) {
    for (i, entry) in refs.iter().enumerate() {
        let Some(entry) = entry.as_object() else {
            continue;
        };
        for (key, value) in entry {
            if SECRET_REF_FIELDS.contains(&key.as_str()) {
                continue;
            }
            if let Some(text) = value.as_str() {
                found.push(text.to_owned());
            }
            problems.push(FieldError::new(
                format!("spec.secrets[{i}].{key}"),
                "is not a field of a Secret reference, which holds only name, key and \
                 targetEnvName; the secret's value belongs in the Kubernetes Secret itself, \
                 never in the spec",
            ));
        }
    }
}

/// Any other field, at any depth: no credential-shaped string (a URL with credentials
/// included), and no `{name, value}` pair with a secret-looking name (a pod template's `env`).
fn anywhere(path: &str, value: &Value, problems: &mut Problems, found: &mut Vec<String>) {
    match value {
        Value::String(text) if value_is_credential(text) => {
            found.push(text.clone());
            problems.push(FieldError::new(
                path,
                format!(
                    "carries a credential (a token, or a URL with user info or a secret query \
                     parameter), which may not be written into the spec; {USE_SECRETS}"
                ),
            ));
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                anywhere(&format!("{path}[{i}]"), item, problems, found);
            }
        }
        Value::Object(map) => {
            if map.get("name").is_some_and(Value::is_string)
                && map.get("value").is_some_and(Value::is_string)
            {
                variable(path, value, problems, found);
            }
            for (key, item) in map {
                anywhere(&format!("{path}.{key}"), item, problems, found);
            }
        }
        _ => {}
    }
}

/// True when a command-line flag (`--api-key`, `-token`, `--db-password`) names a secret; a
/// flag that names where a secret is (`--token-file`, `--password-env`) does not.
fn flag_looks_secret(flag: &str) -> bool {
    let name = snake_case(flag.trim_start_matches('-'));
    let points_elsewhere = name.rsplit('_').next().is_some_and(|last| {
        matches!(
            last,
            "file"
                | "path"
                | "dir"
                | "env"
                | "var"
                | "name"
                | "ref"
                | "url"
                | "endpoint"
                | "header"
        )
    });
    !points_elsewhere && name_looks_secret(&name)
}

/// A value written out that could be a secret, rather than a reference to a variable
/// (`$(TOKEN)`, `${TOKEN}`) or a file (`/run/secrets/token`), a number (`--token-limit 100`)
/// or a switch (`--token-auth true`).
fn is_literal(value: &str) -> bool {
    let value = value.trim();
    !value.is_empty()
        && !value.starts_with(['$', '/', '~'])
        && !value.starts_with("./")
        && !value.bytes().all(|b| b.is_ascii_digit())
        && !matches!(value, "true" | "false")
}

/// True when a URL carries credentials: user info (`user:password@`, or a token as the user),
/// or a query parameter named like a secret (`api_key`, `token`, `sig`, `password`).
fn url_credentials(value: &str) -> bool {
    if !value.contains("://") {
        return false;
    }
    let Ok(url) = url::Url::parse(value) else {
        // Not a URL the parser takes: look at the authority by hand.
        return url_with_password(value);
    };
    let user = url.username();
    if url.password().is_some_and(|p| !p.is_empty())
        || (!user.is_empty() && value_is_credential_word(user))
    {
        return true;
    }
    url.query_pairs()
        .any(|(name, value)| !value.is_empty() && query_name_looks_secret(&name))
}

/// A user name that is itself a token (`https://ghp_...@github.com`).
fn value_is_credential_word(user: &str) -> bool {
    (CREDENTIAL_PREFIXES.iter().any(|p| user.starts_with(p)) && user.len() >= 16)
        || high_entropy(user)
}

/// Query parameter names that carry secrets: the secret-name patterns, plus `key`, `sig`,
/// `signature` and `auth` as words.
fn query_name_looks_secret(name: &str) -> bool {
    name_looks_secret(name)
        || snake_case(name).split('_').any(|word| {
            matches!(
                word,
                "key" | "apikey" | "sig" | "signature" | "auth" | "credential" | "credentials"
            )
        })
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
            "https://api.example.com/v1?page=2&q=key",
        ] {
            assert!(!value_looks_secret(value), "{value}");
        }
    }

    #[test]
    fn urls_carrying_credentials_are_recognised() {
        for url in [
            "https://user:password@mcp.example.com/mcp",
            "https://mcp.example.com/mcp?api_key=abc",
            "https://mcp.example.com/mcp?x=1&token=abc",
            "https://mcp.example.com/mcp?key=AIzaSyA",
            "https://ghp_0123456789abcdefABCDEF0123456789abcd@github.com/x",
        ] {
            assert!(value_is_credential(url), "{url}");
        }
        for url in [
            "https://mcp.example.com/mcp",
            "https://app@db.internal/x",
            "https://mcp.example.com/mcp?token=",
            "https://mcp.example.com/mcp?tokenizer=bpe",
        ] {
            assert!(!value_is_credential(url), "{url}");
        }
    }

    fn scanned(spec: Value) -> (Vec<FieldError>, Vec<String>) {
        let mut problems = Problems::default();
        let found = scan(spec.as_object().expect("an object"), &mut problems);
        let errors = problems
            .finish()
            .map_or_else(|e| e.all().to_vec(), |()| Vec::new());
        (errors, found)
    }

    #[test]
    fn the_scan_names_every_hiding_place_and_never_quotes_the_value() {
        let token = "ghp_0123456789abcdefABCDEF0123456789abcd";
        let (errors, found) = scanned(serde_json::json!({
            "env": [{ "name": "GITHUB_TOKEN", "value": "plain" }, { "name": "LOG", "value": "info" }],
            "args": ["--api-key", "k-123", "--verbose", "--token=t-456", token,
                     "--token", "$(TOKEN)", "--token-file", "/run/token", "--port", "8080"],
            "url": "https://user:pw@mcp.example.com/mcp?q=1",
            "secrets": [{ "name": "s", "key": "k", "value": "inline" }],
            "podTemplateSpec": { "spec": { "containers": [
                { "env": [{ "name": "DB_PASSWORD", "value": "hunter2" }] }] } },
        }));
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        // In the order the spec lists them.
        assert_eq!(
            fields,
            [
                "spec.env[0].value",
                "spec.args[1]",
                "spec.args[3]",
                "spec.args[4]",
                "spec.url",
                "spec.secrets[0].value",
                "spec.podTemplateSpec.spec.containers[0].env[0].value",
            ]
        );
        for error in &errors {
            for value in &found {
                assert!(!error.message.contains(value.as_str()), "{error}");
            }
            assert!(
                error.message.contains("spec.secrets") || error.field.starts_with("spec.secrets"),
                "{error}"
            );
        }
        let (clean, _) = scanned(serde_json::json!({
            "command": "mcp-fetch", "args": ["--token", "$(FETCH_TOKEN)", "--key-file", "/k",
                "--token-limit", "100", "--max-tokens=2000"],
            "url": "https://mcp.example.com/mcp",
            "secrets": [{ "name": "s", "key": "k", "targetEnvName": "FETCH_TOKEN" }],
        }));
        assert!(clean.is_empty(), "{clean:?}");
    }
}
