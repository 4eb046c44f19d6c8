//! Virtual servers as the registry lists them (`/v0.1/servers`, the exports, the snippets):
//! an entry like a server's, with the composed tools, its endpoint, and its members.

use futures::future::BoxFuture;
use futures::FutureExt;

use crate::db::{Db, DbError};
use crate::registry::listing::{ListingCache, MorePublished, PublishedServer, Query};

use super::store::{self, VirtualServer};
use super::views::{compose_now, View};

/// Lists the virtual servers for the registry.
#[derive(Debug, Default)]
pub struct Published;

impl MorePublished for Published {
    fn published<'a>(
        &'a self,
        db: &'a Db,
        query: &'a Query,
        cache: &'a ListingCache,
    ) -> BoxFuture<'a, Result<Vec<PublishedServer>, DbError>> {
        async move {
            // A virtual server has no category or cost class of its own.
            if query.category.is_some() || query.cost_class.is_some() {
                return Ok(Vec::new());
            }
            let limit = query.limit.and_then(|l| usize::try_from(l).ok());
            let mut entries = Vec::new();
            for server in store::list(db).await? {
                if limit.is_some_and(|limit| entries.len() >= limit) {
                    break;
                }
                if wanted(&server, query) {
                    entries.push(entry(compose_now(db, server, cache).await?));
                }
            }
            Ok(entries)
        }
        .boxed()
    }
}

/// True when `server` passes the filters of `query`.
fn wanted(server: &VirtualServer, query: &Query) -> bool {
    let key = (server.namespace.clone(), server.name.clone());
    let text = |wanted: &Option<String>, value: &str| wanted.as_deref().is_none_or(|w| w == value);
    query.exact.as_ref().is_none_or(|exact| *exact == key)
        && query.after.as_ref().is_none_or(|after| key > *after)
        && query
            .updated_since
            .is_none_or(|since| server.updated_at > since)
        && text(&query.owner_team, &server.spec.owner_team)
        && text(&query.sensitivity, &server.spec.sensitivity)
        && query
            .search
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .is_none_or(|search| {
                let search = search.trim().to_lowercase();
                server.id().to_lowercase().contains(&search)
                    || server.spec.description.to_lowercase().contains(&search)
            })
}

fn entry(view: View) -> PublishedServer {
    let View {
        server,
        composition,
        ..
    } = view;
    PublishedServer {
        description: server.spec.description.clone(),
        owner_team: server.spec.owner_team.clone(),
        sensitivity: server.spec.sensitivity.clone(),
        lifecycle: "active".into(),
        // What a client reaches: the gateway's own streamable HTTP endpoint.
        spec: serde_json::json!({ "transport": "streamable-http" }),
        version: "0.0.0".into(),
        upstream_names: composition.tools.iter().map(|t| t.member_tool.clone()).collect(),
        tools: composition.tools.into_iter().map(|t| t.tool).collect(),
        health_reason: "A virtual server has no health of its own: each tool is as healthy as the member it comes from.".into(),
        members: server.spec.members.iter().map(|m| m.server.clone()).collect(),
        created_at: server.created_at,
        updated_at: server.updated_at,
        namespace: server.namespace,
        name: server.name,
        ..PublishedServer::default()
    }
}
