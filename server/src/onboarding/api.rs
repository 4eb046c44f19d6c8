//! The onboarding JSON API: propose, list, read, decide, and the applied revisions.
//!
//! Every state-changing handler checks who is asking before it reads the body.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use apiary_app::access::Action;

use crate::api_error::ApiError;
use crate::api_request::{is_json_media, json_body, media_type, JsonBody, ServerPath};
use crate::auth::Principal;
use crate::validation::{error_body, FieldError};

use super::apply::apply;
use super::decide::{authorize, decide, DecideError};
use super::findings;
use super::manifest::{manifest_field, parse_manifest_off_thread};
use super::model::{DecisionInput, Proposal, ProposalKind, ProposalStatus};
use super::revisions::{self, Revision};
use super::store::{ListFilter, ProposalStore, ProposeError};
use super::validate::ProposalInput;
use super::OnboardingState;

/// The answer of `GET /api/v1/proposals`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProposalList {
    /// Newest first.
    pub proposals: Vec<Proposal>,
}

/// The answer of `GET /api/v1/proposals/{id}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProposalView {
    /// The proposal.
    pub proposal: Proposal,
    /// The policy findings a reviewer weighs (for an update: the current tools against the
    /// proposed change).
    pub findings: Vec<crate::registry::model::PolicyFinding>,
    /// The revision the proposal was made against, for the diff.
    pub base: Option<Revision>,
}

/// The answer of `GET …/revisions`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RevisionList {
    /// Every applied revision.
    pub revisions: Vec<Revision>,
}

/// The onboarding routes.
pub fn routes() -> Router<OnboardingState> {
    Router::new()
        .route("/api/v1/proposals", post(propose).get(list))
        .route("/api/v1/proposals/{id}", get(show))
        .route("/api/v1/proposals/{id}/decision", post(decision))
        .route(
            "/api/v1/servers/{namespace}/{name}/revisions",
            get(revision_list),
        )
        .route(
            "/api/v1/servers/{namespace}/{name}/revisions/{number}/manifest",
            get(revision_manifest),
        )
}

/// Query of `POST /api/v1/proposals` for a YAML body.
#[derive(Debug, Default, Deserialize)]
pub struct ProposeQuery {
    /// `create` or `update`; without it, update when the server exists, else create.
    pub kind: Option<String>,
}

/// `POST /api/v1/proposals`: proposes a create, update or retire. The body is JSON
/// (`kind`, `namespace`, `name`, the metadata and `spec`; for a retire `replacement` and
/// `message`), or an `MCPServer` manifest with content type `application/yaml`, its metadata in
/// `apiary.dev/` annotations. Nothing is stored when a field is invalid.
#[utoipa::path(post, path = "/api/v1/proposals", operation_id = "propose", tag = "proposals",
    params(("kind" = Option<String>, Query, description = "For a YAML body: create or update")),
    request_body(description = "A proposal as JSON, or an `MCPServer` manifest as YAML (its metadata in `apiary.dev/` annotations)",
        content((ProposalInput = "application/json"), (super::manifest::Manifest = "application/yaml"))),
    responses((status = 201, description = "Proposed; the proposal with its id and version", body = Proposal),
               (status = 403, description = "Not a proposer, or a cross-site request", body = crate::validation::ErrorBody),
               (status = 415, description = "Neither JSON nor YAML", body = crate::validation::ErrorBody),
               (status = 413, description = "The body is over the 2 MiB cap", body = crate::validation::ErrorBody),
               (status = 422, description = "Fields are invalid: `field` and `message` name the first, `fields` lists every one; a manifest nested deeper than 64 levels or using anchors is refused as `manifest`", body = crate::validation::ErrorBody)))]
pub async fn propose(
    State(state): State<OnboardingState>,
    principal: Principal,
    Query(query): Query<ProposeQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Proposal>), ApiError> {
    let author = principal.require(Action::Propose, None)?;
    let (input, from_manifest) = read_input(&state, &headers, &body, query.kind.as_deref()).await?;
    let store = ProposalStore::new(state.db.clone());
    let proposed = store.propose(&input, author, state.mode).await;
    let proposal = proposed.map_err(|error| match error {
        ProposeError::Invalid(invalid) if from_manifest => {
            ApiError::Invalid(invalid.map_fields(manifest_field))
        }
        ProposeError::Invalid(invalid) => ApiError::Invalid(invalid),
        ProposeError::Db(db) => db.into(),
    })?;
    Ok((StatusCode::CREATED, Json(proposal)))
}

