//! One query that reads the published servers with their tools and health, shared by the
//! registry API, the exports and the console.

use serde::Serialize;

use apiary_app::model::Health;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::db::{json_column, Db, DbError};

use super::curation::store::{
    curated_from_row, CuratedRow, CURATED_TOOL_COLUMNS, CURATED_TOOL_JOINS,
};
use super::curation::Curation;
use super::model::{PolicyFinding, ToolDef};
use super::store::latest_health_evidence;
use super::store::{gateway_window_start, latest_health_sql};

/// A published server with everything the registry shows about it.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishedServer {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Owning team.
    pub owner_team: String,
    /// Category.
    pub category: String,
    /// Cost class.
    pub cost_class: String,
    /// Sensitivity.
    pub sensitivity: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Documentation URL.
    pub docs_url: String,
    /// Lifecycle: active or deprecated (retired servers are not published).
    pub lifecycle: String,
    /// The replacement of a deprecated server.
    pub replacement: Option<String>,
    /// Why it is deprecated, in the owners' words.
    pub lifecycle_message: String,
    /// The server spec.
    pub spec: serde_json::Value,
    /// The server's own version from its baseline snapshot, `0.0.0` before the first fetch.
    pub version: String,
    /// The published tools after curation, as consumers see them.
    pub tools: Vec<ToolDef>,
    /// The server's own name of each tool in `tools`, in the same order (they differ for
    /// renamed tools).
    #[serde(skip)]
    pub upstream_names: Vec<String>,
    /// The admin's curation of the tools (already applied to `tools`).
    #[serde(skip)]
    pub curation: Curation,
    /// Policy findings of the newest snapshot.
    pub findings: Vec<PolicyFinding>,
    /// True when the newest snapshot drifted from the approved baseline.
    pub drift: bool,
    /// Health.
    pub health: Health,
    /// Why the health reads as it does.
    pub health_reason: String,
    /// Latency of the last fetch in milliseconds.
    pub latency_ms: Option<i64>,
    /// For a virtual server: the servers (`namespace/name`) its tools come from; empty for a
    /// server.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// First registration, Unix milliseconds.
    pub created_at: i64,
    /// Last change, Unix milliseconds.
    pub updated_at: i64,
}

impl PublishedServer {
    /// `namespace/name`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// Published entries that are not servers (virtual servers, [`crate::virtual_servers`]),
/// which the registry lists beside the servers.
pub trait MorePublished: Send + Sync {
    /// The entries matching `query`, ordered by namespace and name.
    fn published<'a>(
        &'a self,
        db: &'a Db,
        query: &'a Query,
    ) -> futures::future::BoxFuture<'a, Result<Vec<PublishedServer>, DbError>>;
}

/// [`list_published`] and what `more` publishes, merged in namespace and name order (at most
/// `query.limit`).
pub async fn list_all_published(
    db: &Db,
    more: Option<&dyn MorePublished>,
    query: &Query,
    slow_ms: i64,
) -> Result<Vec<PublishedServer>, DbError> {
    let mut servers = list_published(db, query, slow_ms).await?;
    if let Some(more) = more {
        servers.extend(more.published(db, query).await?);
        servers.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        if let Some(limit) = query.limit.and_then(|l| usize::try_from(l).ok()) {
            servers.truncate(limit);
        }
    }
    Ok(servers)
}

/// Filters for [`list_published`].
#[derive(Clone, Debug, Default)]
pub struct Query {
    /// Case-insensitive substring of `namespace/name` or the description.
    pub search: Option<String>,
    /// Only servers changed after this time (Unix milliseconds).
    pub updated_since: Option<i64>,
    /// Only servers after this `(namespace, name)`.
    pub after: Option<(String, String)>,
    /// Exactly this server.
    pub exact: Option<(String, String)>,
    /// At most this many.
    pub limit: Option<i64>,
    /// Metadata filters: owner team, category, cost class, sensitivity.
    pub owner_team: Option<String>,
    /// See `owner_team`.
    pub category: Option<String>,
    /// See `owner_team`.
    pub cost_class: Option<String>,
    /// See `owner_team`.
    pub sensitivity: Option<String>,
}

