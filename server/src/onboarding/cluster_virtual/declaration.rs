//! What a `VirtualMCPServer` declares, in Apiary's terms: the group it draws from, the rules
//! that turn the group's published servers into an Apiary virtual server ([`Plan`]), the
//! fields that stop it from being served, and the fields Apiary keeps but does not act on.
//! Pure: [`super`] reads the cluster and the database.
//!
//! | field | Apiary |
//! |---|---|
//! | `groupRef` | honoured: the members are the group's servers published in the registry |
//! | `config.aggregation` (`conflictResolution` prefix, priority or manual; `prefixFormat` ending in `_`; `priorityOrder`; `tools[]` with `filter`, `overrides`, `excludeAll`; `excludeAllTools`) | honoured |
//! | `incomingAuth` `type: anonymous`, with no Cedar policies or only `permit(principal, action, resource);` | honoured |
//! | `incomingAuth` `type: oidc`, other Cedar policies; `outgoingAuth` per backend; `authServerConfig`; `rateLimiting`; `tools[].toolConfigRef`; another `prefixFormat` | refused: not served |
//! | `config.compositeTools`, `compositeToolRefs`, `optimizer`, `codeMode`, `operational`, ...; the pod's fields, `passthroughHeaders`; `telemetryConfigRef`; `embeddingServerRef` | flagged |

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::gateway::access::Access;
use crate::onboarding::cluster_remotes::declaration::FieldNote;
use crate::onboarding::manifest::ANNOTATION_PREFIX;
use crate::registry::curation::ToolOverride;
use crate::virtual_servers::model::{ConflictRule, Member, VirtualSpec};

/// How one member's tools are selected (`config.aggregation.tools[]`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkloadTools {
    /// Tool names to show; empty shows all.
    pub filter: Vec<String>,
    /// Per-tool changes, by the member's tool name.
    pub overrides: BTreeMap<String, ToolOverride>,
    /// Show none of its tools.
    pub exclude_all: bool,
}

/// The rules that make a virtual server of a group's published servers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// The catalog's description.
    pub description: String,
    /// The owning team.
    pub owner_team: String,
    /// Data sensitivity.
    pub sensitivity: String,
    /// The conflict rule.
    pub conflicts: ConflictRule,
    /// `prefixFormat` without its trailing `_`: `{workload}` and `{namespace}` are replaced.
    pub prefix_format: String,
    /// Member names, first wins (`priority`).
    pub priority: Vec<String>,
    /// Per-member selections, by member name.
    pub tools: BTreeMap<String, WorkloadTools>,
    /// `excludeAllTools`: no member tool is shown.
    pub exclude_all_tools: bool,
}

impl Plan {
    /// The virtual server over `members` (names of the group's published servers in
    /// `namespace`, sorted).
    pub fn spec(&self, namespace: &str, members: &[String]) -> VirtualSpec {
        let members = members
            .iter()
            .map(|name| {
                let selection = self.tools.get(name).cloned().unwrap_or_default();
                let excluded = self.exclude_all_tools || selection.exclude_all;
                Member {
                    server: format!("{namespace}/{name}"),
                    prefix: (self.conflicts == ConflictRule::Prefix).then(|| {
                        self.prefix_format
                            .replace("{workload}", name)
                            .replace("{namespace}", namespace)
                    }),
                    allow: if excluded {
                        Vec::new()
                    } else {
                        selection.filter.clone()
                    },
                    deny: if excluded {
                        vec!["*".into()]
                    } else {
                        Vec::new()
                    },
                    overrides: selection.overrides,
                }
            })
            .collect::<Vec<_>>();
        let priority = match self.conflicts {
            ConflictRule::Prefix => Vec::new(),
            ConflictRule::Priority => self
                .priority
                .iter()
                .filter(|name| {
                    members
                        .iter()
                        .any(|m| m.server_id() == Some((namespace, name)))
                })
                .map(|name| format!("{namespace}/{name}"))
                .collect(),
        };
        VirtualSpec {
            description: self.description.clone(),
            owner_team: self.owner_team.clone(),
            sensitivity: self.sensitivity.clone(),
            access: Access {
                anonymous: true,
                ..Access::default()
            },
            members,
            conflicts: self.conflicts,
            priority,
            finder: Default::default(),
        }
    }
}