/// The proposal in the body, and whether it came from a manifest.
async fn read_input(
    state: &OnboardingState,
    headers: &HeaderMap,
    body: &[u8],
    kind: Option<&str>,
) -> Result<(ProposalInput, bool), ApiError> {
    match media_type(headers).as_str() {
        json if is_json_media(json) => Ok((json_body(body)?, false)),
        "application/yaml" | "application/x-yaml" | "text/yaml" => {
            let text = String::from_utf8(body.to_vec()).map_err(|_| {
                FieldError::new("manifest", "is not UTF-8 text; paste the YAML as text")
            })?;
            let mut input = parse_manifest_off_thread(text).await?;
            input.kind = Some(match kind {
                Some("create") => ProposalKind::Create,
                Some("update") => ProposalKind::Update,
                Some(other) => {
                    return Err(FieldError::new(
                        "kind",
                        format!("{other:?} is not create or update (a manifest cannot retire a server)"),
                    )
                    .into())
                }
                None => match state
                    .servers
                    .id_of(&input.namespace, &input.name)
                    .await?
                {
                    Some(_) => ProposalKind::Update,
                    None => ProposalKind::Create,
                },
            });
            Ok((input, true))
        }
        other => Err(ApiError::Rejected {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message: format!(
                "content type {other:?} is not accepted; send application/json or an MCPServer manifest as application/yaml"
            ),
        }),
    }
}

/// Query of `GET /api/v1/proposals`.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// open, approved, applied, failed, rejected or superseded.
    pub status: Option<String>,
    /// The reviewing team.
    pub team: Option<String>,
}

/// `GET /api/v1/proposals`: proposals, newest first, filtered by `status` and `team`.
#[utoipa::path(get, path = "/api/v1/proposals", operation_id = "list_proposals", tag = "proposals",
    params(("status" = Option<String>, Query, description = "open, approved, applied, failed, rejected or superseded"),
           ("team" = Option<String>, Query, description = "The reviewing (owner) team")),
    responses((status = 200, description = "The proposals, newest first", body = ProposalList),
               (status = 403, description = "Not a proposer, owner or admin", body = crate::validation::ErrorBody),
               (status = 422, description = "Unknown status", body = crate::validation::ErrorBody)))]
pub async fn list(
    State(state): State<OnboardingState>,
    principal: Principal,
    Query(query): Query<ListQuery>,
) -> Result<Json<ProposalList>, ApiError> {
    principal.require(Action::FollowProposals, None)?;
    let status = match query.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => Some(ProposalStatus::parse(text).ok_or_else(|| {
            FieldError::new(
                "status",
                format!("{text:?} is not a state; use open, approved, applied, failed, rejected or superseded"),
            )
        })?),
    };
    let filter = ListFilter {
        status,
        team: query.team.filter(|t| !t.is_empty()),
    };
    let proposals = ProposalStore::new(state.db.clone()).list(&filter).await?;
    Ok(Json(ProposalList { proposals }))
}

/// `GET /api/v1/proposals/{id}`: the proposal, the policy findings a reviewer weighs, and the
/// base revision it was made against (for the diff).
#[utoipa::path(get, path = "/api/v1/proposals/{id}", operation_id = "get_proposal", tag = "proposals",
    params(("id" = String, Path)),
    responses((status = 200, description = "The proposal, its findings and its base revision", body = ProposalView),
               (status = 403, description = "Not a proposer, owner or admin", body = crate::validation::ErrorBody),
               (status = 404, description = "No such proposal", body = crate::validation::ErrorBody)))]
pub async fn show(
    State(state): State<OnboardingState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<ProposalView>, ApiError> {
    principal.require(Action::FollowProposals, None)?;
    let proposal = ProposalStore::new(state.db.clone())
        .get(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no proposal {id}")))?;
    let findings = findings::for_proposal(&state.db, &proposal).await?;
    let base = match proposal.base_revision {
        Some(number) => revisions::list(&state.db, &proposal.namespace, &proposal.name)
            .await?
            .into_iter()
            .find(|r| r.number == number),
        None => None,
    };
    Ok(Json(ProposalView {
        proposal,
        findings,
        base,
    }))
}

/// `POST /api/v1/proposals/{id}/decision`: `{decision: approve|reject, comment, version,
/// overrideReason?}`. An approval is applied at once; the answer is the proposal, `applied` or
/// `failed`. 409 when another reviewer decided first (the message names them) or the server
/// changed since the proposal was made (it becomes `superseded`).
#[utoipa::path(post, path = "/api/v1/proposals/{id}/decision", operation_id = "decide_proposal", tag = "proposals",
    params(("id" = String, Path)),
    request_body(content = DecisionInput, description = "The decision, a comment and the version decided on"),
    responses((status = 200, description = "Decided (and for an approval, applied or failed)", body = Proposal),
               (status = 403, description = "Not an owner of the team, the author approving their own proposal with sign-in on (local mode records it as a self-approval instead), or an owner approving over an error-level finding", body = crate::validation::ErrorBody),
               (status = 404, description = "No such proposal", body = crate::validation::ErrorBody),
               (status = 409, description = "Already decided, stale version, or superseded; `proposal` is its current state", body = crate::validation::ErrorBody),
               (status = 422, description = "A field is invalid (comment, overrideReason)", body = crate::validation::ErrorBody)))]