/// Published, non-retired servers matching `query`, ordered by namespace and name.
/// `slow_ms` is the latency above which a healthy server counts as slow.
pub async fn list_published(
    db: &Db,
    query: &Query,
    slow_ms: i64,
) -> Result<Vec<PublishedServer>, DbError> {
    let mut sql = Sql {
        text: String::new(),
        args: Vec::new(),
    };
    let since = sql.bind(QueryArg::Int(gateway_window_start(crate::db::now_millis())));
    let health = latest_health_sql(&since);
    let (health_columns, health_joins) = (health.columns, health.joins);
    sql.text = format!(
        "SELECT s.namespace, s.name, s.description, s.owner_team, s.category, s.cost_class, \
         s.sensitivity, s.tags, s.docs_url, s.lifecycle, s.replacement, s.lifecycle_message, s.spec, s.created_at, \
         s.updated_at, b.server_version, l.findings AS latest_findings, \
         {health_columns}, {CURATED_TOOL_COLUMNS} \
         FROM servers s {CURATED_TOOL_JOINS} {health_joins} \
         WHERE s.published = TRUE AND s.lifecycle <> 'retired'",
    );
    if let Some(search) = query.search.as_deref().filter(|s| !s.trim().is_empty()) {
        let n = sql.bind(QueryArg::Text(format!(
            "%{}%",
            search.trim().to_lowercase()
        )));
        sql.text.push_str(&format!(
            " AND (LOWER(s.namespace || '/' || s.name) LIKE {n} OR LOWER(s.description) LIKE {n})"
        ));
    }
    if let Some(since) = query.updated_since {
        let n = sql.bind(QueryArg::Int(since));
        sql.text.push_str(&format!(" AND s.updated_at > {n}"));
    }
    for (column, value) in [
        ("owner_team", &query.owner_team),
        ("category", &query.category),
        ("cost_class", &query.cost_class),
        ("sensitivity", &query.sensitivity),
    ] {
        if let Some(value) = value {
            let n = sql.bind(QueryArg::Text(value.clone()));
            sql.text.push_str(&format!(" AND s.{column} = {n}"));
        }
    }
    if let Some((namespace, name)) = &query.exact {
        let ns = sql.bind(QueryArg::Text(namespace.clone()));
        let nm = sql.bind(QueryArg::Text(name.clone()));
        sql.text
            .push_str(&format!(" AND s.namespace = {ns} AND s.name = {nm}"));
    }
    if let Some((namespace, name)) = &query.after {
        let ns = sql.bind(QueryArg::Text(namespace.clone()));
        let nm = sql.bind(QueryArg::Text(name.clone()));
        sql.text.push_str(&format!(
            " AND (s.namespace > {ns} OR (s.namespace = {ns} AND s.name > {nm}))"
        ));
    }
    sql.text.push_str(" ORDER BY s.namespace, s.name");
    if let Some(limit) = query.limit {
        let n = sql.bind(QueryArg::Int(limit));
        sql.text.push_str(&format!(" LIMIT {n}"));
    }
    let mut q = sqlx::query(&sql.text);
    for arg in sql.args {
        q = match arg {
            QueryArg::Text(t) => q.bind(t),
            QueryArg::Int(i) => q.bind(i),
        };
    }
    let rows = q.fetch_all(db.pool()).await?;
    rows.iter().map(|row| from_row(row, slow_ms)).collect()
}

enum QueryArg {
    Text(String),
    Int(i64),
}

/// SQL text plus its arguments, numbered `$1`, `$2`, … (portable across SQLite and PostgreSQL).
struct Sql {
    text: String,
    args: Vec<QueryArg>,
}

impl Sql {
    /// Adds an argument and returns its placeholder.
    fn bind(&mut self, arg: QueryArg) -> String {
        self.args.push(arg);
        format!("${}", self.args.len())
    }
}

fn from_row(row: &AnyRow, slow_ms: i64) -> Result<PublishedServer, DbError> {
    let CuratedRow {
        tools: curated,
        curation,
        drift,
    } = curated_from_row(row)?;
    let evidence = latest_health_evidence(row, slow_ms)?;
    let latency_ms: Option<i64> = row.try_get("health_latency")?;
    Ok(PublishedServer {
        namespace: row.try_get("namespace")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        owner_team: row.try_get("owner_team")?,
        category: row.try_get("category")?,
        cost_class: row.try_get("cost_class")?,
        sensitivity: row.try_get("sensitivity")?,
        tags: json_column(row, "tags")?.unwrap_or_default(),
        docs_url: row.try_get("docs_url")?,
        lifecycle: row.try_get("lifecycle")?,
        replacement: row.try_get("replacement")?,
        lifecycle_message: row.try_get("lifecycle_message")?,
        spec: json_column(row, "spec")?.unwrap_or_default(),
        version: row
            .try_get::<Option<String>, _>("server_version")?
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "0.0.0".into()),
        tools: curated.tools,
        upstream_names: curated.upstream_names,
        curation,
        findings: json_column(row, "latest_findings")?.unwrap_or_default(),
        drift: drift.is_some_and(|d| !d.is_empty()),
        health: evidence.health(),
        health_reason: evidence.reason(),
        latency_ms,
        members: Vec::new(),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}
