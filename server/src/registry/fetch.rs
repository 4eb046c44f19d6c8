//! Live fetch: connects to an MCP server over stdio, streamable HTTP or legacy SSE, runs
//! `initialize`, then reads every `tools/list` page.
//!
//! The server is untrusted, so everything is bounded by [`FetchLimits`]:
//! - one overall `timeout` covers start-up, the handshake and every page, so a dead or slow
//!   server gives [`FetchError::Timeout`], never a hang;
//! - at most `max_pages` pages (a repeated cursor is rejected at once) and `max_tools` tools;
//! - each message is at most `max_message_bytes`: for streamable HTTP through rmcp's JSON and
//!   SSE-event size limits (watched so a broken limit reads as `Rejected`), for stdio by a line-length guard on the child's stdout, and for
//!   legacy SSE as a cap of `max_message_bytes × (max_pages + 2)` on the whole event stream;
//! - each tool, as JSON, nests at most `max_depth` levels and holds no string or key longer
//!   than `max_string_len` bytes;
//! - tool names are unique.
//!
//! A broken limit gives [`FetchError::Rejected`]. Residual risk: JSON nested deeper than
//! serde_json's fixed recursion limit (128) cannot be decoded at all; rmcp drops such a message
//! on stdio and SSE, so the fetch ends in `Timeout` rather than `Rejected`. Memory stays bounded
//! in that case too.
//!
//! A stdio server runs in its own process group, which is killed (SIGKILL) when the fetch
//! ends, fails or times out, so nothing it started outlives the fetch.

mod http;
mod raw;
mod running;
mod sse;
mod stdio;

pub use running::{fetch_running, LocalSessions, RunningFetch, SessionPipe};

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::model::{ClientCapabilities, ClientConfig, Implementation, PaginatedRequestParams, Tool};
use rmcp::service::{RunningService, ServiceError};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ClientCacheConfig, RoleClient, ServiceExt};
use serde_json::{Map, Value};

use super::model::{FetchedTools, ToolDef};

/// Where an MCP server is and how to reach it.
#[derive(Clone, PartialEq, Eq)]
pub enum FetchTarget {
    /// A command that speaks MCP on stdin and stdout.
    Stdio {
        /// The program, looked up on `PATH` when it has no slash.
        command: String,
        /// Its arguments.
        args: Vec<String>,
        /// Variables added to Apiary's environment.
        env: Vec<(String, String)>,
    },
    /// A streamable HTTP endpoint (MCP 2025-03-26 and later).
    StreamableHttp {
        /// The endpoint, such as `http://127.0.0.1:8080/mcp`.
        url: String,
        /// A bearer token, without the `Bearer ` prefix.
        bearer: Option<String>,
    },
    /// A legacy HTTP+SSE endpoint (MCP 2024-11-05).
    Sse {
        /// The SSE stream, such as `http://127.0.0.1:8080/sse`.
        url: String,
        /// A bearer token, without the `Bearer ` prefix.
        bearer: Option<String>,
    },
}

/// Shows the target without secrets: no token, no environment values.
impl fmt::Debug for FetchTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stdio { command, args, env } => f
                .debug_struct("Stdio")
                .field("command", command)
                .field("args", args)
                .field("env", &env.iter().map(|(k, _)| k).collect::<Vec<_>>())
                .finish(),
            Self::StreamableHttp { url, bearer } => f
                .debug_struct("StreamableHttp")
                .field("url", url)
                .field("bearer", &bearer.as_ref().map(|_| "<redacted>"))
                .finish(),
            Self::Sse { url, bearer } => f
                .debug_struct("Sse")
                .field("url", url)
                .field("bearer", &bearer.as_ref().map(|_| "<redacted>"))
                .finish(),
        }
    }
}

