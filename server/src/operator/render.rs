//! Validate and build: pure functions from an `MCPServer` (plus what was read for it) to its
//! child objects. Nothing here talks to the cluster, so every rule is unit-tested on fixtures.
//!
//! Decisions worth knowing:
//! - Ports: `proxyPort` > `port` > 8080 for the Service; `mcpPort` > `targetPort` > 8080 for the
//!   container.
//! - `stdio` servers get `stdin: true`, replicas capped at 1 (unset means 1), no container port,
//!   and still a Service on the proxy port, so the URL and NetworkPolicy have the same shape for
//!   every transport; Apiary's gateway reaches stdio servers through the attach API.
//! - `replicas` unset: the Deployment is applied without `replicas`, so manual or HPA scaling
//!   survives (server-side apply leaves fields it does not own alone).
//! - The `podTemplateSpec` overlay is merged last (see [`super::merge`]) and may override the
//!   hardening; the selector labels are put back after it.
//! - `resourceOverrides` metadata goes on the Deployment, pod template and Service (see
//!   [`crate::resources::overrides`]); the MCPServer's `restarted-at` annotation is copied into the pod
//!   template, so a new value rolls the pods.
//! - `sessionAffinity` (default `ClientIP`, as in ToolHive) is set on the Service; with
//!   `ClientIP` the timeout is applied too (the Kubernetes default, 3 hours), so that switching
//!   to `None` removes it (the apiserver refuses a timeout without `ClientIP`).
//! - The NetworkPolicy admits only pods labelled [`GATEWAY_LABEL`] in the gateway's namespace.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, ClientIPConfig, Container, ContainerPort, EmptyDirVolumeSource, EnvVar,
    EnvVarSource, PodSecurityContext, PodSpec, PodTemplateSpec, ResourceRequirements,
    SeccompProfile, SecretKeySelector, SecurityContext, Service, ServiceAccount, ServicePort,
    ServiceSpec, SessionAffinityConfig, Volume, VolumeMount,
};
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use crate::resources::crd::{
    MCPServer, ProfileKind, ProxyMode, Resources, SessionAffinity, Transport,
};
use crate::resources::overrides::{self, Overrides, Target, RESTARTED_AT};
use crate::resources::InvalidSpec;
use crate::validation::{is_dns_label, is_dns_subdomain};

use super::merge;
use super::profile::{self, Egress};

/// The port used when the spec names none.
pub const DEFAULT_PORT: i32 = 8080;
/// The name of the MCP container in the pod.
pub const CONTAINER: &str = "mcp";
/// The label that marks Apiary's gateway pods, the only ones allowed in.
pub const GATEWAY_LABEL: (&str, &str) = ("app.kubernetes.io/component", "apiary-gateway");
/// The field manager of every server-side apply.
pub const FIELD_MANAGER: &str = "apiary";
/// The label every namespace carries with its own name (set by the apiserver).
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// The `ClientIP` session affinity timeout: the Kubernetes default, 3 hours.
const CLIENT_IP_TIMEOUT_SECONDS: i32 = 10_800;

/// What validation decided about a server: every derived value the build step needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The transport (default stdio).
    pub transport: Transport,
    /// The Service port.
    pub proxy_port: i32,
    /// The container port.
    pub mcp_port: i32,
    /// Deployment replicas to apply; `None` leaves them to whoever scales.
    pub replicas: Option<i32>,
    /// The ServiceAccount the pod runs as.
    pub service_account: String,
    /// Whether Apiary creates that ServiceAccount.
    pub create_service_account: bool,
    /// The egress the profile allows.
    pub egress: Egress,
    /// The Service's session affinity.
    pub session_affinity: SessionAffinity,
    /// Extra metadata from `resourceOverrides`.
    pub overrides: Overrides,
    /// The MCPServer's `restarted-at` annotation, when set, for the pod template.
    pub restarted_at: Option<String>,
}

impl Plan {
    /// Why the network policy is weaker than the profile, if it is.
    pub fn policy_gap(&self) -> Option<String> {
        match &self.egress {
            Egress::Rules { hosts, .. } if !hosts.is_empty() => Some(format!(
                "a NetworkPolicy cannot restrict egress to host names ({}); egress to any address is allowed on the profile's ports",
                hosts.join(", ")
            )),
            _ => None,
        }
    }
}

/// The objects an `MCPServer` owns.
#[derive(Clone, Debug)]
pub struct Children {
    /// The workload.
    pub deployment: Deployment,
    /// `mcp-<name>`.
    pub service: Service,
    /// `<name>-sa`, unless the spec names an existing account.
    pub service_account: Option<ServiceAccount>,
    /// The ingress and egress rules.
    pub network_policy: NetworkPolicy,
}

