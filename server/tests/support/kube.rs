//! A real kube-apiserver for operator tests: the cluster of `end2end/envtest/up.sh`, named by
//! `APIARY_TEST_KUBECONFIG`. `.ci/test` starts it and sets `APIARY_REQUIRE_KUBE=1`, which turns
//! a missing cluster into a failure instead of a skip.

use std::fmt::Debug;
use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use apiary_server::operator::reconcile;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    ApiResource, DynamicObject, GroupVersionKind, ObjectMeta, Patch, PatchParams, PostParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config, ResourceExt};
use tokio_util::sync::CancellationToken;

/// How long a test waits for the operator to converge.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// How to get a cluster, printed when there is none.
const HOW: &str =
    "start one with `end2end/envtest/up.sh /tmp/apiary-kube && source /tmp/apiary-kube/env` \
     and export APIARY_TEST_KUBECONFIG";

/// The test cluster's client configuration, or `None` (the test is skipped) when none is
/// configured.
pub async fn config() -> Option<Config> {
    let Ok(path) = std::env::var("APIARY_TEST_KUBECONFIG") else {
        assert!(
            std::env::var("APIARY_REQUIRE_KUBE").is_err(),
            "APIARY_REQUIRE_KUBE is set but APIARY_TEST_KUBECONFIG is not: {HOW}"
        );
        eprintln!("skipped: no Kubernetes test cluster; {HOW}");
        return None;
    };
    Some(config_at(Path::new(&path)).await)
}

/// The client configuration of the kubeconfig file at `path`.
pub async fn config_at(path: &Path) -> Config {
    let kubeconfig = Kubeconfig::read_from(path).expect("read the kubeconfig");
    Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("a usable kubeconfig")
}

/// A control plane of this test's own (`end2end/envtest/up.sh` in a temporary folder), for
/// tests that stop its apiserver; stopped when dropped. `None` when there is no test cluster
/// (the shared one names the binaries to use).
pub struct PrivateCluster {
    state: tempfile::TempDir,
    /// Its admin client configuration.
    pub config: Config,
}

impl PrivateCluster {
    /// Starts it with the binaries of the shared test cluster.
    pub async fn start() -> Option<Self> {
        let shared = std::env::var("APIARY_TEST_KUBECONFIG").ok();
        if shared.is_none() {
            config().await?; // skips, or fails when the cluster is required
        }
        let shared_env = Path::new(&shared?).with_file_name("env");
        let bin_dir = std::fs::read_to_string(shared_env).ok().and_then(|env| {
            env.lines().find_map(|line| {
                line.strip_prefix("APIARY_ENVTEST_BIN_DIR=")
                    .map(str::to_owned)
            })
        });
        let state = tempfile::tempdir().expect("temp dir");
        let mut up = std::process::Command::new(envtest_script("up.sh"));
        up.arg(state.path()).stderr(std::process::Stdio::inherit());
        if let Some(bin_dir) = bin_dir {
            up.env("APIARY_ENVTEST_BIN_DIR", bin_dir);
        }
        let output = up.output().expect("run end2end/envtest/up.sh");
        assert!(output.status.success(), "a private control plane starts");
        let config = config_at(&state.path().join("kubeconfig")).await;
        Some(Self { state, config })
    }

    /// A client for it.
    pub fn client(&self) -> Client {
        Client::try_from(self.config.clone()).expect("a client")
    }

    /// Kills its apiserver (etcd and the data stay).
    pub async fn stop_apiserver(&self) {
        self.apiserver("stop").await;
    }

    /// Starts its apiserver again on the same port, and waits until it is ready.
    pub async fn start_apiserver(&self) {
        self.apiserver("start").await;
    }

    async fn apiserver(&self, action: &str) {
        let status = tokio::process::Command::new(envtest_script("apiserver.sh"))
            .arg(self.state.path())
            .arg(action)
            .status()
            .await
            .expect("run end2end/envtest/apiserver.sh");
        assert!(status.success(), "apiserver.sh {action}");
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = std::process::Command::new(envtest_script("down.sh"))
            .arg(self.state.path())
            .status();
    }
}

