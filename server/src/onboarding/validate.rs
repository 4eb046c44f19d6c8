//! Server-side validation of a proposal, field by field: structure first (names, metadata, the
//! spec through the same checks the runtimes and the operator apply), then the secrets rule.
//! Every error names the field and the fix. Pure functions: the caller looks up the context.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::catalog::ServerRegistration;
use crate::config::Runtime;
use crate::operator::crd::{MCPServer, MCPServerSpec};
use crate::operator::render;
use crate::validation::{dns_label, max_len, FieldError};

use super::model::ProposalKind;
use super::secrets::{name_looks_secret, value_looks_secret};

/// The body of `POST /api/v1/proposals` (JSON), or what a pasted `MCPServer` manifest becomes.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProposalInput {
    /// Create, update or retire.
    pub kind: Option<ProposalKind>,
    /// The target server's namespace.
    #[serde(default)]
    pub namespace: String,
    /// The target server's name.
    #[serde(default)]
    pub name: String,
    /// One-paragraph description (create, update).
    #[serde(default)]
    pub description: String,
    /// The owning team, whose owners review (create, update).
    #[serde(default)]
    pub owner_team: String,
    /// Category, such as `search`.
    #[serde(default)]
    pub category: String,
    /// Cost class, such as `free` or `metered`.
    #[serde(default)]
    pub cost_class: String,
    /// Data sensitivity, such as `public` or `internal`.
    #[serde(default)]
    pub sensitivity: String,
    /// Free tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Documentation link.
    #[serde(default)]
    pub docs_url: String,
    /// The `MCPServer` spec (create, update).
    #[serde(default)]
    pub spec: Option<Value>,
    /// Whether consumers see the server once applied (default true).
    #[serde(default)]
    pub published: Option<bool>,
    /// A retire proposal's replacement server, `namespace/name`.
    #[serde(default)]
    pub replacement: Option<String>,
    /// A retire proposal's message for consumers.
    #[serde(default)]
    pub message: Option<String>,
}

/// What the server knows about the target when the proposal is validated.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// The target server's owner team and current revision, when it exists.
    pub existing: Option<Existing>,
    /// Whether the named replacement server exists (retire proposals).
    pub replacement_exists: bool,
    /// Where approved servers run.
    pub runtime: Runtime,
}

/// An existing target server.
#[derive(Clone, Debug)]
pub struct Existing {
    /// Its owner team.
    pub owner_team: String,
    /// Its current revision number (0 before its first recorded revision).
    pub revision: i64,
}

/// A proposal that passed validation, ready to be stored.
#[derive(Clone, Debug)]
pub struct ValidProposal {
    /// Create, update or retire.
    pub kind: ProposalKind,
    /// Target namespace.
    pub namespace: String,
    /// Target name.
    pub name: String,
    /// Whose owners review it.
    pub owner_team: String,
    /// The server's revision it was made against; `None` for a create.
    pub base_revision: Option<i64>,
    /// The proposed spec (`{}` for a retire).
    pub spec: Value,
    /// The proposed metadata.
    pub metadata: Value,
}

/// Checks `input` against `context`.
pub fn validate(input: &ProposalInput, context: &Context) -> Result<ValidProposal, FieldError> {
    let kind = input
        .kind
        .ok_or_else(|| FieldError::new("kind", "is missing; set it to create, update or retire"))?;
    dns_label("namespace", &input.namespace)?;
    dns_label("name", &input.name)?;
    if input.name.len() > 59 {
        return Err(FieldError::new(
            "name",
            "is longer than 59 characters; shorten it (the Service is named mcp-<name>)",
        ));
    }
    let target = format!("{}/{}", input.namespace, input.name);
    let base_revision = match (kind, &context.existing) {
        (ProposalKind::Create, Some(_)) => {
            return Err(FieldError::new(
                "name",
                format!("{target} already exists; propose an update instead"),
            ))
        }
        (ProposalKind::Create, None) => None,
        (_, None) => {
            return Err(FieldError::new(
                "name",
                format!(
                    "there is no server {target} to {}; check the namespace and name, or propose a create",
                    kind.as_str()
                ),
            ))
        }
        (_, Some(existing)) => Some(existing.revision),
    };
    if kind == ProposalKind::Retire {
        return retire(input, context, base_revision, target);
    }
    for (field, present) in [
        ("replacement", input.replacement.is_some()),
        ("message", input.message.is_some()),
    ] {
        if present {
            return Err(FieldError::new(
                field,
                "belongs to retire proposals only; remove it",
            ));
        }
    }
    let registration = ServerRegistration {
        description: input.description.trim().to_owned(),
        owner_team: input.owner_team.trim().to_owned(),
        category: input.category.trim().to_owned(),
        cost_class: input.cost_class.trim().to_owned(),
        sensitivity: input.sensitivity.trim().to_owned(),
        tags: input.tags.iter().map(|t| t.trim().to_owned()).collect(),
        docs_url: input.docs_url.trim().to_owned(),
        spec: input.spec.clone().ok_or_else(|| {
            FieldError::new(
                "spec",
                "is missing; give the MCPServer spec: transport plus image (a container image, \
                 npx://pkg or uvx://pkg), command or url",
            )
        })?,
        published: input.published.unwrap_or(true),
    };
    metadata(&registration)?;
    registration.validate(&input.namespace, &input.name)?;
    spec(
        &registration.spec,
        &input.namespace,
        &input.name,
        context.runtime,
    )?;
    Ok(ValidProposal {
        kind,
        namespace: input.namespace.clone(),
        name: input.name.clone(),
        // The current owners review a change of their server, even one that hands it over.
        owner_team: context
            .existing
            .as_ref()
            .map_or_else(|| registration.owner_team.clone(), |e| e.owner_team.clone()),
        base_revision,
        spec: registration.spec.clone(),
        metadata: metadata_json(&registration),
    })
}

