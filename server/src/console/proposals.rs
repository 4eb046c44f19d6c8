//! The console's side of onboarding ([`OnboardingService`]): the propose form turned into a
//! [`ProposalInput`] and validated like the JSON API, the review queue, one review with its
//! side-by-side manifest diff and pending schema drift, and decisions, applied like the JSON
//! API applies them.

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use apiary_app::access::{Action, Role, Viewer};
use apiary_app::model::proposals::{
    DecisionView, FormError, ProposalForm, ProposalReview, ProposalSummary, RetireView,
};
use apiary_app::services::{DecisionOutcome, OnboardingService, ServiceError};

use crate::auth::Principal;
use crate::db::DbError;
use crate::display_time::{display_time, moment};
use crate::onboarding::apply::apply;
use crate::onboarding::decide::{authorize, decide, DecideError};
use crate::onboarding::manifest::{manifest_field, parse_manifest_off_thread, revision_manifest};
use crate::onboarding::manifest_diff::side_by_side;
use crate::onboarding::model::{DecisionInput, Proposal, ProposalKind, ProposalStatus, Verdict};
use crate::onboarding::store::{ListFilter, ProposalStore, ProposeError};
use crate::onboarding::validate::{metadata_json, ProposalInput};
use crate::onboarding::{
    findings, form_workload, revisions, virtual_form, virtual_proposals, OnboardingState,
};
use crate::registry::drift_review;
use crate::validation::FieldError;

use super::snapshot_view::{finding_view, pending_drift};

/// Onboarding for the console, over onboarding's state (an approval is applied to the runtime
/// and reloads the gateway, as through the JSON API).
#[derive(Clone)]
pub struct OnboardingConsole {
    state: OnboardingState,
}

impl OnboardingConsole {
    /// Onboarding over `state`.
    pub fn new(state: OnboardingState) -> Self {
        Self { state }
    }

    fn store(&self) -> ProposalStore {
        ProposalStore::new(self.state.db.clone())
    }
}

fn failed(error: DbError) -> ServiceError {
    tracing::error!(%error, "onboarding console");
    ServiceError("the proposals could not be read or written; try again".into())
}

/// The form field a validation path belongs next to.
pub fn form_field(path: &str) -> &'static str {
    let head = path.split(['.', '[']).next().unwrap_or_default();
    match head {
        "kind" => "kind",
        "namespace" => "namespace",
        "name" => "name",
        "description" => "description",
        "ownerTeam" => "owner_team",
        "category" => "category",
        "costClass" => "cost_class",
        "sensitivity" => "sensitivity",
        "tags" => "tags",
        "docsUrl" => "docs_url",
        "replacement" => "replacement",
        "message" => "message",
        "env" | "secrets" => "env",
        "spec" => match path
            .strip_prefix("spec.")
            .map(|rest| rest.split(['.', '[']).next())
        {
            Some(Some("command")) => "command",
            Some(Some("args")) => "args",
            Some(Some("transport")) => "transport",
            Some(Some("env" | "secrets")) => "env",
            Some(Some("proxyPort" | "port")) => "port",
            Some(Some("mcpPort" | "targetPort")) => "mcp_port",
            Some(Some("permissionProfile")) => "permission_profile",
            Some(Some("resources")) => resources_field(path),
            Some(Some("image" | "url")) | None => "source",
            _ => "spec",
        },
        _ => "form",
    }
}

/// The resources input a `spec.resources…` path belongs next to.
fn resources_field(path: &str) -> &'static str {
    let limits = path.contains("limits");
    match (limits, path.ends_with("memory")) {
        (false, false) => "cpu_request",
        (false, true) => "memory_request",
        (true, false) => "cpu_limit",
        (true, true) => "memory_limit",
    }
}

fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty())
}

/// The spec the form's source, command, arguments, transport and environment describe, or
/// every field that cannot be read.
pub fn form_spec(form: &ProposalForm) -> Result<Value, Vec<FormError>> {
    let (spec, errors) = read_spec(form);
    if errors.is_empty() {
        Ok(spec)
    } else {
        Err(errors)
    }
}

