//! The one validation path for every server spec Apiary stores: [`registration`] checks a
//! server's names, metadata and spec (the typed `MCPServer` spec and the operator's rules, the
//! runtime's strict parser for packages, commands and URLs, and the secrets rule of
//! [`super::secrets`]). The direct registration (`PUT /api/v1/servers/…`, and the write of an
//! approved proposal, both through `onboarding::register::write_registration_from`) calls it;
//! so does [`validate`], which adds the proposal's own rules (kind, target, retirement) for
//! proposals in JSON, as a pasted manifest, or from the console's forms. Every invalid field is
//! reported at once, each naming the field and the fix. Pure functions: the caller looks up the
//! context.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::config::Runtime;
use crate::operator::render;
use crate::resources::crd::{MCPServer, MCPServerSpec};
use crate::runtime::spec::{is_env_name, is_http_url, ENV_NAME_RULE};
use crate::servers::ServerRegistration;
use crate::validation::{dns_label, max_len, FieldError, FieldErrors, Problems};

use super::model::ProposalKind;
use super::secrets;

/// The body of `POST /api/v1/proposals` (JSON), or what a pasted `MCPServer` manifest becomes.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
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
    /// The cluster kind that declares it (`MCPRemoteProxy`, `MCPServerEntry`); `None` for a
    /// server registered through Apiary.
    pub origin: Option<String>,
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

/// The most tags a server may carry.
pub const MAX_TAGS: usize = 32;

/// The longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 63;

/// Whether a spec must also run on a runtime right away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunsOn {
    /// Recorded by a direct registration (or the write of an already validated proposal):
    /// every rule above applies, but a spec this runtime cannot run (a container image in
    /// local mode) is stored, and the runtime reports why it does not run it.
    Recorded,
    /// Proposed for this runtime, which applies it on approval: also refused when that runtime
    /// cannot run it, so the approval cannot fail on it.
    Runtime(Runtime),
}

/// Checks a server registration: names, metadata and spec, with the secrets rule. The one
/// check every stored server spec passes; every invalid field is reported.
pub fn registration(
    namespace: &str,
    name: &str,
    registration: &ServerRegistration,
    runs_on: RunsOn,
) -> Result<(), FieldErrors> {
    let mut problems = Problems::default();
    check_registration(&mut problems, namespace, name, registration, runs_on);
    problems.finish()
}

fn check_registration(
    problems: &mut Problems,
    namespace: &str,
    name: &str,
    registration: &ServerRegistration,
    runs_on: RunsOn,
) {
    let ids_valid = check_ids(problems, namespace, name);
    let hidden = check_metadata(problems, registration);
    // With an invalid name the operator's rules would refuse the name again; the spec is
    // checked under a stand-in so its own errors still show.
    let (namespace, name) = if ids_valid {
        (namespace, name)
    } else {
        ("apiary", "server")
    };
    let mut hidden = [
        hidden,
        check_spec(problems, &registration.spec, namespace, name, runs_on),
    ]
    .concat();
    hidden.retain(|h| !h.is_empty());
    problems.redact(&hidden);
}

/// The namespace and name: DNS labels, the name at most 59 characters (the Service is named
/// `mcp-<name>`). True when both are valid.
fn check_ids(problems: &mut Problems, namespace: &str, name: &str) -> bool {
    let namespace_ok = problems.check(dns_label("namespace", namespace)).is_some();
    let mut name_ok = problems.check(dns_label("name", name)).is_some();
    if name_ok && name.len() > 59 {
        name_ok = false;
        problems.push(FieldError::new(
            "name",
            "is longer than 59 characters; shorten it (the Service is named mcp-<name>)",
        ));
    }
    namespace_ok && name_ok
}

