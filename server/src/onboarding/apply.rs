//! Applying an approved proposal, all or nothing. The runtime is changed first, then one
//! transaction writes the server row, its revision, the audit events and the proposal's
//! `applied` state through the registration's own [`write_registration_from`]. If the runtime
//! refuses, or the transaction fails, the runtime is put back in line with the database and the
//! proposal becomes `failed` with the error: nothing is half-applied.
//!
//! - Local runtime: the same desired-state types the direct registration path uses; put back
//!   with [`desired::sync`].
//! - Kubernetes runtime: server-side apply of the `MCPServer` manifest that the revision keeps
//!   (deleted on retirement; a remote `url` server has no workload); put back with
//!   [`kubernetes::restore`]. The server's `MCPToolConfig` (its curation) is applied with it.

use serde_json::Value;

use apiary_app::access::Viewer;

use crate::config::Runtime as RuntimeMode;
use crate::db::{now_millis, DbError};
use crate::runtime::{desired, DesiredServer, Runtime, ServerId};
use crate::servers::{server_id, ServerRegistration};

use super::kubernetes;
use super::manifest::manifest_object;
use super::model::{Proposal, ProposalKind, ProposalStatus};
use super::register::write_registration_from;
use super::revisions::{self, NewRevision};
use super::store::{transition_in, ProposalStore, Transition};

/// Where an approved proposal is applied.
#[derive(Clone, Copy)]
pub struct ApplyTarget<'a> {
    /// Which runtime Apiary runs.
    pub mode: RuntimeMode,
    /// The local runtime, in local mode.
    pub runtime: Option<&'a dyn Runtime>,
    /// The cluster, in Kubernetes mode.
    pub kube: Option<&'a kube::Client>,
}

/// Applies `proposal` (state `approved`) and returns it as `applied` or `failed`.
pub async fn apply(
    store: &ProposalStore,
    target: ApplyTarget<'_>,
    proposal: Proposal,
    actor: &Viewer,
) -> Result<Proposal, DbError> {
    let outcome = match target.mode {
        _ if proposal.kind == ProposalKind::Virtual => apply_virtual(store, &proposal, actor).await,
        RuntimeMode::Local => match target.runtime {
            Some(runtime) => apply_local(store, runtime, &proposal, actor).await,
            None => Err("Apiary runs the local runtime without one; nothing was changed".into()),
        },
        RuntimeMode::Kubernetes => match target.kube {
            Some(client) => apply_kubernetes(store, client, &proposal, actor).await,
            None => Err(
                "Apiary runs the Kubernetes runtime without a cluster client; nothing was changed"
                    .into(),
            ),
        },
    };
    match outcome {
        Ok(()) => store
            .get(&proposal.id)
            .await?
            .ok_or_else(|| DbError::Query(sqlx::Error::RowNotFound)),
        Err(error) => fail(store, &proposal, actor, &error).await,
    }
}

async fn apply_kubernetes(
    store: &ProposalStore,
    client: &kube::Client,
    proposal: &Proposal,
    actor: &Viewer,
) -> Result<(), String> {
    let (namespace, name) = (&proposal.namespace, &proposal.name);
    let registration = match proposal.kind {
        ProposalKind::Create | ProposalKind::Update => Some(registration_of(proposal)?),
        ProposalKind::Retire => None,
        ProposalKind::Virtual => return Err("a virtual server is not a server".into()),
    };
    let changed = match &registration {
        Some(_) if kubernetes::is_remote(&proposal.spec) => Ok(()),
        Some(registration) => {
            let metadata = super::validate::metadata_json(registration);
            let object = manifest_object(namespace, name, &proposal.spec, &metadata);
            match kubernetes::apply(client, &object).await {
                // The published view goes with it: the server's curation (none for a new one).
                Ok(()) => {
                    let curation = curation_of(store.db(), namespace, name).await;
                    crate::registry::curation::cluster::apply(client, namespace, name, &curation)
                        .await
                }
                Err(error) => Err(error),
            }
        }
        None => match kubernetes::remove(client, namespace, name).await {
            Ok(()) => crate::registry::curation::cluster::remove(client, namespace, name).await,
            Err(error) => Err(error),
        },
    };
    if let Err(error) = changed {
        kubernetes::restore(store.db(), client, namespace, name).await;
        return Err(format!(
            "the Kubernetes API refused the MCPServer or MCPToolConfig {namespace}/{name}: {error}"
        ));
    }
    if let Err(error) = write(store, proposal, registration.as_ref(), actor).await {
        kubernetes::restore(store.db(), client, namespace, name).await;
        return Err(format!("could not record the applied change: {error}"));
    }
    Ok(())
}