/// Checks the spec and derives the plan. `configmap_profile` is the profile JSON read from the
/// ConfigMap named by a `configmap` permission profile (ignored for builtin profiles).
pub fn validate(server: &MCPServer, configmap_profile: Option<&str>) -> Result<Plan, InvalidSpec> {
    let spec = &server.spec;
    let name = server.name_any();
    if !is_dns_label(&name) || name.len() > 59 {
        return Err(InvalidSpec::new(
            "metadata.name",
            "must be a DNS label of at most 59 characters (lower-case letters, digits, '-'), since the Service is mcp-<name>",
        ));
    }
    check_image(&spec.image).map_err(|reason| InvalidSpec::new("spec.image", reason))?;
    let proxy_port = port(spec.proxy_port, "spec.proxyPort", spec.port, "spec.port")?;
    let mcp_port = port(
        spec.mcp_port,
        "spec.mcpPort",
        spec.target_port,
        "spec.targetPort",
    )?;
    let transport = spec.transport.unwrap_or_default();
    if spec.replicas.is_some_and(|replicas| replicas < 0) {
        return Err(InvalidSpec::new("spec.replicas", "must be 0 or more"));
    }
    let replicas = match transport {
        Transport::Stdio => Some(spec.replicas.unwrap_or(1).min(1)),
        _ => spec.replicas,
    };
    for (i, var) in spec.env.iter().enumerate() {
        check_env_name(&var.name)
            .map_err(|r| InvalidSpec::new(format!("spec.env[{i}].name"), r))?;
    }
    for (i, secret) in spec.secrets.iter().enumerate() {
        if !is_dns_subdomain(&secret.name) {
            return Err(InvalidSpec::new(
                format!("spec.secrets[{i}].name"),
                "must name a Secret (a DNS subdomain)",
            ));
        }
        if secret.key.is_empty() {
            return Err(InvalidSpec::new(
                format!("spec.secrets[{i}].key"),
                "must not be empty",
            ));
        }
        let target = secret.target_env_name.as_deref().unwrap_or(&secret.key);
        check_env_name(target)
            .map_err(|r| InvalidSpec::new(format!("spec.secrets[{i}].targetEnvName"), r))?;
    }
    if let Some(resources) = &spec.resources {
        check_resources(resources)?;
    }
    let (service_account, create_service_account) = match &spec.service_account {
        Some(account) if !is_dns_subdomain(account) => {
            return Err(InvalidSpec::new(
                "spec.serviceAccount",
                "must name a ServiceAccount (a DNS subdomain)",
            ))
        }
        Some(account) => (account.clone(), false),
        None => (format!("{name}-sa"), true),
    };
    let egress = match &spec.permission_profile {
        None => Egress::Deny,
        Some(profile) => match profile.kind {
            ProfileKind::Builtin => profile::builtin(&profile.name).ok_or_else(|| {
                InvalidSpec::new(
                    "spec.permissionProfile.name",
                    format!(
                        "unknown builtin profile {:?}; use \"none\" or \"network\"",
                        profile.name
                    ),
                )
            })?,
            ProfileKind::Configmap => {
                let text = configmap_profile.ok_or_else(|| {
                    InvalidSpec::new(
                        "spec.permissionProfile",
                        "the ConfigMap profile was not read",
                    )
                })?;
                profile::from_json(text).map_err(|reason| {
                    InvalidSpec::new(
                        "spec.permissionProfile",
                        format!(
                            "ConfigMap {} key {}: {reason}",
                            profile.name,
                            profile_key(profile.key.as_deref())
                        ),
                    )
                })?
            }
        },
    };
    if spec
        .pod_template_spec
        .as_ref()
        .is_some_and(|o| !o.is_object())
    {
        let reason = "must be an object";
        return Err(InvalidSpec::new("spec.podTemplateSpec", reason));
    }
    let overrides = overrides::parse(spec.resource_overrides.as_ref(), &labels(&name))?;
    let restarted_at = server
        .annotations()
        .get(RESTARTED_AT)
        .filter(|value| !value.is_empty())
        .cloned();
    Ok(Plan {
        transport,
        proxy_port,
        mcp_port,
        replicas,
        service_account,
        create_service_account,
        egress,
        session_affinity: spec.session_affinity.unwrap_or_default(),
        overrides,
        restarted_at,
    })
}