/// Bounds on one fetch. See the module documentation for how each is enforced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchLimits {
    /// The whole fetch: start, `initialize` and every page.
    pub timeout: Duration,
    /// The most `tools/list` pages to read.
    pub max_pages: usize,
    /// The most tools in total.
    pub max_tools: usize,
    /// The largest single message, in bytes.
    pub max_message_bytes: usize,
    /// The deepest nesting of one tool's JSON (the tool object itself is level 1).
    pub max_depth: usize,
    /// The longest string or object key in a tool, in bytes.
    pub max_string_len: usize,
}

impl Default for FetchLimits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            max_pages: 100,
            max_tools: 1000,
            max_message_bytes: 4 * 1024 * 1024,
            max_depth: 64,
            max_string_len: 64 * 1024,
        }
    }
}

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The server could not be started or reached, or the connection broke.
    #[error("cannot connect to the MCP server: {reason}")]
    Connect {
        /// What went wrong, with the server's stderr for stdio servers.
        reason: String,
    },
    /// The whole fetch took longer than the limit.
    #[error("the MCP server did not answer within {after:?}")]
    Timeout {
        /// The limit that ran out.
        after: Duration,
    },
    /// The server answered with an error or broke the protocol.
    #[error("the MCP server broke the protocol: {reason}")]
    Protocol {
        /// What it did.
        reason: String,
    },
    /// The answer broke a limit or was not a valid tool list; nothing of it is kept.
    #[error("the MCP server's answer was rejected: {reason}")]
    Rejected {
        /// Which limit, and by how much.
        reason: String,
    },
}

type Client = RunningService<RoleClient, ClientConfig>;

/// Connects to `target`, runs `initialize`, reads every `tools/list` page and closes the
/// connection, all within `limits`.
pub async fn fetch_tools(
    target: &FetchTarget,
    limits: &FetchLimits,
) -> Result<FetchedTools, FetchError> {
    let started = Instant::now();
    // Whatever state the fetch is in when the timeout fires, dropping it drops the client,
    // whose transport kills a stdio server's process group or closes the HTTP connection.
    let after = limits.timeout;
    tokio::time::timeout(after, fetch_within(target, limits, started))
        .await
        .unwrap_or(Err(FetchError::Timeout { after }))
}

/// How long closing the connection may take after the tools are read.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Set by a transport when the server sent more bytes than the limit allows.
type OversizedFlag = Arc<AtomicBool>;

/// What a connected transport can tell after a failure.
struct Diagnostics {
    oversized: OversizedFlag,
    /// The tools as the server sent them.
    raw: raw::RawTools,
    /// A stdio server's stderr.
    child: Option<stdio::ChildDiagnostics>,
}

async fn fetch_within(
    target: &FetchTarget,
    limits: &FetchLimits,
    started: Instant,
) -> Result<FetchedTools, FetchError> {
    let (client, diagnostics) = connect(target, limits).await?;
    let result = list(&client, limits, &diagnostics, started).await;
    // Best effort and bounded, so closing never turns a result into a timeout: if the server
    // is slow to close, dropping the client kills or disconnects it.
    let remaining = limits
        .timeout
        .saturating_sub(started.elapsed())
        .saturating_sub(Duration::from_millis(100));
    let _ = tokio::time::timeout(CLOSE_GRACE.min(remaining), client.cancel()).await;
    result.map_err(|e| match (e, &diagnostics.child) {
        (FetchError::Connect { reason }, Some(child)) if !child.stderr_text().is_empty() => {
            FetchError::Connect {
                reason: format!("{reason}; the server's stderr: {}", child.stderr_text()),
            }
        }
        (other, _) => other,
    })
}

/// Runs `initialize` over an HTTP transport (streamable HTTP or SSE).
async fn initialize_over_http<T, E, A>(
    transport: T,
    oversized: OversizedFlag,
    raw: raw::RawTools,
) -> Result<(Client, Diagnostics), FetchError>
where
    T: rmcp::transport::IntoTransport<RoleClient, E, A>,
    E: std::error::Error + Send + Sync + 'static,
{
    let client = client_config()
        .serve(transport)
        .await
        .map_err(|e| initialize_error(&error_chain(&e), &oversized, ""))?;
    Ok((
        client,
        Diagnostics {
            oversized,
            raw,
            child: None,
        },
    ))
}