fn envtest_script(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../end2end/envtest")
        .join(name)
}

/// The method and path of each write request a [`recording_client`] sent.
pub type Writes = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// A client for `config` that records every request other than a read (`GET`) it sends, as
/// `METHOD path`: what a component under test wrote to the apiserver.
pub fn recording_client(config: Config) -> (Client, Writes) {
    let writes = Writes::default();
    let log = writes.clone();
    let record = move |request: axum::http::Request<kube::client::Body>| {
        if request.method() != axum::http::Method::GET {
            log.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(format!("{} {}", request.method(), request.uri().path()));
        }
        request
    };
    let client = kube::client::ClientBuilder::try_from(config)
        .expect("a client stack")
        .with_layer(&tower::util::MapRequestLayer::new(record))
        .build();
    (client, writes)
}

/// An admin client for the test cluster, or `None` (the test is skipped) when none is
/// configured.
pub async fn client() -> Option<Client> {
    Some(Client::try_from(config().await?).expect("a client"))
}

/// A client that acts as ServiceAccount `name` of `namespace` (through impersonation), to test
/// what the operator can do with only its documented RBAC.
pub async fn service_account_client(namespace: &str, name: &str) -> Client {
    Client::try_from(service_account_config(namespace, name).await)
        .expect("an impersonating client")
}

/// The configuration of [`service_account_client`], for code that builds its own clients.
pub async fn service_account_config(namespace: &str, name: &str) -> Config {
    let mut config = config().await.expect("a test cluster");
    config.auth_info.impersonate = Some(format!("system:serviceaccount:{namespace}:{name}"));
    config.auth_info.impersonate_groups = Some(vec![
        "system:serviceaccounts".into(),
        format!("system:serviceaccounts:{namespace}"),
        "system:authenticated".into(),
    ]);
    config
}

/// Applies the generated CRDs (idempotent) and waits until each is Established.
pub async fn install_crds(client: &Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for (_, crd) in apiary_server::resources::manifests::crds() {
        let name = crd.metadata.name.clone().expect("a CRD has a name");
        api.patch(
            &name,
            &PatchParams::apply("apiary-tests").force(),
            &Patch::Apply(&crd),
        )
        .await
        .expect("apply a CRD");
        wait_for(&api, &name, "the CRD to be Established", |crd| {
            crd.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| {
                    c.iter()
                        .any(|c| c.type_ == "Established" && c.status == "True")
                })
        })
        .await;
    }
}

/// A fresh namespace with the operator running in-process, scoped to it. Dropping it stops the
/// operator (the namespace stays: without a namespace controller it could never finish deleting).
pub struct OperatorNs {
    /// The client.
    pub client: Client,
    /// The namespace's name.
    pub name: String,
    stop: CancellationToken,
}

impl Drop for OperatorNs {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Creates a random namespace, installs the CRDs and starts the operator on it. `None` when
/// there is no cluster (see [`client`]).
pub async fn operator_ns() -> Option<OperatorNs> {
    let client = client().await?;
    let name = namespace(&client).await;
    Some(start_operator(client.clone(), client, &name))
}

/// Installs the CRDs and creates a fresh, randomly named namespace.
pub async fn namespace(client: &Client) -> String {
    install_crds(client).await;
    let name = format!(
        "apiary-op-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    );
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    ..ObjectMeta::default()
                },
                ..Namespace::default()
            },
        )
        .await
        .expect("create the test namespace");
    name
}

