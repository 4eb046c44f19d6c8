//! Server page server functions.

use leptos::prelude::*;

use crate::model::server_detail::ServerDetail;

/// Everything the page of `namespace/name` shows, or `None` when there is no such server.
#[server]
pub async fn load_server_detail(
    namespace: String,
    name: String,
) -> Result<Option<ServerDetail>, ServerFnError> {
    let services = crate::services::services()?;
    Ok(services
        .server_pages
        .server_detail(&namespace, &name)
        .await?)
}
