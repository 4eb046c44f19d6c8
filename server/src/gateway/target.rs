//! What the gateway knows about one server: where its backend listens and which tools it
//! publishes, under which names. Loaded from the registry's curated listing and cached for a
//! few seconds, so the hot path reads memory, not the database.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use apiary_app::model::Transport;

use crate::config::Runtime as RuntimeMode;
use crate::db::{Db, DbError};
use crate::operator::cluster_runtime::{self as cluster, ClusterEndpoint};
use crate::registry::curation::{ToolOverride, UnknownTools};
use crate::registry::listing::{list_published, ListingCache, PublishedServer, Query};
use crate::runtime::spec::{parse_spec, LocalSpec};
use crate::runtime::ServerId;

use super::access::Access;
use super::inbound::{Inbound, KeyCache};
use super::measure::{ServerMetrics, ToolMetrics};
use super::usage::Usage;

/// How long a loaded target is used before it is read again. Curation and registration
/// changes drop it at once ([`Targets::forget`]); new snapshots show within this time.
const TTL: Duration = Duration::from_secs(5);

/// One published tool.
#[derive(Debug)]
pub struct ToolEntry {
    /// The server's own name.
    pub upstream: String,
    /// The name consumers see and call.
    pub public: String,
    /// The curated changes to apply to the server's description of the tool.
    pub change: ToolOverride,
    /// Its metric handles.
    pub metrics: ToolMetrics,
}

/// The published tools of a server, by either name.
#[derive(Debug, Default)]
pub struct ToolMap {
    by_public: HashMap<String, Arc<ToolEntry>>,
    by_upstream: HashMap<String, Arc<ToolEntry>>,
}

impl ToolMap {
    /// The map for `server`'s curated tools.
    fn of(server: &PublishedServer, id: &str, usage: &Usage) -> Self {
        let mut map = Self::default();
        for (tool, upstream) in server.tools.iter().zip(server.upstream_names.iter()) {
            let own = server.curation.overrides.get(upstream);
            let change = ToolOverride {
                name: (tool.name != *upstream).then(|| tool.name.clone()),
                description: own.and_then(|o| o.description.clone()),
                annotations: own.and_then(|o| o.annotations.clone()),
            };
            map.insert(ToolEntry {
                upstream: upstream.clone(),
                public: tool.name.clone(),
                change,
                metrics: ToolMetrics::new(id, &tool.name, usage.window(id, &tool.name)),
            });
        }
        map
    }

    fn insert(&mut self, entry: ToolEntry) {
        let entry = Arc::new(entry);
        self.by_public.insert(entry.public.clone(), entry.clone());
        self.by_upstream.insert(entry.upstream.clone(), entry);
    }

    /// The tool consumers call `name`.
    pub fn by_public(&self, name: &str) -> Option<&Arc<ToolEntry>> {
        self.by_public.get(name)
    }

    /// The tool the server calls `name`.
    pub fn by_upstream(&self, name: &str) -> Option<&Arc<ToolEntry>> {
        self.by_upstream.get(name)
    }

    /// A map of `(public, upstream)` names without other overrides.
    fn detached(names: &[(&str, &str)]) -> Self {
        let mut map = Self::default();
        for (public, upstream) in names {
            map.insert(ToolEntry {
                upstream: (*upstream).into(),
                public: (*public).into(),
                change: ToolOverride {
                    name: (public != upstream).then(|| (*public).into()),
                    ..ToolOverride::default()
                },
                metrics: ToolMetrics::new("tests/tests", public, Arc::default()),
            });
        }
        map
    }
}

/// Where the gateway sends a server's traffic.
#[derive(Clone, Debug)]
pub enum Backend {
    /// A streamable HTTP endpoint, parsed once (not per request).
    Http(reqwest::Url),
    /// A local process that speaks MCP on stdio, reached through a shared bridge.
    Stdio(ServerId),
    /// A legacy HTTP+SSE server's event-stream URL, reached through a bridge per session.
    LegacySse(Arc<str>),
    /// A server the gateway cannot reach yet; the text says why and what to do.
    Unsupported(String),
}

/// One published server as the gateway serves it.
#[derive(Debug)]
pub struct Target {
    /// `namespace/name`.
    pub id: String,
    /// Where its backend listens.
    pub backend: Backend,
    /// Its published tools.
    pub tools: ToolMap,
    /// How calls of other tools are refused.
    pub unknown_tools: UnknownTools,
    /// Who may use it.
    pub access: Access,
    /// The inbound security its manifest declares.
    pub inbound: Inbound,
    /// Its metric handles.
    pub metrics: ServerMetrics,
}

impl Target {
    /// A target named `tests/tests` without a backend, publishing `(public, upstream)`
    /// names, for unit tests and [`super::fuzzing`].
    pub fn detached(names: &[(&str, &str)], unknown_tools: UnknownTools) -> Self {
        Self {
            id: "tests/tests".into(),
            backend: Backend::Unsupported(String::new()),
            tools: ToolMap::detached(names),
            unknown_tools,
            access: Access::default(),
            inbound: Inbound::Apiary,
            metrics: ServerMetrics::new("tests/tests"),
        }
    }