/// The metadata's limits. Returns the values found to be secrets (a docs URL with
/// credentials), which no message may quote.
fn check_metadata(problems: &mut Problems, registration: &ServerRegistration) -> Vec<String> {
    problems.check(max_len("description", &registration.description, 2_000));
    for (field, value) in [
        ("ownerTeam", &registration.owner_team),
        ("category", &registration.category),
        ("costClass", &registration.cost_class),
        ("sensitivity", &registration.sensitivity),
    ] {
        problems.check(max_len(field, value, 63));
    }
    if !registration.owner_team.is_empty() {
        problems.check(dns_label("ownerTeam", &registration.owner_team));
    }
    check_tags(problems, &registration.tags);
    let docs = &registration.docs_url;
    if docs.is_empty() {
        return Vec::new();
    }
    if !is_http_url(docs) {
        problems.push(FieldError::new(
            "docsUrl",
            "is not a link; write an http:// or https:// URL with a host",
        ));
    } else if secrets::value_is_credential(docs) {
        problems.push(FieldError::new(
            "docsUrl",
            "carries credentials (user info, or a secret query parameter); link to the \
             documentation without them",
        ));
        return vec![docs.clone()];
    }
    Vec::new()
}

/// Tags: at most [`MAX_TAGS`], each non-empty, at most [`MAX_TAG_CHARS`] characters, without
/// commas (the form and a manifest's `apiary.dev/tags` annotation separate tags by commas),
/// and no tag twice.
fn check_tags(problems: &mut Problems, tags: &[String]) {
    if tags.len() > MAX_TAGS {
        problems.push(FieldError::new(
            "tags",
            format!("has {} tags; keep at most {MAX_TAGS}", tags.len()),
        ));
        return;
    }
    let mut seen = BTreeSet::new();
    for (i, tag) in tags.iter().enumerate() {
        let field = format!("tags[{i}]");
        let refused = if tag.is_empty() {
            Err(FieldError::new(
                &field,
                "is empty; remove it or write a tag",
            ))
        } else if tag.contains(',') {
            Err(FieldError::new(
                &field,
                "contains a comma, which separates tags; write it as separate tags",
            ))
        } else {
            max_len(&field, tag, MAX_TAG_CHARS)
        };
        if problems.check(refused).is_some() && !seen.insert(tag) {
            problems.push(FieldError::new(
                field,
                format!("{tag:?} is listed twice; remove the duplicate"),
            ));
        }
    }
}