/// What an object declares.
#[derive(Clone, Debug, PartialEq)]
pub struct Declaration {
    /// The `MCPGroup` it names, if it names one.
    pub group: Option<String>,
    /// The rules, `None` when a field is refused.
    pub plan: Option<Plan>,
    /// Fields that stop it from being served.
    pub refused: Vec<FieldNote>,
    /// Fields kept but not acted on.
    pub flagged: Vec<FieldNote>,
}

const NO_POD: &str = "configures ToolHive's vMCP pod; Apiary runs none (its gateway serves the \
                      virtual server), so it has no effect";

/// Collects refused and flagged fields.
#[derive(Default)]
struct Notes {
    refused: Vec<FieldNote>,
    flagged: Vec<FieldNote>,
}

impl Notes {
    fn refuse(&mut self, field: &str, why: impl Into<String>) {
        self.refused.push(FieldNote {
            field: field.to_owned(),
            why: why.into(),
        });
    }
    fn flag(&mut self, field: &str, why: impl Into<String>) {
        self.flagged.push(FieldNote {
            field: field.to_owned(),
            why: why.into(),
        });
    }
}

/// What the `VirtualMCPServer` with `spec` (as JSON) and `annotations` declares.
pub fn declaration(spec: &Value, annotations: &BTreeMap<String, String>) -> Declaration {
    let empty = Map::new();
    let fields = spec.as_object().unwrap_or(&empty);
    let mut notes = Notes::default();
    let mut group = None;
    let mut rules = Plan::default();
    for (key, value) in fields {
        let field = format!("spec.{key}");
        match key.as_str() {
            "groupRef" => group = group_name(value),
            "incomingAuth" => incoming_auth(&mut notes, value),
            "outgoingAuth" => outgoing_auth(&mut notes, value),
            "config" => config(&mut notes, value, &mut rules),
            "serviceType" | "sessionAffinity" | "serviceAccount" | "podTemplateSpec"
            | "replicas" | "sessionStorage" | "imagePullSecrets" | "passthroughHeaders" => {
                notes.flag(&field, NO_POD)
            }
            "telemetryConfigRef" => notes.flag(
                &field,
                "names an MCPTelemetryConfig, which Apiary does not serve; the gateway's \
                 metrics, per tool of the virtual server, are at /metrics",
            ),
            "embeddingServerRef" => notes.flag(
                &field,
                "serves ToolHive's embedding-based optimizer, which Apiary does not run; \
                 Apiary's tool finder (find_tools) is set on virtual servers defined in Apiary",
            ),
            "authServerConfig" => notes.refuse(
                &field,
                "asks for an embedded OAuth authorization server, which Apiary does not run; \
                 remove it (Apiary's own sign-in issues the tokens its gateway accepts)",
            ),
            "rateLimiting" => notes.refuse(
                &field,
                "asks for rate limits, which Apiary's gateway does not enforce; remove it, or \
                 limit rates in front of Apiary",
            ),
            _ => notes.flag(&field, "is not a field Apiary knows; it has no effect"),
        }
    }
    if group.is_none() {
        notes.refuse(
            "spec.groupRef",
            "names no MCPGroup; set groupRef.name to the group whose servers it serves",
        );
    }
    if !fields.contains_key("incomingAuth") {
        notes.refuse(
            "spec.incomingAuth",
            "is required; set type: anonymous (each member's own access rules still apply)",
        );
    }
    let annotation = |key: &str| {
        annotations
            .get(&format!("{ANNOTATION_PREFIX}{key}"))
            .cloned()
            .unwrap_or_default()
    };
    for key in annotations.keys() {
        if let Some(short) = key.strip_prefix(ANNOTATION_PREFIX) {
            if !["description", "owner-team", "sensitivity"].contains(&short) {
                notes.refuse(
                    &format!("metadata.annotations[{key}]"),
                    format!(
                        "is not an Apiary annotation of a virtual server; use \
                         {ANNOTATION_PREFIX}description, owner-team or sensitivity"
                    ),
                );
            }
        }
    }
    let owner_team = annotation("owner-team");
    if owner_team.is_empty() {
        notes.refuse(
            &format!("metadata.annotations[{ANNOTATION_PREFIX}owner-team]"),
            "is missing; every virtual server has an owning team: set it to the team's name",
        );
    }
    let plan = notes.refused.is_empty().then(|| Plan {
        description: annotation("description"),
        owner_team,
        sensitivity: annotation("sensitivity"),
        ..rules
    });
    Declaration {
        group,
        plan,
        refused: notes.refused,
        flagged: notes.flagged,
    }
}

