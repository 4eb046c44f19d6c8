//! The guard every `/api/v1/servers/{namespace}/{name}/…` handler starts with: the server
//! exists, and the caller may act on it (methods of the [`ServerStore`]). The pattern the
//! handlers follow after it is in [`crate::api_request`].
//!
//! An admin action (curation, access, registration) is refused with a 403 before the server is
//! looked up. A team action (deprecation, drift approval, refresh) needs the server's owner team
//! first, so there an unknown server is a 404 whoever asks.

use apiary_app::access::{Action, Viewer};

use crate::api_error::ApiError;
use crate::api_request::ServerPath;
use crate::servers::ServerStore;

use super::Principal;

impl ServerStore {
    /// The database id of `server`, or a 404 that names it.
    pub async fn id_or_404(&self, server: &ServerPath) -> Result<String, ApiError> {
        self.id_of(&server.namespace, &server.name)
            .await?
            .ok_or_else(|| no_server(server))
    }

    /// The viewer and the server's id, when `principal` may do the admin `action` (403
    /// otherwise) and `server` exists (404 otherwise).
    pub async fn admin_of<'p>(
        &self,
        principal: &'p Principal,
        action: Action,
        server: &ServerPath,
    ) -> Result<(&'p Viewer, String), ApiError> {
        let viewer = principal.require(action, None)?;
        let id = self.id_or_404(server).await?;
        Ok((viewer, id))
    }

    /// The viewer, when `server` exists (404 otherwise) and `principal` may do `action` for its
    /// owner team (403 otherwise): an owner of the team, or an admin.
    pub async fn owner_of<'p>(
        &self,
        principal: &'p Principal,
        action: Action,
        server: &ServerPath,
    ) -> Result<&'p Viewer, ApiError> {
        let team = self
            .owner_team_of(&server.namespace, &server.name)
            .await?
            .ok_or_else(|| no_server(server))?;
        Ok(principal.require(action, Some(&team))?)
    }
}

fn no_server(server: &ServerPath) -> ApiError {
    ApiError::NotFound(format!("no server {server}"))
}
