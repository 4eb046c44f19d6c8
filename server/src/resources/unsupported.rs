//! The `MCPServer` fields that Apiary accepts and keeps but does not act on, so that none is
//! ignored in silence: the status names them in condition `UnsupportedFields`, and a Warning
//! Event names them whenever the set changes. Pure: a function of the stored object.
//!
//! [`RULES`] is the one list of such fields, each with what Apiary does instead. A field counts
//! only when it is present with a value: an empty object, list or string is not, and neither is
//! a value that asks for what Apiary does anyway (`trustProxyHeaders: false`,
//! `audit: {enabled: false}`). In `resourceOverrides`, whose schema is free-form, every key
//! that is neither applied ([`super::overrides`]) nor in [`RULES`] is flagged too. Inbound OIDC
//! and Cedar authorization are enforced at the gateway; only a form of them that Apiary cannot
//! enforce is flagged ([`super::oidc`], [`super::authz`]).
//!
//! A security field flagged here is not enforced, so the server is withheld: not run by the
//! operator, not served by the gateway ([`unenforced_with`], [`withheld`]).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::Value;

use super::crd::MCPServer;
use super::{authz, oidc, overrides};

/// Where a field lives in the object.
#[derive(Clone, Copy, Debug)]
enum Place {
    /// A key of `spec`, or a dotted path of keys under it (`resourceOverrides.proxyDeployment.env`).
    Spec(&'static str),
    /// A key of `metadata.annotations`.
    Annotation(&'static str),
}

/// A field that Apiary stores but does not act on.
struct Rule {
    place: Place,
    /// A security control (authentication or authorization) that is therefore not enforced.
    security: bool,
    /// What happens instead, for the status message.
    reason: &'static str,
    /// Values that ask for what Apiary does anyway, so they are honoured, not ignored.
    honoured_value: fn(&Value) -> bool,
}

fn never(_: &Value) -> bool {
    false
}

/// A spec field that is not a security control, none of whose values is honoured.
const fn ignored(key: &'static str, reason: &'static str) -> Rule {
    Rule {
        place: Place::Spec(key),
        security: false,
        reason,
        honoured_value: never,
    }
}

/// The fields Apiary does not act on (docs/OPERATOR.md, "ToolHive fields and kinds").
const RULES: &[Rule] = &[
    Rule {
        security: true,
        ..ignored(
            "authzConfigRef",
            "the MCPAuthzConfig is not read: no policy is evaluated",
        )
    },
    Rule {
        security: true,
        ..ignored(
            "externalAuthConfigRef",
            "no token exchange or header injection toward the backend",
        )
    },
    Rule {
        honoured_value: |value| *value == serde_json::json!({"enabled": false}),
        ..ignored("audit", "no per-request audit log is written")
    },
    ignored(
        "telemetryConfigRef",
        "no OpenTelemetry or Prometheus settings are applied",
    ),
    ignored("telemetry", "legacy inline telemetry, not applied"),
    ignored(
        "resourceOverrides.proxyDeployment.env",
        "Apiary runs no proxy container: set the server's env through spec.env",
    ),
    ignored(
        "resourceOverrides.proxyDeployment.imagePullSecrets",
        "not applied: set pull secrets through podTemplateSpec.spec.imagePullSecrets",
    ),
    ignored(
        "volumes",
        "host paths are not mounted: add volumes through podTemplateSpec",
    ),
    ignored("webhookConfigRef", "no request webhooks are called"),
    ignored("authServerRef", "no embedded authorization server runs"),
    Rule {
        honoured_value: |value| *value == Value::Bool(false),
        ..ignored("trustProxyHeaders", "no proxy reads X-Forwarded-* headers")
    },
    ignored("endpointPrefix", "SSE endpoint URLs get no prefix"),
    ignored(
        "backendReplicas",
        "the one Deployment's replicas come from spec.replicas",
    ),
    ignored(
        "sessionStorage",
        "no session storage: Apiary runs no proxy that keeps sessions",
    ),
    ignored("rateLimiting", "no rate limits are applied"),
    ignored(
        "tools",
        "the legacy inline allow-list is not applied: Apiary publishes tools by its \
         curation (toolConfigRef)",
    ),
    Rule {
        place: Place::Annotation("mcpserver.toolhive.stacklok.dev/restart-strategy"),
        security: false,
        reason: "a restart always rolls the pods: no immediate restart",
        honoured_value: |value| value == "rolling",
    },
];

/// Why a key of `resourceOverrides` that is neither applied nor in [`RULES`] is flagged.
const UNKNOWN_OVERRIDE: &str = "not a resourceOverrides field Apiary knows";

/// One field present in an object that Apiary does not act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported {
    /// Its path, such as `spec.oidcConfigRef` or `metadata.annotations[...]`.
    pub path: String,
    /// An authentication or authorization setting, so something is **not enforced**.
    pub security: bool,
    /// What Apiary does instead.
    pub reason: String,
}

/// The fields of `server` that Apiary does not act on: security settings first, then the
/// others, each group in the order of [`RULES`].
pub fn fields(server: &MCPServer) -> Vec<Unsupported> {
    let spec = serde_json::to_value(&server.spec).unwrap_or_else(|error| {
        // Unreachable: the spec is plain data with string keys.
        panic!("serializing an MCPServer spec: {error}")
    });
    fields_of(&spec, server.metadata.annotations.as_ref())
}

/// What the objects that a spec's inbound security refers to turned out to be.
#[derive(Clone, Copy, Debug)]
pub struct Referenced<'a> {
    /// The `MCPOIDCConfig` of an `oidcConfigRef`.
    pub oidc: oidc::Shared<'a>,
    /// The ConfigMap of an `authzConfig` of type `configMap`.
    pub authz: authz::Source<'a>,
}