/// `groupRef` as `{name: …}`, or the plain string of older ToolHive releases.
pub fn group_name(value: &Value) -> Option<String> {
    let name = match value {
        Value::String(name) => name.as_str(),
        Value::Object(fields) => fields.get("name").and_then(Value::as_str)?,
        _ => return None,
    };
    (!name.is_empty()).then(|| name.to_owned())
}

fn incoming_auth(notes: &mut Notes, value: &Value) {
    let kind = value.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "anonymous" => {}
        "oidc" => notes.refuse(
            "spec.incomingAuth.type",
            "oidc asks the vMCP to verify tokens of its own issuer, which Apiary's gateway does \
             not do for virtual servers; define the virtual server in Apiary instead \
             (PUT /api/v1/virtual-servers/…), where its access rules use Apiary's sign-in",
        ),
        other => notes.refuse(
            "spec.incomingAuth.type",
            format!("{other:?} is not anonymous or oidc; set type: anonymous"),
        ),
    }
    let Some(fields) = value.as_object() else {
        return;
    };
    for (key, value) in fields {
        let field = format!("spec.incomingAuth.{key}");
        match key.as_str() {
            "type" => {}
            "oidcConfigRef" | "oidcConfig" if kind == "oidc" => {}
            "authzConfig" => authz(notes, &field, value),
            _ => notes.refuse(
                &field,
                "is not acted on, and it concerns who may call the server; remove it",
            ),
        }
    }
}

/// Cedar policies on the vMCP: only a set that permits everything is honoured (it restricts
/// nothing); any other is refused, since Apiary would not evaluate it.
fn authz(notes: &mut Notes, field: &str, value: &Value) {
    let refuse = |notes: &mut Notes, why: &str| {
        notes.refuse(
            field,
            format!(
                "{why}; Apiary does not evaluate Cedar policies of a virtual server (each \
                 member's own policies still apply): remove them, or define the virtual server \
                 in Apiary with access rules"
            ),
        );
    };
    if value.get("type").and_then(Value::as_str) != Some("inline") {
        return refuse(notes, "reads its policies from elsewhere");
    }
    let policies = strings(&value["inline"]["policies"]);
    let extra = value
        .get("inline")
        .and_then(Value::as_object)
        .is_some_and(|inline| inline.keys().any(|k| k != "policies"));
    match crate::auth::cedar::permits_everything(&policies) {
        Ok(true) if !extra => {}
        Ok(_) => refuse(notes, "restricts who may call which tool"),
        Err(error) => refuse(notes, &error),
    }
}

fn outgoing_auth(notes: &mut Notes, value: &Value) {
    let Some(fields) = value.as_object() else {
        return;
    };
    for (key, value) in fields {
        let field = format!("spec.outgoingAuth.{key}");
        let discovered = |v: &Value| v.get("type").and_then(Value::as_str) == Some("discovered");
        let honoured = match key.as_str() {
            "source" => value.as_str() == Some("discovered"),
            "default" => discovered(value),
            "backends" => value
                .as_object()
                .is_some_and(|backends| backends.values().all(discovered)),
            _ => false,
        };
        if !honoured {
            notes.refuse(
                &field,
                "asks for credentials toward members other than their own; Apiary's gateway \
                 reaches each member as the member itself declares (source: discovered)",
            );
        }
    }
}

