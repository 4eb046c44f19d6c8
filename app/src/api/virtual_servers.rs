//! Virtual server server functions.

use leptos::prelude::*;

use crate::model::virtual_servers::VirtualServerCard;

/// Every virtual server with the tools it shows now; anyone who may browse the catalog.
#[server]
pub async fn load_virtual_servers() -> Result<Vec<VirtualServerCard>, ServerFnError> {
    crate::services::authorize(crate::access::Action::Browse, None)?;
    let services = crate::services::services()?;
    services
        .virtual_servers
        .list()
        .await
        .map_err(|e| ServerFnError::new(e.0))
}