fn client_config() -> ClientConfig {
    ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("apiary-registry", env!("CARGO_PKG_VERSION")),
    )
}

/// Starts the transport and runs `initialize`.
async fn connect(
    target: &FetchTarget,
    limits: &FetchLimits,
) -> Result<(Client, Diagnostics), FetchError> {
    match target {
        FetchTarget::Stdio { command, args, env } => {
            let (transport, diagnostics) =
                stdio::ChildTransport::spawn(command, args, env, limits.max_message_bytes)
                    .map_err(|e| FetchError::Connect {
                        reason: format!("cannot start {command:?}: {e}"),
                    })?;
            match client_config().serve(transport).await {
                Ok(client) => Ok((
                    client,
                    Diagnostics {
                        oversized: diagnostics.oversized.clone(),
                        raw: diagnostics.raw.clone(),
                        child: Some(diagnostics),
                    },
                )),
                Err(e) => {
                    // Give the stderr reader a moment to collect the server's last words.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Err(initialize_error(
                        &e.to_string(),
                        &diagnostics.oversized,
                        &diagnostics.stderr_text(),
                    ))
                }
            }
        }
        FetchTarget::StreamableHttp { url, bearer } => {
            let mut config = StreamableHttpClientTransportConfig::with_uri(url.as_str())
                .max_json_response_size(limits.max_message_bytes)
                .max_sse_event_size(limits.max_message_bytes)
                .max_error_response_size(64 * 1024)
                .reinit_on_expired_session(false);
            if let Some(token) = bearer {
                config = config.auth_header(token.as_str());
            }
            let flag = OversizedFlag::default();
            let raw = raw::RawTools::default();
            let client = http::WatchedClient::new(http_client()?, flag.clone(), raw.clone());
            let transport = StreamableHttpClientTransport::with_client(client, config);
            initialize_over_http(transport, flag, raw).await
        }
        FetchTarget::Sse { url, bearer } => {
            let mut headers = reqwest::header::HeaderMap::new();
            if let Some(token) = bearer {
                let value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
                    .map_err(|_| FetchError::Connect {
                        reason: "the bearer token is not a valid header value".into(),
                    })?;
                headers.insert(reqwest::header::AUTHORIZATION, value);
            }
            let flag = OversizedFlag::default();
            let max_stream = limits
                .max_message_bytes
                .saturating_mul(limits.max_pages.saturating_add(2));
            let raw = raw::RawTools::default();
            let transport = sse::SseTransport::connect(
                http_client()?,
                url,
                headers,
                max_stream,
                flag.clone(),
                raw.clone(),
            )
            .await
            .map_err(|e| match e {
                sse::SseConnectError::Rejected(reason) => FetchError::Rejected { reason },
                sse::SseConnectError::Protocol(reason) => FetchError::Protocol { reason },
                sse::SseConnectError::Http(e) => FetchError::Connect {
                    reason: error_chain(&e),
                },
            })?;
            initialize_over_http(transport, flag, raw).await
        }
    }
}

/// An HTTP client for one fetch: no redirects (an MCP endpoint has no reason to redirect, and
/// following one could carry the token elsewhere), no idle pooling, a connect timeout.
fn http_client() -> Result<reqwest::Client, FetchError> {
    crate::tls::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| FetchError::Connect {
            reason: format!("cannot build the HTTP client: {e}"),
        })
}

