//! Proposal validation through the HTTP API (local admin mode): a corpus of bad proposals, each
//! refused with a message naming the field, with nothing stored; and valid JSON and YAML
//! proposals stored with their audit events.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use support::http::{call, send};

/// A valid create proposal, which each case breaks in one way.
fn valid() -> Value {
    json!({
        "kind": "create",
        "namespace": "tools",
        "name": "fetch",
        "description": "Fetches web pages as Markdown",
        "ownerTeam": "search",
        "category": "web",
        "tags": ["web", "fetch"],
        "docsUrl": "https://docs.example.com/fetch",
        "spec": { "command": "mcp-fetch", "args": ["--quiet"], "transport": "stdio",
                  "env": [{ "name": "LOG_LEVEL", "value": "info" }],
                  "secrets": [{ "name": "fetch-keys", "key": "token", "targetEnvName": "FETCH_TOKEN" }] },
    })
}

/// `valid()` with `path` (dot-separated; `spec.x` inside the spec) set to `value`, or removed
/// when `value` is null.
fn with(path: &str, value: Value) -> Value {
    let mut body = valid();
    let mut target = &mut body;
    let parts: Vec<&str> = path.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        target = &mut target[*part];
    }
    let last = parts[parts.len() - 1];
    if value.is_null() {
        target.as_object_mut().expect("an object").remove(last);
    } else {
        target[last] = value;
    }
    body
}

fn spec_with(fields: Value) -> Value {
    let mut body = valid();
    body["spec"] = fields;
    body
}

fn retire(extra: Value) -> Value {
    let mut body = json!({ "kind": "retire", "namespace": "tools", "name": "existing" });
    for (key, value) in extra.as_object().expect("an object") {
        body[key] = value.clone();
    }
    body
}

fn manifest(annotations: &str, spec: &str) -> String {
    format!(
        "apiVersion: toolhive.stacklok.dev/v1alpha1\nkind: MCPServer\nmetadata:\n  name: everything\n  \
         namespace: tools\n  annotations:\n{annotations}spec:\n{spec}"
    )
}

const GOOD_ANNOTATIONS: &str =
    "    apiary.dev/owner-team: search\n    apiary.dev/description: Every MCP feature\n";
const GOOD_SPEC: &str =
    "  image: npx://@modelcontextprotocol/server-everything@2025.9.1\n  transport: stdio\n";

