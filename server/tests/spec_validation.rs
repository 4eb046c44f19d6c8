//! One validation path (issue 17): every bad server spec gets the same 422 naming the same
//! field, whether it comes through the admin `PUT /api/v1/servers/{ns}/{name}` or as a
//! proposal (JSON, or a pasted `MCPServer` manifest); nothing is stored, and a secret is never
//! echoed. A hostile manifest (deep nesting) is refused by name, and the manifests Apiary
//! writes (an image, a URL and a command server) propose back as they are.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use support::http::{call, send};

use apiary_server::onboarding::manifest::revision_manifest;

const TOKEN: &str = "ghp_0123456789abcdefABCDEF0123456789abcd";

/// One bad input: what it is, the metadata and spec that carry it, the field every endpoint
/// must name, and the secret it carries (never to be echoed), if any.
struct Case {
    what: &'static str,
    tags: Vec<String>,
    spec: Value,
    field: &'static str,
    secret: Option<&'static str>,
}

fn case(what: &'static str, spec: Value, field: &'static str) -> Case {
    Case {
        what,
        tags: vec!["web".into()],
        spec,
        field,
        secret: None,
    }
}

fn secret(what: &'static str, spec: Value, field: &'static str, value: &'static str) -> Case {
    Case {
        secret: Some(value),
        ..case(what, spec, field)
    }
}

/// A local command server, which every runtime mode's checks accept, with `extra` fields.
fn command(extra: Value) -> Value {
    let mut spec = json!({ "command": "mcp-fetch", "args": ["--quiet"], "transport": "stdio" });
    for (key, value) in extra.as_object().expect("an object") {
        spec[key] = value.clone();
    }
    spec
}

fn cases() -> Vec<Case> {
    vec![
        case(
            "port 70000",
            command(json!({ "port": 70_000 })),
            "spec.port",
        ),
        case(
            "proxyPort 70000",
            command(json!({ "proxyPort": 70_000 })),
            "spec.proxyPort",
        ),
        case(
            "transport 7",
            command(json!({ "transport": 7 })),
            "spec.transport",
        ),
        case(
            "a file URL",
            json!({ "url": "file:///etc/passwd", "transport": "streamable-http" }),
            "spec.url",
        ),
        case(
            "a shell in an environment name",
            command(json!({ "env": [{ "name": "1A=B; rm", "value": "x" }] })),
            "spec.env[0].name",
        ),
        case(
            "a flag as a package",
            json!({ "image": "npx://--foo;rm -rf", "transport": "stdio" }),
            "spec.image",
        ),
        Case {
            tags: (0..10_000).map(|i| format!("t{i}")).collect(),
            ..case("10,000 tags", command(json!({})), "tags")
        },
        secret(
            "a token in env",
            command(json!({ "env": [{ "name": "GITHUB_TOKEN", "value": TOKEN }] })),
            "spec.env[0].value",
            TOKEN,
        ),
        secret(
            "a token after --api-key",
            command(json!({ "args": ["--api-key", "k-live-4f9a2b"] })),
            "spec.args[1]",
            "k-live-4f9a2b",
        ),
        secret(
            "a token-shaped argument",
            command(json!({ "args": ["--quiet", TOKEN] })),
            "spec.args[1]",
            TOKEN,
        ),
        secret(
            "a --token= argument",
            command(json!({ "args": ["--token=tk-9f8e7d6c"] })),
            "spec.args[0]",
            "tk-9f8e7d6c",
        ),
        secret(
            "a password in the URL",
            json!({ "url": "https://bot:pw-7c1d9e@mcp.example.com/mcp", "transport": "streamable-http" }),
            "spec.url",
            "pw-7c1d9e",
        ),
        secret(
            "an API key in the URL query",
            json!({ "url": "https://mcp.example.com/mcp?api_key=qk-5b3a1f", "transport": "streamable-http" }),
            "spec.url",
            "qk-5b3a1f",
        ),
        secret(
            "a value under spec.secrets",
            command(json!({ "secrets": [{ "name": "keys", "key": "token",
                "targetEnvName": "FETCH_TOKEN", "value": "sv-2e4d6f8a" }] })),
            "spec.secrets[0].value",
            "sv-2e4d6f8a",
        ),
    ]
}

fn registration(case: &Case) -> Value {
    json!({
        "description": "Fetches web pages",
        "ownerTeam": "search",
        "tags": case.tags,
        "spec": case.spec,
    })
}

fn proposal(case: &Case, name: &str) -> Value {
    let mut body = registration(case);
    body["kind"] = json!("create");
    body["namespace"] = json!("tools");
    body["name"] = json!(name);
    body
}

/// The case as a pasted manifest, written the way Apiary writes revision manifests.
fn manifest(case: &Case, name: &str) -> String {
    let metadata = registration(case);
    revision_manifest("tools", name, &case.spec, &metadata)
}

/// Where a manifest's author wrote `field`.
fn manifest_field(field: &str) -> &str {
    match field {
        "tags" => "metadata.annotations[apiary.dev/tags]",
        other => other,
    }
}

