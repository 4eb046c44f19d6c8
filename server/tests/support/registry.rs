//! Reading the public registry API (`/v0.1/servers`) of a served Apiary.

use serde_json::Value;

/// `GET {base}/v0.1/servers` as JSON.
pub async fn servers(http: &reqwest::Client, base: &str) -> Value {
    http.get(format!("{base}/v0.1/servers"))
        .send()
        .await
        .expect("registry")
        .json()
        .await
        .expect("JSON")
}

/// The entry of server `id` (`namespace/name`) in a `/v0.1/servers` list.
pub fn entry<'a>(list: &'a Value, id: &str) -> &'a Value {
    list["servers"]
        .as_array()
        .expect("servers")
        .iter()
        .find(|s| s["server"]["name"] == id)
        .unwrap_or_else(|| panic!("{id} is listed: {list}"))
}

/// The tools an entry publishes (none when it lists none).
pub fn tools(entry: &Value) -> Vec<Value> {
    entry["_meta"]["dev.apiary/server"]["tools"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The names of the tools an entry publishes.
pub fn tool_names(entry: &Value) -> Vec<String> {
    tools(entry)
        .iter()
        .map(|t| t["name"].as_str().expect("name").to_owned())
        .collect()
}