/// Checks `input` against `context`: the proposal's own rules, and for a create or update
/// the server's through [`registration`]'s checks.
pub fn validate(input: &ProposalInput, context: &Context) -> Result<ValidProposal, FieldErrors> {
    let mut problems = Problems::default();
    if input.kind.is_none() {
        problems.push(FieldError::new(
            "kind",
            "is missing; set it to create, update or retire",
        ));
    }
    check_ids(&mut problems, &input.namespace, &input.name);
    let Some(kind) = input.kind else {
        // Without a kind, what else the proposal needs is not known.
        return Err(problems.into_errors());
    };
    let target = format!("{}/{}", input.namespace, input.name);
    let base_revision = match (kind, &context.existing) {
        (ProposalKind::Create, Some(_)) => {
            problems.push(FieldError::new(
                "name",
                format!("{target} already exists; propose an update instead"),
            ));
            None
        }
        (ProposalKind::Create, None) => None,
        (_, None) => {
            problems.push(FieldError::new(
                "name",
                format!(
                    "there is no server {target} to {}; check the namespace and name, or propose a create",
                    kind.as_str()
                ),
            ));
            None
        }
        (_, Some(existing)) => {
            if let Some(kind) = &existing.origin {
                problems.push(FieldError::new(
                    "name",
                    format!(
                        "{target} is declared by the {kind} of that name in the cluster; \
                         change or delete the {kind} instead"
                    ),
                ));
            }
            Some(existing.revision)
        }
    };
    if kind == ProposalKind::Retire {
        let valid = retire(&mut problems, input, context, base_revision, target);
        problems.finish()?;
        return Ok(valid);
    }
    for (field, present) in [
        ("replacement", input.replacement.is_some()),
        ("message", input.message.is_some()),
    ] {
        if present {
            problems.push(FieldError::new(
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
        spec: input.spec.clone().unwrap_or(Value::Null),
        published: input.published.unwrap_or(true),
    };
    // A proposal is reviewed by its owner team's owners, who read its description.
    if registration.owner_team.is_empty() {
        problems.push(FieldError::new(
            "ownerTeam",
            "is missing; name the team that owns the server (its owners review changes)",
        ));
    }
    if registration.description.is_empty() {
        problems.push(FieldError::new(
            "description",
            "is missing; say in a sentence what the server does",
        ));
    }
    if input.spec.is_none() {
        problems.push(FieldError::new(
            "spec",
            "is missing; give the MCPServer spec: transport plus image (a container image, \
             npx://pkg or uvx://pkg), command or url",
        ));
    }
    check_registration(
        &mut problems,
        &input.namespace,
        &input.name,
        &registration,
        RunsOn::Runtime(context.runtime),
    );
    problems.finish()?;
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
    problems: &mut Problems,
    input: &ProposalInput,
    context: &Context,
    base_revision: Option<i64>,
    target: String,
) -> ValidProposal {
    if input.spec.is_some() {
        problems.push(FieldError::new(
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
        check_replacement(problems, replacement, &target, context.replacement_exists);
    }
    let message = input.message.as_deref().unwrap_or_default().trim();
    problems.check(max_len("message", message, 1_000));
    let owner_team = context
        .existing
        .as_ref()
        .map(|e| e.owner_team.clone())
        .unwrap_or_default();
    ValidProposal {
        kind: ProposalKind::Retire,
        namespace: input.namespace.clone(),
        name: input.name.clone(),
        owner_team,
        base_revision,
        spec: json!({}),
        metadata: json!({ "replacement": replacement, "message": message }),
    }
}

fn check_replacement(problems: &mut Problems, replacement: &str, target: &str, exists: bool) {
    let Some((ns, name)) = replacement.split_once('/') else {
        problems.push(FieldError::new(
            "replacement",
            format!("{replacement:?} is not namespace/name; write it like tools/osv"),
        ));
        return;
    };
    if problems.check(dns_label("replacement", ns)).is_none()
        || problems.check(dns_label("replacement", name)).is_none()
    {
        return;
    }
    if replacement == target {
        problems.push(FieldError::new(
            "replacement",
            "is the server being retired; name another server or leave it empty",
        ));
    } else if !exists {
        problems.push(FieldError::new(
            "replacement",
            format!("there is no server {replacement}; name an existing server or leave it empty"),
        ));
    }
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

/// Checks the spec: known fields, the secrets rule, environment names, the typed `MCPServer`
/// spec and the operator's rules, the runtime's strict parser for what is not a container
/// image (a package, command or URL), and, for [`RunsOn::Runtime`], that the runtime can run
/// it. Returns the values found to be secrets.
fn check_spec(
    problems: &mut Problems,
    spec: &Value,
    namespace: &str,
    name: &str,
    runs_on: RunsOn,
) -> Vec<String> {
    if spec.is_null() {
        // A missing spec is reported by the caller that knows it is missing.
        if !problems.has("spec") {
            problems.push(FieldError::new(
                "spec",
                "is missing; give the MCPServer spec: transport plus image, command or url",
            ));
        }
        return Vec::new();
    }
    let Some(object) = spec.as_object() else {
        problems.push(FieldError::new(
            "spec",
            "must be an object with transport and image, command or url",
        ));
        return Vec::new();
    };
    for key in object.keys() {
        if !SPEC_FIELDS.contains(key) {
            problems.push(FieldError::new(
                format!("spec.{key}"),
                "is not a field of an MCPServer spec; check the spelling (such as transport, image, args, env, secrets, proxyPort, mcpPort, resources, permissionProfile)",
            ));
        }
    }
    let hidden = secrets::scan(object, problems);
    env_entries(problems, object);
    let image = object.get("image").and_then(Value::as_str).unwrap_or("");
    let package = image.starts_with("npx://") || image.starts_with("uvx://");
    let has_command = object.contains_key("command");
    let has_url = object.contains_key("url");
    // A container image the operator runs: neither a package nor another scheme, and alone.
    let container = !image.is_empty() && !image.contains("://") && !has_command && !has_url;
    // The runtime's strict parser reads what is not a container image (package, command,
    // URL, or no source at all), whatever the runtime; the local runtime also refuses a
    // container image, which it cannot run.
    if !container || runs_on == RunsOn::Runtime(Runtime::Local) {
        problems.check(crate::runtime::parse_spec(spec));
    }
    if runs_on == RunsOn::Runtime(Runtime::Kubernetes) {
        if has_command {
            problems.push(FieldError::new(
                "spec.command",
                "the Kubernetes runtime runs container images, not local commands; set image instead",
            ));
        } else if package {
            problems.push(FieldError::new(
                "spec.image",
                format!(
                    "{image:?} is a package, which only the local runtime runs; the Kubernetes \
                     runtime needs a container image (such as ghcr.io/org/server:1.0)"
                ),
            ));
        }
    }
    // The typed MCPServer spec checks types and ranges, and the operator's validate step its
    // rules. It needs an image: for anything but a container image a stand-in takes its
    // place (the runtime's parser above checked the source itself).
    let mut typed = spec.clone();
    if !container {
        typed["image"] = json!("apiary.invalid/placeholder");
        if let Some(map) = typed.as_object_mut() {
            map.remove("command");
            map.remove("url");
        }
    }
    let typed: MCPServerSpec = match serde_path_to_error::deserialize(typed) {
        Ok(typed) => typed,
        Err(error) => {
            let path = error.path().to_string();
            problems.push(FieldError::new(
                format!("spec.{path}"),
                format!("{}; fix the value's type", error.inner()),
            ));
            return hidden;
        }
    };
    let mut server = MCPServer::new(name, typed);
    server.metadata.namespace = Some(namespace.to_owned());
    // A ConfigMap profile is read from the cluster when the server is reconciled; here only
    // its reference is checked.
    let configmap = server
        .spec
        .permission_profile
        .as_ref()
        .filter(|p| p.kind == crate::resources::crd::ProfileKind::Configmap);
    if let Some(profile) = configmap {
        problems.check(dns_label("spec.permissionProfile.name", &profile.name));
    }
    if let Err(invalid) = render::validate(&server, configmap.map(|_| "{}")) {
        problems.push(FieldError::new(invalid.field, invalid.reason));
    }
    hidden
}

/// `spec.env` holds only `{name, value}` entries with variable names, and `spec.secrets`
/// only targets variable names (`[A-Za-z_][A-Za-z0-9_]*`).
fn env_entries(problems: &mut Problems, spec: &Map<String, Value>) {
    if let Some(env) = spec.get("env").and_then(Value::as_array) {
        for (i, entry) in env.iter().enumerate() {
            let Some(entry) = entry.as_object() else {
                problems.push(FieldError::new(
                    format!("spec.env[{i}]"),
                    "must be an object with name and value",
                ));
                continue;
            };
            for key in entry.keys() {
                if key == "valueFrom" {
                    problems.push(FieldError::new(
                        format!("spec.env[{i}].valueFrom"),
                        "is not supported; reference a Secret under spec.secrets as {name, key, targetEnvName}",
                    ));
                } else if key != "name" && key != "value" {
                    problems.push(FieldError::new(
                        format!("spec.env[{i}].{key}"),
                        "is not a field of an environment variable; use name and value",
                    ));
                }
            }
            let name = entry
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !is_env_name(name) {
                problems.push(FieldError::new(
                    format!("spec.env[{i}].name"),
                    ENV_NAME_RULE,
                ));
            }
        }
    }
    if let Some(refs) = spec.get("secrets").and_then(Value::as_array) {
        for (i, entry) in refs.iter().enumerate() {
            let target = entry
                .get("targetEnvName")
                .or_else(|| entry.get("key"))
                .and_then(Value::as_str);
            if let Some(target) = target.filter(|t| !t.is_empty() && !is_env_name(t)) {
                problems.push(FieldError::new(
                    format!("spec.secrets[{i}].targetEnvName"),
                    format!(
                        "{target:?} is not a variable name (letters, digits and '_', not \
                         starting with a digit); set targetEnvName to one, such as API_TOKEN"
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration_of(spec: Value) -> ServerRegistration {
        ServerRegistration {
            description: "A server".into(),
            owner_team: "search".into(),
            spec,
            ..ServerRegistration::default()
        }
    }

    fn fields(result: Result<(), FieldErrors>) -> Vec<String> {
        result.map_or_else(
            |errors| errors.all().iter().map(|e| e.field.clone()).collect(),
            |()| Vec::new(),
        )
    }

    #[test]
    fn every_invalid_field_is_reported_at_once() {
        let mut bad = registration_of(json!({
            "command": "mcp", "transport": "stdio", "proxyPort": 70_000,
            "env": [{ "name": "1A=B; rm", "value": "x" }],
            "args": ["--api-key", "k-1234"],
        }));
        bad.tags = (0..40).map(|i| format!("t{i}")).collect();
        bad.docs_url = "file:///etc/passwd".into();
        let found = fields(registration("tools", "Bad", &bad, RunsOn::Recorded));
        for field in [
            "name",
            "tags",
            "docsUrl",
            "spec.args[1]",
            "spec.env[0].name",
            "spec.proxyPort",
        ] {
            assert!(found.iter().any(|f| f == field), "{field} in {found:?}");
        }
        assert_eq!(found[0], "name", "names come first");
    }

    #[test]
    fn only_a_proposal_for_the_local_runtime_must_be_runnable_there() {
        let image = registration_of(json!({ "image": "ghcr.io/example/mcp:1.0" }));
        assert!(registration("tools", "osv", &image, RunsOn::Recorded).is_ok());
        assert_eq!(
            fields(registration(
                "tools",
                "osv",
                &image,
                RunsOn::Runtime(Runtime::Local)
            )),
            ["spec.image"]
        );
        let package = registration_of(json!({ "image": "npx://--foo;rm -rf" }));
        for runs_on in [RunsOn::Recorded, RunsOn::Runtime(Runtime::Kubernetes)] {
            assert_eq!(
                fields(registration("tools", "x", &package, runs_on)),
                ["spec.image"]
            );
        }
        let command = registration_of(json!({ "command": "mcp", "transport": "stdio" }));
        assert!(registration("tools", "x", &command, RunsOn::Recorded).is_ok());
        assert_eq!(
            fields(registration(
                "tools",
                "x",
                &command,
                RunsOn::Runtime(Runtime::Kubernetes)
            )),
            ["spec.command"]
        );
    }

    #[test]
    fn tags_have_limits() {
        for (tags, field) in [
            (vec!["a,b"], "tags[0]"),
            (vec!["ok", ""], "tags[1]"),
            (vec!["x", "x"], "tags[1]"),
        ] {
            let mut r = registration_of(json!({ "command": "mcp" }));
            r.tags = tags.iter().map(|t| t.to_string()).collect();
            assert_eq!(
                fields(registration("tools", "x", &r, RunsOn::Recorded)),
                [field]
            );
        }
        let mut long = registration_of(json!({ "command": "mcp" }));
        long.tags = vec!["t".repeat(64)];
        assert_eq!(
            fields(registration("tools", "x", &long, RunsOn::Recorded)),
            ["tags[0]"]
        );
    }
}
