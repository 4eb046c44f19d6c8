//! ToolHive's `MCPGroup` and `VirtualMCPServer` in the cluster. Apiary runs no vMCP pod: each
//! `VirtualMCPServer` becomes an Apiary virtual server of the same name, drawn from the
//! servers of its group that are published in the registry, and served by the gateway at
//! `/mcp/{namespace}/{name}` like one defined in Apiary ([`crate::virtual_servers`]). The same
//! checks apply as to every save; what Apiary does with each field is decided in
//! [`declaration`] and written in the status ([`status`]), with a Warning Event when the object
//! is refused or sets fields without effect.
//!
//! A group's members are the `MCPServer`s, `MCPRemoteProxy`s and `MCPServerEntry`s of its
//! namespace whose `groupRef` names it; one that is not published in Apiary's registry (or
//! that the gateway cannot call for others) is named in the status and its tools are not
//! drawn. Every [`RESYNC`](super::cluster_follow::RESYNC) the objects are checked again, so a member that is published or
//! unpublished, or joins or leaves the group, is followed. The virtual server follows its
//! object: Apiary's API and proposals do not change it (409), and deleting the object removes
//! it (also when that happened while Apiary was down: the first full list sweeps).

pub mod declaration;
pub mod status;

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::ListParams;
use kube::runtime::events::Recorder;
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::audit::Actor;
use crate::db::Db;
use crate::onboarding::cluster_remotes::status::refused_message;
use crate::onboarding::cluster_remotes::warn_on_change;
use crate::registry::listing::ListingCache;
use crate::registry::listing::PublishedServer;
use crate::registry::server_json::gateway_url;
use crate::resources::crd::MCPServer;
use crate::resources::remote_crd::{MCPRemoteProxy, MCPServerEntry};
use crate::resources::virtual_crd::{
    DiscoveredBackend, MCPGroup, MCPGroupStatus, VirtualMCPServer,
};
use crate::virtual_servers::model::{Member, VirtualSpec};
use crate::virtual_servers::store::{self as virtual_store, SaveError};
use crate::virtual_servers::{check, compose::compose, unreachable_member};

use super::cluster_follow::{follow, write_status, Follower};
use super::cluster_remotes::Context;
use declaration::{declaration, group_name, Declaration};
use status::{Outcome, READY};

/// The kind that declares such virtual servers, as stored in their `origin`.
pub const KIND: &str = "VirtualMCPServer";

/// The Events' reporting controller.
const REPORTER: &str = "apiary-virtual-servers";

/// A read of the cluster or the database failed; the object is checked again at the next
/// resync.
#[derive(Debug, thiserror::Error)]
enum Retry {
    #[error(transparent)]
    Kube(#[from] kube::Error),
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
}

/// Follows `VirtualMCPServer` and `MCPGroup` objects (in `namespace`, or everywhere) until
/// `shutdown`.
pub async fn run(context: Context, namespace: Option<String>, shutdown: CancellationToken) {
    let recorder = Recorder::new(context.client.clone(), REPORTER.into());
    let virtuals = Virtuals { context, recorder };
    let groups = Groups(&virtuals.context);
    let (client, namespace) = (&virtuals.context.client, namespace.as_deref());
    tokio::join!(
        follow::<VirtualMCPServer>(client, namespace, &virtuals, shutdown.clone()),
        follow::<MCPGroup>(client, namespace, &groups, shutdown),
    );
}

/// The follower of `VirtualMCPServer`s.
struct Virtuals {
    context: Context,
    recorder: Recorder,
}

#[async_trait::async_trait]
impl Follower<VirtualMCPServer> for Virtuals {
    async fn apply(&self, object: &VirtualMCPServer) {
        handle(&self.context, &self.recorder, object).await;
    }

    async fn gone(&self, namespace: &str, name: &str) {
        gone(&self.context, namespace, name).await;
    }

