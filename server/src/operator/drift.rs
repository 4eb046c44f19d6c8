//! Drift: the security-relevant fields of a live child compared with the rendered one, and
//! the `managedFields` surgery that takes back what another field manager owns.
//!
//! Server-side apply never removes a field another manager owns (an `egress` rule added by
//! `kubectl patch`, `hostNetwork`, a sidecar), and force only settles conflicts over fields
//! Apiary sends. So on a difference the operator moves every other manager's fields under the
//! child's security scope into its own apply entry ([`take_back`]); its next apply then drops
//! whatever it does not render. Only fields Apiary renders (or their absence) are compared, so
//! apiserver defaulting of other fields is never a difference.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::render::FIELD_MANAGER;

/// Where a Deployment's security-relevant fields live in `managedFields`: the pod spec.
pub const DEPLOYMENT_SCOPE: &[&str] = &["f:spec", "f:template", "f:spec"];
/// Where a NetworkPolicy's live in `managedFields`: the whole spec.
pub const NETWORK_POLICY_SCOPE: &[&str] = &["f:spec"];
/// Where a ServiceAccount's live in `managedFields`.
pub const SERVICE_ACCOUNT_SCOPE: &[&str] = &["f:automountServiceAccountToken"];

/// One security-relevant difference between a live child and its rendered form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drift {
    /// The metric label: the field without object or container names, such as `hostNetwork`
    /// or `securityContext.privileged`.
    pub field: String,
    /// Where, for people: `spec.template.spec.containers[mcp].securityContext.privileged`.
    pub path: String,
    /// The same place in `managedFields` (`f:spec`, `k:{"name":"mcp"}`, ...).
    fields: Vec<String>,
}

impl Drift {
    /// The whole object was deleted.
    pub fn deleted() -> Self {
        Self::new("object", "the object (deleted)", Vec::new())
    }

    fn new(field: impl Into<String>, path: impl Into<String>, fields: Vec<String>) -> Self {
        Self {
            field: field.into(),
            path: path.into(),
            fields,
        }
    }
}

fn to_value(object: &impl Serialize) -> Value {
    serde_json::to_value(object).unwrap_or(Value::Null)
}

/// `value[path...]`, with absent and `null` both `None`.
fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .filter(|v| !v.is_null())
}

fn f(key: &str) -> String {
    format!("f:{key}")
}

fn keyed(name: &str) -> String {
    format!("k:{}", json!({ "name": name }))
}

/// The differences in the pod template: host namespaces, account and token, pod and
/// container security contexts, images, and containers, init containers or volumes added or
/// removed.
pub fn deployment(desired: &Deployment, live: &Deployment) -> Vec<Drift> {
    let pod_path = ["spec", "template", "spec"];
    let desired = to_value(desired);
    let live = to_value(live);
    let empty = Value::Object(Map::new());
    let desired = at(&desired, &pod_path).unwrap_or(&empty);
    let live = at(&live, &pod_path).unwrap_or(&empty);
    // The pod's field `key` in the fields of Apiary's apply entry.
    let scope = |key: &str| -> Vec<String> {
        let scope = DEPLOYMENT_SCOPE.iter().map(|s| (*s).to_owned());
        scope.chain([f(key)]).collect()
    };
    let prefix = "spec.template.spec";
    let mut drifts = Vec::new();
    for key in ["hostNetwork", "hostPID", "hostIPC"] {
        let flag = |pod: &Value| at(pod, &[key]).and_then(Value::as_bool).unwrap_or(false);
        if flag(desired) != flag(live) {
            drifts.push(Drift::new(key, format!("{prefix}.{key}"), scope(key)));
        }
    }
    for key in ["serviceAccountName", "automountServiceAccountToken"] {
        if at(desired, &[key]) != at(live, &[key]) {
            drifts.push(Drift::new(key, format!("{prefix}.{key}"), scope(key)));
        }
    }
    security_context(
        at(desired, &["securityContext"]),
        at(live, &["securityContext"]),
        "securityContext",
        &format!("{prefix}.securityContext"),
        &scope("securityContext"),
        &mut drifts,
    );
    for list in ["containers", "initContainers"] {
        containers(
            at(desired, &[list]),
            at(live, &[list]),
            list,
            &format!("{prefix}.{list}"),
            &scope(list),
            &mut drifts,
        );
    }
    let volumes = |pod: &Value| names(at(pod, &["volumes"]));
    added_or_removed(
        &volumes(desired),
        &volumes(live),
        "volumes",
        &format!("{prefix}.volumes"),
        &scope("volumes"),
        &mut drifts,
    );
    drifts
}

