//! "Changed outside Apiary" in Kubernetes mode: the server's live `MCPServer` and
//! `MCPToolConfig` against what Apiary applied, for the server page and
//! `GET /api/v1/servers/{namespace}/{name}/cluster-changes`.
//!
//! What Apiary applied is the newest revision an approved proposal applied (its exact
//! manifest, plus the `toolConfigRef` the curation adds) and the `MCPToolConfig` of the
//! server's stored curation. A resource deleted in the cluster is reported missing (the
//! server is unpublished by [`super::cluster_watch`] meanwhile). Reading the cluster costs one
//! GET of each resource, side by side, bounded by [`READ_TIMEOUT`]; a failure becomes a message
//! on the page, never an error page.

use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use kube::api::DynamicObject;
use kube::{Api, Client, CustomResourceExt};
use serde_json::{json, Value};

use apiary_app::access::Action;
use apiary_app::model::cluster_changes::ClusterChanges;

use crate::api_error::ApiError;
use crate::api_request::{NoSuchServer, ServerPath};
use crate::auth::Principal;
use crate::db::{Db, DbError};
use crate::registry::curation::{self, cluster::tool_config_spec};
use crate::resources::crd::{self, STORAGE_VERSION};

use super::kubernetes::{self, is_remote};
use super::outside_changes::{apply_schema_defaults, compare};
use super::revisions::{self, Revision};
use super::OnboardingState;

/// The longest the page and the API wait for the cluster.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The cluster compared with what Apiary applied for server `namespace/name` (database id
/// `server_id`). Only database failures are errors; cluster failures are
/// [`ClusterChanges::Unreadable`].
pub async fn check(
    db: &Db,
    client: &Client,
    server_id: &str,
    namespace: &str,
    name: &str,
) -> Result<ClusterChanges, DbError> {
    let Some(revision) = revisions::latest_from_proposal(db, namespace, name).await? else {
        return Ok(not_applied(
            "no approved proposal of this server has been applied to the cluster",
        ));
    };
    if revision.metadata["lifecycle"] == "retired" {
        return Ok(not_applied(
            "the server is retired; Apiary removed its MCPServer",
        ));
    }
    if is_remote(&revision.spec) {
        return Ok(not_applied(
            "a remote url server has no MCPServer in the cluster",
        ));
    }
    let curation = curation::store::load(db, server_id).await?;
    let Ok(mut server) = serde_yaml::from_str::<Value>(&revision.manifest) else {
        tracing::error!(server = %format!("{namespace}/{name}"), revision = revision.number,
            "a revision's manifest is not YAML");
        return Ok(ClusterChanges::Unreadable {
            message: format!("revision {}'s manifest cannot be read", revision.number),
        });
    };
    // The curation's apply points the server at its MCPToolConfig.
    server["spec"]["toolConfigRef"] = json!({ "name": name });
    let tool_config = json!({ "spec": tool_config_spec(&curation) });
    let configs = kubernetes::resources(
        client,
        namespace,
        STORAGE_VERSION,
        ("MCPToolConfig", "mcptoolconfigs"),
    );
    let servers = kubernetes::mcpservers(client, namespace);
    let (live_server, live_config) = tokio::join!(
        read(&servers, "MCPServer", name),
        read(&configs, "MCPToolConfig", name),
    );
    let (live_server, live_config) = match (live_server, live_config) {
        (Ok(server), Ok(config)) => (server, config),
        (Err(message), _) | (_, Err(message)) => {
            return Ok(ClusterChanges::Unreadable { message });
        }
    };
    Ok(outcome(
        &revision,
        [
            ("MCPServer", server, live_server),
            ("MCPToolConfig", tool_config, live_config),
        ],
    ))
}

fn not_applied(reason: &str) -> ClusterChanges {
    ClusterChanges::NotApplied {
        reason: reason.to_owned(),
    }
}