    async fn declared(&self) -> Option<Vec<(String, String)>> {
        virtual_store::declared_by(&self.context.db, KIND)
            .await
            .inspect_err(|error| {
                tracing::warn!(%error, "cannot list the virtual servers of VirtualMCPServers");
            })
            .ok()
    }
}

/// The follower of `MCPGroup`s: it writes their members in their status.
struct Groups<'c>(&'c Context);

#[async_trait::async_trait]
impl Follower<MCPGroup> for Groups<'_> {
    async fn apply(&self, group: &MCPGroup) {
        group_status(self.0, group).await;
    }

    async fn gone(&self, _namespace: &str, _name: &str) {}

    async fn declared(&self) -> Option<Vec<(String, String)>> {
        None
    }
}

/// Serves what `object` declares and writes its status.
async fn handle(context: &Context, recorder: &Recorder, object: &VirtualMCPServer) {
    let namespace = object.namespace().unwrap_or_default();
    let name = object.name_any();
    let spec = serde_json::to_value(&object.spec).unwrap_or_default();
    let annotations: BTreeMap<String, String> = object.annotations().clone();
    let declared = declaration(&spec, &annotations);
    let (outcome, backends) = match evaluate(context, (&namespace, &name), &declared).await {
        Ok(evaluated) => evaluated,
        Err(error) => {
            tracing::warn!(%error, object = %format!("{KIND} {namespace}/{name}"),
                "cannot check a VirtualMCPServer; retrying");
            return;
        }
    };
    if matches!(&outcome, Outcome::NoGroup { .. })
        || matches!(&outcome, Outcome::NotServed { reason, .. } if *reason != "NameTaken")
    {
        // A virtual server this object declared before it changed is not served any more.
        gone(context, &namespace, &name).await;
    }
    let previous = object
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default();
    let next = status::status(
        &outcome,
        &backends,
        &declared.flagged,
        &gateway_url(&context.public_url, &namespace, &name),
        (object.meta().generation, &previous),
        &Time(k8s_openapi::jiff::Timestamp::now()),
    );
    if object.status.as_ref() == Some(&next) {
        return;
    }
    warn_on_change(
        recorder,
        &object.object_ref(&()),
        &previous,
        &next.conditions,
        "Serve",
    )
    .await;
    write_status::<VirtualMCPServer>(&context.client, (&namespace, &name), &next).await;
}

/// What becomes of the object: served (saved when it changed), or why not; and its group's
/// members.
async fn evaluate(
    context: &Context,
    (namespace, name): (&str, &str),
    declared: &Declaration,
) -> Result<(Outcome, Vec<DiscoveredBackend>), Retry> {
    let (Some(group), Some(plan)) = (&declared.group, &declared.plan) else {
        let outcome = Outcome::NotServed {
            reason: "FieldsRefused",
            message: refused_message(&declared.refused),
        };
        return Ok((outcome, Vec::new()));
    };
    let groups: Api<MCPGroup> = Api::namespaced(context.client.clone(), namespace);
    if groups.get_opt(group).await?.is_none() {
        return Ok((
            Outcome::NoGroup {
                group: group.clone(),
            },
            Vec::new(),
        ));
    }
    let members = members_of(&context.client, namespace, group).await?;
    let names: Vec<String> = members.iter().map(|m| m.name.clone()).collect();
    let published = published(&context.db, namespace, &names).await?;
    let mut backends = Vec::new();
    let mut ready = Vec::new();
    for member in &members {
        let url = gateway_url(&context.public_url, namespace, &member.name);
        let server = published.iter().find(|s| s.name == member.name);
        let problem = match server {
            None => Some(
                "not published in Apiary's registry (an MCPServer is published once Apiary \
                 registers it), so none of its tools are drawn"
                    .to_owned(),
            ),
            Some(server) => unreachable_member(&server.spec),
        };
        if problem.is_none() {
            ready.push(member.name.clone());
        }
        backends.push(DiscoveredBackend {
            name: member.name.clone(),
            kind: Some(member.kind.clone()),
            status: if problem.is_none() {
                READY
            } else {
                "unavailable"
            }
            .to_owned(),
            url: problem.is_none().then_some(url),
            message: problem,
        });
    }
    if ready.is_empty() {
        let message = format!(
            "no server of the MCPGroup {group} is published in Apiary's registry and callable \
             through its gateway ({} in the group); publish one",
            members.len()
        );
        let outcome = Outcome::NotServed {
            reason: "NoMembers",
            message,
        };
        return Ok((outcome, backends));
    }
    let spec = plan.spec(namespace, &ready);
    Ok((
        save(context, (namespace, name), &spec, &published).await?,
        backends,
    ))
}

