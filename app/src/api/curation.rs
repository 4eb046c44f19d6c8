//! Curation form server functions.

use leptos::prelude::*;

use crate::model::curation_form::CurationPage;

/// The curation form of `namespace/name`, for the saved curation or the unsaved `draft` (the
/// page's query string); admins only.
#[server]
pub async fn load_curation(
    #[server(default)] namespace: String,
    #[server(default)] name: String,
    #[server(default)] draft: Option<String>,
) -> Result<Option<CurationPage>, ServerFnError> {
    crate::services::authorize(crate::access::Action::Curate, None)?;
    let services = crate::services::services()?;
    Ok(services
        .curation
        .page(&namespace, &name, draft.as_deref())
        .await?)
}