/// The ConfigMap key of a configmap profile (default `profile.json`).
pub fn profile_key(key: Option<&str>) -> &str {
    key.unwrap_or("profile.json")
}

fn port(
    current: Option<i32>,
    current_field: &str,
    legacy: Option<i32>,
    legacy_field: &str,
) -> Result<i32, InvalidSpec> {
    let (value, field) = match (current, legacy) {
        (Some(v), _) => (v, current_field),
        (None, Some(v)) => (v, legacy_field),
        (None, None) => return Ok(DEFAULT_PORT),
    };
    if (1..=65535).contains(&value) {
        Ok(value)
    } else {
        Err(InvalidSpec::new(
            field,
            format!("{value} is not a port number (1..65535)"),
        ))
    }
}

/// Checks an image reference: `[registry[:port]/]path[:tag][@algo:hex]`, lower-case path.
pub fn check_image(image: &str) -> Result<(), String> {
    if image.is_empty() {
        return Err("must not be empty".into());
    }
    if image.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{image:?} is not an image reference (whitespace)"));
    }
    let (rest, digest) = match image.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (image, None),
    };
    if let Some(digest) = digest {
        let ok = digest.split_once(':').is_some_and(|(algo, hex)| {
            !algo.is_empty()
                && algo
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+._-".contains(c))
                && hex.len() >= 32
                && hex.chars().all(|c| c.is_ascii_hexdigit())
        });
        if !ok {
            return Err(format!("{image:?} has an invalid digest"));
        }
    }
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(tag) = tag {
        let ok = !tag.is_empty()
            && tag.len() <= 128
            && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !ok {
            return Err(format!("{image:?} has an invalid tag"));
        }
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    if parts.len() > 1 {
        let first = parts[0];
        if first.contains('.') || first.contains(':') || first == "localhost" {
            let (host, port) = first.split_once(':').unwrap_or((first, ""));
            let host_ok = !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
            let port_ok = port.chars().all(|c| c.is_ascii_digit());
            if !host_ok || !port_ok {
                return Err(format!("{image:?} has an invalid registry host"));
            }
            parts.remove(0);
        }
    }
    for part in parts {
        if !is_path_component(part) {
            return Err(format!(
                "{image:?} is not an image reference: path component {part:?} must be lower-case letters and digits separated by '.', '_', '__' or '-'"
            ));
        }
    }
    Ok(())
}

fn is_path_component(part: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !part.starts_with(alnum) || !part.ends_with(alnum) {
        return false;
    }
    let mut separator = String::new();
    for c in part.chars() {
        if alnum(c) {
            let ok = separator.is_empty()
                || separator == "."
                || separator == "_"
                || separator == "__"
                || separator.chars().all(|s| s == '-');
            if !ok {
                return false;
            }
            separator.clear();
        } else if "._-".contains(c) {
            separator.push(c);
        } else {
            return false;
        }
    }
    true
}

fn check_env_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.contains('=') || name.chars().any(|c| !c.is_ascii_graphic()) {
        Err(format!(
            "{name:?} is not an environment variable name (printable, no '=')"
        ))
    } else {
        Ok(())
    }
}

fn check_resources(resources: &Resources) -> Result<(), InvalidSpec> {
    for (which, list) in [
        ("limits", &resources.limits),
        ("requests", &resources.requests),
    ] {
        let Some(list) = list else { continue };
        for (what, value) in [("cpu", &list.cpu), ("memory", &list.memory)] {
            if let Some(value) = value.as_deref().filter(|v| !is_quantity(v)) {
                return Err(InvalidSpec::new(
                    format!("spec.resources.{which}.{what}"),
                    format!("{value:?} is not a quantity such as 100m or 128Mi"),
                ));
            }
        }
    }
    Ok(())
}

/// The suffixes of a Kubernetes quantity: none, decimal SI, and binary SI.
const QUANTITY_SUFFIXES: [&str; 16] = [
    "", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei",
];

/// A Kubernetes quantity: a decimal number with an optional SI, binary or exponent suffix.
fn is_quantity(text: &str) -> bool {
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    let digits_end = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let (number, suffix) = body.split_at(digits_end);
    let number_ok = !number.is_empty()
        && number != "."
        && number.matches('.').count() <= 1
        && number.chars().any(|c| c.is_ascii_digit());
    let suffix_ok = QUANTITY_SUFFIXES.contains(&suffix)
        || suffix
            .strip_prefix(['e', 'E'])
            .map(|exp| exp.strip_prefix(['+', '-']).unwrap_or(exp))
            .is_some_and(|exp| !exp.is_empty() && exp.chars().all(|c| c.is_ascii_digit()));
    number_ok && suffix_ok
}

