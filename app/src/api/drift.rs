//! Drift approval server functions.

use leptos::prelude::*;

/// Approves the pending drift `snapshot_id` of `namespace/name`; owners of the server's team
/// and admins, with a comment.
#[server]
pub async fn approve_drift(
    #[server(default)] namespace: String,
    #[server(default)] name: String,
    #[server(default)] snapshot_id: String,
    #[server(default)] comment: String,
) -> Result<(), ServerFnError> {
    let services = crate::services::services()?;
    let team = services.drift.owner_team(&namespace, &name).await?;
    let viewer = crate::services::authorize(crate::access::Action::Review, team.as_deref())?;
    Ok(services
        .drift
        .approve(&viewer, &namespace, &name, &snapshot_id, &comment)
        .await?)
}
