//! Proposing and deciding through the JSON API as signed-in users of the test provider.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::signed_in::Client;

/// Proposes `body` as `client` and returns the stored proposal.
pub async fn propose(client: &Client, body: &Value) -> Value {
    let (status, proposal) = client.call("POST", "/api/v1/proposals", Some(body)).await;
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
    client
        .call(
            "POST",
            &format!("/api/v1/proposals/{id}/decision"),
            Some(&body),
        )
        .await
}
