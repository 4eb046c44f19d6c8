//! The authorization matrix: every state-changing route and every server function, tried by
//! each role and without a session, against the expected allow or deny table. A new route or
//! server function that is missing from the table fails the test until someone decides who
//! may call it.

mod support;

use reqwest::header::{CONTENT_TYPE, ORIGIN};
use reqwest::StatusCode;
use serde_json::json;
use support::signed_in::{self, Client, SignedInApp};

/// Who tries: a test user of the provider (see end2end/oidc/provider.mjs), or nobody.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Anonymous,
    /// Signed in without any Apiary group.
    Nora,
    /// Consumer.
    Carol,
    /// Proposer in team search.
    Paul,
    /// Owner of team search.
    Olga,
    /// Owner of team data.
    Otto,
    /// Admin.
    Adam,
}

const EVERYONE: [Who; 7] = [
    Who::Anonymous,
    Who::Nora,
    Who::Carol,
    Who::Paul,
    Who::Olga,
    Who::Otto,
    Who::Adam,
];

impl Who {
    fn user(self) -> Option<&'static str> {
        match self {
            Who::Anonymous => None,
            Who::Nora => Some("nora"),
            Who::Carol => Some("carol"),
            Who::Paul => Some("paul"),
            Who::Olga => Some("olga"),
            Who::Otto => Some("otto"),
            Who::Adam => Some("adam"),
        }
    }
}

/// What must happen.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Outcome {
    /// The request reaches its handler (neither 401 nor 403).
    Allowed,
    /// 403.
    Forbidden,
    /// 401, or a redirect to sign-in.
    Unauthenticated,
}

