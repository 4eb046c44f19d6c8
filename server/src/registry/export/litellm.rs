//! LiteLLM's `mcp_servers` configuration, one entry per published server.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::registry::listing::PublishedServer;
use crate::registry::server_json::gateway_url;

/// The LiteLLM server name of `namespace/name`: LiteLLM prefixes tools with it and splits on
/// `-`, so only `_`.
pub fn litellm_name(namespace: &str, name: &str) -> String {
    format!("{namespace}_{name}").replace('-', "_")
}

/// A LiteLLM proxy `config.yaml` fragment: `mcp_servers`, keyed by [`litellm_name`].
#[derive(Debug, Serialize, ToSchema)]
pub struct LiteLlmConfig {
    /// One entry per published server.
    pub mcp_servers: BTreeMap<String, LiteLlmServer>,
}

/// One `mcp_servers` entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct LiteLlmServer {
    /// Apiary's gateway endpoint of the server.
    pub url: String,
    /// Always `http` (streamable HTTP).
    pub transport: String,
    /// The server's description; absent in a client snippet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl LiteLlmServer {
    /// The entry for the gateway endpoint `url`.
    pub fn new(url: String, description: Option<String>) -> Self {
        Self {
            url,
            transport: "http".into(),
            description,
        }
    }
}

/// LiteLLM's `mcp_servers` map for `servers`.
pub fn litellm_config(servers: &[PublishedServer], public_url: &str) -> LiteLlmConfig {
    let mcp_servers = servers
        .iter()
        .map(|s| {
            let url = gateway_url(public_url, &s.namespace, &s.name);
            let entry = LiteLlmServer::new(url, Some(s.description.clone()));
            (litellm_name(&s.namespace, &s.name), entry)
        })
        .collect();
    LiteLlmConfig { mcp_servers }
}
