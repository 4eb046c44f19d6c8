//! In Kubernetes mode, what the cluster says about a server beyond its phase: the
//! `MCPServer`'s status conditions and the newest Events about it. Best effort: a cluster that
//! does not answer leaves both empty and is logged.

use k8s_openapi::api::core::v1::Event;
use kube::api::ListParams;
use kube::Api;

use apiary_app::model::server_detail::{ConditionView, EventView};

use crate::resources::crd::MCPServer;
use crate::runtime::redact::Redactor;

use crate::display_time::display_time;

/// How many of the newest Events the page shows.
pub const EVENTS: usize = 10;

/// The conditions of `namespace/name`'s `MCPServer`, and its newest Events.
pub async fn load(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> (Vec<ConditionView>, Vec<EventView>) {
    let servers: Api<MCPServer> = Api::namespaced(client.clone(), namespace);
    let conditions = match servers.get_opt(name).await {
        Ok(found) => found
            .and_then(|s| s.status)
            .map(|status| {
                status
                    .conditions
                    .into_iter()
                    .map(|c| ConditionView {
                        kind: c.type_,
                        status: c.status,
                        reason: c.reason,
                        message: c.message,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        Err(error) => {
            tracing::warn!(%error, namespace, name, "reading the MCPServer's conditions failed");
            Vec::new()
        }
    };
    let events: Api<Event> = Api::namespaced(client.clone(), namespace);
    let selector = format!("involvedObject.kind=MCPServer,involvedObject.name={name}");
    let events = match events.list(&ListParams::default().fields(&selector)).await {
        Ok(list) => newest(list.items),
        Err(error) => {
            tracing::warn!(%error, namespace, name, "listing the MCPServer's Events failed");
            Vec::new()
        }
    };
    (conditions, events)
}

/// The newest [`EVENTS`] Events, newest first, their messages redacted.
fn newest(mut items: Vec<Event>) -> Vec<EventView> {
    let at = |e: &Event| -> i64 {
        e.last_timestamp
            .as_ref()
            .map(|t| t.0)
            .or_else(|| e.event_time.as_ref().map(|t| t.0))
            .or_else(|| e.first_timestamp.as_ref().map(|t| t.0))
            .map_or(0, |t| t.as_millisecond())
    };
    items.sort_by_key(|e| std::cmp::Reverse(at(e)));
    let redactor = Redactor::default();
    items
        .iter()
        .take(EVENTS)
        .map(|e| EventView {
            at_label: display_time(at(e)),
            kind: e.type_.clone().unwrap_or_default(),
            reason: e.reason.clone().unwrap_or_default(),
            message: redactor.redact(e.message.as_deref().unwrap_or_default()),
        })
        .collect()
}