/// The rule for a route: who may call it. People without a session are always
/// unauthenticated and people without a role always forbidden, except where noted.
fn expected(rule: Rule, who: Who) -> Outcome {
    if rule == Rule::Anyone {
        return Outcome::Allowed;
    }
    match who {
        Who::Anonymous => return Outcome::Unauthenticated,
        Who::Nora => return Outcome::Forbidden,
        _ => {}
    }
    let allowed = match rule {
        Rule::Anyone | Rule::AnyRole => true,
        Rule::Admin => who == Who::Adam,
        Rule::OwnerOfSearchOrAdmin => matches!(who, Who::Olga | Who::Adam),
        Rule::Proposer => matches!(who, Who::Paul | Who::Olga | Who::Otto | Who::Adam),
        Rule::Reviewer => matches!(who, Who::Olga | Who::Otto | Who::Adam),
    };
    if allowed {
        Outcome::Allowed
    } else {
        Outcome::Forbidden
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Rule {
    /// Even without a session (signing out).
    Anyone,
    /// Anyone with an Apiary role (read-only server functions).
    AnyRole,
    /// Admins only.
    Admin,
    /// Owners of the server's team (search), and admins.
    OwnerOfSearchOrAdmin,
    /// Proposers, owners and admins.
    Proposer,
    /// Owners of any team, and admins.
    Reviewer,
}

/// The state-changing routes: method, path (the target server is `matrix/osv`, owned by team
/// search; `{id}` is an open proposal to update it) and rule. Kept in step with the OpenAPI
/// document by the test below.
const ROUTES: &[(&str, &str, Rule)] = &[
    ("PUT", "/api/v1/servers/matrix/osv", Rule::Admin),
    ("POST", "/api/v1/proposals", Rule::Proposer),
    (
        "POST",
        "/api/v1/proposals/{id}/decision",
        Rule::OwnerOfSearchOrAdmin,
    ),
    ("PUT", "/api/v1/servers/matrix/osv/curation", Rule::Admin),
    ("PUT", "/api/v1/servers/matrix/osv/access", Rule::Admin),
    (
        "POST",
        "/api/v1/servers/matrix/osv/drift/approve",
        Rule::OwnerOfSearchOrAdmin,
    ),
    (
        "POST",
        "/api/v1/servers/matrix/osv/refresh",
        Rule::OwnerOfSearchOrAdmin,
    ),
    (
        "PUT",
        "/api/v1/servers/matrix/osv/deprecation",
        Rule::OwnerOfSearchOrAdmin,
    ),
    (
        "DELETE",
        "/api/v1/servers/matrix/osv/deprecation",
        Rule::OwnerOfSearchOrAdmin,
    ),
    // Virtual servers are the admin's (the body is a server's, so an admin gets 415 or 422).
    ("PUT", "/api/v1/virtual-servers/matrix/osv", Rule::Admin),
    (
        "POST",
        "/api/v1/virtual-servers/matrix/osv/preview",
        Rule::Admin,
    ),
    ("DELETE", "/api/v1/virtual-servers/matrix/osv", Rule::Admin),
    // Anyone who may propose (the body is a server's, so they get 415 or 422).
    (
        "POST",
        "/api/v1/virtual-servers/matrix/osv/proposals",
        Rule::Proposer,
    ),
    // Deletes the matrix server: it goes last but one, after every route that needs it.
    ("DELETE", "/api/v1/servers/matrix/osv", Rule::Admin),
    ("POST", "/auth/logout", Rule::Anyone),
];

/// Server functions by name, with their rule and the form body they are called with (empty
/// unless the rule depends on the target server). Every registered server function must be
/// here.
const SERVER_FNS: &[(&str, Rule, &str)] = &[
    ("search_catalog", Rule::AnyRole, ""),
    ("load_server_detail", Rule::AnyRole, ""),
    ("current_viewer", Rule::AnyRole, ""),
    ("load_virtual_servers", Rule::AnyRole, ""),
    ("load_audit", Rule::Admin, ""),
    ("load_curation", Rule::Admin, ""),
    (
        "approve_drift",
        Rule::OwnerOfSearchOrAdmin,
        "namespace=matrix&name=osv&snapshot_id=none&comment=matrix",
    ),
    ("propose_server", Rule::Proposer, ""),
    ("propose_virtual_server", Rule::Proposer, ""),
    ("preview_proposal", Rule::Proposer, ""),
    ("load_review_queue", Rule::Proposer, ""),
    ("load_proposal_review", Rule::Proposer, ""),
    ("load_change_form", Rule::Proposer, ""),
    // Any owner or admin reaches it; whether an owner may decide a given proposal (their
    // team, not their own approval) is checked against the proposal (tests/proposals_ui.rs).
    ("decide_proposal", Rule::Reviewer, ""),
    // Fetching a server's tools is for its owners; the whole fleet, for admins.
    (
        "refresh_tools",
        Rule::OwnerOfSearchOrAdmin,
        "namespace=matrix&name=osv",
    ),
    ("start_fleet_refresh", Rule::Admin, ""),
    ("fleet_refresh_status", Rule::Admin, ""),
];

fn registration() -> serde_json::Value {
    json!({
        "description": "Open source vulnerabilities",
        "ownerTeam": "search",
        // A closed loopback port: refreshing fails fast without leaving the machine.
        "spec": { "transport": "streamable-http", "url": "http://127.0.0.1:9/mcp" },
    })
}

/// Paul proposes an update of `matrix/osv`; returns the open proposal's id.
async fn open_proposal(paul: &Client) -> String {
    let mut body = registration();
    body["kind"] = json!("update");
    body["namespace"] = json!("matrix");
    body["name"] = json!("osv");
    let response = paul
        .http
        .post(format!("{}/api/v1/proposals", paul.base))
        .header(ORIGIN, &paul.base)
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::CREATED, "paul proposes");
    let proposal: serde_json::Value = response.json().await.expect("JSON");
    proposal["id"].as_str().expect("an id").to_owned()
}

async fn client_for(app: &SignedInApp, who: Who) -> Client {
    let client = Client::new(app);
    if let Some(user) = who.user() {
        client.sign_in_as(user).await;
    }
    client
}

async fn attempt(client: &Client, method: &str, path: &str) -> StatusCode {
    attempt_with(client, method, path, "").await
}

/// Like [`attempt`]; a POST carries the form `body`.
async fn attempt_with(client: &Client, method: &str, path: &str, body: &str) -> StatusCode {
    let url = format!("{}{path}", client.base);
    let request = match method {
        "PUT" => client.http.put(url).json(&registration()),
        "DELETE" => client.http.delete(url),
        "POST" => client
            .http
            .post(url)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body.to_owned()),
        other => panic!("no method {other} in the matrix"),
    };
    request
        .header(ORIGIN, &client.base)
        .send()
        .await
        .expect("request")
        .status()
}

fn outcome_of(status: StatusCode, path: &str) -> Outcome {
    match status {
        StatusCode::UNAUTHORIZED => Outcome::Unauthenticated,
        StatusCode::FORBIDDEN => Outcome::Forbidden,
        StatusCode::SEE_OTHER if path != "/auth/logout" => Outcome::Unauthenticated,
        _ => Outcome::Allowed,
    }
}

fn server_fn_paths() -> Vec<String> {
    leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _method)| path.to_owned())
        .collect()
}

/// Each server function's URL hashes the fixed key of `.cargo/config.toml` and its module, not
/// the crate's directory, so a server and a hydrate bundle built from different checkouts name
/// the same URLs.
#[test]
fn server_function_urls_do_not_depend_on_where_the_code_is_checked_out() {
    let hash =
        leptos::server_fn::xxhash_rust::const_xxh64::xxh64(b"apiary:apiary_app::api::catalog", 0);
    let expected = format!("/api/search_catalog{hash}");
    let paths = server_fn_paths();
    assert!(
        paths.contains(&expected),
        "expected {expected} among the server functions: {paths:?}"
    );
}

