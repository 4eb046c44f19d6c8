//! The step every `/api/v1/servers/{namespace}/{name}/…` handler starts with: the server
//! exists, and the caller may act on it (methods of the [`ServerStore`]).
//!
//! An admin action (curation, access, registration) is refused with a 403 before the server is
//! looked up. A team action (deprecation, drift approval) needs the server's owner team first,
//! so there an unknown server is a 404 whoever asks.

use apiary_app::access::{Action, Viewer};

use crate::api_error::ApiError;
use crate::servers::ServerStore;

use super::Principal;

impl ServerStore {
    /// The database id of server `namespace/name`, or a 404 that names it.
    pub async fn id_or_404(&self, namespace: &str, name: &str) -> Result<String, ApiError> {
        self.id_of(namespace, name)
            .await?
            .ok_or_else(|| no_server(namespace, name))
    }

    /// The viewer and the server's id, when `principal` may do the admin `action` (403
    /// otherwise) and server `namespace/name` exists (404 otherwise).
    pub async fn admin_of<'p>(
        &self,
        principal: &'p Principal,
        action: Action,
        namespace: &str,
        name: &str,
    ) -> Result<(&'p Viewer, String), ApiError> {
        let viewer = principal.require(action, None)?;
        let id = self.id_or_404(namespace, name).await?;
        Ok((viewer, id))
    }

    /// The viewer, when server `namespace/name` exists (404 otherwise) and `principal` may do
    /// `action` for its owner team (403 otherwise): an owner of the team, or an admin.
    pub async fn owner_of<'p>(
        &self,
        principal: &'p Principal,
        action: Action,
        namespace: &str,
        name: &str,
    ) -> Result<&'p Viewer, ApiError> {
        let team = self
            .owner_team_of(namespace, name)
            .await?
            .ok_or_else(|| no_server(namespace, name))?;
        Ok(principal.require(action, Some(&team))?)
    }
}

fn no_server(namespace: &str, name: &str) -> ApiError {
    ApiError::NotFound(format!("no server {namespace}/{name}"))
}
