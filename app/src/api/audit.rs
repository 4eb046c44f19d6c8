//! Audit log server functions.

use leptos::prelude::*;

use crate::model::audit::{AuditPage, AuditQuery};

/// One page of the audit log for `query` (no filters when left out); admins only.
#[server]
pub async fn load_audit(#[server(default)] query: AuditQuery) -> Result<AuditPage, ServerFnError> {
    crate::services::authorize(crate::access::Action::Audit, None)?;
    let services = crate::services::services()?;
    Ok(services.audit.search(&query).await?)
}
