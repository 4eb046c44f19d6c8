//! `POST /api/v1/virtual-servers/{namespace}/{name}/proposals`: a team proposes a new or
//! changed virtual server; the owners of its team review it like any proposal (four eyes,
//! `POST /api/v1/proposals/{id}/decision`), and the approval saves it
//! ([`super::apply`]). The definition is checked as every save checks it, when proposed and
//! again when applied.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};

use apiary_app::access::Action;

use crate::api_error::ApiError;
use crate::api_request::{JsonBody, ServerPath};
use crate::auth::Principal;
use crate::db::Db;
use crate::virtual_servers::api::save_error;
use crate::virtual_servers::model::VirtualSpec;
use crate::virtual_servers::{check, store as virtual_store};

use super::model::Proposal;
use super::store::ProposalStore;

/// The route.
pub fn routes() -> Router<Db> {
    Router::new().route(
        "/api/v1/virtual-servers/{namespace}/{name}/proposals",
        post(propose),
    )
}

/// Proposes `namespace/name` with the definition in the body; the owners of its team review
/// it (of the team that owns it now, for a change).
#[utoipa::path(post, path = "/api/v1/virtual-servers/{namespace}/{name}/proposals", operation_id = "propose_virtual_server", tag = "virtual-servers",
    params(ServerPath),
    request_body(content = VirtualSpec, description = "The proposed definition"),
    responses((status = 201, description = "Proposed; review it at /reviews/{id} or decide it with POST /api/v1/proposals/{id}/decision", body = Proposal),
               (status = 403, description = "Not a proposer, or a cross-site request", body = crate::validation::ErrorBody),
               (status = 409, description = "Declared by a VirtualMCPServer in the cluster: change it there", body = crate::validation::ErrorBody),
               (status = 422, description = "A field is invalid, the name is a server's, or two tools would share a name: `field` names it", body = crate::validation::ErrorBody)))]
pub async fn propose(
    State(db): State<Db>,
    principal: Principal,
    server: ServerPath,
    body: JsonBody,
) -> Result<(StatusCode, Json<Proposal>), ApiError> {
    let author = principal.require(Action::Propose, None)?;
    let spec: VirtualSpec = body.decode()?;
    let proposal = propose_definition(&db, server.pair(), &spec, author)
        .await
        .map_err(save_error)?;
    Ok((StatusCode::CREATED, Json(proposal)))
}

/// Proposes `spec` as `namespace/name` for `author`, checked as every save is: the proposal,
/// or why not (a field, a server's name, a cluster-declared virtual server). The API and the
/// console's form both propose through this.
pub async fn propose_definition(
    db: &Db,
    (namespace, name): (&str, &str),
    spec: &VirtualSpec,
    author: &apiary_app::access::Viewer,
) -> Result<Proposal, virtual_store::SaveError> {
    check(db, (namespace, name), spec).await?;
    let mut conn = db
        .pool()
        .acquire()
        .await
        .map_err(crate::db::DbError::from)?;
    virtual_store::refuse_server_name(&mut conn, (namespace, name)).await?;
    drop(conn);
    let current = virtual_store::load(db, namespace, name).await?;
    if let Some(by) = current.as_ref().and_then(|v| v.origin.clone()) {
        return Err(virtual_store::SaveError::Managed {
            server: format!("{namespace}/{name}"),
            by: Some(by),
        });
    }
    let owner_team = current
        .as_ref()
        .map_or(spec.owner_team.as_str(), |v| v.spec.owner_team.as_str())
        .to_owned();
    Ok(ProposalStore::new(db.clone())
        .propose_virtual(
            (namespace, name),
            &serde_json::to_value(spec).unwrap_or_default(),
            &owner_team,
            current.map(|v| v.updated_at),
            author,
        )
        .await?)
}
