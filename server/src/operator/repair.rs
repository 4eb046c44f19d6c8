//! Applying an `MCPServer`'s children while repairing drift: compare each live child with
//! the rendered one ([`super::drift`]), take back what other managers own, apply, and report
//! each repair (a Normal Event and `apiary_operator_drift_repairs_total`).

use std::fmt::Debug;
use std::sync::Arc;

use k8s_openapi::api::events;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::resources::crd::MCPServer;

use super::cache::Caches;
use super::drift::{self, Drift};
use super::render::FIELD_MANAGER;

/// The controller named in the operator's Events.
pub const REPORTER: &str = "apiary-operator";

/// Applies the children of one server, one by one, repairing drift on the way.
pub struct Applier<'a> {
    /// The client.
    pub client: &'a Client,
    /// The server whose children these are.
    pub server: &'a MCPServer,
    /// Its namespace.
    pub namespace: &'a str,
    /// Whether the children were applied before (so a missing one was deleted).
    pub applied_before: bool,
    /// The first refusal of the apiserver, `Kind name: message`.
    pub refused: Option<String>,
    /// The cached children, and which versions were verified.
    pub caches: &'a Caches,
}

impl Applier<'_> {
    /// Compares the live child with `desired` (`compare`), takes back the fields other
    /// managers own under `scope` when they differ, applies `desired`, and reports what was
    /// reverted. Returns the live child: as applied, or as found when the apiserver refused
    /// the apply (recorded in `refused`); other errors are returned.
    ///
    /// `cached` is the child in the reflector cache. It stands for the live child while it
    /// shows no drift; otherwise (and when it is missing though the children were applied
    /// before) the live child is read, with the field managers the repair names. The applied
    /// child is recorded as verified when it shows no drift ([`Caches::verify`]).
    pub async fn child<K>(
        &mut self,
        desired: &K,
        cached: Option<Arc<K>>,
        compare: impl Fn(&K, &K) -> Vec<Drift>,
        scope: &[&str],
    ) -> Result<Option<Arc<K>>, kube::Error>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Serialize
            + DeserializeOwned
            + Clone
            + Debug,
    {
        let api: Api<K> = Api::namespaced(self.client.clone(), self.namespace);
        let name = desired.name_any();
        let read = match &cached {
            Some(cached) => !compare(desired, cached).is_empty(),
            None => self.applied_before,
        };
        let live = if read {
            api.get_opt(&name).await?.map(Arc::new)
        } else {
            cached
        };
        let mut repairs: Vec<(Drift, Vec<String>)> = Vec::new();
        match &live {
            Some(live) => {
                let drifts = compare(desired, live);
                if !drifts.is_empty() {
                    let managed = live.meta().managed_fields.clone().unwrap_or_default();
                    repairs = drifts
                        .into_iter()
                        .map(|drift| {
                            let by = drift::changed_by(&managed, &drift);
                            (drift, by)
                        })
                        .collect();
                    // Moves the fields other managers own under `scope` into Apiary's apply
                    // entry (see [`drift::take_back`]), guarded by the live `resourceVersion`.
                    if let Some(entries) = drift::take_back(&managed, scope, &K::api_version(&())) {
                        let patch = serde_json::json!({"metadata": {
                            "resourceVersion": live.meta().resource_version,
                            "managedFields": entries,
                        }});
                        let params = PatchParams {
                            field_manager: Some(FIELD_MANAGER.into()),
                            ..PatchParams::default()
                        };
                        api.patch(&name, &params, &Patch::Merge(&patch)).await?;
                    }
                }
            }
            None if self.applied_before => repairs.push((Drift::deleted(), Vec::new())),
            None => {}
        }
        // Server-side applied under Apiary's field manager, taking over conflicting fields.
        let params = PatchParams::apply(FIELD_MANAGER).force();
        match api.patch(&name, &params, &Patch::Apply(desired)).await {
            Ok(applied) => {
                // Deleted between the read above and the apply, which created it anew.
                let recreated = live
                    .as_ref()
                    .is_some_and(|live| live.uid().is_some() && live.uid() != applied.uid());
                if recreated && !repairs.iter().any(|(drift, _)| *drift == Drift::deleted()) {
                    repairs.push((Drift::deleted(), Vec::new()));
                }
                if !repairs.is_empty() {
                    self.report(K::kind(&()).as_ref(), &name, &repairs).await;
                }
                self.caches
                    .verify(&applied, compare(desired, &applied).is_empty());
                Ok(Some(Arc::new(applied)))
            }
            Err(kube::Error::Api(status)) if matches!(status.code, 400 | 403 | 422) => {
                let message = format!("{} {name}: {}", K::kind(&()), status.message);
                tracing::warn!(%message, "the apiserver refused a child");
                self.refused.get_or_insert(message);
                let found = api.get_opt(&name).await?;
                if let Some(found) = &found {
                    self.caches.verify(found, false);
                }
                Ok(found.map(Arc::new))
            }
            Err(error) => Err(error),
        }
    }

    /// A Normal Event naming each reverted field and who changed it, and the metric.
    async fn report(&self, kind: &str, name: &str, repairs: &[(Drift, Vec<String>)]) {
        let reverted: Vec<String> = repairs
            .iter()
            .map(|(drift, by)| {
                metrics::counter!(
                    "apiary_operator_drift_repairs_total",
                    "kind" => kind.to_owned(),
                    "field" => drift.field.clone()
                )
                .increment(1);
                if *drift == Drift::deleted() {
                    return "the deletion (recreated it)".to_owned();
                }
                let by = if by.is_empty() {
                    "an unknown manager".to_owned()
                } else {
                    by.join(", ")
                };
                format!("{} (changed by {by})", drift.path)
            })
            .collect();
        let mut note = format!("{kind} {name}: reverted {}", reverted.join("; "));
        if note.len() > 1000 {
            note.truncate(note.floor_char_boundary(997));
            note.push_str("...");
        }
        tracing::info!(%note, "drift reverted");
        if let Err(error) = self.publish_repair(note).await {
            tracing::warn!(%error, "cannot publish an event");
        }
    }

    /// Creates the Event itself: kube's recorder folds Events with the same reason about the
    /// same object into one series that keeps the first note, and each repair names other
    /// fields and managers.
    async fn publish_repair(&self, note: String) -> Result<(), kube::Error> {
        let server = self.server;
        let events: Api<events::v1::Event> = Api::namespaced(self.client.clone(), self.namespace);
        let event = events::v1::Event {
            metadata: ObjectMeta {
                generate_name: Some(format!("{}-drift-", server.name_any())),
                namespace: Some(self.namespace.to_owned()),
                ..ObjectMeta::default()
            },
            type_: Some("Normal".into()),
            reason: Some("DriftReverted".into()),
            action: Some("Revert".into()),
            note: Some(note),
            regarding: Some(server.object_ref(&())),
            event_time: Some(MicroTime(k8s_openapi::jiff::Timestamp::now())),
            reporting_controller: Some(REPORTER.into()),
            reporting_instance: Some(std::env::var("HOSTNAME").unwrap_or_else(|_| REPORTER.into())),
            ..events::v1::Event::default()
        };
        events.create(&PostParams::default(), &event).await?;
        Ok(())
    }
}