    fn of(
        server: &PublishedServer,
        (access, inbound): (Access, Inbound),
        usage: &Usage,
        mode: RuntimeMode,
    ) -> Self {
        let id = server.id();
        let server_id = ServerId::new(&server.namespace, &server.name);
        Self {
            backend: match mode {
                RuntimeMode::Local => backend_of(&server.spec, &server_id),
                RuntimeMode::Kubernetes => cluster_backend_of(&server.spec, &server_id),
            },
            tools: ToolMap::of(server, &id, usage),
            unknown_tools: server.curation.unknown_tools,
            access,
            inbound,
            metrics: ServerMetrics::new(&id),
            id,
        }
    }
}

/// The backend of a server with `spec`.
fn backend_of(spec: &serde_json::Value, server: &ServerId) -> Backend {
    let id = server.to_string();
    match parse_spec(spec) {
        Ok(LocalSpec::Remote {
            url,
            transport: Transport::StreamableHttp,
        }) => http_backend(&id, &url),
        Ok(LocalSpec::Remote { url, .. }) => Backend::LegacySse(url.into()),
        Ok(LocalSpec::Process(_)) => Backend::Stdio(server.clone()),
        Err(error) => Backend::Unsupported(format!("{id} has a spec that cannot run: {error}")),
    }
}

/// The backend of a server with `spec` in Kubernetes mode, where the operator runs it: its
/// Service, or its pod's attach API for stdio (through the cluster runtime).
fn cluster_backend_of(spec: &serde_json::Value, server: &ServerId) -> Backend {
    match cluster::endpoint(server, spec) {
        Ok(ClusterEndpoint::StreamableHttp(url)) => http_backend(&server.to_string(), &url),
        Ok(ClusterEndpoint::Sse(url)) => Backend::LegacySse(url.into()),
        Ok(ClusterEndpoint::Attach) => Backend::Stdio(server.clone()),
        Err(error) => Backend::Unsupported(error),
    }
}

/// A streamable HTTP backend at `url`, or why server `id` cannot be reached there.
fn http_backend(id: &str, url: &str) -> Backend {
    match reqwest::Url::parse(url) {
        Ok(url) => Backend::Http(url),
        Err(error) => Backend::Unsupported(format!(
            "{id} has an endpoint URL that cannot be used: {url}: {error}"
        )),
    }
}

/// Loaded targets by `(namespace, name)`. Only published servers are kept, so the map is as
/// large as the fleet, whatever names clients try.
#[derive(Debug, Default)]
pub struct Targets {
    loaded: RwLock<Loaded>,
    /// Where the tools' calls are counted for the console.
    pub usage: Arc<Usage>,
    /// Where servers run, which decides how their backends are reached.
    mode: RuntimeMode,
    /// The signing keys of the issuers that servers' own OIDC names.
    keys: KeyCache,
    /// Each server's curated tools, derived once per snapshots and curation.
    listing: ListingCache,
}

/// Targets by `(namespace, name)`, with the time each was loaded.
type Loaded = HashMap<(String, String), (Instant, Arc<Target>)>;

impl Targets {
    /// No targets yet, for servers that run in `mode`.
    pub fn new(mode: RuntimeMode) -> Self {
        Self {
            mode,
            ..Self::default()
        }
    }

    /// The published, non-retired server `namespace/name`, or `None`. `cluster` reads the
    /// `MCPOIDCConfig` a server references (Kubernetes mode).
    pub async fn get(
        &self,
        db: &Db,
        cluster: Option<&kube::Client>,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Arc<Target>>, DbError> {
        let key = (namespace.to_owned(), name.to_owned());
        if let Some((at, target)) = crate::locks::read(&self.loaded).get(&key) {
            if at.elapsed() < TTL {
                return Ok(Some(target.clone()));
            }
        }
        let query = Query {
            exact: Some(key.clone()),
            ..Query::default()
        };
        let server = list_published(db, &query, i64::MAX, &self.listing)
            .await?
            .into_iter()
            .next();
        let Some(server) = server else {
            crate::locks::write(&self.loaded).remove(&key);
            return Ok(None);
        };
        let access = super::access::store::load_by_name(db, namespace, name).await?;
        let inbound = Inbound::load(&server, cluster, &self.keys).await;
        let target = Arc::new(Target::of(
            &server,
            (access, inbound),
            &self.usage,
            self.mode,
        ));
        crate::locks::write(&self.loaded).insert(key, (Instant::now(), target.clone()));
        Ok(Some(target))
    }

    /// Drops what is known about `namespace/name`; the next request reads it again.
    pub fn forget(&self, namespace: &str, name: &str) {
        let key = (namespace.to_owned(), name.to_owned());
        crate::locks::write(&self.loaded).remove(&key);
    }
}