/// `config`, read into `rules` (`config.aggregation`).
fn config(notes: &mut Notes, value: &Value, rules: &mut Plan) {
    rules.prefix_format = "{workload}".into();
    let Some(fields) = value.as_object() else {
        return;
    };
    for (key, value) in fields {
        let field = format!("spec.config.{key}");
        match key.as_str() {
            "aggregation" => aggregation(notes, value, rules),
            "compositeTools" | "compositeToolRefs" => notes.flag(
                &field,
                "defines composite tool workflows, which Apiary does not run: their tools are \
                 not offered",
            ),
            "optimizer" => notes.flag(
                &field,
                "asks for ToolHive's embedding-based optimizer, which Apiary does not run; \
                 every tool is listed (Apiary's tool finder is set on virtual servers defined \
                 in Apiary)",
            ),
            "codeMode" => notes.flag(
                &field,
                "asks for ToolHive's code mode, which Apiary does not offer",
            ),
            "operational" => notes.flag(
                &field,
                "tunes ToolHive's health checks and failure modes; in Apiary a member that is \
                 down fails only its own tools, and health comes from the registry's fetches",
            ),
            "incomingAuth" | "outgoingAuth" => notes.flag(
                &field,
                "is superseded by the spec field of the same name, as in ToolHive",
            ),
            "name" | "groupRef" => {
                notes.flag(&field, "is set from the object's name and spec.groupRef")
            }
            _ => notes.flag(&field, "is not a setting Apiary knows; it has no effect"),
        }
    }
}

fn aggregation(notes: &mut Notes, value: &Value, rules: &mut Plan) {
    let Some(fields) = value.as_object() else {
        return;
    };
    let strategy = fields
        .get("conflictResolution")
        .and_then(Value::as_str)
        .unwrap_or("prefix");
    rules.conflicts = match strategy {
        "prefix" => ConflictRule::Prefix,
        // `manual`: names are kept and a conflict is resolved by overrides only, which is
        // `priority` with no order: any other conflict is named in the status.
        "priority" | "manual" => ConflictRule::Priority,
        other => {
            notes.refuse(
                "spec.config.aggregation.conflictResolution",
                format!("{other:?} is not prefix, priority or manual"),
            );
            ConflictRule::Prefix
        }
    };
    for (key, value) in fields {
        let field = format!("spec.config.aggregation.{key}");
        match key.as_str() {
            "conflictResolution" => {}
            "conflictResolutionConfig" => resolution(notes, value, strategy, rules),
            "tools" => workload_tools(notes, value, rules),
            "excludeAllTools" => rules.exclude_all_tools = value.as_bool() == Some(true),
            _ => notes.refuse(
                &field,
                "is not an aggregation setting Apiary knows, and it may change which tools are \
                 shown; remove it",
            ),
        }
    }
}

fn resolution(notes: &mut Notes, value: &Value, strategy: &str, rules: &mut Plan) {
    let base = "spec.config.aggregation.conflictResolutionConfig";
    if let Some(format) = value.get("prefixFormat").and_then(Value::as_str) {
        match format.strip_suffix('_') {
            Some(prefix) if !prefix.is_empty() => rules.prefix_format = prefix.to_owned(),
            _ => notes.refuse(
                &format!("{base}.prefixFormat"),
                format!(
                    "{format:?}: Apiary joins a prefix and a tool's name with \"_\"; end the \
                     format with \"_\", such as \"{{workload}}_\""
                ),
            ),
        }
    }
    if let Some(order) = value.get("priorityOrder").filter(|o| o.is_array()) {
        rules.priority = strings(order);
        if strategy != "priority" && !rules.priority.is_empty() {
            notes.flag(
                &format!("{base}.priorityOrder"),
                format!("is only read with conflictResolution: priority, not {strategy}"),
            );
            rules.priority.clear();
        }
    }
    if let Some(fields) = value.as_object() {
        for key in fields.keys() {
            if key != "prefixFormat" && key != "priorityOrder" {
                notes.flag(&format!("{base}.{key}"), "is not a setting Apiary knows");
            }
        }
    }
}