/// The labels on every child and on the pods.
pub fn labels(name: &str) -> BTreeMap<String, String> {
    let mut labels = selector_labels(name);
    labels.insert("app.kubernetes.io/managed-by".into(), "apiary".into());
    labels
}

/// The labels that select a server's pods.
pub fn selector_labels(name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), "mcpserver".to_owned()),
        ("app.kubernetes.io/instance".to_owned(), name.to_owned()),
    ])
}

/// The Service's name for server `name`.
pub fn service_name(name: &str) -> String {
    format!("mcp-{name}")
}

/// The in-cluster URL clients use (the path depends on the transport).
pub fn url(server: &MCPServer, plan: &Plan) -> String {
    service_url(server, plan.transport, plan.proxy_port)
}

/// Where clients reach `server` inside the cluster: its transport and its Service URL. Reads
/// only the fields the URL depends on, so it needs no permission profile.
pub fn endpoint(server: &MCPServer) -> Result<(Transport, String), InvalidSpec> {
    let spec = &server.spec;
    let proxy_port = port(spec.proxy_port, "spec.proxyPort", spec.port, "spec.port")?;
    let transport = spec.transport.unwrap_or_default();
    Ok((transport, service_url(server, transport, proxy_port)))
}

fn service_url(server: &MCPServer, transport: Transport, proxy_port: i32) -> String {
    let path = match (transport, server.spec.proxy_mode.unwrap_or_default()) {
        (Transport::StreamableHttp, _) | (Transport::Stdio, ProxyMode::StreamableHttp) => "/mcp",
        (Transport::Sse, _) | (Transport::Stdio, ProxyMode::Sse) => "/sse",
    };
    format!(
        "http://{}.{}.svc.cluster.local:{}{path}",
        service_name(&server.name_any()),
        server.namespace().unwrap_or_default(),
        proxy_port
    )
}

