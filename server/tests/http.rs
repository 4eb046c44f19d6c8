//! The HTTP surface answers health, readiness, metrics and the registration API.

mod support;

use support::http::{request, send};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};

fn get(uri: &str) -> Request<Body> {
    request("GET", uri, None)
}

fn put_json(uri: &str, body: &Value) -> Request<Body> {
    request("PUT", uri, Some(body))
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let test_db = support::sqlite().await;
    let app = support::app(&test_db.db);

    assert_eq!(
        send(&app, get("/healthz")).await,
        (StatusCode::OK, "ok".into())
    );
    assert_eq!(
        send(&app, get("/readyz")).await,
        (StatusCode::OK, "ready".into())
    );

    let (status, body) = send(&app, get("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains(
            "apiary_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"}"
        ),
        "the earlier requests are counted by route: {body}"
    );
    assert!(
        body.contains("apiary_http_request_duration_seconds_bucket"),
        "{body}"
    );
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let test_db = support::sqlite().await;
    let app = support::app(&test_db.db);
    test_db.db.close().await;
    let (status, body) = send(&app, get("/readyz")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("database"), "{body}");
}

#[tokio::test]
async fn registering_a_server_creates_then_updates_and_shows_in_the_catalog() {
    let test_db = support::sqlite().await;
    let app = support::app(&test_db.db);
    let body = json!({
        "description": "Looks up vulnerabilities",
        "ownerTeam": "security",
        "spec": { "image": "ghcr.io/stackloklabs/osv-mcp/server", "transport": "streamable-http" }
    });
    let (status, _) = send(&app, put_json("/api/v1/servers/tools/osv", &body)).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = send(&app, put_json("/api/v1/servers/tools/osv", &body)).await;
    assert_eq!(status, StatusCode::OK);

    let (status, html) = send(&app, get("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("tools/osv"),
        "the catalog renders the server on the server side"
    );
    assert!(html.contains("Looks up vulnerabilities"));
    assert!(!html.contains("No servers yet"));
}

#[tokio::test]
async fn bad_registrations_get_a_4xx_naming_the_field() {
    let test_db = support::sqlite().await;
    let app = support::app(&test_db.db);
    let cases = [
        (
            "/api/v1/servers/tools/osv",
            json!({ "spec": { "transport": "stdio" } }),
            "spec",
        ),
        (
            "/api/v1/servers/tools/osv",
            json!({ "spec": { "image": "x", "transport": "http2" } }),
            "spec.transport",
        ),
        (
            "/api/v1/servers/Tools/osv",
            json!({ "spec": { "image": "x" } }),
            "namespace",
        ),
        (
            "/api/v1/servers/tools/osv",
            json!({ "spec": { "image": "x" }, "docsUrl": "ftp://x" }),
            "docsUrl",
        ),
    ];
    for (uri, body, field) in cases {
        let (status, text) = send(&app, put_json(uri, &body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {text}");
        let error: Value = serde_json::from_str(&text).expect("JSON error");
        assert_eq!(error["field"], field, "{text}");
    }
    let (status, text) = send(
        &app,
        put_json(
            "/api/v1/servers/tools/osv",
            &json!({ "spec": {}, "colour": 1 }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    assert!(text.contains("colour"), "an unknown field is named: {text}");

    let (_, html) = send(&app, get("/")).await;
    assert!(html.contains("No servers yet"), "nothing was stored");
}

/// Every JSON API that stores something reads its body the same way, whoever wrote the
/// handler: 415 when it is not sent as JSON, 400 when it does not parse, and 422 naming the
/// field, without quoting a string value back (it may be a secret in the wrong place).
#[tokio::test]
async fn every_write_api_refuses_a_bad_body_the_same_way() {
    let test_db = support::sqlite().await;
    let app = support::app(&test_db.db);
    let server = json!({
        "ownerTeam": "security",
        "spec": { "url": "http://127.0.0.1:9/mcp", "transport": "streamable-http" }
    });
    let (status, _) = send(&app, put_json("/api/v1/servers/tools/osv", &server)).await;
    assert_eq!(status, StatusCode::CREATED);
    let proposal = json!({
        "kind": "create", "namespace": "tools", "name": "proposed", "ownerTeam": "security",
        "description": "Proposed to be decided", "spec": { "url": "http://127.0.0.1:9/mcp", "transport": "streamable-http" }
    });
    let (status, text) = send(&app, request("POST", "/api/v1/proposals", Some(&proposal))).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let id = serde_json::from_str::<Value>(&text).expect("JSON")["id"]
        .as_str()
        .expect("an id")
        .to_owned();

    let decision = format!("/api/v1/proposals/{id}/decision");
    // Each body sets one field to a string: of the wrong type, or a field that does not exist.
    let cases = [
        ("PUT", "/api/v1/servers/tools/osv", "tags"),
        ("PUT", "/api/v1/servers/tools/osv/access", "anonymous"),
        ("PUT", "/api/v1/servers/tools/osv/curation", "allow"),
        ("PUT", "/api/v1/servers/tools/osv/deprecation", "colour"),
        ("POST", "/api/v1/servers/tools/osv/drift/approve", "colour"),
        ("POST", decision.as_str(), "version"),
        ("PUT", "/api/v1/virtual-servers/tools/suite", "colour"),
        (
            "POST",
            "/api/v1/virtual-servers/tools/suite/preview",
            "colour",
        ),
        (
            "POST",
            "/api/v1/virtual-servers/tools/suite/proposals",
            "colour",
        ),
    ];
    for (method, uri, field) in cases {
        let body = json!({ field: "ghp_0123456789abcdefghij" }).to_string();
        let (status, text) = send(&app, raw(method, uri, "application/json", &body)).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{method} {uri}: {text}"
        );
        let error: Value = serde_json::from_str(&text).expect("a JSON error");
        assert_eq!(error["field"], field, "{method} {uri}: {text}");
        assert!(
            !text.contains("ghp_"),
            "{method} {uri} quoted the value: {text}"
        );

        let (status, text) = send(&app, raw(method, uri, "application/json", "{")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {uri}: {text}");
        let (status, text) = send(&app, raw(method, uri, "text/plain", &body)).await;
        assert_eq!(
            status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{method} {uri}: {text}"
        );
    }
}

/// A request with `body` sent as `content_type`.
fn raw(method: &str, uri: &str, content_type: &str, body: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", content_type)
        .body(Body::from(body.to_owned()))
        .expect("request")
}

#[tokio::test]
async fn an_unknown_page_is_a_404_with_a_way_back() {
    let test_db = support::sqlite().await;
    let app = support::app(&test_db.db);
    let (status, html) = send(&app, get("/no/such/page")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("Back to the catalog"));
}

#[tokio::test]
async fn the_openapi_document_describes_the_registry_api() {
    let test_db = support::sqlite().await;
    let app = support::app(&test_db.db);
    let (status, body) = send(&app, get("/openapi.json")).await;
    assert_eq!(status, StatusCode::OK);
    let doc: Value = serde_json::from_str(&body).expect("OpenAPI JSON");
    assert!(doc["openapi"]
        .as_str()
        .expect("version")
        .starts_with("3.1."));
    let params = doc["paths"]["/v0.1/servers"]["get"]["parameters"]
        .as_array()
        .expect("parameters");
    let names: Vec<_> = params.iter().filter_map(|p| p["name"].as_str()).collect();
    for expected in ["cursor", "limit", "search", "updated_since"] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    // YAML proposals are documented beside JSON ones.
    let propose = &doc["paths"]["/api/v1/proposals"]["post"]["requestBody"]["content"];
    assert!(propose.get("application/yaml").is_some(), "{propose}");
    assert!(
        propose["application/json"]["schema"]["$ref"].is_string(),
        "{propose}"
    );
}

/// Every operation of the OpenAPI document, with its path and method.
fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                all.push((path.clone(), method.clone(), operation));
            }
        }
    }
    all
}

/// Every `$ref` in `value`.
fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("$ref", Value::String(target)) => found.push(target),
                    _ => refs(inner, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| refs(item, found)),
        _ => {}
    }
}