/// Saves the virtual server an approved proposal defines, checked again as every save is,
/// with the proposal's move to `applied`, in one transaction.
async fn apply_virtual(
    store: &ProposalStore,
    proposal: &Proposal,
    actor: &Viewer,
) -> Result<(), String> {
    use crate::virtual_servers::{check, model::VirtualSpec, store::save_in, store::SaveError};
    let id = (proposal.namespace.as_str(), proposal.name.as_str());
    let spec: VirtualSpec = serde_json::from_value(proposal.spec.clone())
        .map_err(|e| format!("the proposed definition cannot be read: {e}"))?;
    let refused = |error: SaveError| match error {
        SaveError::Invalid(errors) => format!(
            "the definition no longer fits the published servers: {}",
            errors.first()
        ),
        managed @ SaveError::Managed { .. } => managed.to_string(),
        SaveError::Db(error) => error.to_string(),
    };
    check(store.db(), id, &spec).await.map_err(refused)?;
    let mut tx = store.db().begin_write().await.map_err(|e| e.to_string())?;
    if let Some(why) = super::decide::virtual_moved(&mut tx, proposal)
        .await
        .map_err(|e| e.to_string())?
    {
        return Err(format!("{why}; nothing was changed"));
    }
    save_in(&mut tx, id, &spec, actor.into(), None)
        .await
        .map_err(refused)?;
    mark_applied(&mut tx, proposal, actor).await?;
    tx.commit().await.map_err(|e| e.to_string())
}

/// The stored curation of `namespace/name`; the default for a server not stored yet.
async fn curation_of(
    db: &crate::db::Db,
    namespace: &str,
    name: &str,
) -> crate::registry::curation::Curation {
    match server_id(db.pool(), namespace, name)
        .await
        .unwrap_or_default()
    {
        Some(id) => crate::registry::curation::store::load(db, &id)
            .await
            .unwrap_or_default(),
        None => Default::default(),
    }
}

async fn apply_local(
    store: &ProposalStore,
    runtime: &dyn Runtime,
    proposal: &Proposal,
    actor: &Viewer,
) -> Result<(), String> {
    let id = ServerId::new(&proposal.namespace, &proposal.name);
    let registration = match proposal.kind {
        ProposalKind::Create | ProposalKind::Update => Some(registration_of(proposal)?),
        ProposalKind::Retire => None,
        ProposalKind::Virtual => return Err("a virtual server is not a server".into()),
    };
    let runs = registration.as_ref().is_some_and(|r| r.published);
    let changed = if runs {
        let spec = &proposal.spec;
        let server = DesiredServer::from_spec(id.clone(), spec).map_err(|e| e.to_string())?;
        runtime.apply(&server).await
    } else {
        runtime.remove(&id).await
    };
    if let Err(error) = changed {
        desired::sync(store.db(), runtime, &id).await;
        return Err(format!("the local runtime refused {id}: {error}"));
    }
    let written = write(store, proposal, registration.as_ref(), actor).await;
    if let Err(error) = written {
        // Put the runtime back as the database still says.
        desired::sync(store.db(), runtime, &id).await;
        return Err(format!("could not record the applied change: {error}"));
    }
    Ok(())
}