/// Compares each `(kind, approved, live)`; `None` live means missing in the cluster.
fn outcome(revision: &Revision, resources: [(&str, Value, Option<Value>); 2]) -> ClusterChanges {
    let mut missing = Vec::new();
    let mut fields = Vec::new();
    for (kind, mut approved, live) in resources {
        match live {
            None => missing.push(kind.to_owned()),
            Some(live) => {
                if let Some(spec) = approved.get_mut("spec") {
                    apply_schema_defaults(spec_schema(kind), spec);
                }
                fields.extend(compare(kind, &approved, &live));
            }
        }
    }
    if missing.is_empty() && fields.is_empty() {
        ClusterChanges::InSync {
            revision: revision.number,
        }
    } else {
        ClusterChanges::Changed {
            revision: revision.number,
            missing,
            fields,
        }
    }
}

/// The structural schema of `kind`'s spec (both served versions share it), built once.
fn spec_schema(kind: &str) -> &'static Value {
    static SERVER: OnceLock<Value> = OnceLock::new();
    static TOOL_CONFIG: OnceLock<Value> = OnceLock::new();
    let (cell, build): (_, fn() -> _) = match kind {
        "MCPServer" => (&SERVER, crd::MCPServer::crd),
        _ => (&TOOL_CONFIG, crd::MCPToolConfig::crd),
    };
    cell.get_or_init(|| {
        let crd = build();
        let schema = crd
            .spec
            .versions
            .first()
            .and_then(|v| v.schema.as_ref())
            .and_then(|s| s.open_api_v3_schema.as_ref());
        serde_json::to_value(schema).unwrap_or_default()["properties"]["spec"].take()
    })
}

/// The object `name` as JSON, `None` when it does not exist, or a message for the page.
async fn read(api: &Api<DynamicObject>, kind: &str, name: &str) -> Result<Option<Value>, String> {
    match tokio::time::timeout(READ_TIMEOUT, api.get_opt(name)).await {
        Ok(Ok(object)) => Ok(object.map(|o| serde_json::to_value(o).unwrap_or_default())),
        Ok(Err(kube::Error::Api(status))) => {
            tracing::warn!(%kind, name, status = ?status, "cannot read a resource to compare");
            Err(format!(
                "Apiary could not read {kind} {name} from the cluster: {} ({})",
                status.message, status.code
            ))
        }
        Ok(Err(error)) => {
            tracing::warn!(%kind, name, %error, "cannot read a resource to compare");
            Err(format!(
                "Apiary could not reach the Kubernetes API to read {kind} {name}; try again shortly"
            ))
        }
        Err(_) => Err(format!(
            "the Kubernetes API did not answer within {} s; try again shortly",
            READ_TIMEOUT.as_secs()
        )),
    }
}

/// Why there is nothing to compare in local mode.
pub const LOCAL_MODE: &str = "Apiary runs the local runtime; nothing is applied to a cluster";

/// The cluster comparison for `namespace/name` in `state`'s mode: not applied in local mode.
pub async fn for_state(
    state: &OnboardingState,
    server_id: &str,
    namespace: &str,
    name: &str,
) -> Result<ClusterChanges, DbError> {
    match state.cluster() {
        Some(client) => check(&state.db, client, server_id, namespace, name).await,
        None => Ok(not_applied(LOCAL_MODE)),
    }
}

/// `GET /api/v1/servers/{namespace}/{name}/cluster-changes`: how the cluster's `MCPServer`
/// and `MCPToolConfig` differ from what Apiary applied (anyone who may browse).
#[utoipa::path(get, path = "/api/v1/servers/{namespace}/{name}/cluster-changes", operation_id = "get_cluster_changes", tag = "onboarding",
    params(ServerPath),
    responses((status = 200, description = "How the cluster compares with the approved revision (Kubernetes mode; `not-applied` otherwise)", body = ClusterChanges), NoSuchServer))]
pub async fn show(
    State(state): State<OnboardingState>,
    principal: Principal,
    server: ServerPath,
) -> Result<Json<ClusterChanges>, ApiError> {
    principal.require(Action::Browse, None)?;
    let server_id = state.servers.id_or_404(&server).await?;
    let (namespace, name) = server.pair();
    Ok(Json(for_state(&state, &server_id, namespace, name).await?))
}

/// The routes of this module.
pub fn routes() -> Router<OnboardingState> {
    Router::new().route(
        "/api/v1/servers/{namespace}/{name}/cluster-changes",
        get(show),
    )
}
