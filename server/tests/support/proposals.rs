//! Proposing and deciding through the JSON API as signed-in users of the test provider.

use reqwest::header::ORIGIN;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::signed_in::{Client, SignedInApp};

/// A browser signed in as `user`.
pub async fn signed_in_as(app: &SignedInApp, user: &str) -> Client {
    let client = Client::new(app);
    client.sign_in_as(user).await;
    client
}

/// Sends a JSON request as `client`, from Apiary's own origin.
pub async fn call(
    client: &Client,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let url = format!("{}{path}", client.base);
    let request = match method {
        "GET" => client.http.get(url),
        "POST" => client.http.post(url),
        "PUT" => client.http.put(url),
        other => panic!("no method {other}"),
    };
    let request = match body {
        Some(body) => request.json(body),
        None => request,
    };
    let response = request
        .header(ORIGIN, &client.base)
        .send()
        .await
        .expect("request");
    let status = response.status();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Proposes `body` as `client` and returns the stored proposal.
pub async fn propose(client: &Client, body: &Value) -> Value {
    let (status, proposal) = call(client, "POST", "/api/v1/proposals", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{proposal}");
    proposal
}

/// Decides `proposal` (`approve` or `reject`) as `client`, with a comment and the fields of
/// `extra`.
pub async fn decide(
    client: &Client,
    proposal: &Value,
    decision: &str,
    extra: Value,
) -> (StatusCode, Value) {
    let mut body = json!({
        "decision": decision,
        "comment": format!("{decision}: looks right to me"),
        "version": proposal["version"],
    });
    for (key, value) in extra.as_object().expect("an object") {
        body[key] = value.clone();
    }
    let id = proposal["id"].as_str().expect("id");
    call(
        client,
        "POST",
        &format!("/api/v1/proposals/{id}/decision"),
        Some(&body),
    )
    .await
}
