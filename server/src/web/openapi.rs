//! The OpenAPI document of Apiary's HTTP API, generated from the handlers' annotations.

use axum::Json;
use utoipa::OpenApi;

/// Every documented route.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Apiary",
        description = "Control plane for fleets of MCP servers"
    ),
    paths(
        crate::registry::api::list,
        crate::registry::api::versions,
        crate::registry::api::version,
        crate::registry::export::litellm,
        crate::registry::export::toolhive,
        crate::registry::export::snippets,
        crate::registry::internal_api::snapshots,
        crate::registry::internal_api::drift,
        crate::registry::internal_api::health,
        crate::registry::internal_api::refresh,
        crate::registry::drift_review::list,
        crate::registry::drift_review::approve,
        crate::registry::deprecation::deprecate,
        crate::registry::deprecation::reinstate,
        crate::registry::curation::api::show,
        crate::registry::curation::api::replace,
        crate::gateway::access::api::show,
        crate::gateway::access::api::replace,
        crate::audit::export::export,
        crate::onboarding::revision_diff::diff,
        crate::onboarding::cluster_changes::show,
        super::servers_api::register,
        super::servers_api::remove,
        crate::onboarding::api::propose,
        crate::onboarding::api::list,
        crate::onboarding::api::show,
        crate::onboarding::api::decision,
        crate::onboarding::api::revision_list,
        crate::onboarding::api::revision_manifest,
        super::health::live,
        super::health::ready,
        super::health::metrics,
    )
)]
pub struct ApiDoc;

/// `GET /openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