/// The server registration a create or update proposal carries.
fn registration_of(proposal: &Proposal) -> Result<ServerRegistration, String> {
    let meta = &proposal.metadata;
    let text = |key: &str| meta[key].as_str().unwrap_or_default().to_owned();
    Ok(ServerRegistration {
        description: text("description"),
        owner_team: text("ownerTeam"),
        category: text("category"),
        cost_class: text("costClass"),
        sensitivity: text("sensitivity"),
        tags: meta["tags"]
            .as_array()
            .map(|t| {
                t.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        docs_url: text("docsUrl"),
        spec: proposal.spec.clone(),
        published: meta["published"].as_bool().unwrap_or(true),
    })
}

/// One transaction: the server change with its revision and audit, and the proposal's move
/// from `approved` to `applied`.
async fn write(
    store: &ProposalStore,
    proposal: &Proposal,
    registration: Option<&ServerRegistration>,
    actor: &Viewer,
) -> Result<(), String> {
    let mut tx = store.db().begin_write().await.map_err(|e| e.to_string())?;
    // The decision checked the base revision; check it again where it counts, so a change
    // that landed in between (another proposal applied at the same time) is not overwritten.
    // Two such transactions still racing collide on the revision number.
    let exists = server_id(&mut *tx, &proposal.namespace, &proposal.name)
        .await
        .map_err(|e| e.to_string())?;
    let current = revisions::current(&mut tx, &proposal.namespace, &proposal.name)
        .await
        .map_err(|e| e.to_string())?;
    let moved = match (proposal.kind, exists) {
        (ProposalKind::Create, exists) => exists.is_some(),
        (_, None) => true,
        (_, Some(_)) => proposal.base_revision.unwrap_or(0) != current,
    };
    if moved {
        return Err(format!(
            "{}/{} changed while this proposal was being applied (it is at revision {current} now); nothing was changed, propose it again",
            proposal.namespace, proposal.name
        ));
    }
    match registration {
        Some(registration) => {
            write_registration_from(
                &mut tx,
                (&proposal.namespace, &proposal.name),
                registration,
                actor.into(),
                Some(&proposal.id),
                None,
            )
            .await
            .map_err(|e| e.to_string())?;
        }
        None => retire(&mut tx, proposal, actor)
            .await
            .map_err(|e| e.to_string())?,
    }
    mark_applied(&mut tx, proposal, actor).await?;
    tx.commit().await.map_err(|e| e.to_string())
}

/// Retires the server: unpublished, lifecycle `retired`, the replacement recorded; a revision
/// and an audit event.
async fn retire(
    conn: &mut sqlx::AnyConnection,
    proposal: &Proposal,
    actor: &Viewer,
) -> Result<(), DbError> {
    let replacement = proposal.metadata["replacement"].as_str();
    let row: Option<(String,)> =
        sqlx::query_as("SELECT spec FROM servers WHERE namespace = $1 AND name = $2")
            .bind(&proposal.namespace)
            .bind(&proposal.name)
            .fetch_optional(&mut *conn)
            .await?;
    let spec: Value = row
        .and_then(|(spec,)| serde_json::from_str(&spec).ok())
        .unwrap_or(Value::Null);
    sqlx::query(
        "UPDATE servers SET lifecycle = 'retired', published = FALSE, replacement = $1, \
         updated_at = $2 WHERE namespace = $3 AND name = $4",
    )
    .bind(replacement)
    .bind(now_millis())
    .bind(&proposal.namespace)
    .bind(&proposal.name)
    .execute(&mut *conn)
    .await?;
    crate::servers::forget_mcpserver(conn, &proposal.namespace, &proposal.name).await?;
    let target = format!("{}/{}", proposal.namespace, proposal.name);
    crate::audit::record(
        &mut *conn,
        crate::audit::AuditEvent {
            comment: None,
            actor: actor.into(),
            action: "server.retire",
            target: &target,
            before_hash: Some(crate::servers::content_hash(&spec.to_string())),
            after_hash: None,
        },
    )
    .await?;
    let mut metadata = proposal.metadata.clone();
    metadata["lifecycle"] = Value::from("retired");
    revisions::record(
        conn,
        NewRevision {
            namespace: &proposal.namespace,
            name: &proposal.name,
            spec: &spec,
            metadata: &metadata,
            proposal_id: Some(&proposal.id),
            actor: &actor.subject,
        },
    )
    .await?;
    Ok(())
}

/// Moves `proposal` from `approved` to `applied` in the caller's transaction.
async fn mark_applied(
    conn: &mut sqlx::AnyConnection,
    proposal: &Proposal,
    actor: &Viewer,
) -> Result<(), String> {
    let change = Transition {
        id: &proposal.id,
        version: proposal.version,
        from: ProposalStatus::Approved,
        to: ProposalStatus::Applied,
        decision: None,
        error: None,
    };
    let moved = transition_in(conn, &change, actor.into())
        .await
        .map_err(|e| e.to_string())?;
    if !moved {
        return Err("the proposal changed while it was being applied".into());
    }
    Ok(())
}

/// Records that applying failed, with the error, and returns the proposal as it is now.
async fn fail(
    store: &ProposalStore,
    proposal: &Proposal,
    actor: &Viewer,
    error: &str,
) -> Result<Proposal, DbError> {
    tracing::warn!(proposal = %proposal.id, %error, "applying a proposal failed");
    let change = Transition {
        id: &proposal.id,
        version: proposal.version,
        from: ProposalStatus::Approved,
        to: ProposalStatus::Failed,
        decision: None,
        error: Some(error),
    };
    store
        .transition(change, crate::audit::Actor::from(actor))
        .await?;
    store
        .get(&proposal.id)
        .await?
        .ok_or_else(|| DbError::Query(sqlx::Error::RowNotFound))
}