fn server_fn_rule(path: &str) -> Option<(Rule, &'static str)> {
    let name = path.trim_start_matches("/api/");
    SERVER_FNS
        .iter()
        .find(|(fn_name, _, _)| {
            name.strip_prefix(fn_name)
                .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit()))
        })
        .map(|(_, rule, body)| (*rule, *body))
}

#[tokio::test]
async fn every_state_changing_route_and_server_function_is_in_the_matrix() {
    use utoipa::OpenApi;
    let document =
        serde_json::to_value(apiary_server::web::openapi::ApiDoc::openapi()).expect("JSON");
    let paths = document["paths"].as_object().expect("paths");
    for (path, operations) in paths {
        // The gateway takes bearer tokens only and decides per server who may use it
        // (`gateway::access`, tested in gateway_auth.rs), not by the console's roles.
        if path.starts_with("/mcp/") {
            continue;
        }
        for method in ["put", "post", "patch", "delete"] {
            if operations.get(method).is_some() {
                let concrete = path
                    .replace("{namespace}", "matrix")
                    .replace("{name}", "osv");
                assert!(
                    ROUTES
                        .iter()
                        .any(|(m, p, _)| m.eq_ignore_ascii_case(method) && *p == concrete),
                    "{method} {path} changes state but is not in the authorization matrix"
                );
            }
        }
    }
    // Registering the router registers the server functions.
    let db = support::sqlite().await;
    let _app = support::app(&db.db);
    let fns = server_fn_paths();
    assert!(!fns.is_empty(), "server functions are registered");
    for path in fns {
        assert!(
            server_fn_rule(&path).is_some(),
            "server function {path} is not in the authorization matrix"
        );
    }
}

#[tokio::test]
async fn each_role_gets_exactly_what_the_matrix_allows() {
    for db in support::all_backends().await {
        let Some(app) = signed_in::start(&db).await else {
            return;
        };
        let admin = client_for(&app, Who::Adam).await;
        assert_eq!(
            attempt(&admin, "PUT", "/api/v1/servers/matrix/osv").await,
            StatusCode::CREATED,
            "the admin sets up the target server"
        );
        let proposal = open_proposal(&client_for(&app, Who::Paul).await).await;
        let mut failures = Vec::new();
        for who in EVERYONE {
            for (method, path, rule) in ROUTES {
                let path = &path.replace("{id}", &proposal);
                // Signing out ends the session, so it goes last, with a fresh sign-in.
                let client = client_for(&app, who).await;
                let status = attempt(&client, method, path).await;
                let (got, want) = (outcome_of(status, path), expected(*rule, who));
                if got != want {
                    failures.push(format!(
                        "{who:?} {method} {path}: got {status}, want {want:?}"
                    ));
                }
            }
            let client = client_for(&app, who).await;
            for path in server_fn_paths() {
                let (rule, body) = server_fn_rule(&path).expect("every server function has a rule");
                let status = attempt_with(&client, "POST", &path, body).await;
                let (got, want) = (outcome_of(status, &path), expected(rule, who));
                if got != want {
                    failures.push(format!("{who:?} POST {path}: got {status}, want {want:?}"));
                }
            }
        }
        assert!(
            failures.is_empty(),
            "authorization matrix violations:\n{}",
            failures.join("\n")
        );
    }
}

#[tokio::test]
async fn a_cross_site_post_is_refused_even_with_a_valid_session() {
    for db in support::all_backends().await {
        let Some(app) = signed_in::start(&db).await else {
            return;
        };
        let admin = client_for(&app, Who::Adam).await;
        // A form on another site posting to Apiary: the browser sends the cookie (a top-level
        // POST navigation) and marks the request cross-site.
        let forged = admin
            .http
            .put(format!("{}/api/v1/servers/forged/osv", app.url))
            .header(ORIGIN, "https://evil.example")
            .header("sec-fetch-site", "cross-site")
            .json(&registration())
            .send()
            .await
            .expect("request");
        assert_eq!(forged.status(), StatusCode::FORBIDDEN);
        let form = admin
            .http
            .post(format!("{}/auth/logout", app.url))
            .header(ORIGIN, "https://evil.example")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("")
            .send()
            .await
            .expect("request");
        assert_eq!(
            form.status(),
            StatusCode::FORBIDDEN,
            "a cross-site form post"
        );
        for path in server_fn_paths() {
            let status = admin
                .http
                .post(format!("{}{path}", app.url))
                .header("sec-fetch-site", "cross-site")
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body("")
                .send()
                .await
                .expect("request")
                .status();
            assert_eq!(status, StatusCode::FORBIDDEN, "cross-site call of {path}");
        }
        assert!(
            admin.is_signed_in().await,
            "the forged sign-out did nothing"
        );
        let (status, _) = support::http::call(
            &support::app(&db.db),
            "GET",
            "/api/v1/servers/forged/osv/snapshots",
            None,
        )
        .await;
        assert_eq!(
            status,
            reqwest::StatusCode::NOT_FOUND,
            "nothing was registered"
        );
    }
}
