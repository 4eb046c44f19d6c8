//! Input validation that names the field and the fix.

use serde::Serialize;

/// One invalid field: where, and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error, utoipa::ToSchema)]
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

/// Every invalid field of one request, in the order found; never empty. The first is the one
/// a client that reads a single `field` sees.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.first())]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    /// The first invalid field.
    pub fn first(&self) -> &FieldError {
        // Never empty: built from one error, or by `Problems::finish` with at least one.
        &self.0[0]
    }

    /// Every invalid field, in the order found.
    pub fn all(&self) -> &[FieldError] {
        &self.0
    }

    /// The same errors with each field renamed by `rename` (a manifest names fields its way).
    pub fn map_fields(mut self, rename: impl Fn(&str) -> String) -> Self {
        for error in &mut self.0 {
            error.field = rename(&error.field);
        }
        self
    }
}

impl From<FieldError> for FieldErrors {
    fn from(error: FieldError) -> Self {
        Self(vec![error])
    }
}

/// Collects the invalid fields of one request, so a client hears of all of them at once.
#[derive(Debug, Default)]
pub struct Problems {
    errors: Vec<FieldError>,
}

impl Problems {
    /// Records `error`, unless the same field already has one (the first message stands).
    pub fn push(&mut self, error: FieldError) {
        if !self.errors.iter().any(|e| e.field == error.field) {
            self.errors.push(error);
        }
    }

    /// Records the error of `result`, if any, and returns its value.
    pub fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        result.map_err(|error| self.push(error)).ok()
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// True when `field` already has an error.
    pub fn has(&self, field: &str) -> bool {
        self.errors.iter().any(|e| e.field == field)
    }

    /// Replaces every occurrence of the `hidden` strings in the messages, so a value found to
    /// be a secret is never echoed, whichever check quoted it.
    pub fn redact(&mut self, hidden: &[String]) {
        for error in &mut self.errors {
            for value in hidden.iter().filter(|v| !v.is_empty()) {
                if error.message.contains(value.as_str()) {
                    error.message = error.message.replace(value.as_str(), "[redacted]");
                }
            }
        }
    }

    /// The errors recorded, for a caller that has recorded one.
    pub fn into_errors(self) -> FieldErrors {
        match self.finish() {
            Err(errors) => errors,
            Ok(()) => FieldError::new("body", "is invalid").into(),
        }
    }

    /// `Ok` when nothing was recorded, else every error.
    pub fn finish(self) -> Result<(), FieldErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(FieldErrors(self.errors))
        }
    }
}

/// A Kubernetes DNS-1123 label: lower-case letters, digits and `-`, 1 to 63 characters,
/// starting and ending with a letter or digit.
pub fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// A Kubernetes DNS-1123 subdomain: DNS labels joined by `.`, at most 253 characters.
pub fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(is_dns_label)
}

/// Checks a Kubernetes DNS-1123 label ([`is_dns_label`]).
pub fn dns_label(field: &str, value: &str) -> Result<(), FieldError> {
    if !is_dns_label(value) {
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

/// The one shape of every error answer of the HTTP API (the `Error` schema of the OpenAPI
/// document); [`error_body`] writes it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// What went wrong (kept for older clients; for invalid fields it is prefixed with the
    /// first field's name).
    pub error: String,
    /// What went wrong and what to do; for invalid fields, the first field's own message.
    pub message: String,
    /// The first invalid field, when the error is about fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Each invalid field, in the order found (empty when the error is not about fields).
    pub fields: Vec<FieldError>,
}

/// The one shape of every error answer of the HTTP API: `error` and `message` say what went
/// wrong (`error` is kept for older clients; for invalid fields it is prefixed with the first
/// field's name), `fields` lists each bad field (empty when the error is not about fields).
pub fn error_body(message: &str, fields: &[FieldError]) -> serde_json::Value {
    let body = ErrorBody {
        error: message.to_owned(),
        message: message.to_owned(),
        field: None,
        fields: fields.to_vec(),
    };
    serde_json::to_value(body).unwrap_or_else(|_| serde_json::json!({ "error": message }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_keep_the_first_error_of_each_field_in_order() {
        let mut problems = Problems::default();
        assert!(problems.check(Ok::<_, FieldError>(1)).is_some());
        problems.push(FieldError::new("b", "first b"));
        problems.push(FieldError::new("a", "quotes s3cret"));
        problems.push(FieldError::new("b", "second b"));
        problems.redact(&["s3cret".into()]);
        let errors = problems.finish().expect_err("errors");
        assert_eq!(errors.first().message, "first b");
        assert_eq!(errors.all().len(), 2);
        assert_eq!(errors.all()[1].message, "quotes [redacted]");
        assert!(Problems::default().finish().is_ok());
    }

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
