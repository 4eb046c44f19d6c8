//! Refresh server functions: one server's tools now, and every published server's in the
//! background. Both take plain form posts; without JavaScript they answer with a redirect to
//! the page that shows the outcome or the progress.

use leptos::prelude::*;

use crate::model::refresh::{FleetProgress, RefreshReport};

/// Fetches the tools of `namespace/name` now and records them; owners of the server's team and
/// admins. The answer is what the fetch found, or why it failed.
#[server]
pub async fn refresh_tools(
    #[server(default)] namespace: String,
    #[server(default)] name: String,
) -> Result<RefreshReport, ServerFnError> {
    let services = crate::services::services()?;
    let team = services.refresh.owner_team(&namespace, &name).await?;
    crate::services::authorize(crate::access::Action::Refresh, team.as_deref())?;
    let report = services
        .refresh
        .refresh(&namespace, &name)
        .await?
        .ok_or_else(|| ServerFnError::new(format!("there is no server {namespace}/{name}")))?;
    if crate::services::plain_form_post() {
        leptos_axum::redirect(&format!(
            "/servers/{}/{}?{}#refresh",
            super::path_segment(&namespace),
            super::path_segment(&name),
            report.to_query()
        ));
    }
    Ok(report)
}

/// Starts refreshing every published server in the background (admins), unless one runs
/// already; the progress.
#[server]
pub async fn start_fleet_refresh() -> Result<FleetProgress, ServerFnError> {
    let viewer = crate::services::authorize(crate::access::Action::Refresh, None)?;
    let services = crate::services::services()?;
    let progress = services.refresh.start_fleet(&viewer).await?;
    if crate::services::plain_form_post() {
        leptos_axum::redirect("/admin/refresh");
    }
    Ok(progress)
}

/// The progress of the newest fleet refresh (admins).
#[server]
pub async fn fleet_refresh_status() -> Result<FleetProgress, ServerFnError> {
    crate::services::authorize(crate::access::Action::Refresh, None)?;
    let services = crate::services::services()?;
    Ok(services.refresh.fleet())
}
