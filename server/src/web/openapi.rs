//! The OpenAPI document of Apiary's HTTP API, generated from the handlers' annotations and the
//! Rust types of their bodies, plus the answers the middleware gives on every route
//! ([`CommonAnswers`]).

use axum::Json;
use utoipa::openapi::path::Operation;
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::validation::ErrorBody;

/// Every documented route.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Apiary",
        description = "Control plane for fleets of MCP servers. Every error answer of the JSON API \
                       is an `Error`; with sign-in on, API requests need a session cookie or a \
                       bearer token."
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
        crate::gateway::proxy::post,
        crate::gateway::proxy::get,
        crate::gateway::proxy::delete,
        crate::virtual_servers::api::list,
        crate::virtual_servers::api::show,
        crate::virtual_servers::api::preview,
        crate::virtual_servers::api::save,
        crate::virtual_servers::api::remove,
        crate::onboarding::virtual_proposals::propose,
        crate::console::audit_export::export,
        crate::onboarding::revision_diff::diff,
        crate::onboarding::cluster_changes::show,
        super::servers_api::register,
        super::servers_api::remove,
        super::runtime_api::status,
        crate::onboarding::api::propose,
        crate::onboarding::api::list,
        crate::onboarding::api::show,
        crate::onboarding::api::decision,
        crate::onboarding::api::revision_list,
        crate::onboarding::api::revision_manifest,
        super::health::live,
        super::health::ready,
        super::health::metrics,
    ),
    components(schemas(ErrorBody)),
    modifiers(&CommonAnswers)
)]
pub struct ApiDoc;

/// `GET /openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Adds to each operation the error answers that come from the layers around every handler,
/// not from the handler itself (each only where the handler does not document it already):
/// - 400: a path or query parameter that does not parse (operations with parameters);
/// - 401: no session or bearer token, with sign-in on (all but the public endpoints);
/// - 403: a `Host` other than this machine's in local mode, a cross-site write, or a person
///   without any Apiary role;
/// - 408: the request took longer than 30 s;
/// - 413, 415 and 422: the body is over the limit, not JSON, or of the wrong shape
///   (operations with a body; the gateway answers its own);
/// - 503: the database or the session store does not answer (all but `/healthz`, `/metrics`).
struct CommonAnswers;

impl Modify for CommonAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let public = matches!(
                path.as_str(),
                "/healthz" | "/readyz" | "/metrics" | "/openapi.json"
            );
            let gateway = path.starts_with("/mcp/");
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                add_common(operation, public, gateway);
            }
        }
    }
}

fn add_common(operation: &mut Operation, public: bool, gateway: bool) {
    let has_params = operation
        .parameters
        .as_ref()
        .is_some_and(|params| !params.is_empty());
    let has_body = operation.request_body.is_some();
    let mut answers: Vec<(&str, &str)> = Vec::new();
    if (has_params || has_body) && !gateway {
        answers.push(("400", "A parameter or the body does not parse"));
    }
    if !public && !gateway {
        answers.push((
            "401",
            "Sign-in is on and the request has no session or bearer token",
        ));
    }
    answers.push((
        "403",
        "Local mode and a `Host` other than this machine, a cross-site write, or no Apiary role",
    ));
    if !gateway {
        answers.push(("408", "The request took longer than 30 s"));
    }
    if has_body && !gateway {
        answers.push(("413", "The body is larger than Apiary accepts"));
        answers.push(("415", "The body is not sent as `application/json`"));
        answers.push((
            "422",
            "The body is JSON of the wrong shape or fields are invalid; `fields` names each one",
        ));
    }
    if !public && !gateway {
        answers.push(("503", "The database does not answer; try again shortly"));
    }
    for (status, description) in answers {
        if operation.responses.responses.contains_key(status) {
            continue;
        }
        let response = ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Error")))
                    .build(),
            )
            .build();
        operation
            .responses
            .responses
            .insert(status.to_owned(), response.into());
    }
}