/// The spec the form describes, without the fields that cannot be read, and those fields'
/// refusals (one per field).
fn read_spec(form: &ProposalForm) -> (Value, Vec<FormError>) {
    let mut errors: Vec<FormError> = Vec::new();
    let mut refuse = |error: FormError| {
        if !errors.iter().any(|e| e.field == error.field) {
            errors.push(error);
        }
    };
    let mut spec = Map::new();
    if !form.extra_spec.trim().is_empty() {
        match serde_json::from_str::<Map<String, Value>>(&form.extra_spec) {
            Ok(extra) => spec.extend(extra),
            Err(e) => refuse(FormError {
                field: "spec".into(),
                message: format!(
                    "the rest of the current spec is not a JSON object ({e}); reload the change page"
                ),
            }),
        }
    }
    let source = form.source.trim();
    let command = form.command.trim();
    if source.starts_with("http://") || source.starts_with("https://") {
        spec.insert("url".into(), json!(source));
    } else if !source.is_empty() {
        spec.insert("image".into(), json!(source));
    }
    if !command.is_empty() {
        spec.insert("command".into(), json!(command));
    }
    let args: Vec<&str> = lines(&form.args).collect();
    if !args.is_empty() {
        spec.insert("args".into(), json!(args));
    }
    if !form.transport.trim().is_empty() {
        spec.insert("transport".into(), json!(form.transport.trim()));
    }
    let (mut env, mut secrets) = (Vec::new(), Vec::new());
    for (i, line) in lines(&form.env).enumerate() {
        let Some((name, value)) = line.split_once('=') else {
            refuse(FormError {
                field: "env".into(),
                message: format!(
                    "line {} is not NAME=value (or NAME=secret:secret-name/key); add the = and a value",
                    i + 1
                ),
            });
            continue;
        };
        let name = name.trim();
        match value.trim().strip_prefix("secret:") {
            Some(reference) => {
                let Some((secret, key)) = reference.split_once('/') else {
                    refuse(FormError {
                        field: "env".into(),
                        message: format!(
                            "line {} references {reference:?}; write secret:secret-name/key",
                            i + 1
                        ),
                    });
                    continue;
                };
                secrets.push(
                    json!({ "name": secret.trim(), "key": key.trim(), "targetEnvName": name }),
                );
            }
            None => env.push(json!({ "name": name, "value": value.trim() })),
        }
    }
    if !env.is_empty() {
        spec.insert("env".into(), json!(env));
    }
    if !secrets.is_empty() {
        spec.insert("secrets".into(), json!(secrets));
    }
    if let Err(workload) = form_workload::insert_into(&mut spec, form) {
        workload.into_iter().for_each(&mut refuse);
    }
    (Value::Object(spec), errors)
}

/// The proposal the form describes, and the refusals of the fields that could not be read
/// (left out of it); for a pasted manifest, `manifest` is true and errors belong to the
/// manifest field.
async fn form_input(
    form: &ProposalForm,
) -> Result<(ProposalInput, bool, Vec<FormError>), FormError> {
    let kind = ProposalKind::parse(form.kind.trim());
    if !form.manifest.trim().is_empty() && kind != Some(ProposalKind::Retire) {
        let mut input = parse_manifest_off_thread(form.manifest.clone())
            .await
            .map_err(|e| manifest_error(&e))?;
        input.kind = kind.or(Some(ProposalKind::Create));
        return Ok((input, true, Vec::new()));
    }
    let text = |value: &str| value.trim().to_owned();
    let mut input = ProposalInput {
        kind,
        namespace: text(&form.namespace),
        name: text(&form.name),
        ..ProposalInput::default()
    };
    if kind == Some(ProposalKind::Retire) {
        input.replacement = Some(text(&form.replacement));
        input.message = Some(text(&form.message));
        return Ok((input, false, Vec::new()));
    }
    input.description = text(&form.description);
    input.owner_team = text(&form.owner_team);
    input.category = text(&form.category);
    input.cost_class = text(&form.cost_class);
    input.sensitivity = text(&form.sensitivity);
    input.docs_url = text(&form.docs_url);
    input.tags = form
        .tags
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    let (spec, errors) = read_spec(form);
    input.spec = Some(spec);
    Ok((input, false, errors))
}

