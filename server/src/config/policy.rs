//! The schema contract's settings (the `[policy]` table): what `registry::policy::check`
//! holds every tool snapshot to. They live with the settings so that loading them validates
//! every pattern before Apiary starts.

use std::fmt;

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The schema contract. Every field has a default, so `{}` is a valid policy.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Property names that must not appear: case-insensitive regular expressions, searched
    /// anywhere in the name and in its snake_case form.
    pub forbidden_property_patterns: Vec<NamePattern>,
    /// The largest input or output schema allowed, in bytes of canonical JSON.
    pub max_schema_bytes: usize,
    /// The longest description allowed, in characters.
    pub max_description_chars: usize,
    /// Report free-form object schemas (see the module documentation).
    pub forbid_free_form_additional_properties: bool,
}

/// The default forbidden property-name patterns (matched against the snake_case form too).
pub const DEFAULT_FORBIDDEN_PATTERNS: &[&str] = &[
    "pass(word|wd)",
    "secret",
    "(^|_)(access_|refresh_|auth_|bearer_|id_|session_)?token(_|$)",
    "(^|_)api_?key(_|$)",
    "private_?key",
    "(^|_)ssn(_|$)",
    "social_?security",
    "credit_?card",
    "card_?number",
    "(^|_)cvv2?(_|$)",
    "(^|_)cvc(_|$)",
    "(^|_)iban(_|$)",
];

impl Default for Policy {
    fn default() -> Self {
        Self {
            forbidden_property_patterns: DEFAULT_FORBIDDEN_PATTERNS
                .iter()
                .filter_map(|p| NamePattern::new(p).ok())
                .collect(),
            max_schema_bytes: 16 * 1024,
            max_description_chars: 1024,
            forbid_free_form_additional_properties: true,
        }
    }
}

/// A compiled, case-insensitive property-name pattern. It deserializes from and serializes to
/// its source text, so a policy with an invalid pattern fails when it is loaded.
#[derive(Clone)]
pub struct NamePattern {
    source: String,
    regex: Regex,
}

impl NamePattern {
    /// Compiles `source` as a case-insensitive regular expression.
    pub fn new(source: &str) -> Result<Self, regex::Error> {
        let regex = RegexBuilder::new(source)
            .case_insensitive(true)
            .size_limit(1 << 20)
            .build()?;
        Ok(Self {
            source: source.to_owned(),
            regex,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// True when the pattern occurs in `name` or in its snake_case form.
    pub fn matches(&self, name: &str) -> bool {
        self.regex.is_match(name) || self.regex.is_match(&snake_case(name))
    }
}

impl fmt::Debug for NamePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("NamePattern").field(&self.source).finish()
    }
}

impl Serialize for NamePattern {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for NamePattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let source = String::deserialize(deserializer)?;
        NamePattern::new(&source).map_err(|e| {
            serde::de::Error::custom(format!("invalid property-name pattern {source:?}: {e}"))
        })
    }
}

/// `name` in lower snake_case: word boundaries at separators, lower-to-upper case changes and
/// the end of an acronym (`APIKey` → `api_key`, `user-SSN` → `user_ssn`).
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            continue;
        }
        if c.is_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let boundary =
                prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower);
            if boundary && !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
        }
        out.extend(c.to_lowercase());
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}
