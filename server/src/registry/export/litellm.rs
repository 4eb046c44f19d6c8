//! LiteLLM's `mcp_servers` configuration, one entry per published server.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::db::{Db, DbError};
use crate::registry::listing::PublishedServer;
use crate::registry::server_json::gateway_url;

/// The LiteLLM server name of `namespace/name`: LiteLLM prefixes tools with it and splits on
/// `-`, so only `_`.
pub fn litellm_name(namespace: &str, name: &str) -> String {
    format!("{namespace}_{name}").replace('-', "_")
}

/// The LiteLLM name of each of `servers` (`(namespace, name)`), in their order:
/// [`litellm_name`], unless several servers share it (`team-a/search` and `team/a-search`
/// both give `team_a_search`); then each of those gets `_` and the first eight hex digits of
/// the SHA-256 of its `namespace/name`, so none replaces another in LiteLLM's map.
pub fn litellm_names(servers: &[(&str, &str)]) -> Vec<String> {
    let base: Vec<String> = servers
        .iter()
        .map(|(namespace, name)| litellm_name(namespace, name))
        .collect();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for name in &base {
        *counts.entry(name.as_str()).or_default() += 1;
    }
    servers
        .iter()
        .zip(&base)
        .map(|((namespace, name), plain)| {
            if counts[plain.as_str()] > 1 {
                let digest = hex::encode(Sha256::digest(format!("{namespace}/{name}")));
                format!("{plain}_{}", &digest[..8])
            } else {
                plain.clone()
            }
        })
        .collect()
}

/// The LiteLLM name of the published server `namespace/name` among all published servers, as
/// the export gives it. Only the servers whose plain name is the same are read.
pub async fn fleet_litellm_name(db: &Db, namespace: &str, name: &str) -> Result<String, DbError> {
    let published: Vec<(String, String)> = sqlx::query_as(
        "SELECT namespace, name FROM servers WHERE published = TRUE \
         AND REPLACE(namespace || '_' || name, '-', '_') = $1",
    )
    .bind(litellm_name(namespace, name))
    .fetch_all(db.pool())
    .await?;
    let ids: Vec<(&str, &str)> = published
        .iter()
        .map(|(ns, n)| (ns.as_str(), n.as_str()))
        .collect();
    let names = litellm_names(&ids);
    Ok(ids
        .iter()
        .zip(names)
        .find(|((ns, n), _)| *ns == namespace && *n == name)
        .map_or_else(|| litellm_name(namespace, name), |(_, found)| found))
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
    let ids: Vec<(&str, &str)> = servers
        .iter()
        .map(|s| (s.namespace.as_str(), s.name.as_str()))
        .collect();
    let mcp_servers = servers
        .iter()
        .zip(litellm_names(&ids))
        .map(|(s, key)| {
            let url = gateway_url(public_url, &s.namespace, &s.name);
            (key, LiteLlmServer::new(url, Some(s.description.clone())))
        })
        .collect();
    LiteLlmConfig { mcp_servers }
}

#[cfg(test)]
mod tests {
    use super::litellm_names;

    #[test]
    fn servers_whose_names_meet_in_litellm_both_stay_distinct() {
        let names = litellm_names(&[
            ("team-a", "search"),
            ("team", "a-search"),
            ("tools", "fetch"),
        ]);
        assert_eq!(names[2], "tools_fetch", "a name nobody shares stays plain");
        assert!(names[0].starts_with("team_a_search_") && names[1].starts_with("team_a_search_"));
        assert_ne!(names[0], names[1]);
        assert_eq!(
            names,
            litellm_names(&[
                ("team-a", "search"),
                ("team", "a-search"),
                ("tools", "fetch")
            ]),
            "the same fleet always gets the same names"
        );
    }
}