/// The JSON cases: body, and the field the refusal must name.
fn json_cases() -> Vec<(Value, &'static str)> {
    vec![
        (with("kind", Value::Null), "kind"),
        (with("kind", json!("destroy")), "kind"),
        (with("namespace", json!("Tools")), "namespace"),
        (with("name", json!("")), "name"),
        (with("name", json!("fetch_pages")), "name"),
        (with("name", json!("a".repeat(60))), "name"),
        (with("colour", json!("blue")), "colour"),
        (with("description", Value::Null), "description"),
        (with("description", json!("x".repeat(2_001))), "description"),
        (with("ownerTeam", Value::Null), "ownerTeam"),
        (with("ownerTeam", json!("Search Team")), "ownerTeam"),
        (with("category", json!("c".repeat(64))), "category"),
        (with("tags", json!(["web", ""])), "tags[1]"),
        (with("tags", json!(["web", "web"])), "tags[1]"),
        (with("tags", json!("web")), "tags"),
        (with("docsUrl", json!("ftp://docs.example.com")), "docsUrl"),
        (with("docsUrl", json!("https://")), "docsUrl"),
        (with("spec", Value::Null), "spec"),
        (with("spec", json!("npx://mcp-fetch")), "spec"),
        (spec_with(json!({ "transport": "stdio" })), "spec"),
        (
            spec_with(json!({ "image": "npx://a", "command": "b" })),
            "spec",
        ),
        (
            with("spec.transport", json!("carrier-pigeon")),
            "spec.transport",
        ),
        (with("spec.trasnport", json!("stdio")), "spec.trasnport"),
        (
            spec_with(json!({ "image": "ghcr.io/example/fetch:1.0", "transport": "stdio" })),
            "spec.image",
        ),
        (spec_with(json!({ "image": "npx://-rf" })), "spec.image"),
        (with("spec.transport", json!("sse")), "spec.transport"),
        (with("spec.args", json!("--quiet")), "spec.args"),
        (
            with("spec.env", json!([{ "name": "1X", "value": "a" }])),
            "spec.env[0].name",
        ),
        (
            with(
                "spec.env",
                json!([{ "name": "GITHUB_TOKEN", "value": "not-really" }]),
            ),
            "spec.env[0].value",
        ),
        (
            with(
                "spec.env",
                json!([{ "name": "LOG_LEVEL", "value": "info" },
                       { "name": "UPSTREAM", "value": "ghp_0123456789abcdefABCDEF0123456789abcd" }]),
            ),
            "spec.env[1].value",
        ),
        (
            with(
                "spec.env",
                json!([{ "name": "DATABASE_URL", "value": "postgres://app:hunter2@db/app" }]),
            ),
            "spec.env[0].value",
        ),
        (
            with(
                "spec.env",
                json!([{ "name": "KEY", "valueFrom": { "secretKeyRef": { "name": "s", "key": "k" } } }]),
            ),
            "spec.env[0].valueFrom",
        ),
        (
            with("spec.secrets", json!([{ "name": "Bad_Name", "key": "k" }])),
            "spec.secrets[0].name",
        ),
        (
            with("spec.secrets", json!([{ "name": "keys", "key": "" }])),
            "spec.secrets[0].key",
        ),
        (with("spec.proxyPort", json!(70_000)), "spec.proxyPort"),
        (with("spec.mcpPort", json!("eighty")), "spec.mcpPort"),
        (
            spec_with(json!({ "url": "ftp://mcp.example.com", "transport": "sse" })),
            "spec.url",
        ),
        (
            spec_with(json!({ "url": "https://mcp.example.com/mcp", "transport": "stdio" })),
            "spec.transport",
        ),
        (
            with(
                "spec.permissionProfile",
                json!({ "type": "builtin", "name": "everything" }),
            ),
            "spec.permissionProfile.name",
        ),
        (with("spec.replicas", json!(-1)), "spec.replicas"),
        (
            {
                let mut body = with("name", json!("existing"));
                body["kind"] = json!("create");
                body
            },
            "name",
        ),
        (
            {
                let mut body = with("name", json!("missing"));
                body["kind"] = json!("update");
                body
            },
            "name",
        ),
        (
            {
                let mut body = with("kind", json!("update"));
                body["name"] = json!("existing");
                body["replacement"] = json!("tools/other");
                body
            },
            "replacement",
        ),
        (retire(json!({ "spec": { "command": "x" } })), "spec"),
        (retire(json!({ "replacement": "other" })), "replacement"),
        (
            retire(json!({ "replacement": "tools/existing" })),
            "replacement",
        ),
        (
            retire(json!({ "replacement": "tools/nowhere" })),
            "replacement",
        ),
        (retire(json!({ "message": "m".repeat(1_001) })), "message"),
    ]
}

/// The YAML cases: manifest text, and the field the refusal must name.
fn yaml_cases() -> Vec<(String, &'static str)> {
    vec![
        ("spec: [unclosed".into(), "manifest"),
        (
            manifest(GOOD_ANNOTATIONS, GOOD_SPEC).replace("v1alpha1", "v2"),
            "apiVersion",
        ),
        (
            manifest(GOOD_ANNOTATIONS, GOOD_SPEC).replace("kind: MCPServer", "kind: Pod"),
            "kind",
        ),
        (
            manifest(GOOD_ANNOTATIONS, GOOD_SPEC).replace("  namespace: tools\n", ""),
            "metadata.namespace",
        ),
        (
            manifest("    apiary.dev/description: Every MCP feature\n", GOOD_SPEC),
            "metadata.annotations[apiary.dev/owner-team]",
        ),
        (
            manifest(GOOD_ANNOTATIONS, GOOD_SPEC).replace("name: everything", "name: Everything"),
            "metadata.name",
        ),
        (
            manifest(
                &format!("{GOOD_ANNOTATIONS}    apiary.dev/docs-url: docs\n"),
                GOOD_SPEC,
            ),
            "metadata.annotations[apiary.dev/docs-url]",
        ),
        (
            manifest(
                &format!("{GOOD_ANNOTATIONS}    apiary.dev/colour: blue\n"),
                GOOD_SPEC,
            ),
            "metadata.annotations[apiary.dev/colour]",
        ),
        (
            manifest(
                GOOD_ANNOTATIONS,
                &format!("{GOOD_SPEC}  env:\n  - name: API_KEY\n    value: abc123\n"),
            ),
            "spec.env[0].value",
        ),
        (
            manifest(GOOD_ANNOTATIONS, &format!("{GOOD_SPEC}  port: high\n")),
            "spec.port",
        ),
    ]
}