/// `errors` followed by those of `more` whose form field has none yet (a field that could
/// not be read is not also refused for what was left of it).
fn merge(mut errors: Vec<FormError>, more: impl IntoIterator<Item = FormError>) -> Vec<FormError> {
    for error in more {
        if !errors.iter().any(|e| e.field == error.field) {
            errors.push(error);
        }
    }
    errors
}

fn manifest_error(error: &FieldError) -> FormError {
    FormError {
        field: "manifest".into(),
        message: format!("{}: {}", manifest_field(&error.field), error.message),
    }
}

fn field_error(error: &FieldError) -> FormError {
    let field = form_field(&error.field);
    let message = if error.field == field {
        error.message.clone()
    } else {
        format!("{}: {}", error.field, error.message)
    };
    FormError {
        field: field.into(),
        message,
    }
}

fn summary(proposal: &Proposal, decidable: bool, yours: bool) -> ProposalSummary {
    ProposalSummary {
        id: proposal.id.clone(),
        kind: proposal.kind.as_str().into(),
        target: format!("{}/{}", proposal.namespace, proposal.name),
        author_name: proposal.author_name.clone(),
        owner_team: proposal.owner_team.clone(),
        status: proposal.status.as_str().into(),
        created: moment(proposal.created_at),
        decidable,
        yours,
    }
}

impl OnboardingConsole {
    /// The manifest the proposal is compared with: its base revision's, or (for a server
    /// without that revision) the server as it is now; empty for a new server.
    async fn base_manifest(&self, proposal: &Proposal) -> Result<String, DbError> {
        let (namespace, name) = (&proposal.namespace, &proposal.name);
        if proposal.kind == ProposalKind::Create {
            return Ok(String::new());
        }
        if proposal.kind == ProposalKind::Virtual {
            // A virtual server's definition as it is now (its history is the audit log's).
            let current =
                crate::virtual_servers::store::load(&self.state.db, namespace, name).await?;
            return Ok(current
                .and_then(|v| serde_json::to_value(&v.spec).ok())
                .map(|spec| pretty(&spec))
                .unwrap_or_default());
        }
        if let Some(number) = proposal.base_revision {
            let base = revisions::list(&self.state.db, namespace, name)
                .await?
                .into_iter()
                .find(|r| r.number == number);
            if let Some(base) = base {
                return Ok(base.manifest);
            }
        }
        Ok(self
            .current(namespace, name)
            .await?
            .map(|(spec, metadata)| revision_manifest(namespace, name, &spec, &metadata))
            .unwrap_or_default())
    }

    /// The current spec and metadata of `namespace/name`.
    async fn current(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<(Value, Value)>, DbError> {
        let stored = crate::servers::stored(self.state.db.pool(), namespace, name).await?;
        Ok(stored.map(|(server, ..)| (server.spec.clone(), metadata_json(&server))))
    }
}

/// The spec fields the form edits (the last four through [`form_workload`]); the rest travel
/// in `extra_spec`.
const FORM_SPEC_FIELDS: &[&str] = &[
    "image",
    "url",
    "command",
    "args",
    "transport",
    "env",
    "secrets",
    "proxyPort",
    "mcpPort",
    "permissionProfile",
    "resources",
];

/// The propose form filled from a spec and metadata (the inverse of [`form_spec`]).
fn form_of(namespace: &str, name: &str, spec: &Value, metadata: &Value) -> ProposalForm {
    let text = |value: &Value, key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let list = |value: &Value, key: &str| -> Vec<String> {
        value
            .get(key)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut env: Vec<String> = spec
        .get("env")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|e| format!("{}={}", text(e, "name"), text(e, "value")))
                .collect()
        })
        .unwrap_or_default();
    if let Some(secrets) = spec.get("secrets").and_then(Value::as_array) {
        for secret in secrets {
            let target = Some(text(secret, "targetEnvName"))
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| text(secret, "key"));
            env.push(format!(
                "{target}=secret:{}/{}",
                text(secret, "name"),
                text(secret, "key")
            ));
        }
    }
    let url = text(spec, "url");
    let extra: Map<String, Value> = spec
        .as_object()
        .map(|all| {
            all.iter()
                .filter(|(key, _)| !FORM_SPEC_FIELDS.contains(&key.as_str()))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect()
        })
        .unwrap_or_default();
    let mut form = ProposalForm {
        extra_spec: if extra.is_empty() {
            String::new()
        } else {
            Value::Object(extra).to_string()
        },
        kind: "update".into(),
        namespace: namespace.into(),
        name: name.into(),
        description: text(metadata, "description"),
        owner_team: text(metadata, "ownerTeam"),
        category: text(metadata, "category"),
        cost_class: text(metadata, "costClass"),
        sensitivity: text(metadata, "sensitivity"),
        tags: list(metadata, "tags").join(", "),
        docs_url: text(metadata, "docsUrl"),
        source: if url.is_empty() {
            text(spec, "image")
        } else {
            url
        },
        command: text(spec, "command"),
        args: list(spec, "args").join("\n"),
        transport: text(spec, "transport"),
        env: env.join("\n"),
        ..ProposalForm::default()
    };
    form_workload::fill_from(&mut form, spec);
    form
}

