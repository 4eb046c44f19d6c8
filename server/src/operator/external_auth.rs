//! `MCPExternalAuthConfig`: stored as ToolHive shapes it, not acted on. Apiary's gateway does
//! no token exchange, header injection or upstream authorization server, so every such object
//! gets condition `Enforced=False` saying so, and an `MCPServer` that references one
//! (`externalAuthConfigRef`, `authServerRef`) is withheld ([`crate::resources::unsupported`]).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::{watcher, Controller};
use kube::{Api, Client, Resource, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::resources::crd::{MCPExternalAuthConfig, MCPExternalAuthConfigStatus};

use super::render::FIELD_MANAGER;

/// The condition this controller writes.
pub const ENFORCED: &str = "Enforced";

/// The condition's reason.
pub const REASON: &str = "NotEnforcedByApiary";

/// What Apiary does with an object of `type_`: the condition's message.
pub fn message(type_: &str) -> String {
    format!(
        "Apiary does not perform {type_} authentication: its gateway does no token exchange, \
         header injection or upstream authorization toward backends. An MCPServer that \
         references this object (spec.externalAuthConfigRef or spec.authServerRef) is \
         withheld: not run, not served"
    )
}

/// The status of `config`, keeping the condition's `lastTransitionTime` when it is unchanged.
pub fn status(config: &MCPExternalAuthConfig, now: Time) -> MCPExternalAuthConfigStatus {
    let message = message(&config.spec.type_);
    let previous = config
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == ENFORCED));
    let last_transition_time = previous
        .filter(|c| c.status == "False" && c.reason == REASON)
        .map_or(now, |c| c.last_transition_time.clone());
    MCPExternalAuthConfigStatus {
        observed_generation: config.metadata.generation,
        conditions: vec![Condition {
            type_: ENFORCED.into(),
            status: "False".into(),
            reason: REASON.into(),
            message,
            observed_generation: config.metadata.generation,
            last_transition_time,
        }],
    }
}

async fn reconcile(
    config: Arc<MCPExternalAuthConfig>,
    client: Arc<Client>,
) -> Result<Action, kube::Error> {
    let status = status(&config, Time(k8s_openapi::jiff::Timestamp::now()));
    if config.status.as_ref() == Some(&status) {
        return Ok(Action::await_change());
    }
    let api: Api<MCPExternalAuthConfig> =
        Api::namespaced((*client).clone(), &config.namespace().unwrap_or_default());
    let patch = serde_json::json!({
        "apiVersion": MCPExternalAuthConfig::api_version(&()),
        "kind": MCPExternalAuthConfig::kind(&()),
        "status": status,
    });
    api.patch_status(
        &config.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(Action::await_change())
}

fn error_policy(_: Arc<MCPExternalAuthConfig>, error: &kube::Error, _: Arc<Client>) -> Action {
    tracing::warn!(%error, "cannot write an MCPExternalAuthConfig's status");
    Action::requeue(Duration::from_secs(5))
}

/// Writes the status of every MCPExternalAuthConfig (in `namespace`, or everywhere) until
/// `shutdown` is cancelled.
pub async fn run(client: Client, namespace: Option<String>, shutdown: CancellationToken) {
    let api: Api<MCPExternalAuthConfig> = match &namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    };
    Controller::new(api, watcher::Config::default())
        .graceful_shutdown_on(shutdown.cancelled_owned())
        .run(reconcile, error_policy, Arc::new(client))
        .for_each(|_| async {})
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_says_the_type_is_not_performed_and_keeps_its_transition_time() {
        let mut config = MCPExternalAuthConfig::new(
            "x",
            serde_json::from_value(serde_json::json!({"type": "tokenExchange"})).expect("spec"),
        );
        config.metadata.generation = Some(2);
        let then = Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
        let first = status(&config, then.clone());
        assert_eq!(first.observed_generation, Some(2));
        let condition = &first.conditions[0];
        assert_eq!(
            (condition.status.as_str(), condition.reason.as_str()),
            ("False", REASON)
        );
        assert!(condition
            .message
            .starts_with("Apiary does not perform tokenExchange authentication"));
        config.status = Some(first.clone());
        let again = status(&config, Time(k8s_openapi::jiff::Timestamp::now()));
        assert_eq!(again, first, "an unchanged status is not rewritten");
    }
}