/// The `name`s of a list's items, in order.
fn names(list: Option<&Value>) -> Vec<String> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|item| item.get("name")?.as_str().map(str::to_owned))
        .collect()
}

/// Items by name in `live` but not in `desired`, and the other way round.
fn added_or_removed(
    desired: &[String],
    live: &[String],
    field: &str,
    path: &str,
    fields: &[String],
    drifts: &mut Vec<Drift>,
) {
    let extra = live.iter().filter(|name| !desired.contains(name));
    let missing = desired.iter().filter(|name| !live.contains(name));
    for name in extra.chain(missing) {
        let fields = [fields, &[keyed(name)]].concat();
        drifts.push(Drift::new(field, format!("{path}[{name}]"), fields));
    }
}

fn containers(
    desired: Option<&Value>,
    live: Option<&Value>,
    list: &str,
    path: &str,
    fields: &[String],
    drifts: &mut Vec<Drift>,
) {
    added_or_removed(&names(desired), &names(live), list, path, fields, drifts);
    let find = |items: Option<&Value>, name: &str| {
        items
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|item| item.get("name").and_then(Value::as_str) == Some(name))
            .cloned()
    };
    for name in names(desired) {
        let (Some(want), Some(have)) = (find(desired, &name), find(live, &name)) else {
            continue;
        };
        let mut item = [fields, &[keyed(&name)]].concat();
        let item_path = format!("{path}[{name}]");
        if at(&want, &["image"]) != at(&have, &["image"]) {
            let fields = [&item[..], &[f("image")]].concat();
            drifts.push(Drift::new("image", format!("{item_path}.image"), fields));
        }
        item.push(f("securityContext"));
        security_context(
            at(&want, &["securityContext"]),
            at(&have, &["securityContext"]),
            "securityContext",
            &format!("{item_path}.securityContext"),
            &item,
            drifts,
        );
    }
}

