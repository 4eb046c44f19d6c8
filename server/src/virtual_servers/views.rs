//! What each virtual server shows now, cached for a few seconds so the endpoint reads memory.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde_json::value::RawValue;

use crate::db::{Db, DbError};
use crate::gateway::measure::ToolMetrics;
use crate::gateway::usage::Usage;
use crate::registry::listing::ListingCache;

use super::compose::{compose, Composition};
use super::store::{self, VirtualServer};

/// How long a composed view is used before it is read again; saving or removing a virtual
/// server drops it at once, members' new tools show within this time.
const TTL: Duration = Duration::from_secs(5);

/// Tools per `tools/list` page.
pub const PAGE: usize = 100;

/// A virtual server with what it shows.
#[derive(Debug)]
pub struct View {
    /// The stored definition.
    pub server: VirtualServer,
    /// Its tools now.
    pub composition: Composition,
    /// The metric handles of each tool, in the order of `composition.tools` (empty for a
    /// view that only shows, as the API's).
    pub metrics: Vec<ToolMetrics>,
    /// What `tools/list` answers, in order, as MCP tools: made once per view, so a page is a
    /// slice (empty for a view that only shows).
    pub listed: Vec<rmcp::model::Tool>,
    /// The `tools/list` results, page by page, as JSON: made once per view, so a page is
    /// answered without serialising its tools (empty for a view that only shows).
    pub pages: Vec<Box<RawValue>>,
    /// The position in `composition.tools` of each tool name (empty for a view that only
    /// shows), so a call finds its tool without scanning the list.
    pub by_name: HashMap<String, usize>,
}

impl View {
    /// The tool clients call `name`, with its metric handles.
    pub fn tool(&self, name: &str) -> Option<(&super::compose::ExposedTool, Option<&ToolMetrics>)> {
        let at = *self.by_name.get(name)?;
        Some((self.composition.tools.get(at)?, self.metrics.get(at)))
    }
}

/// Views by `(namespace, name)` with the time each was loaded.
type Loaded = HashMap<(String, String), (Instant, Arc<View>)>;

/// Loaded views.
#[derive(Debug, Default)]
pub struct Views {
    loaded: RwLock<Loaded>,
    /// The members' curated tools, derived once per snapshots and curation.
    listing: ListingCache,
}

impl Views {
    /// The virtual server `namespace/name` and what it shows, or `None`.
    pub async fn get(
        &self,
        db: &Db,
        usage: &Usage,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Arc<View>>, DbError> {
        let key = (namespace.to_owned(), name.to_owned());
        if let Some((at, view)) = crate::locks::read(&self.loaded).get(&key) {
            if at.elapsed() < TTL {
                return Ok(Some(view.clone()));
            }
        }
        let Some(server) = store::load(db, namespace, name).await? else {
            // Names that are not virtual servers are not kept, so the map stays as large as
            // the virtual servers, whatever names clients try.
            crate::locks::write(&self.loaded).remove(&key);
            return Ok(None);
        };
        let mut view = compose_now(db, server, &self.listing).await?;
        let id = view.server.id();
        // Calls are counted at /metrics and on the console's page under the virtual server's
        // name; each member counts them too, under its own (and only the member's count feeds
        // health).
        view.metrics = view
            .composition
            .tools
            .iter()
            .map(|t| ToolMetrics::new(&id, &t.tool.name, usage.window(&id, &t.tool.name)))
            .collect();
        view.listed = listed_tools(&view);
        view.pages = pages(&view.listed);
        view.by_name = view
            .composition
            .tools
            .iter()
            .enumerate()
            .map(|(at, t)| (t.tool.name.clone(), at))
            .collect();
        let view = Arc::new(view);
        crate::locks::write(&self.loaded).insert(key, (Instant::now(), view.clone()));
        Ok(Some(view))
    }

    /// Drops every view (a member may have changed).
    pub fn forget_all(&self) {
        crate::locks::write(&self.loaded).clear();
    }

    /// Drops what is known about `namespace/name`.
    pub fn forget(&self, namespace: &str, name: &str) {
        crate::locks::write(&self.loaded).remove(&(namespace.to_owned(), name.to_owned()));
    }
}

/// `server` composed from its members as they are published now (their curated tools from
/// `cache` when unchanged).
pub async fn compose_now(
    db: &Db,
    server: VirtualServer,
    cache: &ListingCache,
) -> Result<View, DbError> {
    let members = store::published_members(db, &server.spec, cache).await?;
    // Serving never fails on the members: missing ones and new conflicts are reported.
    let composition = compose(&server.spec, &members, false).unwrap_or_default();
    Ok(View {
        server,
        composition,
        metrics: Vec::new(),
        listed: Vec::new(),
        pages: Vec::new(),
        by_name: HashMap::new(),
    })
}

/// The tools `tools/list` shows: all of them, or with the finder on, the finder and the
/// pinned ones. A member's tool that is not a valid MCP tool is left out, and logged.
fn listed_tools(view: &View) -> Vec<rmcp::model::Tool> {
    let spec = &view.server.spec;
    let tools = &view.composition.tools;
    let shown: Vec<serde_json::Map<String, serde_json::Value>> = if spec.finder.enabled {
        std::iter::once(super::finder::tool())
            .chain(
                tools
                    .iter()
                    .filter(|t| spec.finder.pinned.contains(&t.tool.name))
                    .map(|t| t.tool.to_json()),
            )
            .collect()
    } else {
        tools.iter().map(|t| t.tool.to_json()).collect()
    };
    shown
        .into_iter()
        .filter_map(|json| {
            let name = json.get("name").cloned();
            serde_json::from_value(serde_json::Value::Object(json))
                .inspect_err(|error| {
                    tracing::warn!(%error, tool = ?name, "a member's tool is not a valid MCP tool; left out");
                })
                .ok()
        })
        .collect()
}

/// The `tools/list` result of the [`PAGE`] tools of `listed` from `start`, naming the next
/// page's cursor (its first tool's position) when more follow.
pub fn page(listed: &[rmcp::model::Tool], start: usize) -> rmcp::model::ListToolsResult {
    let end = start.saturating_add(PAGE).min(listed.len());
    let tools = listed.get(start..end).unwrap_or_default().to_vec();
    let mut result = rmcp::model::ListToolsResult::with_all_items(tools);
    if end < listed.len() {
        result.next_cursor = Some(end.to_string());
    }
    result
}

/// Every [`page`] of `listed`, as JSON; one empty page when nothing is listed.
fn pages(listed: &[rmcp::model::Tool]) -> Vec<Box<RawValue>> {
    (0..listed.len().div_ceil(PAGE).max(1))
        .map(|at| serde_json::value::to_raw_value(&page(listed, at * PAGE)))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|error| {
            tracing::error!(%error, "a virtual server's tool list cannot be written as JSON");
            Vec::new()
        })
}