/// Builds the children of `server` from its validated `plan`; `owner` is the controller
/// owner reference every child carries, and `gateway_namespace` the namespace whose gateway
/// pods the NetworkPolicy admits.
pub fn build(
    server: &MCPServer,
    plan: &Plan,
    owner: OwnerReference,
    gateway_namespace: &str,
) -> Result<Children, InvalidSpec> {
    let name = server.name_any();
    let meta = |object_name: String| ObjectMeta {
        name: Some(object_name),
        namespace: server.namespace(),
        labels: Some(labels(&name)),
        owner_references: Some(vec![owner.clone()]),
        ..ObjectMeta::default()
    };
    let deployment = Deployment {
        metadata: with_overrides(meta(name.clone()), plan, Target::Deployment),
        spec: Some(DeploymentSpec {
            replicas: plan.replicas,
            selector: LabelSelector {
                match_labels: Some(selector_labels(&name)),
                ..LabelSelector::default()
            },
            template: pod_template(server, plan)?,
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    };
    let client_ip = plan.session_affinity == SessionAffinity::ClientIp;
    let service = Service {
        metadata: with_overrides(meta(service_name(&name)), plan, Target::Service),
        spec: Some(ServiceSpec {
            selector: Some(selector_labels(&name)),
            session_affinity: Some(plan.session_affinity.as_str().into()),
            session_affinity_config: client_ip.then_some(SessionAffinityConfig {
                client_ip: Some(ClientIPConfig {
                    timeout_seconds: Some(CLIENT_IP_TIMEOUT_SECONDS),
                }),
            }),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: plan.proxy_port,
                target_port: Some(IntOrString::Int(plan.mcp_port)),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    };
    let service_account = plan.create_service_account.then(|| ServiceAccount {
        metadata: meta(plan.service_account.clone()),
        automount_service_account_token: Some(false),
        ..ServiceAccount::default()
    });
    Ok(Children {
        deployment,
        service,
        service_account,
        network_policy: network_policy(meta(name.clone()), &name, plan, gateway_namespace),
    })
}

/// `metadata` with the `resourceOverrides` labels and annotations for `target`.
fn with_overrides(mut metadata: ObjectMeta, plan: &Plan, target: Target) -> ObjectMeta {
    let extra = plan.overrides.get(target);
    metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .extend(extra.labels.clone());
    let mut annotations = extra.annotations.clone();
    if target == Target::Pod {
        if let Some(value) = &plan.restarted_at {
            annotations.insert(RESTARTED_AT.to_owned(), value.clone());
        }
    }
    metadata.annotations = (!annotations.is_empty()).then_some(annotations);
    metadata
}

fn pod_template(server: &MCPServer, plan: &Plan) -> Result<PodTemplateSpec, InvalidSpec> {
    let spec = &server.spec;
    let name = server.name_any();
    let stdio = plan.transport == Transport::Stdio;
    let mut env: Vec<EnvVar> = spec
        .env
        .iter()
        .map(|var| EnvVar {
            name: var.name.clone(),
            value: Some(var.value.clone()),
            ..EnvVar::default()
        })
        .collect();
    env.extend(spec.secrets.iter().map(|secret| {
        EnvVar {
            name: secret
                .target_env_name
                .clone()
                .unwrap_or_else(|| secret.key.clone()),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: secret.name.clone(),
                    key: secret.key.clone(),
                    optional: None,
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        }
    }));
    let container = Container {
        name: CONTAINER.into(),
        image: Some(spec.image.clone()),
        args: (!spec.args.is_empty()).then(|| spec.args.clone()),
        env: (!env.is_empty()).then_some(env),
        ports: (!stdio).then(|| {
            vec![ContainerPort {
                name: Some("http".into()),
                container_port: plan.mcp_port,
                protocol: Some("TCP".into()),
                ..ContainerPort::default()
            }]
        }),
        stdin: stdio.then_some(true),
        resources: spec.resources.as_ref().map(resource_requirements),
        security_context: Some(SecurityContext {
            run_as_non_root: Some(true),
            read_only_root_filesystem: Some(true),
            allow_privilege_escalation: Some(false),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                ..Capabilities::default()
            }),
            seccomp_profile: Some(runtime_default()),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(vec![VolumeMount {
            name: "tmp".into(),
            mount_path: "/tmp".into(),
            ..VolumeMount::default()
        }]),
        ..Container::default()
    };
    let template = PodTemplateSpec {
        metadata: Some(with_overrides(
            ObjectMeta {
                labels: Some(labels(&name)),
                ..ObjectMeta::default()
            },
            plan,
            Target::Pod,
        )),
        spec: Some(PodSpec {
            containers: vec![container],
            service_account_name: Some(plan.service_account.clone()),
            automount_service_account_token: Some(false),
            security_context: Some(PodSecurityContext {
                run_as_non_root: Some(true),
                seccomp_profile: Some(runtime_default()),
                ..PodSecurityContext::default()
            }),
            volumes: Some(vec![Volume {
                name: "tmp".into(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Volume::default()
            }]),
            ..PodSpec::default()
        }),
    };
    let Some(overlay) = &spec.pod_template_spec else {
        return Ok(template);
    };
    let mut value = serde_json::to_value(&template)
        .map_err(|e| InvalidSpec::new("spec.podTemplateSpec", e.to_string()))?;
    merge::overlay(&mut value, overlay);
    let mut merged: PodTemplateSpec = serde_json::from_value(value).map_err(|e| {
        InvalidSpec::new(
            "spec.podTemplateSpec",
            format!("the merged pod template is not valid: {e}"),
        )
    })?;
    let metadata = merged.metadata.get_or_insert_with(ObjectMeta::default);
    metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .extend(selector_labels(&name));
    Ok(merged)
}

fn runtime_default() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".into(),
        ..SeccompProfile::default()
    }
}

fn resource_requirements(resources: &Resources) -> ResourceRequirements {
    let list = |list: &Option<crate::resources::crd::ResourceList>| {
        list.as_ref().map(|list| {
            [("cpu", &list.cpu), ("memory", &list.memory)]
                .into_iter()
                .filter_map(|(k, v)| Some((k.to_owned(), Quantity(v.clone()?))))
                .collect::<BTreeMap<_, _>>()
        })
    };
    ResourceRequirements {
        limits: list(&resources.limits),
        requests: list(&resources.requests),
        ..ResourceRequirements::default()
    }
}

fn network_policy(
    metadata: ObjectMeta,
    name: &str,
    plan: &Plan,
    gateway_namespace: &str,
) -> NetworkPolicy {
    let tcp = |port: i32| NetworkPolicyPort {
        port: Some(IntOrString::Int(port)),
        protocol: Some("TCP".into()),
        ..NetworkPolicyPort::default()
    };
    let gateway = NetworkPolicyPeer {
        pod_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([(
                GATEWAY_LABEL.0.to_owned(),
                GATEWAY_LABEL.1.to_owned(),
            )])),
            ..LabelSelector::default()
        }),
        // Only the gateway's namespace: the label alone could be put on a pod anywhere.
        namespace_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([(
                NAMESPACE_NAME_LABEL.to_owned(),
                gateway_namespace.to_owned(),
            )])),
            ..LabelSelector::default()
        }),
        ..NetworkPolicyPeer::default()
    };
    let egress = match &plan.egress {
        Egress::Deny => vec![],
        Egress::All => vec![NetworkPolicyEgressRule::default()],
        Egress::Rules {
            ports,
            cidrs,
            hosts,
        } => {
            // Host names need DNS; the destinations are only restricted when every entry is
            // an address (see `Plan::policy_gap`).
            let dns = NetworkPolicyEgressRule {
                ports: Some(
                    ["UDP", "TCP"]
                        .map(|protocol| NetworkPolicyPort {
                            port: Some(IntOrString::Int(53)),
                            protocol: Some(protocol.into()),
                            ..NetworkPolicyPort::default()
                        })
                        .to_vec(),
                ),
                ..NetworkPolicyEgressRule::default()
            };
            let to = (hosts.is_empty() && !cidrs.is_empty()).then(|| {
                cidrs
                    .iter()
                    .map(|cidr| NetworkPolicyPeer {
                        ip_block: Some(IPBlock {
                            cidr: cidr.clone(),
                            except: None,
                        }),
                        ..NetworkPolicyPeer::default()
                    })
                    .collect()
            });
            let rule = NetworkPolicyEgressRule {
                to,
                ports: (!ports.is_empty()).then(|| ports.iter().copied().map(tcp).collect()),
            };
            vec![dns, rule]
        }
    };
    NetworkPolicy {
        metadata,
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(selector_labels(name)),
                ..LabelSelector::default()
            }),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![gateway]),
                ports: Some(vec![tcp(plan.mcp_port)]),
            }]),
            // Deny-all is no rules at all. An empty list is not sent: the apiserver stores it
            // as absent, so every apply would look like a change and bump the generation,
            // and the operator would reconcile its own write forever.
            egress: (!egress.is_empty()).then_some(egress),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn server(yaml: &str) -> MCPServer {
        let mut server: MCPServer = serde_yaml::from_str(yaml).expect("fixture parses");
        server.metadata.namespace = Some("ns1".into());
        server.metadata.uid = Some("uid-1".into());
        server
    }

    fn seed() -> MCPServer {
        server(include_str!("../../tests/fixtures/osv-mcpserver.yaml"))
    }

    fn owner() -> OwnerReference {
        OwnerReference {
            api_version: "toolhive.stacklok.dev/v1beta1".into(),
            kind: "MCPServer".into(),
            name: "osv".into(),
            uid: "uid-1".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }

    fn render(server: &MCPServer) -> (Plan, serde_json::Value) {
        let plan = validate(server, None).expect("valid");
        let children = build(server, &plan, owner(), "apiary-gw").expect("builds");
        let value = json!({
            "deployment": children.deployment,
            "service": children.service,
            "serviceAccount": children.service_account,
            "networkPolicy": children.network_policy,
        });
        (plan, value)
    }

    #[test]
    fn the_seed_renders_a_hardened_deployment_and_its_peers() {
        let server = seed();
        let (plan, out) = render(&server);
        assert_eq!(plan.proxy_port, 8080);
        assert_eq!(plan.replicas, None);
        let deployment = &out["deployment"];
        assert_eq!(deployment["metadata"]["name"], "osv");
        assert_eq!(deployment["metadata"]["ownerReferences"][0]["uid"], "uid-1");
        assert!(deployment["spec"].get("replicas").is_none());
        let container = &deployment["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["name"], "mcp");
        assert_eq!(container["image"], "ghcr.io/stackloklabs/osv-mcp/server");
        assert_eq!(container["securityContext"]["runAsNonRoot"], true);
        assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
        assert_eq!(
            container["securityContext"]["allowPrivilegeEscalation"],
            false
        );
        assert_eq!(
            container["securityContext"]["capabilities"]["drop"],
            json!(["ALL"])
        );
        assert_eq!(
            container["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        assert_eq!(
            container["resources"]["limits"],
            json!({"cpu": "100m", "memory": "128Mi"})
        );
        assert_eq!(container["ports"][0]["containerPort"], 8080);
        assert!(container.get("stdin").is_none());
        assert_eq!(
            deployment["spec"]["template"]["spec"]["serviceAccountName"],
            "osv-sa"
        );
        assert_eq!(out["service"]["metadata"]["name"], "mcp-osv");
        assert_eq!(out["service"]["spec"]["ports"][0]["port"], 8080);
        assert_eq!(out["service"]["spec"]["ports"][0]["targetPort"], 8080);
        assert_eq!(out["serviceAccount"]["automountServiceAccountToken"], false);
        let policy = &out["networkPolicy"]["spec"];
        assert_eq!(policy["egress"], json!([{}]));
        assert_eq!(
            policy["ingress"][0]["from"],
            json!([{
                "podSelector": {"matchLabels": {"app.kubernetes.io/component": "apiary-gateway"}},
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "apiary-gw"}},
            }]),
            "only the gateway's pods, in the gateway's namespace"
        );
        assert_eq!(out["service"]["spec"]["sessionAffinity"], "ClientIP");
        assert_eq!(
            out["service"]["spec"]["sessionAffinityConfig"],
            json!({"clientIP": {"timeoutSeconds": 10800}})
        );
        assert!(deployment["metadata"].get("annotations").is_none());
        assert!(deployment["spec"]["template"]["metadata"]
            .get("annotations")
            .is_none());
        assert_eq!(
            url(&server, &plan),
            "http://mcp-osv.ns1.svc.cluster.local:8080/mcp"
        );
    }

    #[test]
    fn current_port_names_win_and_stdio_is_capped() {
        let server = server(
            "apiVersion: toolhive.stacklok.dev/v1beta1\nkind: MCPServer\nmetadata: {name: gh}\n\
             spec: {image: 'ghcr.io/github/github-mcp-server:v1.2', transport: stdio, replicas: 3,\n\
             port: 1, targetPort: 2, proxyPort: 9000, mcpPort: 9001,\n\
             secrets: [{name: gh-token, key: token, targetEnvName: GITHUB_TOKEN}],\n\
             env: [{name: A, value: b}], serviceAccount: existing,\n\
             permissionProfile: {type: builtin, name: none},\n\
             podTemplateSpec: {spec: {containers: [{name: mcp, resources: {limits: {cpu: '1'}}}], nodeSelector: {a: b}}}}",
        );
        let (plan, out) = render(&server);
        assert_eq!((plan.proxy_port, plan.mcp_port), (9000, 9001));
        assert_eq!(plan.replicas, Some(1));
        assert!(out["serviceAccount"].is_null());
        let pod = &out["deployment"]["spec"]["template"]["spec"];
        assert_eq!(pod["serviceAccountName"], "existing");
        assert_eq!(pod["nodeSelector"], json!({"a": "b"}));
        let container = &pod["containers"][0];
        assert_eq!(container["stdin"], true);
        assert_eq!(container["resources"]["limits"]["cpu"], "1");
        assert_eq!(container["securityContext"]["runAsNonRoot"], true);
        assert_eq!(
            container["env"][1],
            json!({"name": "GITHUB_TOKEN", "valueFrom": {"secretKeyRef": {"name": "gh-token", "key": "token"}}})
        );
        assert_eq!(out["deployment"]["spec"]["replicas"], 1);
        // No profile denies all egress: policy type Egress with no rule (and no empty list,
        // which the apiserver would store as absent).
        assert_eq!(
            out["networkPolicy"]["spec"]["policyTypes"],
            json!(["Ingress", "Egress"])
        );
        assert!(out["networkPolicy"]["spec"].get("egress").is_none());
        assert_eq!(
            url(&server, &plan),
            "http://mcp-gh.ns1.svc.cluster.local:9000/mcp"
        );
    }

    #[test]
    fn overrides_restarts_and_session_affinity_reach_the_children() {
        let server = server(
            "apiVersion: toolhive.stacklok.dev/v1beta1\nkind: MCPServer\n\
             metadata: {name: o, annotations: {mcpserver.toolhive.stacklok.dev/restarted-at: '2026-12-01T00:00:00Z'}}\n\
             spec: {image: x, sessionAffinity: None, resourceOverrides: {\n\
             proxyDeployment: {labels: {team: a}, annotations: {d: '1'},\n\
             podTemplateMetadataOverrides: {labels: {tier: mcp}, annotations: {p: '2'}}},\n\
             proxyService: {labels: {svc: b}, annotations: {s: '3'}}},\n\
             podTemplateSpec: {metadata: {annotations: {q: '4'}}}}",
        );
        let (_, out) = render(&server);
        let deployment = &out["deployment"]["metadata"];
        assert_eq!(deployment["labels"]["team"], "a");
        assert_eq!(
            deployment["labels"]["app.kubernetes.io/managed-by"],
            "apiary"
        );
        assert_eq!(deployment["annotations"], json!({"d": "1"}));
        let pod = &out["deployment"]["spec"]["template"]["metadata"];
        assert_eq!(pod["labels"]["tier"], "mcp");
        assert_eq!(pod["labels"]["app.kubernetes.io/instance"], "o");
        assert_eq!(
            pod["annotations"],
            json!({"p": "2", "q": "4", "mcpserver.toolhive.stacklok.dev/restarted-at": "2026-12-01T00:00:00Z"})
        );
        let service = &out["service"];
        assert_eq!(service["metadata"]["labels"]["svc"], "b");
        assert!(service["metadata"]["labels"].get("team").is_none());
        assert_eq!(service["metadata"]["annotations"], json!({"s": "3"}));
        assert_eq!(service["spec"]["sessionAffinity"], "None");
        assert!(service["spec"].get("sessionAffinityConfig").is_none());
    }

    #[test]
    fn invalid_specs_name_the_field() {
        let cases = [
            ("image: 'Bad Image'", "spec.image"),
            ("image: 'ghcr.io/Org/Img'", "spec.image"),
            ("image: 'x:bad:tag'", "spec.image"),
            ("{image: x, port: 70000}", "spec.port"),
            ("{image: x, mcpPort: 0}", "spec.mcpPort"),
            (
                "{image: x, permissionProfile: {type: builtin, name: internet}}",
                "spec.permissionProfile.name",
            ),
            (
                "{image: x, resources: {limits: {memory: lots}}}",
                "spec.resources.limits.memory",
            ),
            (
                "{image: x, secrets: [{name: s, key: k, targetEnvName: 'A=B'}]}",
                "spec.secrets[0].targetEnvName",
            ),
            (
                "{image: x, resourceOverrides: {proxyDeployment: {podTemplateMetadataOverrides: {labels: {app.kubernetes.io/name: y}}}}}",
                "spec.resourceOverrides.proxyDeployment.podTemplateMetadataOverrides.labels[app.kubernetes.io/name]",
            ),
        ];
        for (spec, field) in cases {
            let spec = if spec.starts_with('{') {
                spec.to_owned()
            } else {
                format!("{{{spec}}}")
            };
            let server = server(&format!(
                "apiVersion: toolhive.stacklok.dev/v1beta1\nkind: MCPServer\nmetadata: {{name: s}}\nspec: {spec}"
            ));
            let error = validate(&server, None).expect_err(&spec);
            assert_eq!(error.field, field, "{spec}: {error}");
        }
    }

    #[test]
    fn image_references() {
        for good in [
            "nginx",
            "ghcr.io/stackloklabs/osv-mcp/server",
            "localhost:5000/a/b:1.0",
            "docker.io/library/python:3.12-slim",
            "a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "my_org/my__img-x:latest",
        ] {
            assert_eq!(check_image(good), Ok(()), "{good}");
        }
        for bad in ["", "UPPER", "a//b", "a/b:", "-a", "a b", "a@sha256:xyz"] {
            assert!(check_image(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn configmap_profiles_become_egress_rules() {
        let server = server(
            "apiVersion: toolhive.stacklok.dev/v1beta1\nkind: MCPServer\nmetadata: {name: p}\n\
             spec: {image: x, transport: sse, permissionProfile: {type: configmap, name: prof, key: p.json}}",
        );
        let plan = validate(
            &server,
            Some(r#"{"network":{"outbound":{"allow_host":["10.0.0.0/8"],"allow_port":[443]}}}"#),
        )
        .expect("valid");
        assert_eq!(plan.policy_gap(), None);
        let children = build(&server, &plan, owner(), "apiary-gw").expect("builds");
        let egress = json!(children.network_policy)["spec"]["egress"].clone();
        assert_eq!(
            egress[1],
            json!({"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": 443, "protocol": "TCP"}]})
        );
        assert_eq!(egress[0]["ports"][0]["port"], 53);
        assert!(url(&server, &plan).ends_with(":8080/sse"));
        let error = validate(&server, Some("[]")).expect_err("not a profile");
        assert_eq!(error.field, "spec.permissionProfile");
        assert!(error.reason.contains("prof"), "{error}");
    }

    #[test]
    fn quantities() {
        for good in ["100m", "1", "0.5", "64Mi", "1e3", "2Gi", "1.5"] {
            assert!(is_quantity(good), "{good}");
        }
        for bad in ["", "lots", "1.2.3", "m", "64MB"] {
            assert!(!is_quantity(bad), "{bad}");
        }
    }
}