/// Saves `spec` as `namespace/name` when it changed (checked as every save is), and says what
/// is served.
async fn save(
    context: &Context,
    (namespace, name): (&str, &str),
    spec: &VirtualSpec,
    published: &[PublishedServer],
) -> Result<Outcome, Retry> {
    let stored = virtual_store::load(&context.db, namespace, name).await?;
    let refused = |error: SaveError| -> Result<Outcome, Retry> {
        match error {
            SaveError::Invalid(errors) => Ok(Outcome::NotServed {
                reason: "Invalid",
                message: errors
                    .all()
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            }),
            managed @ SaveError::Managed { .. } => Ok(Outcome::NotServed {
                reason: "NameTaken",
                message: managed.to_string(),
            }),
            SaveError::Db(error) => Err(error.into()),
        }
    };
    if let Some(stored) = stored.filter(|s| s.origin.as_deref() == Some(KIND) && &s.spec == spec) {
        // Unchanged: what it serves now, with tools left out named (a later conflict).
        return match compose(&stored.spec, published, false) {
            Ok(composition) => Ok(Outcome::Served {
                tool_count: composition.tools.len(),
                left_out: composition
                    .conflicts
                    .iter()
                    .cloned()
                    .chain(
                        composition
                            .unresolved
                            .iter()
                            .map(|m| format!("{m} is not published")),
                    )
                    .collect(),
            }),
            Err(errors) => refused(errors.into()),
        };
    }
    let composition = match check(&context.db, (namespace, name), spec).await {
        Ok(composition) => composition,
        Err(error) => return refused(error),
    };
    let who = format!("{KIND} {namespace}/{name}");
    let actor = Actor {
        subject: Actor::CLUSTER.subject,
        name: &who,
    };
    if let Err(error) =
        virtual_store::save(&context.db, (namespace, name), spec, actor, Some(KIND)).await
    {
        return refused(error);
    }
    context.gateway.forget_other(namespace, name, false);
    tracing::info!(virtual_server = %format!("{namespace}/{name}"), tools = composition.tools.len(),
        "a VirtualMCPServer was saved as a virtual server");
    Ok(Outcome::Served {
        tool_count: composition.tools.len(),
        left_out: composition.conflicts,
    })
}

/// The published servers among `names` in `namespace`.
async fn published(
    db: &Db,
    namespace: &str,
    names: &[String],
) -> Result<Vec<PublishedServer>, crate::db::DbError> {
    let probe = VirtualSpec {
        members: names
            .iter()
            .map(|name| Member {
                server: format!("{namespace}/{name}"),
                ..Member::default()
            })
            .collect(),
        ..VirtualSpec::default()
    };
    virtual_store::published_members(db, &probe, &ListingCache::default()).await
}

/// One object whose `groupRef` names a group.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct GroupMember {
    name: String,
    kind: String,
}