fn initialize_error(message: &str, oversized: &AtomicBool, stderr: &str) -> FetchError {
    if oversized.load(Ordering::Relaxed) {
        return FetchError::Rejected {
            reason: "the initialize answer is larger than the message size limit".into(),
        };
    }
    let mut reason = format!("initialize failed: {message}");
    if !stderr.is_empty() {
        reason.push_str("; the server's stderr: ");
        reason.push_str(stderr);
    }
    FetchError::Connect { reason }
}

/// Reads the server info and every page of tools.
async fn list(
    client: &Client,
    limits: &FetchLimits,
    diagnostics: &Diagnostics,
    started: Instant,
) -> Result<FetchedTools, FetchError> {
    let oversized = &*diagnostics.oversized;
    // A fetch needs fresh data and real errors, never a cached or stale list.
    client
        .set_response_cache_config(ClientCacheConfig::disabled())
        .await;
    let info = client.peer_info().ok_or_else(|| FetchError::Protocol {
        reason: "the server sent no initialize result".into(),
    })?;
    let (server_name, server_version) = match &info.server_info {
        Some(implementation) => (implementation.name.clone(), implementation.version.clone()),
        None => (String::new(), String::new()),
    };
    check_string("serverInfo", &server_name, limits)?;
    check_string("serverInfo", &server_version, limits)?;
    let capabilities =
        serde_json::to_value(&info.capabilities).map_err(|e| FetchError::Rejected {
            reason: format!("the capabilities cannot be represented as JSON: {e}"),
        })?;
    check_json("capabilities", &capabilities, limits)?;

    let mut tools: Vec<ToolDef> = Vec::new();
    let mut names = HashSet::new();
    let mut cursors = HashSet::new();
    let mut cursor: Option<String> = None;
    for page in 1..=limits.max_pages {
        let params = PaginatedRequestParams::default().with_cursor(cursor.take());
        let result = client
            .list_tools(Some(params))
            .await
            .map_err(|e| list_error(e, oversized, page, limits.max_message_bytes))?;
        if tools.len().saturating_add(result.tools.len()) > limits.max_tools {
            return Err(FetchError::Rejected {
                reason: format!("the server lists more than {} tools", limits.max_tools),
            });
        }
        for tool in result.tools {
            let raw = diagnostics.raw.take(&tool.name);
            let tool = tool_def(tool, raw, limits)?;
            if !names.insert(tool.name.clone()) {
                return Err(FetchError::Rejected {
                    reason: format!("the tool {:?} is listed twice", tool.name),
                });
            }
            tools.push(tool);
        }
        match result.next_cursor {
            None => {
                return Ok(FetchedTools {
                    server_name,
                    server_version,
                    protocol_version: info.protocol_version.to_string(),
                    capabilities,
                    tools,
                    latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                });
            }
            Some(next) => {
                check_string("nextCursor", &next, limits)?;
                if !cursors.insert(next.clone()) {
                    return Err(FetchError::Rejected {
                        reason: format!("the server repeated the cursor {next:?}"),
                    });
                }
                cursor = Some(next);
            }
        }
    }
    Err(FetchError::Rejected {
        reason: format!("the tool list has more than {} pages", limits.max_pages),
    })
}

fn list_error(error: ServiceError, oversized: &AtomicBool, page: usize, max: usize) -> FetchError {
    if oversized.load(Ordering::Relaxed) {
        return FetchError::Rejected {
            reason: format!(
                "tools/list page {page} is larger than the message size limit ({max} bytes)"
            ),
        };
    }
    match error {
        ServiceError::McpError(e) => FetchError::Protocol {
            reason: format!(
                "tools/list page {page} failed: {} ({:?})",
                e.message, e.code
            ),
        },
        ServiceError::UnexpectedResponse => FetchError::Rejected {
            reason: format!("tools/list page {page} is not a valid tool list"),
        },
        ServiceError::TransportClosed => FetchError::Connect {
            reason: format!("the connection closed during tools/list page {page}"),
        },
        other => {
            let chain = error_chain(&other);
            let reason = format!("tools/list page {page}: {chain}");
            if chain.contains("exceeded the maximum size") {
                FetchError::Rejected { reason }
            } else {
                FetchError::Connect { reason }
            }
        }
    }
}