#[async_trait]
impl OnboardingService for OnboardingConsole {
    async fn propose(
        &self,
        author: &Viewer,
        form: &ProposalForm,
    ) -> Result<Result<String, Vec<FormError>>, ServiceError> {
        let (input, from_manifest, unreadable) = match form_input(form).await {
            Ok(found) => found,
            Err(error) => return Ok(Err(vec![error])),
        };
        let runtime = self.state.mode;
        if !unreadable.is_empty() {
            // Nothing is stored; the other fields are checked too, so every refusal is listed.
            return match self.store().check(&input, runtime).await {
                Ok(()) => Ok(Err(unreadable)),
                Err(ProposeError::Invalid(invalid)) => Ok(Err(merge(
                    unreadable,
                    invalid.all().iter().map(field_error),
                ))),
                Err(ProposeError::Db(db)) => Err(failed(db)),
            };
        }
        match self.store().propose(&input, author, runtime).await {
            Ok(proposal) => Ok(Ok(proposal.id)),
            Err(ProposeError::Invalid(invalid)) if from_manifest => {
                Ok(Err(invalid.all().iter().map(manifest_error).collect()))
            }
            Err(ProposeError::Invalid(invalid)) => {
                Ok(Err(invalid.all().iter().map(field_error).collect()))
            }
            Err(ProposeError::Db(db)) => Err(failed(db)),
        }
    }

    async fn propose_virtual(
        &self,
        author: &Viewer,
        form: &apiary_app::model::virtual_servers::VirtualProposalForm,
    ) -> Result<Result<String, Vec<FormError>>, ServiceError> {
        use crate::virtual_servers::store::SaveError;
        let spec = match virtual_form::spec_of(form) {
            Ok(spec) => spec,
            Err(errors) => return Ok(Err(errors)),
        };
        let id = (form.namespace.trim(), form.name.trim());
        match virtual_proposals::propose_definition(&self.state.db, id, &spec, author).await {
            Ok(proposal) => Ok(Ok(proposal.id)),
            Err(SaveError::Invalid(invalid)) => Ok(Err(invalid
                .all()
                .iter()
                .map(|e| virtual_form::form_error(&e.field, &e.message))
                .collect())),
            Err(managed @ SaveError::Managed { .. }) => Ok(Err(vec![FormError {
                field: "name".into(),
                message: managed.to_string(),
            }])),
            Err(SaveError::Db(db)) => Err(failed(db)),
        }
    }

    async fn preview(&self, form: &ProposalForm) -> Result<String, ServiceError> {
        Ok(match form_input(form).await {
            Err(error) => format!("# {}: {}\n", error.field, error.message),
            Ok((_, _, unreadable)) if !unreadable.is_empty() => unreadable
                .iter()
                .map(|error| format!("# {}: {}\n", error.field, error.message))
                .collect(),
            Ok((input, _, _)) => {
                let metadata = json!({
                    "description": input.description, "ownerTeam": input.owner_team,
                    "category": input.category, "costClass": input.cost_class,
                    "sensitivity": input.sensitivity, "tags": input.tags,
                    "docsUrl": input.docs_url, "published": input.published.unwrap_or(true),
                });
                let spec = input.spec.unwrap_or_else(|| json!({}));
                revision_manifest(&input.namespace, &input.name, &spec, &metadata)
            }
        })
    }