/// The `MCPServer`s, `MCPRemoteProxy`s and `MCPServerEntry`s of `namespace` in `group`, by
/// name (one per name: a name is one server in the registry).
async fn members_of(
    client: &Client,
    namespace: &str,
    group: &str,
) -> Result<Vec<GroupMember>, kube::Error> {
    let mut members = Vec::new();
    members.extend(
        named_in::<MCPServer>(client, namespace, group, |s| s.spec.group_ref.as_ref()).await?,
    );
    members.extend(
        named_in::<MCPRemoteProxy>(client, namespace, group, |p| p.spec.group_ref.as_ref()).await?,
    );
    members.extend(
        named_in::<MCPServerEntry>(client, namespace, group, |e| e.spec.group_ref.as_ref()).await?,
    );
    members.sort();
    members.dedup_by(|a, b| a.name == b.name);
    Ok(members)
}

/// The objects of kind `K` in `namespace` whose `group_ref` names `group`.
async fn named_in<K>(
    client: &Client,
    namespace: &str,
    group: &str,
    group_ref: fn(&K) -> Option<&Value>,
) -> Result<Vec<GroupMember>, kube::Error>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let kind = K::kind(&()).into_owned();
    Ok(api
        .list(&ListParams::default())
        .await?
        .into_iter()
        .filter(|object| group_ref(object).and_then(group_name).as_deref() == Some(group))
        .map(|object| GroupMember {
            name: object.name_any(),
            kind: kind.clone(),
        })
        .collect())
}

/// The object `namespace/name` is gone (or no longer served): its virtual server is removed.
async fn gone(context: &Context, namespace: &str, name: &str) {
    let who = format!("{KIND} {namespace}/{name}");
    let actor = Actor {
        subject: Actor::CLUSTER.subject,
        name: &who,
    };
    match virtual_store::delete(&context.db, (namespace, name), actor, Some(KIND)).await {
        Ok(true) => {
            context.gateway.forget_other(namespace, name, true);
            tracing::info!(virtual_server = %format!("{namespace}/{name}"),
                "its VirtualMCPServer is gone or refused; removed");
        }
        Ok(false) | Err(SaveError::Managed { .. }) => {}
        Err(error) => tracing::error!(%error, "cannot remove a virtual server"),
    }
}

/// Writes the members of `group` in its status, as ToolHive's operator does.
async fn group_status(context: &Context, group: &MCPGroup) {
    let namespace = group.namespace().unwrap_or_default();
    let name = group.name_any();
    let members = match members_of(&context.client, &namespace, &name).await {
        Ok(members) => members,
        Err(error) => {
            tracing::warn!(%error, group = %format!("{namespace}/{name}"),
                "cannot list a group's members; retrying");
            return;
        }
    };
    let of = |kind: &str| -> Vec<String> {
        members
            .iter()
            .filter(|m| m.kind == kind)
            .map(|m| m.name.clone())
            .collect()
    };
    let count = |list: &[String]| Some(i32::try_from(list.len()).unwrap_or(i32::MAX));
    let (servers, remote_proxies, entries) =
        (of("MCPServer"), of("MCPRemoteProxy"), of("MCPServerEntry"));
    let previous = group.status.as_ref();
    let checked = previous
        .and_then(|s| {
            s.conditions
                .iter()
                .find(|c| c.type_ == "MCPServersChecked" && c.status == "True")
        })
        .map_or_else(
            || Time(k8s_openapi::jiff::Timestamp::now()),
            |c| c.last_transition_time.clone(),
        );
    let next = MCPGroupStatus {
        observed_generation: group.meta().generation,
        phase: Some("Ready".into()),
        server_count: count(&servers),
        remote_proxy_count: count(&remote_proxies),
        entry_count: count(&entries),
        servers,
        remote_proxies,
        entries,
        conditions: vec![Condition {
            type_: "MCPServersChecked".into(),
            status: "True".into(),
            reason: "ListMCPServersCheckSucceeded".into(),
            message: format!("{} members listed", members.len()),
            observed_generation: group.meta().generation,
            last_transition_time: checked,
        }],
    };
    if previous == Some(&next) {
        return;
    }
    write_status::<MCPGroup>(&context.client, (&namespace, &name), &next).await;
}