impl Referenced<'_> {
    /// Nothing looked up: only the spec itself is checked.
    pub const NOT_READ: Referenced<'static> = Referenced {
        oidc: oidc::Shared::NotRead,
        authz: authz::Source::NotRead,
    };
}

/// The security settings (authentication, authorization) that `spec`, an `MCPServer` spec as
/// JSON, declares and Apiary does not enforce. A server with any is neither run by the
/// operator nor served by the gateway ([`withheld`]).
pub fn unenforced(spec: &Value) -> Vec<Unsupported> {
    unenforced_with(spec, Referenced::NOT_READ)
}

/// [`unenforced`], with the objects the spec refers to (`referenced`) checked too.
pub fn unenforced_with(spec: &Value, referenced: Referenced<'_>) -> Vec<Unsupported> {
    let mut found = fields_of(spec, None);
    found.retain(|field| field.security);
    let faults = [
        oidc::rule(spec, referenced.oidc).err(),
        authz::rule(spec, referenced.authz, "").err(),
    ];
    for fault in faults.into_iter().flatten().rev() {
        if !found.iter().any(|f| f.path == fault.path) {
            found.insert(
                0,
                Unsupported {
                    path: fault.path,
                    security: true,
                    reason: fault.reason,
                },
            );
        }
    }
    found
}

/// Why a server that declares the `unenforced` security fields is not served, naming each.
pub fn withheld(unenforced: &[Unsupported]) -> String {
    let list: Vec<_> = unenforced
        .iter()
        .map(|f| format!("{} ({})", f.path, f.reason))
        .collect();
    format!(
        "withheld: the manifest declares security that Apiary does not enforce: {}; so \
         Apiary's gateway does not serve it. Remove the field, or use a form Apiary enforces \
         (docs/OPERATOR.md, \"ToolHive fields and kinds\")",
        list.join("; ")
    )
}