fn yaml_request(uri: &str, yaml: String) -> Request<Body> {
    Request::builder()
        .method("POST")
        .uri(uri)
        .header("content-type", "application/yaml")
        .body(Body::from(yaml))
        .expect("request")
}

async fn count(db: &apiary_server::db::Db, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(db.pool())
        .await
        .expect("count")
}

async fn counts(db: &apiary_server::db::Db) -> Vec<i64> {
    let mut all = Vec::new();
    for table in ["servers", "server_revisions", "proposals", "audit_events"] {
        all.push(count(db, table).await);
    }
    all
}

/// The fields a 422 names, `field` first; a description of what is wrong otherwise.
fn named(status: StatusCode, text: &str) -> Result<(String, Vec<String>), String> {
    let answer: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let field = answer["field"].as_str().unwrap_or_default().to_owned();
    let fields: Vec<String> = answer["fields"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|f| f["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let explained = answer["message"].as_str().is_some_and(|m| m.len() > 10)
        && answer["fields"]
            .as_array()
            .is_some_and(|all| all.iter().all(|f| f["message"].is_string()));
    if status != StatusCode::UNPROCESSABLE_ENTITY || !explained || fields.first() != Some(&field) {
        return Err(format!("got {status} {text}"));
    }
    Ok((field, fields))
}

#[tokio::test]
async fn every_bad_spec_gets_the_same_422_from_every_endpoint_and_nothing_is_stored() {
    for db in support::all_backends().await {
        let app = support::app(&db.db);
        let before = counts(&db.db).await;
        let mut failures = Vec::new();
        for (i, case) in cases().iter().enumerate() {
            let name = format!("bad-{i}");
            let (status, put) = send(
                &app,
                support::http::request(
                    "PUT",
                    &format!("/api/v1/servers/tools/{name}"),
                    Some(&registration(case)),
                ),
            )
            .await;
            let (status_json, proposed) = send(
                &app,
                support::http::request("POST", "/api/v1/proposals", Some(&proposal(case, &name))),
            )
            .await;
            let (status_yaml, pasted) = send(
                &app,
                yaml_request("/api/v1/proposals", manifest(case, &name)),
            )
            .await;
            let answers = [
                ("admin PUT", status, &put, case.field),
                ("proposal JSON", status_json, &proposed, case.field),
                (
                    "proposal YAML",
                    status_yaml,
                    &pasted,
                    manifest_field(case.field),
                ),
            ];
            let mut lists = Vec::new();
            for (endpoint, status, text, field) in answers {
                match named(status, text) {
                    Ok((first, all)) if first == field => lists.push(all),
                    Ok((first, _)) => failures.push(format!(
                        "{} via {endpoint}: want {field}, got {first}: {text}",
                        case.what
                    )),
                    Err(error) => failures.push(format!("{} via {endpoint}: {error}", case.what)),
                }
                if let Some(secret) = case.secret {
                    if text.contains(secret) {
                        failures.push(format!(
                            "{} via {endpoint}: the answer echoes the secret: {text}",
                            case.what
                        ));
                    }
                    if !text.contains("spec.secrets") {
                        failures.push(format!(
                            "{} via {endpoint}: the answer does not point to spec.secrets: {text}",
                            case.what
                        ));
                    }
                }
            }
            if lists.len() == 3 && lists[0] != lists[1] {
                failures.push(format!(
                    "{}: the admin PUT and the proposal name different fields: {:?} and {:?}",
                    case.what, lists[0], lists[1]
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert_eq!(
            counts(&db.db).await,
            before,
            "nothing was stored or audited"
        );

        // Each case breaks one thing: without it, both paths take the same body.
        let good = case("a good spec", command(json!({})), "");
        let (status, text) = send(
            &app,
            support::http::request(
                "PUT",
                "/api/v1/servers/tools/good",
                Some(&registration(&good)),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{text}");
        let (status, text) = send(
            &app,
            support::http::request(
                "POST",
                "/api/v1/proposals",
                Some(&proposal(&good, "good-too")),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{text}");
    }
}

#[tokio::test]
async fn every_invalid_field_is_listed_and_the_first_keeps_the_old_shape() {
    let db = support::sqlite().await;
    let app = support::app(&db.db);
    let body = json!({
        "description": "x",
        "ownerTeam": "Search Team",
        "docsUrl": "ftp://docs",
        "spec": command(json!({ "proxyPort": 70_000, "env": [{ "name": "1X", "value": "a" }] })),
    });
    let (status, answer) = call(&app, "PUT", "/api/v1/servers/tools/many", Some(&body)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let fields: Vec<&str> = answer["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert_eq!(
        fields,
        ["ownerTeam", "docsUrl", "spec.env[0].name", "spec.proxyPort"],
        "{answer}"
    );
    assert_eq!(answer["field"], "ownerTeam");
    assert_eq!(answer["message"], answer["fields"][0]["message"]);
    assert!(answer["error"]
        .as_str()
        .is_some_and(|e| e.starts_with("ownerTeam: ")));
    assert_eq!(count(&db.db, "servers").await, 0);
}

#[tokio::test]
async fn a_manifest_nested_100000_levels_deep_is_refused_naming_the_depth_limit() {
    let db = support::sqlite().await;
    let app = support::app(&db.db);
    let head = "apiVersion: toolhive.stacklok.dev/v1alpha1\nkind: MCPServer\n\
                metadata:\n  name: deep\n  namespace: tools\nspec:\n  command: mcp\n  args: ";
    let levels = 100_000;
    for yaml in [
        format!("{head}{}{}\n", "[".repeat(levels), "]".repeat(levels)),
        format!("{head}{}x{}\n", "{a: ".repeat(levels), "}".repeat(levels)),
        format!("{head}\n  {}x\n", "- ".repeat(levels)),
    ] {
        let (status, text) = send(&app, yaml_request("/api/v1/proposals", yaml)).await;
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::PAYLOAD_TOO_LARGE,
            "{status} {text}"
        );
        let answer: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(answer["field"], "manifest", "{text}");
        assert!(
            answer["message"]
                .as_str()
                .is_some_and(|m| m.contains("deeper than 64 levels")),
            "{text}"
        );
    }
    let aliased = format!("{head}&a [x]\n  env: *a\n");
    let (status, text) = send(&app, yaml_request("/api/v1/proposals", aliased)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    assert!(text.contains("anchor or alias"), "{text}");
    assert_eq!(count(&db.db, "proposals").await, 0);
}

#[tokio::test]
async fn the_manifests_apiary_writes_propose_back_unchanged() {
    for db in support::all_backends().await {
        let app = support::app(&db.db);
        let servers = [
            (
                "image",
                json!({ "image": "npx://@modelcontextprotocol/server-everything@2025.9.1",
                        "transport": "stdio", "args": ["stdio", "--flag=[x]"],
                        "env": [{ "name": "LOG_LEVEL", "value": "debug" }],
                        "secrets": [{ "name": "keys", "key": "token", "targetEnvName": "API_TOKEN" }],
                        "proxyPort": 8080 }),
            ),
            (
                "url",
                json!({ "url": "https://mcp.example.com/mcp", "transport": "streamable-http" }),
            ),
            (
                "command",
                json!({ "command": "python3", "args": ["-m", "fetch"], "transport": "stdio",
                        "resources": { "limits": { "cpu": "500m", "memory": "256Mi" } } }),
            ),
        ];
        for (name, spec) in servers {
            let metadata = json!({
                "description": "Multi-line: [a], {b}, & c\n# and a hash",
                "ownerTeam": "search",
                "category": "web",
                "tags": ["one", "two"],
                "docsUrl": "https://docs.example.com/fetch",
                "spec": spec,
            });
            let uri = format!("/api/v1/servers/tools/{name}");
            let (status, answer) = call(&app, "PUT", &uri, Some(&metadata)).await;
            assert_eq!(status, StatusCode::CREATED, "{name}: {answer}");
            let (status, yaml) = send(
                &app,
                support::http::request("GET", &format!("{uri}/revisions/1/manifest"), None),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{yaml}");
            let (status, text) = send(&app, yaml_request("/api/v1/proposals", yaml.clone())).await;
            assert_eq!(status, StatusCode::CREATED, "{name}: {text}\n{yaml}");
            let proposed: Value = serde_json::from_str(&text).expect("JSON");
            assert_eq!(proposed["kind"], "update", "{text}");
            assert_eq!(proposed["baseRevision"], 1);
            assert_eq!(proposed["spec"], metadata["spec"], "{name}");
            for key in ["description", "ownerTeam", "category", "tags", "docsUrl"] {
                assert_eq!(proposed["metadata"][key], metadata[key], "{name}: {key}");
            }
        }
    }
}

#[tokio::test]
async fn a_misshapen_body_is_named_alike_by_both_endpoints_without_quoting_it() {
    let db = support::sqlite().await;
    let app = support::app(&db.db);
    let good = case("a good spec", command(json!({})), "");
    for (path, value, field) in [
        ("tags", json!(TOKEN), "tags"),
        ("colour", json!("blue"), "colour"),
    ] {
        let mut put = registration(&good);
        put[path] = value.clone();
        let mut proposed = proposal(&good, "shape");
        proposed[path] = value;
        for (method, uri, body) in [
            ("PUT", "/api/v1/servers/tools/shape", put),
            ("POST", "/api/v1/proposals", proposed),
        ] {
            let (status, text) = send(&app, support::http::request(method, uri, Some(&body))).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{method} {text}");
            let answer: Value = serde_json::from_str(&text).expect("JSON");
            assert_eq!(answer["field"], field, "{method} {text}");
            assert!(!text.contains(TOKEN), "{method} echoes the value: {text}");
        }
    }
    assert_eq!(counts(&db.db).await, [0, 0, 0, 0]);
}
