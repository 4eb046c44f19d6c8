//! The Helm chart `deploy/helm/apiary`, rendered by a real `helm template` (the binary named by
//! `APIARY_TEST_HELM`; `.ci/test` sets it and `APIARY_REQUIRE_HELM=1`, which turns a missing
//! `helm` into a failure instead of a skip), and applied to the test cluster.

use std::path::Path;

use kube::api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use serde::Deserialize;

/// The `helm` binary, or `None` (the test is skipped) when none is configured.
pub fn helm() -> Option<String> {
    let Ok(helm) = std::env::var("APIARY_TEST_HELM") else {
        assert!(
            std::env::var("APIARY_REQUIRE_HELM").is_err(),
            "APIARY_REQUIRE_HELM is set but APIARY_TEST_HELM is not: .ci/setup --test installs helm"
        );
        eprintln!("skipped: no helm; set APIARY_TEST_HELM (.ci/setup --test installs it)");
        return None;
    };
    Some(helm)
}

/// Every object `helm template` renders for release `release` in `namespace` with the chart's
/// required values plus `sets` (`key=value`, as `--set` takes them).
pub fn render(helm: &str, release: &str, namespace: &str, sets: &[&str]) -> Vec<DynamicObject> {
    let chart = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/helm/apiary");
    let mut command = std::process::Command::new(helm);
    command
        .args(["template", release])
        .arg(&chart)
        .args(["--namespace", namespace])
        .args(["--set", "oidc.issuer=https://idp.example.com"])
        .args(["--set", "publicUrl=https://apiary.example.com"])
        .args(["--set", "database.urlSecret.name=apiary-database"]);
    for set in sets {
        command.args(["--set", set]);
    }
    let output = command.output().expect("run helm template");
    assert!(
        output.status.success(),
        "helm template failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("helm prints UTF-8");
    serde_yaml::Deserializer::from_str(&text)
        .filter_map(|document| {
            let value = serde_yaml::Value::deserialize(document).expect("rendered YAML parses");
            (!value.is_null()).then(|| serde_yaml::from_value(value).expect("a Kubernetes object"))
        })
        .collect()
}

/// The rendered objects of `kind`.
pub fn of_kind<'a>(objects: &'a [DynamicObject], kind: &str) -> Vec<&'a DynamicObject> {
    objects
        .iter()
        .filter(|o| o.types.as_ref().is_some_and(|t| t.kind == kind))
        .collect()
}

/// Server-side applies every rendered object as the admin, as `helm install` would (with
/// strict field validation, so a misspelt field fails), and returns the ServiceAccount's name.
/// Without a kubelet or controller-manager the Deployment never runs: what counts is that the
/// apiserver accepts each object and that the RBAC objects take effect.
pub async fn apply(admin: &Client, objects: &[DynamicObject]) -> String {
    let mut service_account = None;
    for object in objects {
        let types = object.types.as_ref().expect("rendered objects have types");
        if types.kind == "ServiceAccount" {
            service_account = Some(object.name_any());
        }
        let (group, version) = types
            .api_version
            .split_once('/')
            .unwrap_or(("", types.api_version.as_str()));
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, &types.kind));
        let api: Api<DynamicObject> = match object.namespace() {
            Some(namespace) => Api::namespaced_with(admin.clone(), &namespace, &resource),
            None => Api::all_with(admin.clone(), &resource),
        };
        api.patch(
            &object.name_any(),
            &PatchParams::apply("helm-test").force().validation_strict(),
            &Patch::Apply(object),
        )
        .await
        .unwrap_or_else(|e| panic!("apply {} {}: {e}", types.kind, object.name_any()));
    }
    service_account.expect("the chart renders a ServiceAccount")
}
