//! The admin's curation form (`/servers/{namespace}/{name}/curate`): the page's data, and the
//! form post that saves it. The form is plain HTML: checkboxes named `show`, text fields
//! `name.<tool>` and `description.<tool>`, selects `hint.<tool>.<annotation>` (empty, `true` or
//! `false`), and `allow` and `deny` globs one per line. A preview
//! is the same form sent with GET, so the page reads the draft from its own URL.

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

use apiary_app::access::Action;
use apiary_app::model::curation_form::{
    CurateToolRow, CurationPage, HintChoice, PreviewTool, HINTS,
};
use apiary_app::services::{CurationService, ServiceError};
use serde_json::Value;

use crate::api_error::ApiError;
use crate::api_request::ServerPath;
use crate::auth::Principal;
use crate::db::{Db, DbError};
use crate::registry::curation::api::{published_of, save_everywhere};
use crate::registry::curation::{curated_tools, store, validate, Curation, ToolOverride};
use crate::registry::model::ToolDef;
use crate::registry::RegistryState;

/// The form post route.
pub fn routes() -> Router<RegistryState> {
    Router::new().route("/servers/{namespace}/{name}/curate", post(save))
}

/// The curation a submitted form describes, over the published tools; what the form does not
/// edit (annotations other than the [`HINTS`], how unknown tools are refused) stays as `saved`
/// has it.
pub fn curation_from_form(
    form: &[(String, String)],
    published: &[ToolDef],
    saved: &Curation,
) -> Curation {
    let value = |key: &str| {
        form.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let lines = |key: &str| -> Vec<String> {
        value(key)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let shown: HashSet<&str> = form
        .iter()
        .filter(|(k, _)| k == "show")
        .map(|(_, v)| v.as_str())
        .collect();
    let mut curation = Curation {
        allow: lines("allow"),
        deny: lines("deny"),
        hidden: published
            .iter()
            .filter(|t| !shown.contains(t.name.as_str()))
            .map(|t| t.name.clone())
            .collect(),
        overrides: Default::default(),
        unknown_tools: saved.unknown_tools,
    };
    for tool in published {
        let rename = value(&format!("name.{}", tool.name));
        let describe = value(&format!("description.{}", tool.name));
        let mut annotations = saved
            .overrides
            .get(&tool.name)
            .and_then(|o| o.annotations.clone())
            .unwrap_or_default();
        for (key, _) in HINTS {
            match value(&format!("hint.{}.{key}", tool.name)).as_str() {
                "true" => annotations.insert(key.into(), Value::Bool(true)),
                "false" => annotations.insert(key.into(), Value::Bool(false)),
                _ => annotations.remove(key),
            };
        }
        let annotations = (!annotations.is_empty()).then_some(annotations);
        let change = ToolOverride {
            name: (!rename.is_empty() && rename != tool.name).then_some(rename),
            description: (!describe.is_empty()).then_some(describe),
            annotations,
        };
        if change != ToolOverride::default() {
            curation.overrides.insert(tool.name.clone(), change);
        }
    }
    curation
}

/// The page for `curation` over `published`.
fn page_of(
    (namespace, name): (&str, &str),
    published: &[ToolDef],
    curation: &Curation,
    draft: bool,
) -> CurationPage {
    let errors = draft
        .then(|| validate(curation, published).err())
        .flatten()
        .map(|errors| {
            errors
                .all()
                .iter()
                .map(|e| (e.field.clone(), e.message.clone()))
                .collect()
        })
        .unwrap_or_default();
    let curated = curated_tools(published, None, None, curation);
    let hidden = published
        .iter()
        .map(|t| t.name.clone())
        .filter(|name| !curated.upstream_names.contains(name))
        .collect();
    let preview = curated
        .tools
        .into_iter()
        .zip(curated.upstream_names)
        .map(|(t, upstream)| PreviewTool {
            renamed_from: (upstream != t.name).then_some(upstream),
            hints: HINTS
                .iter()
                .filter(|(key, _)| hint(t.annotations.as_ref(), key) == Some(true))
                .map(|(_, label)| *label)
                .collect::<Vec<_>>()
                .join(", "),
            name: t.name,
            description: t.description.unwrap_or_default(),
        })
        .collect();
    CurationPage {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        tools: published
            .iter()
            .map(|tool| {
                let own = curation.overrides.get(&tool.name);
                CurateToolRow {
                    name: tool.name.clone(),
                    description: tool.description.clone().unwrap_or_default(),
                    shown: !curation.hidden.contains(&tool.name),
                    rename: own.and_then(|o| o.name.clone()).unwrap_or_default(),
                    describe: own.and_then(|o| o.description.clone()).unwrap_or_default(),
                    hints: HINTS
                        .iter()
                        .map(|(key, label)| HintChoice {
                            key: (*key).into(),
                            label: (*label).into(),
                            server: hint(tool.annotations.as_ref(), key),
                            chosen: own
                                .and_then(|o| o.annotations.as_ref())
                                .and_then(|a| a.get(*key))
                                .and_then(Value::as_bool)
                                .map(|b| b.to_string())
                                .unwrap_or_default(),
                        })
                        .collect(),
                }
            })
            .collect(),
        allow: curation.allow.join("\n"),
        deny: curation.deny.join("\n"),
        preview,
        hidden,
        errors,
        draft,
    }
}

/// The boolean annotation `key` of a tool's `annotations`, if set.
fn hint(annotations: Option<&Value>, key: &str) -> Option<bool> {
    annotations?.get(key)?.as_bool()
}

/// The curation form's data over a database.
#[derive(Clone, Debug)]
pub struct CurationForms {
    db: Db,
    servers: crate::servers::ServerStore,
}

impl CurationForms {
    /// Forms over `db`.
    pub fn new(db: Db, servers: crate::servers::ServerStore) -> Self {
        Self { db, servers }
    }

    async fn load(
        &self,
        namespace: &str,
        name: &str,
        draft: Option<&str>,
    ) -> Result<Option<CurationPage>, DbError> {
        let Some(id) = self.servers.id_of(namespace, name).await? else {
            return Ok(None);
        };
        let published = published_of(&self.db, &id).await?;
        let saved = store::load(&self.db, &id).await?;
        Ok(Some(match draft {
            Some(query) => {
                let form = parse(query.trim_start_matches('?').as_bytes());
                let curation = curation_from_form(&form, &published, &saved);
                page_of((namespace, name), &published, &curation, true)
            }
            None => page_of((namespace, name), &published, &saved, false),
        }))
    }
}

#[async_trait::async_trait]
impl CurationService for CurationForms {
    async fn page(
        &self,
        namespace: &str,
        name: &str,
        draft: Option<&str>,
    ) -> Result<Option<CurationPage>, ServiceError> {
        self.load(namespace, name, draft).await.map_err(|error| {
            tracing::error!(%error, "cannot read the curation");
            ServiceError("the curation cannot be read right now; try again shortly".into())
        })
    }
}

/// `POST /servers/{namespace}/{name}/curate`: saves the form (admins), then back to the page:
/// saved, or the draft with the reason it was refused.
pub async fn save(
    State(state): State<RegistryState>,
    principal: Principal,
    server: ServerPath,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (actor, id) = state
        .servers
        .admin_of(&principal, Action::Curate, &server)
        .await?;
    let published = published_of(&state.db, &id).await?;
    let saved = store::load(&state.db, &id).await?;
    let form = parse(&body);
    let curation = curation_from_form(&form, &published, &saved);
    let page = format!("/servers/{server}/curate");
    let location = if validate(&curation, &published).is_ok() {
        save_everywhere(&state, &server, &id, &curation, actor.into()).await?;
        format!("{page}?saved=1")
    } else {
        // Back to the form with what was typed; the page says what to fix.
        format!("{page}?{}", String::from_utf8_lossy(&body))
    };
    Ok((StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response())
}

fn parse(form: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(form).into_owned().collect()
}