/// The stored metadata of a create or update.
pub fn metadata_json(registration: &ServerRegistration) -> Value {
    json!({
        "description": registration.description,
        "ownerTeam": registration.owner_team,
        "category": registration.category,
        "costClass": registration.cost_class,
        "sensitivity": registration.sensitivity,
        "tags": registration.tags,
        "docsUrl": registration.docs_url,
        "published": registration.published,
    })
}

fn retire(
    input: &ProposalInput,
    context: &Context,
    base_revision: Option<i64>,
    target: String,
) -> Result<ValidProposal, FieldError> {
    if input.spec.is_some() {
        return Err(FieldError::new(
            "spec",
            "a retire proposal carries no spec; remove it (or propose an update)",
        ));
    }
    let replacement = input
        .replacement
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    if let Some(replacement) = replacement {
        let Some((ns, name)) = replacement.split_once('/') else {
            return Err(FieldError::new(
                "replacement",
                format!("{replacement:?} is not namespace/name; write it like tools/osv"),
            ));
        };
        dns_label("replacement", ns)?;
        dns_label("replacement", name)?;
        if replacement == target {
            return Err(FieldError::new(
                "replacement",
                "is the server being retired; name another server or leave it empty",
            ));
        }
        if !context.replacement_exists {
            return Err(FieldError::new(
                "replacement",
                format!(
                    "there is no server {replacement}; name an existing server or leave it empty"
                ),
            ));
        }
    }
    let message = input.message.as_deref().unwrap_or_default().trim();
    max_len("message", message, 1_000)?;
    let owner_team = context
        .existing
        .as_ref()
        .map(|e| e.owner_team.clone())
        .unwrap_or_default();
    Ok(ValidProposal {
        kind: ProposalKind::Retire,
        namespace: input.namespace.clone(),
        name: input.name.clone(),
        owner_team,
        base_revision,
        spec: json!({}),
        metadata: json!({ "replacement": replacement, "message": message }),
    })
}

/// Proposal-only metadata rules, beyond what a direct registration needs.
fn metadata(registration: &ServerRegistration) -> Result<(), FieldError> {
    if registration.owner_team.is_empty() {
        return Err(FieldError::new(
            "ownerTeam",
            "is missing; name the team that owns the server (its owners review changes)",
        ));
    }
    dns_label("ownerTeam", &registration.owner_team)?;
    if registration.description.is_empty() {
        return Err(FieldError::new(
            "description",
            "is missing; say in a sentence what the server does",
        ));
    }
    for (i, tag) in registration.tags.iter().enumerate() {
        if tag.is_empty() {
            return Err(FieldError::new(
                format!("tags[{i}]"),
                "is empty; remove it or write a tag",
            ));
        }
    }
    let mut seen = BTreeSet::new();
    for (i, tag) in registration.tags.iter().enumerate() {
        if !seen.insert(tag) {
            return Err(FieldError::new(
                format!("tags[{i}]"),
                format!("{tag:?} is listed twice; remove the duplicate"),
            ));
        }
    }
    if !registration.docs_url.is_empty() {
        let rest = registration
            .docs_url
            .split_once("://")
            .map(|(_, r)| r)
            .unwrap_or_default();
        if rest.is_empty() || rest.starts_with('/') || rest.contains(char::is_whitespace) {
            return Err(FieldError::new(
                "docsUrl",
                format!(
                    "{:?} is not a link; write an http:// or https:// URL with a host",
                    registration.docs_url
                ),
            ));
        }
    }
    Ok(())
}

/// The field names an `MCPServer` spec has, plus Apiary's `command` and `url`.
static SPEC_FIELDS: LazyLock<BTreeSet<String>> = LazyLock::new(|| {
    let schema = schemars::schema_for!(MCPServerSpec);
    let mut fields: BTreeSet<String> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    fields.extend(["command".to_owned(), "url".to_owned()]);
    fields
});

