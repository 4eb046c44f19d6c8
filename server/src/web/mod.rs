//! The HTTP surface: the MCP gateway's routes with the few layers they need, in front of one
//! router for the console, the JSON APIs, health and metrics.

pub mod assets;
mod authority;
mod csrf;
mod health;
mod json_errors;
mod local_guard;
pub mod openapi;
mod runtime_api;
mod security_headers;
pub mod serve;
mod servers_api;
mod state;

pub use state::AppState;

use std::sync::Arc;

use axum::extract::FromRef;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use tower_http::compression::CompressionLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use apiary_app::{shell, App};

use crate::api_error::REQUEST_TIMEOUT;

/// The console's routes, generated once per process. Generating them renders the app with
/// resource loading suspended process-wide, so a second generation while another router
/// serves a page would stall that page's resources forever (leptos issue 4773).
fn route_list() -> Vec<AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// An area's routes over the part of `state` they need; each request clones only that part.
fn part<T>(state: &AppState, routes: Router<T>) -> Router<AppState>
where
    T: FromRef<AppState> + Clone + Send + Sync + 'static,
{
    routes.with_state(T::from_ref(state))
}

/// Builds the whole router over `state`. Tests call it with `oneshot`, without a socket.
pub fn router(state: AppState) -> Router {
    let routes = route_list();
    let services = state.services();
    let options = state.leptos_options.clone();
    let static_files = assets::service(&state.settings.site_dir.join("pkg"));
    let local_hosts = local_guard::LocalHosts::of(&state.settings);

    let console_and_apis = Router::new()
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/metrics", get(health::metrics))
        .route("/openapi.json", get(openapi::document))
        .route(
            "/api/v1/servers/{namespace}/{name}",
            put(servers_api::register).delete(servers_api::remove),
        )
        .route(
            "/api/v1/servers/{namespace}/{name}/runtime",
            get(runtime_api::status),
        )
        .merge(part(&state, crate::registry::api::routes()))
        .merge(part(&state, crate::registry::export::routes()))
        .merge(part(&state, crate::registry::internal_api::routes()))
        .merge(part(&state, crate::registry::drift_review::routes()))
        .merge(part(&state, crate::registry::deprecation::routes()))
        .merge(part(&state, crate::registry::curation::api::routes()))
        .merge(part(&state, crate::gateway::access::api::routes()))
        .merge(part(&state, crate::console::audit_export::routes()))
        .merge(part(&state, crate::console::curate::routes()))
        .merge(part(&state, crate::onboarding::api::routes()))
        .merge(part(&state, crate::onboarding::revision_diff::routes()))
        .merge(part(&state, crate::onboarding::cluster_changes::routes()))
        .merge(part(&state, crate::onboarding::virtual_proposals::routes()))
        .merge(part(&state, crate::virtual_servers::api::routes()))
        .merge(part(&state, crate::auth::routes()))
        .merge(part(&state, crate::auth::resource::routes()))
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(services.clone()),
            move || shell(options.clone()),
        )
        .nest_service("/pkg", static_files)
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        // Layers run bottom-up on the way in: security headers, host check, CSRF, session,
        // then the sign-in gate next to the routes.
        .layer(axum::middleware::from_fn_with_state(
            state.auth.clone(),
            crate::auth::require_sign_in,
        ))
        .layer(tower::util::option_layer(
            state
                .auth
                .as_ref()
                .map(|auth| auth.store.layer(auth.secure_cookies)),
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.settings.clone(),
            csrf::refuse_cross_site,
        ))
        .layer(axum::middleware::from_fn_with_state(
            local_hosts.clone(),
            local_guard::guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.form_targets.clone(),
            security_headers::set,
        ))
        .layer((
            axum::middleware::from_fn(crate::telemetry::track_http),
            TraceLayer::new_for_http(),
            CompressionLayer::new(),
            // Outside the timeout, so its 408 is rewritten as JSON too.
            axum::middleware::from_fn(json_errors::json_errors),
            TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT),
        ));
    let console_and_apis = console_and_apis.with_state(state.clone());
    gateway(&state, local_hosts)
        .fallback_service(console_and_apis)
        .with_state(state)
}

/// The MCP gateway's routes with only the layers they use: the console's session, sign-in
/// gate, page nonce and JSON error rewriting do nothing for an MCP client (the gateway checks
/// bearer tokens itself), and every call would pay for them. The host check, the cross-site
/// check, security headers, metrics, tracing, compression and the timeout stay.
fn gateway(state: &AppState, local_hosts: Arc<local_guard::LocalHosts>) -> Router<AppState> {
    part(state, crate::gateway::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.settings.clone(),
            csrf::refuse_cross_site,
        ))
        .layer(axum::middleware::from_fn_with_state(
            local_hosts,
            local_guard::guard,
        ))
        .layer(security_headers::for_answers())
        .layer((
            axum::middleware::from_fn(crate::telemetry::track_http),
            TraceLayer::new_for_http(),
            CompressionLayer::new(),
            TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT),
        ))
}
