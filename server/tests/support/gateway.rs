//! Putting servers behind the gateway through the registry API of a served Apiary.

use serde_json::{json, Value};

/// Registers `namespace/name` as a published streamable-http server at `url`.
pub async fn register(http: &reqwest::Client, base: &str, id: &str, url: &str) {
    register_spec(
        http,
        base,
        id,
        json!({ "transport": "streamable-http", "url": url }),
    )
    .await;
}

/// Registers `namespace/name` as a published server with `spec`.
pub async fn register_spec(http: &reqwest::Client, base: &str, id: &str, spec: Value) {
    let response = http
        .put(format!("{base}/api/v1/servers/{id}"))
        .json(&json!({
            "description": "gateway test",
            "ownerTeam": "team",
            "spec": spec,
            "published": true,
        }))
        .send()
        .await
        .expect("register");
    assert!(response.status().is_success(), "{}", response.status());
}

/// Registers and fetches the tools now, so they become the approved baseline.
pub async fn register_and_refresh(http: &reqwest::Client, base: &str, id: &str, url: &str) {
    register(http, base, id, url).await;
    refresh(http, base, id).await;
}

/// Fetches `id`'s tools now, so they become the approved baseline.
pub async fn refresh(http: &reqwest::Client, base: &str, id: &str) {
    let outcome = try_refresh(http, base, id).await;
    assert_eq!(outcome["outcome"], "fetched", "{outcome}");
}

/// Asks for a fetch of `id`'s tools now; the outcome as the API answers it.
pub async fn try_refresh(http: &reqwest::Client, base: &str, id: &str) -> Value {
    http.post(format!("{base}/api/v1/servers/{id}/refresh"))
        .send()
        .await
        .expect("refresh")
        .json()
        .await
        .expect("JSON")
}

/// Registers npm server-everything as the published stdio server `id`, and fetches its tools.
pub async fn register_everything(http: &reqwest::Client, base: &str, id: &str) {
    let everything = super::mcp_servers::everything().display().to_string();
    let spec = json!({ "command": "node", "args": [everything], "transport": "stdio" });
    register_spec(http, base, id, spec).await;
    refresh(http, base, id).await;
}

/// The text of Apiary's `/metrics`.
pub async fn metrics_of(http: &reqwest::Client, base: &str) -> String {
    let answer = http.get(format!("{base}/metrics")).send().await;
    answer.expect("metrics").text().await.expect("text")
}

/// The calls of `tool` on `server` that ended with `outcome`, as `/metrics` counts them.
pub fn calls_counted(metrics: &str, (server, tool, outcome): (&str, &str, &str)) -> Option<String> {
    metrics
        .lines()
        .find(|l| {
            l.starts_with("apiary_gateway_tool_calls_total{")
                && l.contains(&format!("server=\"{server}\""))
                && l.contains(&format!("tool=\"{tool}\""))
                && l.contains(&format!("outcome=\"{outcome}\""))
        })
        .and_then(|l| l.rsplit(' ').next())
        .map(str::to_owned)
}