pub async fn decision(
    State(state): State<OnboardingState>,
    principal: Principal,
    Path(id): Path<String>,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let store = ProposalStore::new(state.db.clone());
    let proposal = match authorize(&store, &principal, &id).await {
        Ok(proposal) => proposal,
        Err(error) => return Ok(decide_error(error)),
    };
    let input: DecisionInput = body.decode()?;
    let reviewer = &principal.0;
    let decided = match decide(&store, reviewer, proposal, &input).await {
        Ok(decided) => decided,
        Err(error) => return Ok(decide_error(error)),
    };
    if decided.status != ProposalStatus::Approved {
        return Ok(Json(decided).into_response());
    }
    let applied = apply(&store, state.apply_target(), decided, reviewer).await?;
    if applied.status == ProposalStatus::Applied {
        state.after_apply(&applied.namespace, &applied.name, applied.kind);
    }
    Ok(Json(applied).into_response())
}

fn decide_error(error: DecideError) -> Response {
    let (status, body) = match error {
        DecideError::NotFound(message) => (StatusCode::NOT_FOUND, error_body(&message, &[])),
        DecideError::Forbidden(message) => (StatusCode::FORBIDDEN, error_body(&message, &[])),
        DecideError::Invalid(field) => {
            return ApiError::from(field).into_response();
        }
        DecideError::Conflict { message, current }
        | DecideError::Superseded { message, current } => {
            let mut body = error_body(&message, &[]);
            body["proposal"] = json!(current);
            (StatusCode::CONFLICT, body)
        }
        DecideError::Db(db) => return ApiError::from(db).into_response(),
    };
    (status, Json(body)).into_response()
}

/// `GET /api/v1/servers/{namespace}/{name}/revisions`: every applied revision, oldest first.
#[utoipa::path(get, path = "/api/v1/servers/{namespace}/{name}/revisions", operation_id = "list_revisions", tag = "proposals",
    params(ServerPath),
    responses((status = 200, description = "Every applied revision", body = RevisionList)))]
pub async fn revision_list(
    State(state): State<OnboardingState>,
    principal: Principal,
    server: ServerPath,
) -> Result<Json<RevisionList>, ApiError> {
    principal.require(Action::Browse, None)?;
    let revisions = revisions::list(&state.db, &server.namespace, &server.name).await?;
    Ok(Json(RevisionList { revisions }))
}

/// `GET …/revisions/{number}/manifest`: the exact manifest YAML applied in that revision.
#[utoipa::path(get, path = "/api/v1/servers/{namespace}/{name}/revisions/{number}/manifest", operation_id = "get_revision_manifest", tag = "proposals",
    params(("namespace" = String, Path), ("name" = String, Path), ("number" = i64, Path)),
    responses((status = 200, description = "The `MCPServer` manifest (YAML), with Apiary's metadata in `apiary.dev/` annotations", content_type = "application/yaml", body = super::manifest::Manifest),
               (status = 404, description = "No such revision", body = crate::validation::ErrorBody)))]
pub async fn revision_manifest(
    State(state): State<OnboardingState>,
    principal: Principal,
    Path((namespace, name, number)): Path<(String, String, i64)>,
) -> Result<Response, ApiError> {
    principal.require(Action::Browse, None)?;
    let revision = revisions::list(&state.db, &namespace, &name)
        .await?
        .into_iter()
        .find(|r| r.number == number)
        .ok_or_else(|| {
            ApiError::NotFound(format!("{namespace}/{name} has no revision {number}"))
        })?;
    Ok((
        [(header::CONTENT_TYPE, "application/yaml")],
        revision.manifest,
    )
        .into_response())
}
