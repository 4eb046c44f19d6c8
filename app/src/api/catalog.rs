//! Catalog server functions.

use leptos::prelude::*;

use crate::model::ServerCard;

/// Lists the servers in the catalog.
#[server]
pub async fn list_catalog() -> Result<Vec<ServerCard>, ServerFnError> {
    let services = crate::services::services()?;
    services
        .catalog
        .list_servers()
        .await
        .map_err(|e| ServerFnError::new(e.0))
}
