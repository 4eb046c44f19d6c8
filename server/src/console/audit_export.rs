//! `GET /api/v1/audit/export?format=csv|jsonl&actor=&action=&target=`: the filtered audit
//! log as a download, newest first; admins only.

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use apiary_app::access::Action;
use apiary_app::model::audit::{AuditEntry, AuditQuery};

use crate::api_error::ApiError;
use crate::audit::AuditLog;
use crate::auth::Principal;
use crate::db::Db;
use crate::validation::FieldError;

/// The most entries one export holds; narrow the filters for more.
pub const MAX_EXPORT: i64 = 100_000;

/// The export route.
pub fn routes() -> Router<Db> {
    Router::new().route("/api/v1/audit/export", get(export))
}

/// The export's query: the format and the console's filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ExportQuery {
    /// `csv` or `jsonl`.
    format: String,
    /// Exact actor.
    #[serde(default)]
    actor: String,
    /// Exact action.
    #[serde(default)]
    action: String,
    /// Text the target contains.
    #[serde(default)]
    target: String,
}

/// The filtered audit log as CSV or JSON lines.
#[utoipa::path(get, path = "/api/v1/audit/export", operation_id = "export_audit", tag = "audit", params(ExportQuery),
    responses((status = 200, description = "The entries, newest first (at most 100,000): CSV under a header row (`at`, `time`, `actor`, `actor_name`, `action`, `target`, `before_hash`, `after_hash`, `comment`), or one JSON object per line (`at`, `actor`, `actorName`, `action`, `target`, `beforeHash`, `afterHash`, `comment`)", content(
                   (String = "text/csv"), (String = "application/jsonl"))),
               (status = 403, description = "Not an admin", body = crate::validation::ErrorBody),
               (status = 422, description = "An unknown format; `field` names it", body = crate::validation::ErrorBody)))]
pub async fn export(
    State(db): State<Db>,
    principal: Principal,
    Query(query): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    principal.require(Action::Audit, None)?;
    let filters = AuditQuery {
        actor: query.actor,
        action: query.action,
        target: query.target,
        page: 1,
    };
    let (content_type, extension) = match query.format.as_str() {
        "csv" => ("text/csv; charset=utf-8", "csv"),
        "jsonl" => ("application/jsonl; charset=utf-8", "jsonl"),
        other => {
            return Err(FieldError::new(
                "format",
                format!("{other:?} is not an export format; use csv or jsonl"),
            )
            .into())
        }
    };
    let entries = AuditLog::new(db).entries(&filters, MAX_EXPORT, 0).await?;
    let body = if extension == "csv" {
        csv_of(&entries)?
    } else {
        jsonl_of(&entries)
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&format!(
        "attachment; filename=\"apiary-audit.{extension}\""
    )) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// One row per entry, under a header row.
fn csv_of(entries: &[AuditEntry]) -> Result<Vec<u8>, ApiError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let failed = |error: csv::Error| ApiError::Internal(error.to_string());
    writer
        .write_record([
            "at",
            "time",
            "actor",
            "actor_name",
            "action",
            "target",
            "before_hash",
            "after_hash",
            "comment",
        ])
        .map_err(failed)?;
    for entry in entries {
        writer
            .write_record([
                entry.at_ms.to_string().as_str(),
                &entry.at.exact,
                &entry.actor,
                entry.actor_name.as_deref().unwrap_or_default(),
                &entry.action,
                &entry.target,
                entry.before_hash.as_deref().unwrap_or_default(),
                entry.after_hash.as_deref().unwrap_or_default(),
                entry.comment.as_deref().unwrap_or_default(),
            ])
            .map_err(failed)?;
    }
    writer
        .into_inner()
        .map_err(|error| ApiError::Internal(error.to_string()))
}

/// One JSON object per line.
fn jsonl_of(entries: &[AuditEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in entries {
        let line = serde_json::json!({
            "at": entry.at_ms,
            "actor": entry.actor,
            "actorName": entry.actor_name,
            "action": entry.action,
            "target": entry.target,
            "beforeHash": entry.before_hash,
            "afterHash": entry.after_hash,
            "comment": entry.comment,
        });
        out.extend_from_slice(line.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}