fn workload_tools(notes: &mut Notes, value: &Value, rules: &mut Plan) {
    for (i, entry) in value.as_array().into_iter().flatten().enumerate() {
        let base = format!("spec.config.aggregation.tools[{i}]");
        let Some(workload) = entry.get("workload").and_then(Value::as_str) else {
            notes.refuse(
                &format!("{base}.workload"),
                "is required: the member's name",
            );
            continue;
        };
        let mut tools = WorkloadTools::default();
        for (key, value) in entry.as_object().into_iter().flatten() {
            let field = format!("{base}.{key}");
            match key.as_str() {
                "workload" => {}
                "filter" => tools.filter = strings(value),
                "overrides" => match serde_json::from_value(value.clone()) {
                    Ok(overrides) => tools.overrides = overrides,
                    Err(error) => {
                        notes.refuse(&field, format!("is not a map of tool overrides: {error}"))
                    }
                },
                "excludeAll" => tools.exclude_all = value.as_bool() == Some(true),
                "toolConfigRef" => notes.refuse(
                    &field,
                    "names an MCPToolConfig, which Apiary does not read for a virtual server's \
                     members, so more tools would be shown; list them under filter instead",
                ),
                _ => notes.refuse(&field, "is not a setting Apiary knows; remove it"),
            }
        }
        rules.tools.insert(workload.to_owned(), tools);
    }
}