fn yaml_request(path: &str, yaml: &str) -> Request<Body> {
    Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", "application/yaml")
        .body(Body::from(yaml.to_owned()))
        .expect("request")
}

async fn count(db: &apiary_server::db::Db, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(db.pool())
        .await
        .expect("count")
}

async fn register_existing(app: &axum::Router) {
    for name in ["existing", "other"] {
        let (status, body) = call(
            app,
            "PUT",
            &format!("/api/v1/servers/tools/{name}"),
            Some(&json!({
                "description": "Already here",
                "ownerTeam": "search",
                "spec": { "url": "http://127.0.0.1:9/mcp", "transport": "streamable-http" },
            })),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
}

#[tokio::test]
async fn every_bad_proposal_is_refused_naming_its_field_and_nothing_is_stored() {
    for db in support::all_backends().await {
        let app = support::app(&db.db);
        register_existing(&app).await;
        let audit_before = count(&db.db, "audit_events").await;
        let revisions_before = count(&db.db, "server_revisions").await;
        let mut failures = Vec::new();
        let json_cases = json_cases();
        let yaml_cases = yaml_cases();
        assert!(
            json_cases.len() + yaml_cases.len() >= 30,
            "the corpus has at least 30 cases"
        );
        let mut outcomes = Vec::new();
        for (body, field) in &json_cases {
            let (status, answer) = call(&app, "POST", "/api/v1/proposals", Some(body)).await;
            outcomes.push((body.to_string(), *field, status, answer));
        }
        for (yaml, field) in &yaml_cases {
            let (status, text) = send(&app, yaml_request("/api/v1/proposals", yaml)).await;
            let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            outcomes.push((yaml.clone(), *field, status, answer));
        }
        for (case, field, status, answer) in outcomes {
            let named = answer["field"].as_str() == Some(field);
            let explained = answer["message"].as_str().is_some_and(|m| {
                m.len() > 10
                    && answer["error"]
                        .as_str()
                        .is_some_and(|e| e.starts_with(field))
            });
            if status != StatusCode::UNPROCESSABLE_ENTITY || !named || !explained {
                failures.push(format!(
                    "{case}\n  want 422 naming {field}, got {status} {answer}"
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert_eq!(
            count(&db.db, "proposals").await,
            0,
            "no proposal was stored"
        );
        assert_eq!(
            count(&db.db, "audit_events").await,
            audit_before,
            "no audit event was written"
        );
        assert_eq!(count(&db.db, "server_revisions").await, revisions_before);
    }
}

#[tokio::test]
async fn malformed_bodies_and_other_content_types_are_refused_and_nothing_is_stored() {
    let db = support::sqlite().await;
    let app = support::app(&db.db);
    let (status, _) = send(
        &app,
        Request::builder()
            .method("POST")
            .uri("/api/v1/proposals")
            .header("content-type", "application/json")
            .body(Body::from("{\"kind\": "))
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = send(
        &app,
        Request::builder()
            .method("POST")
            .uri("/api/v1/proposals")
            .header("content-type", "text/plain")
            .body(Body::from("please add a server"))
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(count(&db.db, "proposals").await, 0);
    assert_eq!(count(&db.db, "audit_events").await, 0);
}

#[tokio::test]
async fn valid_json_and_yaml_proposals_are_stored_audited_and_listed() {
    for db in support::all_backends().await {
        let app = support::app(&db.db);
        register_existing(&app).await;
        let audit_before = count(&db.db, "audit_events").await;

        let (status, created) = call(&app, "POST", "/api/v1/proposals", Some(&valid())).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["status"], "open");
        assert_eq!(created["kind"], "create");
        assert_eq!(created["version"], 1);
        assert_eq!(created["ownerTeam"], "search");
        assert_eq!(created["authorSubject"], "local-admin");
        assert!(created["baseRevision"].is_null(), "a create has no base");
        assert_eq!(created["metadata"]["published"], true);

        let (status, yaml) = send(
            &app,
            yaml_request("/api/v1/proposals", &manifest(GOOD_ANNOTATIONS, GOOD_SPEC)),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{yaml}");
        let yaml: Value = serde_json::from_str(&yaml).expect("JSON");
        assert_eq!(yaml["kind"], "create");
        assert_eq!(
            yaml["spec"]["image"],
            "npx://@modelcontextprotocol/server-everything@2025.9.1"
        );
        assert_eq!(yaml["metadata"]["description"], "Every MCP feature");

        let (status, update) = call(
            &app,
            "POST",
            "/api/v1/proposals",
            Some(&retire(
                json!({ "replacement": "tools/other", "message": "use other" }),
            )),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{update}");
        assert_eq!(update["baseRevision"], 1, "proposed against revision 1");
        assert_eq!(update["metadata"]["replacement"], "tools/other");

        assert_eq!(count(&db.db, "proposals").await, 3);
        let proposed: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'proposal.proposed'",
        )
        .fetch_one(db.db.pool())
        .await
        .expect("count");
        assert_eq!(proposed, 3);
        assert_eq!(count(&db.db, "audit_events").await, audit_before + 3);

        let id = created["id"].as_str().expect("id");
        let (status, shown) = call(&app, "GET", &format!("/api/v1/proposals/{id}"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(shown["proposal"], created);
        let (_, open) = call(
            &app,
            "GET",
            "/api/v1/proposals?status=open&team=search",
            None,
        )
        .await;
        assert_eq!(open["proposals"].as_array().map(Vec::len), Some(3));
        let (_, none) = call(&app, "GET", "/api/v1/proposals?team=data", None).await;
        assert_eq!(none["proposals"].as_array().map(Vec::len), Some(0));
        let (status, bad) = call(&app, "GET", "/api/v1/proposals?status=pending", None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(bad["field"], "status");
    }
}

/// A server a cluster object declares (an `MCPRemoteProxy`) changes only through that object:
/// an update or retire proposal and the admin API (replace, delete) are refused naming it,
/// and nothing is stored or deleted; a cluster object cannot take the name of a server registered through Apiary.
#[tokio::test]
async fn servers_declared_in_the_cluster_change_only_there() {
    use apiary_server::onboarding::register::write_registration_from;
    use apiary_server::servers::{RegisterError, ServerRegistration};
    for db in support::all_backends().await {
        let app = support::app(&db.db);
        register_existing(&app).await;
        let declared = ServerRegistration {
            description: "Remote search".into(),
            spec: json!({ "url": "https://search.example.com/mcp",
                          "transport": "streamable-http" }),
            published: true,
            ..ServerRegistration::default()
        };
        let mut tx = db.db.begin_write().await.expect("transaction");
        write_registration_from(
            &mut tx,
            ("tools", "remote"),
            &declared,
            "cluster".into(),
            None,
            Some("MCPRemoteProxy"),
        )
        .await
        .expect("the cluster registers its server");
        tx.commit().await.expect("commit");
        let proposals_before = count(&db.db, "proposals").await;

        for body in [
            json!({ "kind": "update", "namespace": "tools", "name": "remote",
                    "description": "Changed", "spec": declared.spec }),
            json!({ "kind": "retire", "namespace": "tools", "name": "remote" }),
        ] {
            let (status, answer) = call(&app, "POST", "/api/v1/proposals", Some(&body)).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
            assert!(answer.to_string().contains("MCPRemoteProxy"), "{answer}");
        }
        assert_eq!(count(&db.db, "proposals").await, proposals_before);
        let (status, answer) = call(
            &app,
            "PUT",
            "/api/v1/servers/tools/remote",
            Some(&json!({ "spec": { "url": "https://elsewhere.example/mcp",
                                    "transport": "streamable-http" } })),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{answer}");
        assert!(answer.to_string().contains("MCPRemoteProxy"), "{answer}");
        let spec: String = sqlx::query_scalar(
            "SELECT spec FROM servers WHERE namespace = 'tools' AND name = 'remote'",
        )
        .fetch_one(db.db.pool())
        .await
        .expect("spec");
        assert!(spec.contains("search.example.com"), "{spec}");
        let (status, answer) = call(&app, "DELETE", "/api/v1/servers/tools/remote", None).await;
        assert_eq!(status, StatusCode::CONFLICT, "{answer}");
        assert_eq!(count(&db.db, "servers").await, 3, "nothing was deleted");

        // The other way round: Apiary's server keeps its name.
        let mut tx = db.db.begin_write().await.expect("transaction");
        let taken = write_registration_from(
            &mut tx,
            ("tools", "existing"),
            &declared,
            "cluster".into(),
            None,
            Some("MCPServerEntry"),
        )
        .await;
        assert!(
            matches!(&taken, Err(RegisterError::Managed { by: None, .. })),
            "{taken:?}"
        );
    }
}