fn fields_of(spec: &Value, annotations: Option<&BTreeMap<String, String>>) -> Vec<Unsupported> {
    let mut found: Vec<Unsupported> = RULES
        .iter()
        .filter_map(|rule| {
            // Most rules find nothing: read the value before naming its path.
            let value = match rule.place {
                Place::Spec(key) => {
                    Cow::Borrowed(key.split('.').try_fold(spec, |value, key| value.get(key))?)
                }
                Place::Annotation(key) => Cow::Owned(Value::String(annotations?.get(key)?.clone())),
            };
            if !is_set(&value) || (rule.honoured_value)(&value) {
                return None;
            }
            let path = match rule.place {
                Place::Spec(key) => format!("spec.{key}"),
                Place::Annotation(key) => format!("metadata.annotations[{key}]"),
            };
            Some(Unsupported {
                path,
                security: rule.security,
                reason: rule.reason.into(),
            })
        })
        .collect();
    // Inbound OIDC and Cedar policies are enforced at the gateway, unless they take a form
    // Apiary cannot enforce. (An `oidcConfigRef` and an authz ConfigMap are checked with the
    // object they name by the reconcile.)
    let faults = [
        oidc::rule(spec, oidc::Shared::NotRead).err(),
        authz::rule(spec, authz::Source::NotRead, "").err(),
    ];
    for unenforceable in faults.into_iter().flatten().rev() {
        found.insert(
            0,
            Unsupported {
                path: unenforceable.path,
                security: true,
                reason: unenforceable.reason,
            },
        );
    }
    if let Some(value) = spec.get("resourceOverrides") {
        unknown_overrides(value, "resourceOverrides", &mut found);
    }
    // Stable: keeps the order of RULES within each group.
    found.sort_by_key(|field| !field.security);
    found
}

/// Flags the keys under `value` (at `path` in the spec) that Apiary neither applies nor names
/// in [`RULES`]. A key on the way to an applied one is walked into when it is an object (a
/// value of another type is refused by [`overrides::parse`]).
fn unknown_overrides(value: &Value, path: &str, found: &mut Vec<Unsupported>) {
    let Value::Object(map) = value else { return };
    for (key, value) in map {
        let path = format!("{path}.{key}");
        let relative = &path["resourceOverrides.".len()..];
        let applied = overrides::PLACES.iter().any(|(place, _)| {
            relative == format!("{place}.labels") || relative == format!("{place}.annotations")
        });
        let ruled = RULES
            .iter()
            .any(|rule| matches!(rule.place, Place::Spec(p) if p == path));
        let on_the_way = overrides::PLACES
            .iter()
            .any(|(place, _)| *place == relative || place.starts_with(&format!("{relative}.")));
        if applied || ruled {
            continue;
        }
        if on_the_way {
            unknown_overrides(value, &path, found);
        } else if is_set(value) {
            found.push(Unsupported {
                path: format!("spec.{path}"),
                security: false,
                reason: UNKNOWN_OVERRIDE.into(),
            });
        }
    }
}