/// The strings of the list `value`; none when it is not a list.
fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    fn fields(notes: &[FieldNote]) -> Vec<&str> {
        notes.iter().map(|n| n.field.as_str()).collect()
    }

    fn owned(team: &str) -> BTreeMap<String, String> {
        BTreeMap::from([("apiary.dev/owner-team".to_owned(), team.to_owned())])
    }

    /// Every `VirtualMCPServer` in ToolHive's examples (`server/tests/fixtures/toolhive`),
    /// with Apiary's owner-team annotation added: the fields each refuses and flags.
    #[test]
    fn toolhives_examples_are_served_refused_or_flagged_field_by_field() {
        let examples = [
            include_str!("../../../tests/fixtures/toolhive/virtual-mcps/composite_tool_complex.yaml"),
            include_str!("../../../tests/fixtures/toolhive/virtual-mcps/composite_tool_simple.yaml"),
            include_str!("../../../tests/fixtures/toolhive/virtual-mcps/composite_tool_with_elicitations.yaml"),
            include_str!("../../../tests/fixtures/toolhive/virtual-mcps/vmcp_codemode.yaml"),
            include_str!("../../../tests/fixtures/toolhive/virtual-mcps/vmcp_conflict_resolution.yaml"),
            include_str!("../../../tests/fixtures/toolhive/virtual-mcps/vmcp_inline_incoming_auth.yaml"),
            include_str!("../../../tests/fixtures/toolhive/virtual-mcps/vmcp_optimizer_all_options.yaml"),
            include_str!("../../../tests/fixtures/toolhive/virtual-mcps/vmcp_optimizer_openai.yaml"),
            include_str!("../../../tests/fixtures/toolhive/virtual-mcps/vmcp_optimizer_quickstart.yaml"),
            include_str!("../../../tests/fixtures/toolhive/virtual-mcps/vmcp_production_full.yaml"),
            include_str!("../../../tests/fixtures/toolhive/virtual-mcps/vmcp_simple_discovered.yaml"),
            include_str!("../../../tests/fixtures/toolhive/virtual-mcps/vmcp_with_oidcconfig_ref.yaml"),
            include_str!("../../../tests/fixtures/toolhive/virtual-mcps/vmcp_with_telemetry_ref.yaml"),
        ];
        // name, refused fields, flagged fields.
        type Expected = (
            &'static str,
            &'static [&'static str],
            &'static [&'static str],
        );
        const COMPOSITE: &[&str] = &["spec.config.compositeToolRefs", "spec.config.operational"];
        const OIDC: &[&str] = &["spec.incomingAuth.type", "spec.incomingAuth.authzConfig"];
        const OPERATIONAL: &[&str] = &["spec.config.operational"];
        let expected: [Expected; 15] = [
            ("vmcp-data-processor", &[], COMPOSITE),
            ("vmcp-simple-composite", &[], COMPOSITE),
            ("vmcp-interactive-deploy", &[], COMPOSITE),
            ("codemode-vmcp", &[], &["spec.config.codeMode"]),
            ("vmcp-prefix-strategy", &[], OPERATIONAL),
            ("vmcp-priority-strategy", &[], OPERATIONAL),
            ("vmcp-manual-strategy", &[], OPERATIONAL),
            ("inline-auth-vmcp", OIDC, OPERATIONAL),
            (
                "optimizer-vmcp",
                &[],
                &[
                    "spec.config.optimizer",
                    "spec.config.operational",
                    "spec.embeddingServerRef",
                    "spec.podTemplateSpec",
                ],
            ),
            (
                "optimizer-vmcp",
                &[],
                &["spec.config.optimizer", "spec.podTemplateSpec"],
            ),
            (
                "optimizer-vmcp",
                &[],
                &["spec.config.operational", "spec.embeddingServerRef"],
            ),
            (
                "production-vmcp",
                OIDC,
                &[
                    "spec.config.operational",
                    "spec.serviceType",
                    "spec.podTemplateSpec",
                ],
            ),
            ("simple-vmcp", &[], OPERATIONAL),
            ("shared-auth-vmcp", OIDC, &[]),
            ("telemetry-demo-vmcp", &[], &["spec.telemetryConfigRef"]),
        ];
        let objects: Vec<Value> = examples
            .iter()
            .flat_map(|example| serde_yaml::Deserializer::from_str(example))
            .map(|document| Value::deserialize(document).expect("a YAML document"))
            .filter(|object| object["kind"] == "VirtualMCPServer")
            .collect();
        assert_eq!(objects.len(), expected.len());
        for (object, (name, refused, flagged)) in objects.iter().zip(expected) {
            assert_eq!(object["metadata"]["name"], name);
            let declared = declaration(&object["spec"], &owned("platform"));
            assert_eq!(fields(&declared.refused), refused, "{name}");
            assert_eq!(fields(&declared.flagged), flagged, "{name}");
            assert!(declared.group.is_some(), "{name} names its group");
            assert_eq!(declared.plan.is_some(), refused.is_empty(), "{name}");
        }
        // The conflict strategies of vmcp_conflict_resolution.yaml, as Apiary applies them.
        let members = ["fetch".to_owned(), "yardstick-sse".to_owned()];
        let plan = |name: &str| {
            let object = objects
                .iter()
                .find(|o| o["metadata"]["name"] == name)
                .expect("example");
            declaration(&object["spec"], &owned("platform"))
                .plan
                .expect("served")
                .spec("default", &members)
        };
        let prefixed = plan("vmcp-prefix-strategy");
        assert_eq!(prefixed.conflicts, ConflictRule::Prefix);
        assert_eq!(prefixed.members[1].server, "default/yardstick-sse");
        assert_eq!(prefixed.members[1].prefix(), "yardstick-sse");
        assert!(prefixed.access.anonymous);
        let prioritised = plan("vmcp-priority-strategy");
        assert_eq!(prioritised.conflicts, ConflictRule::Priority);
        assert_eq!(
            prioritised.priority,
            ["default/yardstick-sse", "default/fetch"],
            "the listed members that are in the group, in the listed order"
        );
        let manual = plan("vmcp-manual-strategy");
        assert_eq!(manual.conflicts, ConflictRule::Priority);
        assert!(
            manual.priority.is_empty(),
            "manual: no member wins a conflict"
        );
        assert_eq!(manual.members[0].allow, ["fetch"]);
        assert_eq!(manual.members[1].allow, ["echo", "add"]);
        assert!(manual.validate("default", "vmcp-manual-strategy").is_ok());
    }

    #[test]
    fn what_apiary_would_not_honour_is_refused_by_name() {
        let refused = |spec: Value, annotations: BTreeMap<String, String>| {
            let declared = declaration(&spec, &annotations);
            assert!(declared.plan.is_none(), "{spec}");
            declared
                .refused
                .iter()
                .map(|n| format!("{}: {}", n.field, n.why))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let base = json!({ "groupRef": { "name": "g" }, "incomingAuth": { "type": "anonymous" } });
        let with = |extra: Value| {
            let mut spec = base.clone();
            for (k, v) in extra.as_object().expect("object") {
                spec[k] = v.clone();
            }
            spec
        };
        let why = refused(base.clone(), BTreeMap::new());
        assert!(why.contains("apiary.dev/owner-team]: is missing"), "{why}");
        let why = refused(
            with(
                json!({ "config": { "aggregation": { "conflictResolutionConfig":
                { "prefixFormat": "{workload}." } } } }),
            ),
            owned("t"),
        );
        assert!(
            why.starts_with("spec.config.aggregation.conflictResolutionConfig.prefixFormat"),
            "{why}"
        );
        let why = refused(
            with(json!({ "config": { "aggregation": { "tools": [
                { "workload": "a", "toolConfigRef": { "name": "x" } } ] } } })),
            owned("t"),
        );
        assert!(
            why.starts_with("spec.config.aggregation.tools[0].toolConfigRef"),
            "{why}"
        );
        let why = refused(
            with(json!({ "outgoingAuth": { "source": "inline", "backends": {
                "a": { "type": "externalAuthConfigRef", "externalAuthConfigRef": { "name": "x" } } } } })),
            owned("t"),
        );
        assert!(
            why.contains("spec.outgoingAuth.source") && why.contains("spec.outgoingAuth.backends"),
            "{why}"
        );
        let why = refused(
            with(
                json!({ "incomingAuth": { "type": "anonymous", "authzConfig": { "type": "inline",
                "inline": { "policies": ["permit(principal, action == Action::\"tools/call\", resource);"] } } } }),
            ),
            owned("t"),
        );
        assert!(why.contains("restricts who may call which tool"), "{why}");
        let why = refused(
            with(
                json!({ "incomingAuth": { "type": "anonymous", "authzConfig": { "type": "inline",
                "inline": { "policies": ["permit(principal, action, resource);",
                                         "forbid(principal, action, resource);"] } } } }),
            ),
            owned("t"),
        );
        assert!(why.contains("restricts"), "{why}");
        let why = refused(
            with(json!({ "rateLimiting": { "global": {} } })),
            owned("t"),
        );
        assert!(why.starts_with("spec.rateLimiting"), "{why}");
        let why = refused(
            json!({ "incomingAuth": { "type": "anonymous" } }),
            owned("t"),
        );
        assert!(why.starts_with("spec.groupRef"), "{why}");
    }

    #[test]
    fn filters_overrides_and_exclusions_select_each_members_tools() {
        let spec = json!({
            "groupRef": "g",
            "incomingAuth": { "type": "anonymous", "authzConfig": { "type": "inline",
                "inline": { "policies": ["permit(principal, action, resource);"] } } },
            "outgoingAuth": { "source": "discovered" },
            "config": { "aggregation": {
                "conflictResolutionConfig": { "prefixFormat": "team-{workload}_" },
                "tools": [
                    { "workload": "a", "filter": ["search"],
                      "overrides": { "search": { "name": "find", "description": "Find" } } },
                    { "workload": "b", "excludeAll": true },
                ] } },
        });
        let declared = declaration(&spec, &owned("search"));
        assert!(
            declared.refused.is_empty() && declared.flagged.is_empty(),
            "{declared:?}"
        );
        assert_eq!(
            declared.group.as_deref(),
            Some("g"),
            "a plain string names the group too"
        );
        let virtual_spec = declared
            .plan
            .expect("served")
            .spec("ns", &["a".to_owned(), "b".to_owned(), "c".to_owned()]);
        let [a, b, c] = &virtual_spec.members[..] else {
            panic!("three members: {virtual_spec:?}");
        };
        assert_eq!(a.prefix(), "team-a");
        assert!(a.selects("search") && !a.selects("fetch"));
        assert_eq!(a.overrides["search"].name.as_deref(), Some("find"));
        assert!(!b.selects("anything"), "excludeAll shows none of its tools");
        assert!(
            c.selects("anything"),
            "a member without settings shows all its tools"
        );
        assert_eq!(virtual_spec.owner_team, "search");
        assert!(virtual_spec.validate("ns", "v").is_ok());
    }
}
