//! Input validation that names the field and the fix.

use serde::Serialize;

/// One invalid field: where, and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// JSON path of the field, such as `spec.transport`.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl FieldError {
    /// A new error for `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Checks a Kubernetes DNS-1123 label: lower-case letters, digits and `-`, 1 to 63 characters,
/// starting and ending with a letter or digit.
pub fn dns_label(field: &str, value: &str) -> Result<(), FieldError> {
    let valid_chars = value
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let valid_ends = value
        .bytes()
        .next()
        .zip(value.bytes().last())
        .is_some_and(|(first, last)| first != b'-' && last != b'-');
    if value.is_empty() || value.len() > 63 || !valid_chars || !valid_ends {
        return Err(FieldError::new(
            field,
            format!(
                "{value:?} is not a valid name: use 1 to 63 lower-case letters, digits or '-', \
                 starting and ending with a letter or digit"
            ),
        ));
    }
    Ok(())
}

/// Checks that a free-text field is at most `max` characters.
pub fn max_len(field: &str, value: &str, max: usize) -> Result<(), FieldError> {
    let len = value.chars().count();
    if len > max {
        return Err(FieldError::new(
            field,
            format!("is {len} characters long; shorten it to at most {max}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels_follow_kubernetes_rules() {
        assert!(dns_label("name", "osv").is_ok());
        assert!(dns_label("name", "a-1").is_ok());
        for bad in ["", "-a", "a-", "Upper", "under_score", &"x".repeat(64)] {
            let error = dns_label("metadata.name", bad).expect_err(bad);
            assert_eq!(error.field, "metadata.name");
        }
    }
}