/// Checks the spec: known fields, the operator's rules for a container image, the local
/// runtime's rules for what it runs, and secrets only as Secret references.
pub fn spec(spec: &Value, namespace: &str, name: &str, runtime: Runtime) -> Result<(), FieldError> {
    let object = spec.as_object().ok_or_else(|| {
        FieldError::new(
            "spec",
            "must be an object with transport and image, command or url",
        )
    })?;
    for key in object.keys() {
        if !SPEC_FIELDS.contains(key) {
            return Err(FieldError::new(
                format!("spec.{key}"),
                "is not a field of an MCPServer spec; check the spelling (such as transport, image, args, env, secrets, proxyPort, mcpPort, resources, permissionProfile)",
            ));
        }
    }
    env_entries(object)?;
    let image = object.get("image").and_then(Value::as_str).unwrap_or("");
    let package = image.starts_with("npx://") || image.starts_with("uvx://");
    // The typed MCPServer spec checks types and ranges, and the operator's validate step its
    // rules. It needs an image: for a package, command or url server a placeholder stands in,
    // and the local runtime's parser below checks the source itself.
    let mut typed = spec.clone();
    if image.is_empty() || package {
        typed["image"] = json!("apiary.invalid/placeholder");
        if let Some(map) = typed.as_object_mut() {
            map.remove("command");
            map.remove("url");
        }
    }
    let typed: MCPServerSpec = serde_path_to_error::deserialize(typed).map_err(|error| {
        let path = error.path().to_string();
        FieldError::new(
            format!("spec.{path}"),
            format!("{}; fix the value's type", error.inner()),
        )
    })?;
    let mut server = MCPServer::new(name, typed);
    server.metadata.namespace = Some(namespace.to_owned());
    // A ConfigMap profile is read from the cluster when the server is reconciled; here only
    // its reference is checked.
    let configmap = server
        .spec
        .permission_profile
        .as_ref()
        .filter(|p| p.kind == crate::operator::crd::ProfileKind::Configmap);
    if let Some(profile) = configmap {
        dns_label("spec.permissionProfile.name", &profile.name)?;
    }
    render::validate(&server, configmap.map(|_| "{}"))
        .map_err(|invalid| FieldError::new(invalid.field, invalid.reason))?;
    let runs_locally = package || object.contains_key("command") || object.contains_key("url");
    match runtime {
        Runtime::Local => {
            crate::runtime::parse_spec(spec)?;
        }
        Runtime::Kubernetes if object.contains_key("command") => return Err(FieldError::new(
            "spec.command",
            "the Kubernetes runtime runs container images, not local commands; set image instead",
        )),
        Runtime::Kubernetes if package => {
            return Err(FieldError::new(
                "spec.image",
                format!(
                    "{image:?} is a package, which only the local runtime runs; the Kubernetes \
                     runtime needs a container image (such as ghcr.io/org/server:1.0)"
                ),
            ))
        }
        Runtime::Kubernetes if runs_locally => {
            crate::runtime::parse_spec(spec)?;
        }
        Runtime::Kubernetes => {}
    }
    Ok(())
}

/// `spec.env`: only `{name, value}` entries, and no secret in a value.
fn env_entries(spec: &Map<String, Value>) -> Result<(), FieldError> {
    let Some(env) = spec.get("env").and_then(Value::as_array) else {
        return Ok(());
    };
    for (i, entry) in env.iter().enumerate() {
        let Some(entry) = entry.as_object() else {
            return Err(FieldError::new(
                format!("spec.env[{i}]"),
                "must be an object with name and value",
            ));
        };
        for key in entry.keys() {
            if key == "valueFrom" {
                return Err(FieldError::new(
                    format!("spec.env[{i}].valueFrom"),
                    "is not supported; reference a Secret under spec.secrets as {name, key, targetEnvName}",
                ));
            }
            if key != "name" && key != "value" {
                return Err(FieldError::new(
                    format!("spec.env[{i}].{key}"),
                    "is not a field of an environment variable; use name and value",
                ));
            }
        }
        let name = entry
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let value = entry
            .get("value")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if value.is_empty() {
            continue;
        }
        if name_looks_secret(name) {
            return Err(FieldError::new(
                format!("spec.env[{i}].value"),
                format!(
                    "{name} looks like a secret, so its value may not be written into the spec; \
                     store it in a Kubernetes Secret and reference it under spec.secrets as \
                     {{name: <secret>, key: <key>, targetEnvName: {name}}}"
                ),
            ));
        }
        if value_looks_secret(value) {
            return Err(FieldError::new(
                format!("spec.env[{i}].value"),
                format!(
                    "the value of {name} looks like a credential; store it in a Kubernetes \
                     Secret and reference it under spec.secrets as {{name: <secret>, key: <key>, \
                     targetEnvName: {name}}}"
                ),
            ));
        }
    }
    Ok(())
}
