//! The runtime in Kubernetes mode. The operator runs every server from its `MCPServer`, so
//! this runtime only reaches servers ([`Reach`]): it reports what the cluster says, and it reaches a
//! stdio server's channel through the attach API of the server's pod (the operator renders
//! stdio containers with `stdin: true` for this).
//!
//! HTTP and SSE servers need no runtime at all: clients reach them at their Service URL, and a
//! remote server (a `url` spec, which has no workload in the cluster) at its URL
//! ([`endpoint`]).

use std::pin::Pin;
use std::task::{Context, Poll};

use async_trait::async_trait;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, AttachedProcess, ListParams, LogParams};
use kube::ResourceExt;
use tokio::io::{AsyncRead, ReadBuf, ReadHalf, SimplexStream};

use crate::resources::crd::{MCPServer, Phase, Transport};
use crate::runtime::{
    LogLine, Reach, RuntimeError, RuntimeState, RuntimeStatus, ServerId, StdioHandle,
};

use super::render;

/// How many of a pod's last log lines the console shows.
const LOG_LINES: i64 = 200;

/// Where a server published in Kubernetes mode is reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterEndpoint {
    /// Streamable HTTP at the Service URL.
    StreamableHttp(String),
    /// Legacy HTTP+SSE at the Service URL (its event stream).
    Sse(String),
    /// Stdio, through the attach API of the server's pod.
    Attach,
}

/// The endpoint of server `id` whose `MCPServer` spec is `spec` (as stored in the registry).
pub fn endpoint(id: &ServerId, spec: &serde_json::Value) -> Result<ClusterEndpoint, String> {
    if spec.get("url").is_some() {
        // A remote server: no workload, reached where it is, as in local mode.
        return match crate::runtime::parse_spec(spec).map_err(|error| format!("{id}: {error}"))? {
            crate::runtime::LocalSpec::Remote {
                url,
                transport: apiary_app::model::Transport::Sse,
            } => Ok(ClusterEndpoint::Sse(url)),
            crate::runtime::LocalSpec::Remote { url, .. } => {
                Ok(ClusterEndpoint::StreamableHttp(url))
            }
            crate::runtime::LocalSpec::Process(_) => Err(format!(
                "{id} names both a url and a local command; the Kubernetes runtime runs neither"
            )),
        };
    }
    let spec = serde_json::from_value(spec.clone())
        .map_err(|error| format!("{id} has a spec that is not an MCPServer spec: {error}"))?;
    let mut server = MCPServer::new(&id.name, spec);
    server.metadata.namespace = Some(id.namespace.clone());
    let (transport, url) = render::endpoint(&server).map_err(|error| format!("{id}: {error}"))?;
    Ok(match transport {
        Transport::StreamableHttp => ClusterEndpoint::StreamableHttp(url),
        Transport::Sse => ClusterEndpoint::Sse(url),
        Transport::Stdio => ClusterEndpoint::Attach,
    })
}

/// Servers run by the operator in a cluster, reached through the Kubernetes API.
#[derive(Clone)]
pub struct ClusterRuntime {
    client: kube::Client,
}

impl std::fmt::Debug for ClusterRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterRuntime").finish_non_exhaustive()
    }
}

impl ClusterRuntime {
    /// A runtime over the cluster `client` talks to.
    pub fn new(client: kube::Client) -> Self {
        Self { client }
    }

    fn pods(&self, id: &ServerId) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &id.namespace)
    }

    /// The server's running pod that is not being deleted, if there is one.
    async fn running_pod(&self, id: &ServerId) -> Result<Option<Pod>, RuntimeError> {
        let pods = self
            .pods(id)
            .list(&ListParams::default().labels(&selector(id)))
            .await
            .map_err(|error| {
                RuntimeError::Cluster(format!("cannot list the pods of {id}: {}", said(error)))
            })?;
        Ok(pods.items.into_iter().find(|pod| {
            pod.metadata.deletion_timestamp.is_none()
                && pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
        }))
    }
}

