//! Client configuration snippets for one published server, shared by the registry API and the
//! console's server page.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use apiary_app::model::server_detail::Snippet;

use super::litellm::{LiteLlmConfig, LiteLlmServer};
use crate::registry::server_json::gateway_url;

/// The snippets of one server, each in its client's own file format.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientSnippets {
    /// `.vscode/mcp.json`.
    pub vscode: VsCodeConfig,
    /// `claude_desktop_config.json` (through `mcp-remote`, as Claude Desktop speaks stdio).
    pub claude_desktop: ClaudeDesktopConfig,
    /// `~/.cursor/mcp.json`.
    pub cursor: CursorConfig,
    /// The LiteLLM proxy's `config.yaml`.
    pub litellm: LiteLlmConfig,
}

/// VS Code's `servers` map.
#[derive(Debug, Serialize, ToSchema)]
pub struct VsCodeConfig {
    /// Keyed by the server's name.
    pub servers: BTreeMap<String, VsCodeServer>,
}

/// A VS Code server entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct VsCodeServer {
    /// Always `http`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Apiary's gateway endpoint.
    pub url: String,
}

/// Claude Desktop's `mcpServers` map.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClaudeDesktopConfig {
    /// Keyed by the server's name.
    pub mcp_servers: BTreeMap<String, StdioLauncher>,
}

/// Cursor's `mcpServers` map.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CursorConfig {
    /// Keyed by the server's name.
    pub mcp_servers: BTreeMap<String, UrlEntry>,
}

/// A stdio launcher that bridges to the gateway.
#[derive(Debug, Serialize, ToSchema)]
pub struct StdioLauncher {
    /// The program, `npx`.
    pub command: String,
    /// Its arguments, ending with the gateway endpoint.
    pub args: Vec<String>,
}

/// An entry that names the gateway endpoint only.
#[derive(Debug, Serialize, ToSchema)]
pub struct UrlEntry {
    /// Apiary's gateway endpoint.
    pub url: String,
}

/// Client configuration snippets for the published server `namespace/name`, whose LiteLLM
/// name is `litellm` (see [`super::litellm::fleet_litellm_name`]).
pub fn client_snippets(
    namespace: &str,
    name: &str,
    public_url: &str,
    litellm: String,
) -> ClientSnippets {
    let url = gateway_url(public_url, namespace, name);
    ClientSnippets {
        vscode: VsCodeConfig {
            servers: BTreeMap::from([(
                name.to_owned(),
                VsCodeServer {
                    kind: "http".into(),
                    url: url.clone(),
                },
            )]),
        },
        claude_desktop: ClaudeDesktopConfig {
            mcp_servers: BTreeMap::from([(
                name.to_owned(),
                StdioLauncher {
                    command: "npx".into(),
                    args: vec!["-y".into(), "mcp-remote".into(), url.clone()],
                },
            )]),
        },
        cursor: CursorConfig {
            mcp_servers: BTreeMap::from([(name.to_owned(), UrlEntry { url: url.clone() })]),
        },
        litellm: LiteLlmConfig {
            mcp_servers: BTreeMap::from([(litellm, LiteLlmServer::new(url, None))]),
        },
    }
}

/// [`client_snippets`] as labelled, formatted text, as the console shows them.
pub fn labelled_snippets(
    namespace: &str,
    name: &str,
    public_url: &str,
    litellm: String,
) -> Vec<Snippet> {
    let all = client_snippets(namespace, name, public_url, litellm);
    let snippet = |client: &str, file: &str, code| Snippet {
        client: client.into(),
        file: file.into(),
        code,
    };
    let litellm = serde_yaml::to_string(&all.litellm).unwrap_or_default();
    vec![
        snippet("VS Code", ".vscode/mcp.json", pretty_json(&all.vscode)),
        snippet(
            "Claude Desktop",
            "claude_desktop_config.json",
            pretty_json(&all.claude_desktop),
        ),
        snippet("Cursor", "~/.cursor/mcp.json", pretty_json(&all.cursor)),
        snippet("LiteLLM", "the proxy's config.yaml", litellm),
    ]
}

/// `value` as indented JSON (plain strings and maps always serialize).
fn pretty_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}