    async fn change_form(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<ProposalForm>, ServiceError> {
        Ok(self
            .current(namespace, name)
            .await
            .map_err(failed)?
            .map(|(spec, metadata)| form_of(namespace, name, &spec, &metadata)))
    }

    async fn queue(&self, viewer: &Viewer) -> Result<Vec<ProposalSummary>, ServiceError> {
        let filter = ListFilter {
            status: Some(ProposalStatus::Open),
            team: None,
        };
        let open = self.store().list(&filter).await.map_err(failed)?;
        Ok(open
            .iter()
            .filter_map(|p| {
                let yours = p.author_subject == viewer.subject;
                let decidable = viewer.may(Action::Review, Some(&p.owner_team))
                    && (!yours || viewer.local_mode);
                (decidable || yours).then(|| summary(p, decidable, yours))
            })
            .collect())
    }

    async fn review(
        &self,
        viewer: &Viewer,
        id: &str,
    ) -> Result<Option<ProposalReview>, ServiceError> {
        let Some(proposal) = self.store().get(id).await.map_err(failed)? else {
            return Ok(None);
        };
        let found = findings::for_proposal(&self.state.db, &proposal)
            .await
            .map_err(failed)?;
        let blocked = !findings::blocking(&found).is_empty();
        let before = self.base_manifest(&proposal).await.map_err(failed)?;
        let (after, retire) = if proposal.kind == ProposalKind::Retire {
            let text = |key: &str| {
                proposal.metadata[key]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            };
            let retire = RetireView {
                replacement: text("replacement"),
                message: text("message"),
            };
            (String::new(), Some(retire))
        } else if proposal.kind == ProposalKind::Virtual {
            (pretty(&proposal.spec), None)
        } else {
            let after = revision_manifest(
                &proposal.namespace,
                &proposal.name,
                &proposal.spec,
                &proposal.metadata,
            );
            (after, None)
        };
        let pending_drift =
            drift_review::pending_for(&self.state.db, &proposal.namespace, &proposal.name)
                .await
                .map_err(failed)?
                .and_then(|open| pending_drift(&open.snapshot_id, open.fetched_at, &open.drift));
        Ok(Some(ProposalReview {
            id: proposal.id.clone(),
            kind: proposal.kind.as_str().into(),
            namespace: proposal.namespace.clone(),
            name: proposal.name.clone(),
            author_name: proposal.author_name.clone(),
            owner_team: proposal.owner_team.clone(),
            base_revision: proposal.base_revision,
            status: proposal.status.as_str().into(),
            version: proposal.version,
            created: moment(proposal.created_at),
            diff: side_by_side(&before, &after),
            retire,
            pending_drift,
            findings: found.iter().map(finding_view).collect(),
            blocked,
            decision: proposal.decision.as_ref().map(|d| DecisionView {
                by_name: if d.by_name.is_empty() {
                    "Apiary".into()
                } else {
                    d.by_name.clone()
                },
                at_label: display_time(d.at),
                comment: d.comment.clone(),
                override_reason: d.override_reason.clone(),
                self_approval: d.self_approval,
            }),
            error: proposal.error.clone(),
            may_decide: viewer.may(Action::Review, Some(&proposal.owner_team)),
            viewer_is_author: proposal.author_subject == viewer.subject,
            local_mode: viewer.local_mode,
            viewer_is_admin: viewer.has(Role::Admin),
        }))
    }

    async fn decide(
        &self,
        reviewer: &Viewer,
        id: &str,
        approve: bool,
        comment: &str,
        version: i64,
        override_reason: Option<String>,
    ) -> Result<DecisionOutcome, ServiceError> {
        let store = self.store();
        let principal = Principal(reviewer.clone());
        let refused = |error: DecideError| -> Result<DecisionOutcome, ServiceError> {
            match error {
                DecideError::NotFound(_) => Ok(DecisionOutcome::NotFound),
                DecideError::Forbidden(message) => Ok(DecisionOutcome::Refused(message)),
                DecideError::Invalid(field) => Ok(DecisionOutcome::Invalid(FormError {
                    field: field.field,
                    message: field.message,
                })),
                DecideError::Conflict { message, .. } | DecideError::Superseded { message, .. } => {
                    Ok(DecisionOutcome::Refused(message))
                }
                DecideError::Db(db) => Err(failed(db)),
            }
        };
        let proposal = match authorize(&store, &principal, id).await {
            Ok(proposal) => proposal,
            Err(error) => return refused(error),
        };
        let input = DecisionInput {
            decision: if approve {
                Verdict::Approve
            } else {
                Verdict::Reject
            },
            comment: comment.to_owned(),
            version,
            override_reason,
        };
        let decided = match decide(&store, reviewer, proposal, &input).await {
            Ok(decided) => decided,
            Err(error) => return refused(error),
        };
        if decided.status != ProposalStatus::Approved {
            return Ok(DecisionOutcome::Decided(decided.status.as_str().into()));
        }
        let applied = apply(&store, self.state.apply_target(), decided, reviewer)
            .await
            .map_err(|error| {
                tracing::error!(%error, proposal = %id, "applying an approved proposal failed");
                ServiceError(
                    "the approval was recorded but applying it failed; see the proposal".into(),
                )
            })?;
        if applied.status == ProposalStatus::Applied {
            self.state
                .after_apply(&applied.namespace, &applied.name, applied.kind);
        }
        Ok(DecisionOutcome::Decided(applied.status.as_str().into()))
    }
}

/// A virtual server's definition as the review shows it: JSON, one field a line.
fn pretty(spec: &Value) -> String {
    serde_json::to_string_pretty(spec).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_paths_land_next_to_their_form_field() {
        assert_eq!(form_field("spec.image"), "source");
        assert_eq!(form_field("spec.url"), "source");
        assert_eq!(form_field("spec"), "source");
        assert_eq!(form_field("spec.env[0].value"), "env");
        assert_eq!(form_field("spec.secrets[1].key"), "env");
        assert_eq!(form_field("spec.transport"), "transport");
        assert_eq!(form_field("ownerTeam"), "owner_team");
        assert_eq!(form_field("tags[2]"), "tags");
        assert_eq!(form_field("spec.proxyPort"), "port");
        assert_eq!(form_field("spec.targetPort"), "mcp_port");
        assert_eq!(
            form_field("spec.permissionProfile.name"),
            "permission_profile"
        );
        assert_eq!(form_field("spec.resources.limits.memory"), "memory_limit");
        assert_eq!(form_field("spec.resources.requests.cpu"), "cpu_request");
        assert_eq!(form_field("spec.podTemplateSpec"), "spec");
    }

    #[test]
    fn env_lines_become_values_and_secret_references() {
        let form = ProposalForm {
            source: "npx://@modelcontextprotocol/server-everything".into(),
            transport: "stdio".into(),
            env: "LOG_LEVEL=debug\nAPI_TOKEN=secret:search-keys/token\n".into(),
            ..ProposalForm::default()
        };
        let spec = form_spec(&form).expect("a spec");
        assert_eq!(
            spec["image"],
            "npx://@modelcontextprotocol/server-everything"
        );
        assert_eq!(
            spec["env"][0],
            json!({ "name": "LOG_LEVEL", "value": "debug" })
        );
        assert_eq!(
            spec["secrets"][0],
            json!({ "name": "search-keys", "key": "token", "targetEnvName": "API_TOKEN" })
        );
        let mut with_more = spec.clone();
        with_more["proxyPort"] = json!(8080);
        with_more["replicas"] = json!(2);
        let back = form_of("ns", "n", &with_more, &json!({}));
        assert_eq!(back.port, "8080");
        assert_eq!(back.extra_spec, r#"{"replicas":2}"#);
        assert_eq!(
            form_spec(&back).expect("a spec"),
            with_more,
            "nothing is lost"
        );
        assert_eq!(
            back.env,
            "LOG_LEVEL=debug\nAPI_TOKEN=secret:search-keys/token"
        );
        let bad = ProposalForm {
            env: "NOEQUALS".into(),
            ..ProposalForm::default()
        };
        assert_eq!(form_spec(&bad).expect_err("refused")[0].field, "env");
    }
}
