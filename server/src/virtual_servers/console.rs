//! The console's view of the virtual servers (the `/virtual-servers` page).

use async_trait::async_trait;

use apiary_app::model::virtual_servers::{VirtualServerCard, VirtualTool};
use apiary_app::services::{ServiceError, VirtualServerService};

use crate::db::Db;
use crate::gateway::usage::store::{self as usage_store, Owner};
use crate::gateway::usage::view::{self as usage_view, CHART_SAMPLES};
use crate::registry::export::{fleet_litellm_name, labelled_snippets};
use crate::registry::listing::ListingCache;
use crate::registry::server_json::gateway_url;

use super::store;
use super::views::compose_now;

/// Reads the virtual servers for the console.
pub struct VirtualServerCards {
    db: Db,
    public_url: String,
    listing: ListingCache,
}

impl VirtualServerCards {
    /// Cards from `db`, with endpoints under `public_url`, the members' tools from `listing`.
    pub fn new(db: Db, public_url: String, listing: ListingCache) -> Self {
        Self {
            db,
            public_url,
            listing,
        }
    }
}

#[async_trait]
impl VirtualServerService for VirtualServerCards {
    async fn list(&self) -> Result<Vec<VirtualServerCard>, ServiceError> {
        let unavailable = |error: crate::db::DbError| {
            tracing::error!(%error, "cannot read the virtual servers");
            ServiceError(crate::api_error::UNAVAILABLE.to_owned())
        };
        let mut cards = Vec::new();
        for server in store::list(&self.db).await.map_err(unavailable)? {
            let view = compose_now(&self.db, server, &self.listing)
                .await
                .map_err(unavailable)?;
            let (namespace, name) = (&view.server.namespace, &view.server.name);
            let litellm = fleet_litellm_name(&self.db, namespace, name)
                .await
                .map_err(unavailable)?;
            let snippets = labelled_snippets(namespace, name, &self.public_url, litellm);
            let declared_by = view.server.origin.is_some().then(|| view.server.id());
            let record = &view.server.record_id;
            let calls =
                usage_store::recent_totals(&self.db, Owner::VirtualServer, record, CHART_SAMPLES)
                    .await
                    .map_err(unavailable)?;
            let tool_usage = usage_view::tool_usage(&self.db, Owner::VirtualServer, record)
                .await
                .map_err(unavailable)?;
            let (spec, composition) = (&view.server.spec, view.composition);
            cards.push(VirtualServerCard {
                id: view.server.id(),
                description: spec.description.clone(),
                owner_team: spec.owner_team.clone(),
                sensitivity: spec.sensitivity.clone(),
                url: gateway_url(&self.public_url, &view.server.namespace, &view.server.name),
                members: spec.members.iter().map(|m| m.server.clone()).collect(),
                tools: composition
                    .tools
                    .into_iter()
                    .map(|t| VirtualTool {
                        name: t.tool.name,
                        description: t.tool.description.unwrap_or_default(),
                        member: t.member,
                        member_tool: t.member_tool,
                    })
                    .collect(),
                unresolved: composition.unresolved,
                conflicts: composition.conflicts,
                finder: spec.finder.enabled,
                snippets,
                declared_by,
                calls: usage_view::call_points(&calls),
                tool_usage,
            });
        }
        Ok(cards)
    }
}