/// The `(method, path)` of every route the server's source declares with `.route("…", …)`.
fn declared_routes() -> Vec<(String, String)> {
    let path = regex::Regex::new(r#"^\s*"([^"]+)""#).expect("pattern");
    let method = regex::Regex::new(r"\b(get|put|post|delete|patch)\(").expect("pattern");
    let mut routes = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src"
    ))];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("source folder") {
            let file = entry.expect("entry").path();
            if file.is_dir() {
                stack.push(file);
                continue;
            }
            if file.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&file).expect("source");
            for piece in text.split(".route(").skip(1) {
                let Some(found) = path.captures(piece) else {
                    continue;
                };
                // The route's handlers, up to where the router chain goes on or ends.
                let end = [";", ".merge", ".layer", ".with_state", "\n}"]
                    .iter()
                    .filter_map(|stop| piece.find(stop))
                    .min()
                    .unwrap_or(piece.len());
                for m in method.captures_iter(&piece[..end]) {
                    routes.push((m[1].to_owned(), found[1].to_owned()));
                }
            }
        }
    }
    routes
}

#[tokio::test]
async fn the_openapi_document_is_valid_and_complete() {
    let test_db = support::sqlite().await;
    let app = support::app(&test_db.db);
    let (_, body) = send(&app, get("/openapi.json")).await;
    let doc: Value = serde_json::from_str(&body).expect("OpenAPI JSON");

    // Unique operation ids.
    let mut ids = std::collections::BTreeMap::new();
    for (path, method, operation) in operations(&doc) {
        let id = operation["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        if let Some(other) = ids.insert(id.to_owned(), format!("{method} {path}")) {
            panic!("operationId {id} of {method} {path} is also that of {other}");
        }
    }

    // Every reference resolves.
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(!found.is_empty());
    for target in found {
        let pointer = target.strip_prefix('#').expect("a local reference");
        assert!(doc.pointer(pointer).is_some(), "{target} does not resolve");
    }

    // Every API route the server declares is documented, with its methods. The `/v0/` paths
    // are aliases of `/v0.1/`; the legacy SSE transport and the console are not JSON APIs.
    let routes = declared_routes();
    assert!(routes.len() > 30, "{routes:?}");
    for (method, path) in routes {
        let api = path.starts_with("/api/")
            || path.starts_with("/v0.1/")
            || path == "/mcp/{namespace}/{name}";
        if !api {
            continue;
        }
        assert!(
            doc["paths"][&path].get(&method).is_some(),
            "{method} {path} is a route but not in the OpenAPI document"
        );
    }

    // Every operation documents its errors: the JSON error shape on every JSON error answer,
    // and the statuses every body-taking handler gives.
    for (path, method, operation) in operations(&doc) {
        let responses = operation["responses"].as_object().expect("responses");
        let errors: Vec<_> = responses.keys().filter(|s| s.starts_with('4')).collect();
        assert!(
            errors.len() >= 2,
            "{method} {path} documents only {errors:?}"
        );
        for status in ["403", "408"] {
            if !path.starts_with("/mcp/") {
                assert!(
                    responses.contains_key(status),
                    "{method} {path} lacks {status}"
                );
            }
        }
        if path.starts_with("/api/") || path.starts_with("/v0.1/") {
            for status in ["401", "503"] {
                assert!(
                    responses.contains_key(status),
                    "{method} {path} lacks {status}"
                );
            }
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/Error",
                        "{method} {path} {status}"
                    );
                }
            }
        }
        if operation.get("requestBody").is_some() && !path.starts_with("/mcp/") {
            for status in ["400", "413", "415", "422"] {
                assert!(
                    responses.contains_key(status),
                    "{method} {path} lacks {status}"
                );
            }
        }
        if operation.get("parameters").is_some() && !path.starts_with("/mcp/") {
            assert!(responses.contains_key("400"), "{method} {path} lacks 400");
        }
    }
    // Every answer body has a real schema: a named type, or a string for text, never a bare
    // object; the gateway's own errors are JSON-RPC errors. Only what a backend sends through
    // the gateway is free-form.
    for (path, method, operation) in operations(&doc) {
        for (status, response) in operation["responses"].as_object().expect("responses") {
            let Some(content) = response["content"].as_object() else {
                continue;
            };
            for (media, body) in content {
                let schema = &body["schema"];
                let passed_through = path.starts_with("/mcp/") && status.starts_with('2');
                if passed_through || schema["type"] == "string" {
                    continue;
                }
                let named = schema["$ref"].is_string() || schema["items"]["$ref"].is_string();
                assert!(named, "{method} {path} {status} {media}: {schema}");
                if path.starts_with("/mcp/") && !["401", "403"].contains(&status.as_str()) {
                    assert_eq!(
                        schema["$ref"], "#/components/schemas/JsonRpcError",
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
    for name in [
        "LiteLlmConfig",
        "ToolHiveRegistry",
        "ClientSnippets",
        "Manifest",
    ] {
        let schema = &doc["components"]["schemas"][name];
        assert!(schema["properties"].is_object(), "{name}: {schema}");
    }

    // The error shape is described once.
    let error = &doc["components"]["schemas"]["Error"];
    for field in ["error", "message", "fields"] {
        assert!(
            error["required"]
                .as_array()
                .is_some_and(|r| r.contains(&json!(field))),
            "{error}"
        );
    }
}

#[tokio::test]
async fn local_mode_refuses_other_hosts_and_cross_site_writes() {
    let test_db = support::sqlite().await;
    let app = support::app(&test_db.db);
    let with = |method: &str, uri: &str, headers: &[(&str, &str)]| {
        let mut request = request(method, uri, Some(&json!({ "spec": { "command": "true" } })));
        for (name, value) in headers {
            request.headers_mut().insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                value.parse().expect("value"),
            );
        }
        request
    };

    // DNS rebinding: a page on evil.example that resolves to 127.0.0.1.
    let (status, body) = send(
        &app,
        with("GET", "/healthz", &[("host", "evil.example:3000")]),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("local mode"), "{body}");
    // The Host header is read strictly: user info is not skipped to find a loopback name.
    for host in [
        "127.0.0.1:3000@evil.example",
        "localhost:99999",
        "localhost:3000/x",
    ] {
        let (status, body) = send(&app, with("GET", "/healthz", &[("host", host)])).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{host}: {body}");
    }
    let (status, _) = send(&app, with("GET", "/healthz", &[("host", "localhost:3000")])).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send(&app, with("GET", "/healthz", &[("host", "[::1]:3000")])).await;
    assert_eq!(status, StatusCode::OK);

    // CSRF: writes from another site are refused, and nothing is stored.
    for headers in [
        [
            ("host", "127.0.0.1:3000"),
            ("origin", "https://evil.example"),
        ],
        [("host", "127.0.0.1:3000"), ("sec-fetch-site", "cross-site")],
        // Same host and port over another scheme is another origin.
        [
            ("host", "127.0.0.1:3000"),
            ("origin", "https://127.0.0.1:3000"),
        ],
    ] {
        let (status, body) = send(&app, with("PUT", "/api/v1/servers/team/x", &headers)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{headers:?}: {body}");
    }
    let (status, _) = send(
        &app,
        with(
            "PUT",
            "/api/v1/servers/team/x",
            &[
                ("host", "127.0.0.1:3000"),
                ("origin", "http://127.0.0.1:3000"),
            ],
        ),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "a same-origin write is accepted"
    );
    let (status, _) = send(
        &app,
        with(
            "PUT",
            "/api/v1/servers/team/y",
            &[("host", "apiary.test"), ("origin", "http://apiary.test")],
        ),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the public URL's host is this machine's too"
    );
}

/// Every API error is JSON with `error`, `message` and `fields`, also those axum writes itself:
/// an unknown API path, a method the route lacks, a body over the limit, a bad query string,
/// and a body that is not JSON.
#[tokio::test]
async fn api_errors_are_json_of_one_shape() {
    let test_db = support::sqlite().await;
    let app = support::app(&test_db.db);
    let oversized = Request::builder()
        .method("PUT")
        .uri("/api/v1/servers/team/big")
        .header("content-type", "application/json")
        .body(Body::from(vec![b' '; 3 * 1024 * 1024]))
        .expect("request");
    let text_body = Request::builder()
        .method("PUT")
        .uri("/api/v1/servers/team/text")
        .header("content-type", "text/plain")
        .body(Body::from("hello"))
        .expect("request");
    let cases = [
        (get("/api/v1/no-such-endpoint"), StatusCode::NOT_FOUND),
        (get("/v0.1/no-such-endpoint"), StatusCode::NOT_FOUND),
        (
            request("PATCH", "/api/v1/servers/team/x", None),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (oversized, StatusCode::PAYLOAD_TOO_LARGE),
        (get("/v0.1/servers?limit=many"), StatusCode::BAD_REQUEST),
        (text_body, StatusCode::UNSUPPORTED_MEDIA_TYPE),
        (
            put_json("/api/v1/servers/team/x", &json!([])),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (request, expected) in cases {
        let what = format!("{} {}", request.method(), request.uri());
        let (status, body) = send(&app, request).await;
        assert_eq!(status, expected, "{what}: {body}");
        let body: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{what}: the error is not JSON ({e}): {body:?}"));
        let message = body["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "{what}: a message: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{what}: {body}"
        );
        assert!(body["fields"].is_array(), "{what}: a fields list: {body}");
    }
    // The console keeps its own 404 page.
    let (status, body) = send(&app, get("/no-such-page")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body.contains("<html") || body.contains("<!DOCTYPE"),
        "{body}"
    );
}

/// A served Apiary whose connections may keep it waiting one second.
async fn served_with_a_one_second_header_timeout() -> String {
    let test_db = support::sqlite().await;
    let mut settings = support::settings();
    settings.header_timeout_secs = 1;
    let state = apiary_server::web::AppState::new(settings, test_db.db.clone());
    // The database lives as long as the test: the served state keeps its pool open.
    std::mem::forget(test_db);
    support::serve_state(state)
        .await
        .trim_start_matches("http://")
        .to_owned()
}

/// Reads until the server closes the connection; what it sent. Panics if it stays open 15 s.
async fn read_until_closed(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut received = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(15),
        stream.read_to_end(&mut received),
    )
    .await;
    assert!(read.is_ok(), "the connection was still open after 15 s");
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test]
async fn a_client_that_trickles_its_headers_is_cut_off() {
    use tokio::io::AsyncWriteExt;
    let address = served_with_a_one_second_header_timeout().await;
    let mut stream = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {address}\r\nX-Slow: ");
    stream.write_all(request.as_bytes()).await.expect("write");
    // One header byte every 200 ms, 50 in all (10 s) unless the server hangs up first.
    let mut cut_off = false;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        if stream.write_all(b"a").await.is_err() {
            cut_off = true;
            break;
        }
    }
    let answer = read_until_closed(&mut stream).await;
    assert!(
        cut_off || answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "no answer but a timeout to unfinished headers: {answer:?}"
    );
    assert!(
        !answer.contains("200 OK"),
        "the request was never finished: {answer:?}"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    use tokio::io::AsyncWriteExt;
    let address = served_with_a_one_second_header_timeout().await;
    let mut stream = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {address}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    // The answer comes, and then, with nothing more asked, the server closes.
    let answer = read_until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.ends_with("ok"), "{answer}");
}

/// The gateway's routes have a middleware stack of their own (no console session or page
/// nonce), and it keeps the protections: other hosts and cross-site writes are refused in
/// local mode, and its answers carry the security headers, with a policy that allows nothing.
#[tokio::test]
async fn the_gateway_keeps_the_host_check_the_cross_site_check_and_security_headers() {
    use tower::ServiceExt;

    let test_db = support::sqlite().await;
    let app = support::app(&test_db.db);
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}});
    let post = |headers: &[(&str, &str)]| {
        let mut request = request("POST", "/mcp/team/nothing", Some(&initialize));
        for (name, value) in headers {
            request.headers_mut().insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                value.parse().expect("value"),
            );
        }
        request
    };

    let (status, body) = send(&app, post(&[("host", "evil.example:3000")])).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("local mode"), "{body}");
    let (status, body) = send(
        &app,
        post(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "https://evil.example"),
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("cross-site"), "{body}");

    let response = app
        .clone()
        .oneshot(post(&[("host", "127.0.0.1:3000")]))
        .await
        .expect("router answers");
    assert_eq!(
        response.status(),
        StatusCode::NOT_FOUND,
        "no such server: the gateway itself answered"
    );
    let headers = response.headers();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(
        headers["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
    assert!(
        headers.get("set-cookie").is_none(),
        "no console session for MCP clients"
    );

    // The console and the APIs beside it still get their own stack.
    let (status, _) = send(&app, request("GET", "/healthz", None)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send(&app, request("GET", "/mcp/team", None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not a gateway route");
}