/// An error and its sources, joined with `: `.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}

/// The tool as the server sent it (`raw`, when a transport saw it; otherwise as rmcp read
/// it), after checking it against the limits.
fn tool_def(
    tool: Tool,
    raw: Option<Map<String, Value>>,
    limits: &FetchLimits,
) -> Result<ToolDef, FetchError> {
    let name = tool.name.to_string();
    let value = match raw {
        Some(raw) => Value::Object(raw),
        None => serde_json::to_value(&tool).map_err(|e| FetchError::Rejected {
            reason: format!("the tool {name:?} cannot be represented as JSON: {e}"),
        })?,
    };
    check_json(&format!("the tool {name:?}"), &value, limits)?;
    if name.is_empty() {
        return Err(FetchError::Rejected {
            reason: "a tool has an empty name".into(),
        });
    }
    let Value::Object(json) = value else {
        return Err(FetchError::Rejected {
            reason: format!("the tool {name:?} is not a JSON object"),
        });
    };
    ToolDef::from_json(json).map_err(|reason| FetchError::Rejected {
        reason: format!("the tool {name:?}: {reason}"),
    })
}

fn check_string(what: &str, text: &str, limits: &FetchLimits) -> Result<(), FetchError> {
    if text.len() > limits.max_string_len {
        return Err(FetchError::Rejected {
            reason: format!(
                "{what} has a string of {} bytes; the limit is {}",
                text.len(),
                limits.max_string_len
            ),
        });
    }
    Ok(())
}

/// Checks the nesting depth and string lengths of `value`, without recursion.
fn check_json(what: &str, value: &Value, limits: &FetchLimits) -> Result<(), FetchError> {
    let mut stack = vec![(value, 1usize)];
    while let Some((value, depth)) = stack.pop() {
        let nested = matches!(value, Value::Array(_) | Value::Object(_));
        if nested && depth > limits.max_depth {
            return Err(FetchError::Rejected {
                reason: format!("{what} nests deeper than {} levels", limits.max_depth),
            });
        }
        match value {
            Value::String(s) => check_string(what, s, limits)?,
            Value::Array(items) => stack.extend(items.iter().map(|v| (v, depth + 1))),
            Value::Object(map) => {
                for (key, item) in map {
                    check_string(what, key, limits)?;
                    stack.push((item, depth + 1));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn check_json_bounds_depth_and_strings() {
        let limits = FetchLimits {
            max_depth: 3,
            max_string_len: 4,
            ..FetchLimits::default()
        };
        check_json("t", &json!({"a": {"b": [1, "abcd"]}}), &limits).expect("within limits");
        let deep = check_json("t", &json!({"a": {"b": [[]]}}), &limits);
        assert!(matches!(deep, Err(FetchError::Rejected { .. })), "{deep:?}");
        let long = check_json("t", &json!({"a": "abcde"}), &limits);
        assert!(matches!(long, Err(FetchError::Rejected { .. })), "{long:?}");
        let long_key = check_json("t", &json!({"abcde": 1}), &limits);
        assert!(
            matches!(long_key, Err(FetchError::Rejected { .. })),
            "{long_key:?}"
        );
    }

    #[test]
    fn debug_hides_secrets() {
        let http = FetchTarget::StreamableHttp {
            url: "http://x/mcp".into(),
            bearer: Some("s3cr3t".into()),
        };
        let stdio = FetchTarget::Stdio {
            command: "srv".into(),
            args: vec![],
            env: vec![("API_KEY".into(), "s3cr3t".into())],
        };
        for target in [http, stdio] {
            let text = format!("{target:?}");
            assert!(!text.contains("s3cr3t"), "{text}");
        }
    }
}