/// Whether a value says anything: `null`, `{}`, `[]` and `""` do not.
fn is_set(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Object(map) => !map.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::String(text) => !text.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// The condition message: every field with what happens instead, the security ones first and
/// marked "not enforced".
pub fn message(fields: &[Unsupported]) -> String {
    if fields.is_empty() {
        return "every field is honoured".into();
    }
    let list = |security: bool| {
        fields
            .iter()
            .filter(|f| f.security == security)
            .map(|f| format!("{} ({})", f.path, f.reason))
            .collect::<Vec<_>>()
    };
    join_groups(list(true), list(false), "; ")
}

/// The Event note: the paths only, short enough for the 1 kB limit of `events.k8s.io` notes.
pub fn note(fields: &[Unsupported]) -> String {
    let list = |security: bool| {
        fields
            .iter()
            .filter(|f| f.security == security)
            .map(|f| f.path.clone())
            .collect::<Vec<_>>()
    };
    format!(
        "{}. See condition UnsupportedFields",
        join_groups(list(true), list(false), ", ")
    )
}

fn join_groups(security: Vec<String>, other: Vec<String>, separator: &str) -> String {
    let mut parts = Vec::new();
    if !security.is_empty() {
        parts.push(format!(
            "NOT ENFORCED (security): {}",
            security.join(separator)
        ));
    }
    if !other.is_empty() {
        parts.push(format!("Ignored by Apiary: {}", other.join(separator)));
    }
    parts.join(". ")
}

/// Why the gateway withholds a server with `spec`, as far as the spec alone tells (the
/// `MCPOIDCConfig` of an `oidcConfigRef` is checked when the gateway loads the server).
pub fn withheld_by_spec(spec: &Value) -> Option<String> {
    let unenforced = unenforced(spec);
    (!unenforced.is_empty()).then(|| withheld(&unenforced))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(yaml: &str) -> MCPServer {
        serde_yaml::from_str(yaml).expect("an MCPServer")
    }

    fn paths(server: &MCPServer) -> Vec<String> {
        fields(server).into_iter().map(|f| f.path).collect()
    }

    /// The MCPServer document of a (possibly multi-document) ToolHive example.
    fn toolhive(text: &str) -> MCPServer {
        let document = text
            .split("\n---\n")
            .find(|doc| doc.contains("\nkind: MCPServer\n"))
            .expect("an MCPServer document");
        server(document)
    }

    #[test]
    fn a_plain_server_has_none() {
        let seed = server(include_str!("../../tests/fixtures/osv-mcpserver.yaml"));
        assert_eq!(paths(&seed), Vec::<String>::new());
        assert_eq!(message(&[]), "every field is honoured");
    }

    #[test]
    fn toolhive_examples_are_flagged_by_field() {
        let cases = [
            (
                include_str!(
                    "../../tests/fixtures/toolhive/mcp-servers/mcpserver_with_resource_overrides.yaml"
                ),
                vec!["spec.resourceOverrides.proxyDeployment.env"],
            ),
            (
                include_str!(
                    "../../tests/fixtures/toolhive/mcp-servers/mcpserver_with_oidcconfig_ref.yaml"
                ),
                // Enforced at the gateway; its MCPOIDCConfig is checked by the reconcile.
                vec![],
            ),
            (
                include_str!(
                    "../../tests/fixtures/toolhive/external-auth/mcpserver_with_external_auth.yaml"
                ),
                vec!["spec.externalAuthConfigRef"],
            ),
            (
                include_str!("../../tests/fixtures/toolhive/mcp-servers/mcpserver_fetch_otel.yaml"),
                vec!["spec.telemetryConfigRef"],
            ),
            // `restarted-at: ""` is empty: nothing to act on.
            (
                include_str!(
                    "../../tests/fixtures/toolhive/mcp-servers/mcpserver_with_restart_strategy.yaml"
                ),
                vec![],
            ),
            (
                include_str!("../../tests/fixtures/toolhive/mcp-servers/mcpserver_fetch.yaml"),
                vec![],
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(paths(&toolhive(text)), expected, "{text}");
        }
    }

    #[test]
    fn security_fields_come_first_and_are_marked_not_enforced() {
        let server = server(
            "apiVersion: toolhive.stacklok.dev/v1beta1\nkind: MCPServer\n\
             metadata:\n  name: x\n  annotations:\n    \
             mcpserver.toolhive.stacklok.dev/restart-strategy: immediate\n\
             spec:\n  image: x\n  volumes: [{name: d, hostPath: /d, mountPath: /d}]\n  \
             audit: {enabled: true}\n  authzConfig: {type: inline}\n  \
             oidcConfig: {kubernetes: {}}\n  groupRef: legacy\n",
        );
        assert_eq!(
            paths(&server),
            [
                "spec.oidcConfig.type",
                "spec.authzConfig.inline.policies",
                "spec.audit",
                "spec.volumes",
                "metadata.annotations[mcpserver.toolhive.stacklok.dev/restart-strategy]",
            ]
        );
        let found = fields(&server);
        let text = message(&found);
        assert!(
            text.starts_with(
                "NOT ENFORCED (security): spec.oidcConfig.type (type kubernetes (the default): \
                 Apiary's gateway does not validate Kubernetes service-account tokens"
            ),
            "{text}"
        );
        assert!(
            text.contains(". Ignored by Apiary: spec.audit (no per-request audit log"),
            "{text}"
        );
        assert_eq!(
            note(&found),
            "NOT ENFORCED (security): spec.oidcConfig.type, spec.authzConfig.inline.policies. \
             Ignored by Apiary: spec.audit, spec.volumes, \
             metadata.annotations[mcpserver.toolhive.stacklok.dev/restart-strategy]. \
             See condition UnsupportedFields"
        );
    }

    #[test]
    fn empty_values_and_values_apiary_follows_anyway_do_not_count() {
        let server = server(
            "apiVersion: toolhive.stacklok.dev/v1beta1\nkind: MCPServer\nmetadata: {name: x}\n\
             spec: {image: x, oidcConfigRef: {}, oidcConfig: {}, authzConfig: null, tools: [], endpointPrefix: '',\n\
             trustProxyHeaders: false, audit: {enabled: false},\n\
             resourceOverrides: {proxyDeployment: {env: [], labels: {a: b}}, proxyService: {}}}",
        );
        assert_eq!(paths(&server), Vec::<String>::new());
        let flagged = self::server(
            "apiVersion: toolhive.stacklok.dev/v1beta1\nkind: MCPServer\nmetadata: {name: x}\n\
             spec: {image: x, trustProxyHeaders: true, backendReplicas: 0}",
        );
        assert_eq!(
            paths(&flagged),
            ["spec.trustProxyHeaders", "spec.backendReplicas"]
        );
    }

    #[test]
    fn only_the_applied_parts_of_resource_overrides_go_unflagged() {
        let server = server(
            "apiVersion: toolhive.stacklok.dev/v1beta1\nkind: MCPServer\nmetadata: {name: x}\n\
             spec:\n  image: x\n  resourceOverrides:\n    \
             proxyDeployment:\n      labels: {a: b}\n      annotations: {c: d}\n      \
             env: [{name: A, value: b}]\n      imagePullSecrets: [{name: reg}]\n      \
             podTemplateMetadataOverrides: {labels: {e: f}, nodeName: n}\n      replicas: 2\n    \
             proxyService: {annotations: {g: h}, type: LoadBalancer}\n    future: {x: 1}\n",
        );
        let found = fields(&server);
        let flagged: Vec<_> = found
            .iter()
            .map(|f| (f.path.as_str(), f.reason.as_str()))
            .collect();
        assert_eq!(
            flagged,
            [
                (
                    "spec.resourceOverrides.proxyDeployment.env",
                    "Apiary runs no proxy container: set the server's env through spec.env"
                ),
                (
                    "spec.resourceOverrides.proxyDeployment.imagePullSecrets",
                    "not applied: set pull secrets through podTemplateSpec.spec.imagePullSecrets"
                ),
                (
                    "spec.resourceOverrides.proxyDeployment.podTemplateMetadataOverrides.nodeName",
                    UNKNOWN_OVERRIDE
                ),
                (
                    "spec.resourceOverrides.proxyDeployment.replicas",
                    UNKNOWN_OVERRIDE
                ),
                ("spec.resourceOverrides.proxyService.type", UNKNOWN_OVERRIDE),
                ("spec.resourceOverrides.future", UNKNOWN_OVERRIDE),
            ]
        );
    }

    #[test]
    fn every_rule_is_reported_and_the_note_fits_an_event() {
        let mut server = server(
            "apiVersion: toolhive.stacklok.dev/v1beta1\nkind: MCPServer\nmetadata: {name: x}\n\
             spec: {image: x}",
        );
        let mut spec = serde_json::to_value(&server.spec).expect("json");
        let mut annotations = std::collections::BTreeMap::new();
        for rule in RULES {
            match rule.place {
                Place::Spec(path) => {
                    let key = path.rsplit('.').next().unwrap_or(path);
                    let value = match key {
                        "volumes" => {
                            serde_json::json!([{"name": "d", "hostPath": "/d", "mountPath": "/d"}])
                        }
                        "tools" | "env" | "imagePullSecrets" => serde_json::json!(["a"]),
                        "trustProxyHeaders" => serde_json::json!(true),
                        "backendReplicas" => serde_json::json!(2),
                        "endpointPrefix" => serde_json::json!("x"),
                        _ => serde_json::json!({"name": "x"}),
                    };
                    let parent = path
                        .split('.')
                        .rev()
                        .skip(1)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .fold(&mut spec, |object, key| {
                            if object.get(key).is_none() {
                                object[key] = serde_json::json!({});
                            }
                            &mut object[key]
                        });
                    parent[key] = value;
                }
                Place::Annotation(key) => {
                    annotations.insert(key.to_owned(), "x".to_owned());
                }
            }
        }
        server.spec = serde_json::from_value(spec).expect("every rule names a spec field");
        server.metadata.annotations = Some(annotations);
        let found = fields(&server);
        assert_eq!(found.len(), RULES.len(), "{found:#?}");
        assert_eq!(found.iter().filter(|f| f.security).count(), 2);
        assert!(found[..2].iter().all(|f| f.security));
        // events.k8s.io refuses a note over 1024 bytes.
        assert!(note(&found).len() <= 1024, "{}", note(&found).len());
    }
}