/// Key by key, so each changed setting (`privileged`, `capabilities`, `runAsUser`) is named.
fn security_context(
    desired: Option<&Value>,
    live: Option<&Value>,
    field: &str,
    path: &str,
    fields: &[String],
    drifts: &mut Vec<Drift>,
) {
    let keys = |context: Option<&Value>| {
        context
            .and_then(Value::as_object)
            .map(|map| map.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let mut all = keys(desired);
    all.extend(keys(live));
    all.sort();
    all.dedup();
    for key in all {
        let want = desired.and_then(|c| at(c, &[&key]));
        let have = live.and_then(|c| at(c, &[&key]));
        if want != have {
            let fields = [fields, &[f(&key)]].concat();
            drifts.push(Drift::new(
                format!("{field}.{key}"),
                format!("{path}.{key}"),
                fields,
            ));
        }
    }
}

/// The differences in the policy: who may connect (`ingress`), where the pod may connect
/// (`egress`), which directions are restricted, and which pods it applies to.
pub fn network_policy(desired: &NetworkPolicy, live: &NetworkPolicy) -> Vec<Drift> {
    let desired = to_value(desired);
    let live = to_value(live);
    let none = Value::Array(Vec::new());
    let mut drifts = Vec::new();
    for key in ["podSelector", "policyTypes", "ingress", "egress"] {
        // A list with no rule is stored as absent.
        let rules = |policy: &Value| at(policy, &["spec", key]).unwrap_or(&none).clone();
        if rules(&desired) != rules(&live) {
            drifts.push(Drift::new(
                key,
                format!("spec.{key}"),
                vec![f("spec"), f(key)],
            ));
        }
    }
    drifts
}

/// The account's token automount.
pub fn service_account(desired: &ServiceAccount, live: &ServiceAccount) -> Vec<Drift> {
    let key = "automountServiceAccountToken";
    if desired.automount_service_account_token == live.automount_service_account_token {
        return Vec::new();
    }
    vec![Drift::new(key, key, vec![f(key)])]
}

/// Whether `entry` is Apiary's own server-side apply of the object (not of a subresource).
fn is_apiary_apply(entry: &ManagedFieldsEntry) -> bool {
    entry.manager.as_deref() == Some(FIELD_MANAGER)
        && entry.operation.as_deref() == Some("Apply")
        && entry.subresource.as_deref().unwrap_or_default().is_empty()
}

/// Entries other managers hold on the object itself (subresources such as status and scale
/// are theirs to keep).
fn is_foreign(entry: &ManagedFieldsEntry) -> bool {
    !is_apiary_apply(entry) && entry.subresource.as_deref().unwrap_or_default().is_empty()
}

/// Whether `key` in a `fieldsV1` tree names `wanted` (`k:` keys compare as JSON).
fn same_key(key: &str, wanted: &str) -> bool {
    match (key.strip_prefix("k:"), wanted.strip_prefix("k:")) {
        (Some(a), Some(b)) => {
            serde_json::from_str::<Value>(a).ok() == serde_json::from_str::<Value>(b).ok()
        }
        _ => key == wanted,
    }
}

fn child<'a>(tree: &'a Value, wanted: &str) -> Option<(&'a String, &'a Value)> {
    tree.as_object()?
        .iter()
        .find(|(key, _)| same_key(key, wanted))
}

/// The managers (other than Apiary's apply) that own the drifted field or anything under it,
/// sorted; empty when nobody does (a field that was removed is owned by no one).
pub fn changed_by(managed: &[ManagedFieldsEntry], drift: &Drift) -> Vec<String> {
    let mut managers: Vec<String> = managed
        .iter()
        .filter(|entry| is_foreign(entry))
        .filter(|entry| {
            let Some(FieldsV1(tree)) = &entry.fields_v1 else {
                return false;
            };
            drift
                .fields
                .iter()
                .try_fold(tree, |node, key| child(node, key).map(|(_, v)| v))
                .is_some()
        })
        .filter_map(|entry| entry.manager.clone())
        .collect();
    managers.sort();
    managers.dedup();
    managers
}

/// Removes the subtree at `path` from `tree`, pruning the parents it leaves empty.
fn cut(tree: &mut Value, path: &[&str]) -> Option<Value> {
    let (first, rest) = path.split_first()?;
    let map = tree.as_object_mut()?;
    let key = map.keys().find(|key| same_key(key, first))?.clone();
    if rest.is_empty() {
        return map.remove(&key);
    }
    let removed = cut(map.get_mut(&key)?, rest)?;
    if map
        .get(&key)
        .and_then(Value::as_object)
        .is_some_and(Map::is_empty)
    {
        map.remove(&key);
    }
    Some(removed)
}

/// Adds `subtree` to `tree` at `path` (a union of the two sets of fields).
fn graft(tree: &mut Value, path: &[&str], subtree: Value) {
    let mut node = tree;
    for key in path {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        node = node
            .as_object_mut()
            .expect("just made an object")
            .entry((*key).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    union(node, subtree);
}

fn union(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(into), Value::Object(from)) => {
            for (key, value) in from {
                match into.get_mut(&key) {
                    Some(existing) => union(existing, value),
                    None => {
                        into.insert(key, value);
                    }
                }
            }
        }
        (into, from) => *into = from,
    }
}

/// The `managedFields` after moving every field other managers own under `scope` into
/// Apiary's apply entry (created with `api_version` if missing), so that Apiary's next apply
/// removes what it does not render. `None` when nobody else owns anything there.
pub fn take_back(
    managed: &[ManagedFieldsEntry],
    scope: &[&str],
    api_version: &str,
) -> Option<Vec<ManagedFieldsEntry>> {
    let mut taken = Vec::new();
    let mut entries = Vec::new();
    for entry in managed {
        let mut entry = entry.clone();
        if is_foreign(&entry) {
            if let Some(FieldsV1(tree)) = &mut entry.fields_v1 {
                if let Some(subtree) = cut(tree, scope) {
                    taken.push(subtree);
                }
                if tree.as_object().is_some_and(Map::is_empty) {
                    continue;
                }
            }
        }
        entries.push(entry);
    }
    if taken.is_empty() {
        return None;
    }
    let index = match entries.iter().position(is_apiary_apply) {
        Some(index) => index,
        None => {
            entries.push(ManagedFieldsEntry {
                api_version: Some(api_version.to_owned()),
                fields_type: Some("FieldsV1".into()),
                fields_v1: Some(FieldsV1(Value::Object(Map::new()))),
                manager: Some(FIELD_MANAGER.into()),
                operation: Some("Apply".into()),
                ..ManagedFieldsEntry::default()
            });
            entries.len() - 1
        }
    };
    let ours = entries[index]
        .fields_v1
        .get_or_insert_with(|| FieldsV1(Value::Object(Map::new())));
    for subtree in taken {
        graft(&mut ours.0, scope, subtree);
    }
    Some(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(pod: Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "osv"},
            "spec": {"selector": {}, "template": {"spec": pod}}
        }))
        .expect("a deployment")
    }

    fn hardened() -> Value {
        json!({
            "serviceAccountName": "osv-sa",
            "automountServiceAccountToken": false,
            "securityContext": {"runAsNonRoot": true},
            "containers": [{"name": "mcp", "image": "img:1",
                "securityContext": {"allowPrivilegeEscalation": false,
                                    "capabilities": {"drop": ["ALL"]}}}],
            "volumes": [{"name": "tmp", "emptyDir": {}}]
        })
    }

    fn fields(drifts: &[Drift]) -> Vec<&str> {
        drifts.iter().map(|d| d.path.as_str()).collect()
    }

    #[test]
    fn an_equal_pod_and_apiserver_defaults_are_no_drift() {
        let mut live = hardened();
        // Defaults the apiserver adds to fields Apiary does not render.
        live["dnsPolicy"] = json!("ClusterFirst");
        live["containers"][0]["imagePullPolicy"] = json!("IfNotPresent");
        live["serviceAccount"] = json!("osv-sa");
        live["hostNetwork"] = json!(false);
        assert_eq!(
            super::deployment(&deployment(hardened()), &deployment(live)),
            vec![]
        );
    }

    #[test]
    fn each_security_field_of_the_pod_is_named() {
        let mut live = hardened();
        live["hostNetwork"] = json!(true);
        live["hostPID"] = json!(true);
        live["automountServiceAccountToken"] = json!(true);
        live["serviceAccountName"] = json!("admin");
        live["securityContext"]["runAsUser"] = json!(0);
        let mcp = &mut live["containers"][0];
        mcp["image"] = json!("evil:1");
        mcp["securityContext"]["privileged"] = json!(true);
        mcp["securityContext"]["allowPrivilegeEscalation"] = json!(true);
        mcp["securityContext"]["capabilities"]["add"] = json!(["NET_ADMIN"]);
        live["containers"]
            .as_array_mut()
            .expect("a list")
            .push(json!({"name": "sidecar", "image": "busybox"}));
        live["initContainers"] = json!([{"name": "init", "image": "busybox"}]);
        live["volumes"]
            .as_array_mut()
            .expect("a list")
            .push(json!({"name": "root", "hostPath": {"path": "/"}}));
        let drifts = super::deployment(&deployment(hardened()), &deployment(live));
        assert_eq!(
            fields(&drifts),
            [
                "spec.template.spec.hostNetwork",
                "spec.template.spec.hostPID",
                "spec.template.spec.serviceAccountName",
                "spec.template.spec.automountServiceAccountToken",
                "spec.template.spec.securityContext.runAsUser",
                "spec.template.spec.containers[sidecar]",
                "spec.template.spec.containers[mcp].image",
                "spec.template.spec.containers[mcp].securityContext.allowPrivilegeEscalation",
                "spec.template.spec.containers[mcp].securityContext.capabilities",
                "spec.template.spec.containers[mcp].securityContext.privileged",
                "spec.template.spec.initContainers[init]",
                "spec.template.spec.volumes[root]",
            ]
        );
        let labels: Vec<&str> = drifts.iter().map(|d| d.field.as_str()).collect();
        assert!(labels.contains(&"securityContext.privileged"), "{labels:?}");
        assert!(labels.contains(&"containers"), "{labels:?}");
    }

    #[test]
    fn an_overlay_setting_is_no_drift_when_live_matches_it() {
        // The rendered object already carries the user's podTemplateSpec overlay.
        let mut rendered = hardened();
        rendered["hostNetwork"] = json!(true);
        rendered["containers"][0]["securityContext"]["capabilities"]["add"] = json!(["NET_RAW"]);
        let live = rendered.clone();
        assert_eq!(
            super::deployment(&deployment(rendered), &deployment(live)),
            vec![]
        );
    }

    fn policy(spec: Value) -> NetworkPolicy {
        serde_json::from_value(json!({"metadata": {"name": "osv"}, "spec": spec})).expect("policy")
    }

    #[test]
    fn opened_egress_or_ingress_is_drift_and_an_empty_list_is_none() {
        let deny = json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"],
                          "ingress": [{"from": [{"podSelector": {}}]}]});
        let mut empty = deny.clone();
        empty["egress"] = json!([]);
        assert_eq!(
            network_policy(&policy(deny.clone()), &policy(empty)),
            vec![]
        );
        let mut open = deny.clone();
        open["egress"] = json!([{}]);
        open["ingress"] = json!([{}]);
        let drifts = network_policy(&policy(deny), &policy(open));
        assert_eq!(fields(&drifts), ["spec.ingress", "spec.egress"]);
    }

    fn entry(manager: &str, operation: &str, tree: Value) -> ManagedFieldsEntry {
        ManagedFieldsEntry {
            api_version: Some("apps/v1".into()),
            fields_type: Some("FieldsV1".into()),
            fields_v1: Some(FieldsV1(tree)),
            manager: Some(manager.into()),
            operation: Some(operation.into()),
            ..ManagedFieldsEntry::default()
        }
    }

    #[test]
    fn foreign_fields_in_scope_move_to_apiary_and_others_stay() {
        let managed = vec![
            entry(
                "apiary",
                "Apply",
                json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"mcp\"}": {".": {}, "f:image": {}}}}}}}),
            ),
            entry(
                "kubectl-patch",
                "Update",
                json!({"f:metadata": {"f:annotations": {"f:note": {}}},
                       "f:spec": {"f:template": {"f:spec": {"f:hostNetwork": {},
                           "f:containers": {"k:{\"name\":\"sidecar\"}": {".": {}, "f:image": {}}}}}}}),
            ),
            entry(
                "kubectl-edit",
                "Update",
                json!({"f:spec": {"f:template": {"f:spec": {"f:hostPID": {}}}}}),
            ),
            ManagedFieldsEntry {
                subresource: Some("scale".into()),
                ..entry("kubectl", "Update", json!({"f:spec": {"f:replicas": {}}}))
            },
        ];
        let hostnetwork = Drift::new(
            "hostNetwork",
            "spec.template.spec.hostNetwork",
            vec![
                "f:spec".into(),
                "f:template".into(),
                "f:spec".into(),
                "f:hostNetwork".into(),
            ],
        );
        assert_eq!(changed_by(&managed, &hostnetwork), ["kubectl-patch"]);
        let sidecar = Drift::new(
            "containers",
            "spec.template.spec.containers[sidecar]",
            ["f:spec", "f:template", "f:spec", "f:containers"]
                .map(str::to_owned)
                .into_iter()
                .chain([keyed("sidecar")])
                .collect(),
        );
        assert_eq!(changed_by(&managed, &sidecar), ["kubectl-patch"]);

        let entries = take_back(&managed, DEPLOYMENT_SCOPE, "apps/v1").expect("something taken");
        let managers: Vec<_> = entries.iter().filter_map(|e| e.manager.clone()).collect();
        assert_eq!(
            managers,
            ["apiary", "kubectl-patch", "kubectl"],
            "kubectl-edit owned only the pod spec; the scale subresource stays"
        );
        let ours = &entries[0].fields_v1.as_ref().expect("fields").0;
        let pod = &ours["f:spec"]["f:template"]["f:spec"];
        assert_eq!(pod["f:hostNetwork"], json!({}));
        assert_eq!(pod["f:hostPID"], json!({}));
        assert_eq!(
            pod["f:containers"]["k:{\"name\":\"sidecar\"}"]["f:image"],
            json!({})
        );
        assert_eq!(
            pod["f:containers"]["k:{\"name\":\"mcp\"}"]["f:image"],
            json!({})
        );
        assert_eq!(
            entries[1].fields_v1.as_ref().expect("fields").0,
            json!({"f:metadata": {"f:annotations": {"f:note": {}}}}),
            "kubectl-patch keeps what it owns outside the pod spec"
        );
        assert_eq!(take_back(&entries, DEPLOYMENT_SCOPE, "apps/v1"), None);
    }
}