/// The label selector of a server's pods, as the operator renders them.
fn selector(id: &ServerId) -> String {
    render::selector_labels(&id.name)
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[async_trait]
impl Reach for ClusterRuntime {
    async fn status(&self, id: &ServerId) -> Option<RuntimeStatus> {
        let servers: Api<MCPServer> = Api::namespaced(self.client.clone(), &id.namespace);
        let server = servers.get_opt(&id.name).await.ok()??;
        let status = server.status.unwrap_or_default();
        let message = status.message.unwrap_or_default();
        let state = match status.phase {
            None | Some(Phase::Pending) => RuntimeState::Starting,
            Some(Phase::Ready) => RuntimeState::Ready,
            Some(Phase::Failed | Phase::Degraded) => RuntimeState::Failed {
                reason: message,
                exit_code: None,
            },
            Some(Phase::Terminating | Phase::Stopped) => RuntimeState::Stopped,
        };
        Some(RuntimeStatus {
            state,
            pid: None,
            restarts: 0,
            url: status.url,
            command: None,
        })
    }

    async fn logs(&self, id: &ServerId) -> Vec<LogLine> {
        let Ok(Some(pod)) = self.running_pod(id).await else {
            return Vec::new();
        };
        let params = LogParams {
            container: Some(render::CONTAINER.into()),
            tail_lines: Some(LOG_LINES),
            timestamps: true,
            ..LogParams::default()
        };
        match self.pods(id).logs(&pod.name_any(), &params).await {
            Ok(text) => text.lines().map(log_line).collect(),
            Err(error) => vec![LogLine {
                at: crate::db::now_millis(),
                line: format!(
                    "apiary: cannot read the logs of pod {}: {}",
                    pod.name_any(),
                    said(error)
                ),
            }],
        }
    }

    async fn open_stdio(&self, id: &ServerId) -> Result<StdioHandle, RuntimeError> {
        let pod = self.running_pod(id).await?.ok_or_else(|| {
            RuntimeError::Cluster(format!(
                "{id} has no running pod (kubectl get pods -n {} -l {})",
                id.namespace,
                selector(id)
            ))
        })?;
        let params = AttachParams::default()
            .container(render::CONTAINER)
            .stdin(true)
            .stdout(true)
            .stderr(false);
        let mut process = self
            .pods(id)
            .attach(&pod.name_any(), &params)
            .await
            .map_err(|error| {
                RuntimeError::Cluster(format!(
                    "cannot attach to pod {} of {id}: {}",
                    pod.name_any(),
                    said(error)
                ))
            })?;
        let (Some(stdin), Some(stdout)) = (process.stdin(), process.stdout()) else {
            return Err(RuntimeError::Cluster(format!(
                "the attach to pod {} of {id} has no stdin or stdout",
                pod.name_any()
            )));
        };
        Ok(StdioHandle::new(
            Attached {
                stdout,
                _process: process,
            },
            stdin,
        ))
    }
}

/// What the apiserver said (its message, without the status dump), or the client's error.
fn said(error: kube::Error) -> String {
    match error {
        kube::Error::Api(status) => {
            format!("the apiserver answered {}: {}", status.code, status.message)
        }
        other => other.to_string(),
    }
}

/// A log line `2026-11-26T17:00:00.123456789Z text` from the kubelet, with its timestamp.
fn log_line(text: &str) -> LogLine {
    let parsed = text.split_once(' ').and_then(|(stamp, line)| {
        let at = stamp.parse::<k8s_openapi::jiff::Timestamp>().ok()?;
        Some((at.as_millisecond(), line))
    });
    match parsed {
        Some((at, line)) => LogLine {
            at,
            line: line.to_owned(),
        },
        None => LogLine {
            at: crate::db::now_millis(),
            line: text.to_owned(),
        },
    }
}

/// The pod's stdout, keeping the attach session (which ends when dropped) alive as long.
struct Attached {
    stdout: ReadHalf<SimplexStream>,
    _process: AttachedProcess,
}

impl AsyncRead for Attached {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stdout).poll_read(cx, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id() -> ServerId {
        ServerId::new("tools", "search")
    }

    #[test]
    fn http_servers_are_reached_at_their_service() {
        let spec = json!({"image": "ghcr.io/acme/search:1.0", "transport": "streamable-http", "proxyPort": 9090});
        assert_eq!(
            endpoint(&id(), &spec),
            Ok(ClusterEndpoint::StreamableHttp(
                "http://mcp-search.tools.svc.cluster.local:9090/mcp".into()
            ))
        );
        let spec = json!({"image": "ghcr.io/acme/search:1.0", "transport": "sse"});
        assert_eq!(
            endpoint(&id(), &spec),
            Ok(ClusterEndpoint::Sse(
                "http://mcp-search.tools.svc.cluster.local:8080/sse".into()
            ))
        );
    }

    #[test]
    fn stdio_servers_are_attached_to() {
        let spec = json!({"image": "ghcr.io/acme/search:1.0"});
        assert_eq!(endpoint(&id(), &spec), Ok(ClusterEndpoint::Attach));
    }

    #[test]
    fn a_bad_port_names_the_field() {
        let spec = json!({"image": "ghcr.io/acme/search:1.0", "transport": "sse", "proxyPort": 0});
        let error = endpoint(&id(), &spec).expect_err("a bad port");
        assert!(error.contains("spec.proxyPort"), "{error}");
    }

    #[test]
    fn kubelet_log_lines_keep_their_time() {
        let line = log_line("2026-11-26T17:00:00.5Z listening on stdio");
        assert_eq!(line.line, "listening on stdio");
        assert_eq!(line.at, 1_795_712_400_500);
    }
}