/// Starts the operator in-process on `namespace`, acting through `operator_client`; the test
/// acts through `client`. Its servers admit the gateway of the client's namespace (the
/// default of `APIARY_GATEWAY_NAMESPACE`).
pub fn start_operator(client: Client, operator_client: Client, namespace: &str) -> OperatorNs {
    let stop = CancellationToken::new();
    let gateway_namespace = apiary_server::operator::gateway_namespace(None, &operator_client);
    tokio::spawn(reconcile::run(
        operator_client,
        Some(namespace.to_owned()),
        gateway_namespace,
        stop.clone(),
    ));
    OperatorNs {
        client,
        name: namespace.to_owned(),
        stop,
    }
}

/// Polls `api` for `name` until `ready` holds, and returns the object; panics with the last
/// state seen after [`TIMEOUT`].
pub async fn wait_for<K>(api: &Api<K>, name: &str, what: &str, ready: impl Fn(&K) -> bool) -> K
where
    K: Clone + serde::de::DeserializeOwned + Debug,
{
    let started = Instant::now();
    loop {
        let last = match api.get_opt(name).await {
            Ok(Some(object)) if ready(&object) => return object,
            Ok(seen) => format!("{seen:#?}"),
            Err(error) => format!("error: {error}"),
        };
        assert!(
            started.elapsed() < TIMEOUT,
            "timed out after {TIMEOUT:?} waiting for {what} ({name}); last seen: {last}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Polls `check` until it returns `Some`, or panics naming `what` after [`TIMEOUT`].
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "timed out after {TIMEOUT:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A minimal streamable-http `MCPServer` named `name`, without a permission profile.
pub fn server_manifest(name: &str) -> String {
    format!(
        "apiVersion: toolhive.stacklok.dev/v1alpha1\n\
         kind: MCPServer\n\
         metadata:\n  name: {name}\n\
         spec:\n  image: ghcr.io/example/{name}:1.0\n  transport: streamable-http\n  \
         port: 8080\n  targetPort: 8080\n"
    )
}

/// The shared seed manifest (`/work/shared/seed/osv-mcpserver.yaml`, copied verbatim).
pub const SEED: &str = include_str!("../fixtures/osv-mcpserver.yaml");

/// Server-side applies a manifest verbatim (any version), as `kubectl apply --server-side` would,
/// with strict field validation: an unknown field fails instead of being dropped silently.
pub async fn apply_manifest(
    client: &Client,
    namespace: &str,
    yaml: &str,
) -> Result<(), kube::Error> {
    let mut object: DynamicObject = serde_yaml::from_str(yaml).expect("manifest parses");
    object.metadata.namespace = Some(namespace.to_owned());
    let types = object
        .types
        .clone()
        .expect("manifest has apiVersion and kind");
    let (group, version) = types
        .api_version
        .split_once('/')
        .unwrap_or(("", types.api_version.as_str()));
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, &types.kind));
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
    api.patch(
        &object.name_any(),
        &PatchParams::apply("kubectl-test")
            .force()
            .validation_strict(),
        &Patch::Apply(&object),
    )
    .await
    .map(|_| ())
}

/// The seed with its namespace rewritten (the fixture file itself stays byte-identical).
pub fn seed_in(namespace: &str) -> String {
    SEED.replace(
        "namespace: my-namespace",
        &format!("namespace: {namespace}"),
    )
}

/// The cells of `kubectl get mcpserver NAME` (the apiserver's Table), by column name.
pub async fn printed_columns(
    client: &Client,
    namespace: &str,
    name: &str,
) -> std::collections::BTreeMap<String, serde_json::Value> {
    let request = axum::http::Request::get(format!(
        "/apis/toolhive.stacklok.dev/v1beta1/namespaces/{namespace}/mcpservers/{name}"
    ))
    .header(
        "Accept",
        "application/json;as=Table;g=meta.k8s.io;v=v1,application/json",
    )
    .body(Vec::new())
    .expect("a request");
    let table: serde_json::Value = client.request(request).await.expect("the Table");
    let names = table["columnDefinitions"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default().to_owned());
    let cells = table["rows"][0]["cells"].as_array().expect("one row");
    names.zip(cells.iter().cloned()).collect()
}
