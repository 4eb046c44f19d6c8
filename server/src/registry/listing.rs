//! One query that reads the published servers with their tools and health, shared by the
//! registry API, the exports and the console.

use std::sync::Arc;

use apiary_app::model::Health;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::db::{json_column, Db, DbError};

use super::curation::cache::{DerivedCache, DERIVED_KEY_COLUMNS, DERIVED_KEY_JOIN};
use super::curation::store::{curated_from_row, CuratedRow};
use super::curation::Curation;
use super::model::PolicyFinding;
use super::store::latest_health_evidence;
use super::store::{gateway_window_start, latest_health_sql};
use super::tool_list::ToolList;

/// A published server with everything the registry shows about it.
#[derive(Clone, Debug, Default)]
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
    pub tools: ToolList,
    /// The server's own name of each tool in `tools`, in the same order (they differ for
    /// renamed tools).
    pub upstream_names: Arc<[String]>,
    /// The admin's curation of the tools (already applied to `tools`).
    pub curation: Arc<Curation>,
    /// Policy findings of the newest snapshot.
    pub findings: Arc<[PolicyFinding]>,
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
    /// `cache` holds the curated tools of the servers they draw on.
    fn published<'a>(
        &'a self,
        db: &'a Db,
        query: &'a Query,
        cache: &'a ListingCache,
    ) -> futures::future::BoxFuture<'a, Result<Vec<PublishedServer>, DbError>>;
}

/// [`list_published`] and what `more` publishes, merged in namespace and name order (at most
/// `query.limit`).
pub async fn list_all_published(
    db: &Db,
    more: Option<&dyn MorePublished>,
    query: &Query,
    slow_ms: i64,
    cache: &ListingCache,
) -> Result<Vec<PublishedServer>, DbError> {
    let mut servers = list_published(db, query, slow_ms, cache).await?;
    if let Some(more) = more {
        servers.extend(more.published(db, query, cache).await?);
        servers.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        if let Some(limit) = query.limit.and_then(|l| usize::try_from(l).ok()) {
            servers.truncate(limit);
        }
    }
    Ok(servers)
}

/// Filters for [`list_published`].
#[derive(Clone, Debug, Default, PartialEq)]
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

impl Query {
    /// True when nothing filters or limits the listing.
    fn is_everything(&self) -> bool {
        *self == Self::default()
    }
}

/// What the registry shows of a server's snapshots and curation, derived once per
/// combination (see [`DerivedCache`]) and shared by every listing that shows it.
#[derive(Debug, Default)]
pub struct SnapshotView {
    tools: ToolList,
    upstream_names: Arc<[String]>,
    curation: Arc<Curation>,
    findings: Arc<[PolicyFinding]>,
    drift: bool,
    version: String,
}

impl SnapshotView {
    /// Derives the view from a row selected as [`DerivedCache::values`] describes.
    fn derive(row: &AnyRow) -> Result<Self, DbError> {
        let CuratedRow {
            tools,
            curation,
            drift,
        } = curated_from_row(row)?;
        Ok(Self {
            tools: tools.tools.into(),
            upstream_names: tools.upstream_names.into(),
            curation: Arc::new(curation),
            findings: json_column::<Vec<PolicyFinding>>(row, "latest_findings")?
                .unwrap_or_default()
                .into(),
            drift: drift.is_some_and(|d| !d.is_empty()),
            version: row
                .try_get::<Option<String>, _>("server_version")?
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "0.0.0".into()),
        })
    }
}

/// The [`SnapshotView`] of each server listed last, shared by clones.
pub type ListingCache = DerivedCache<SnapshotView>;

/// Published, non-retired servers matching `query`, ordered by namespace and name, their
/// tools taken from `cache` unless their snapshots or curation changed. `slow_ms` is the
/// latency above which a healthy server counts as slow.
pub async fn list_published(
    db: &Db,
    query: &Query,
    slow_ms: i64,
    cache: &ListingCache,
) -> Result<Vec<PublishedServer>, DbError> {
    let mut sql = Sql {
        text: String::new(),
        args: Vec::new(),
    };
    let since = sql.bind(QueryArg::Int(gateway_window_start(crate::db::now_millis())));
    let health = latest_health_sql(&since);
    let (health_columns, health_joins) = (health.columns, health.joins);
    sql.text = format!(
        "SELECT s.id, s.namespace, s.name, s.description, s.owner_team, s.category, s.cost_class, \
         s.sensitivity, s.tags, s.docs_url, s.lifecycle, s.replacement, s.lifecycle_message, s.spec, s.created_at, \
         s.updated_at, {health_columns}, {DERIVED_KEY_COLUMNS} \
         FROM servers s {DERIVED_KEY_JOIN} {health_joins} \
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
    let views = cache.values(db, &rows, SnapshotView::derive).await?;
    if query.is_everything() {
        cache.retain_only(&rows);
    }
    rows.iter()
        .zip(views)
        .filter_map(|(row, view)| Some(from_row(row, view?.as_ref(), slow_ms)))
        .collect()
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

fn from_row(row: &AnyRow, view: &SnapshotView, slow_ms: i64) -> Result<PublishedServer, DbError> {
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
        version: view.version.clone(),
        tools: view.tools.clone(),
        upstream_names: Arc::clone(&view.upstream_names),
        curation: Arc::clone(&view.curation),
        findings: Arc::clone(&view.findings),
        drift: view.drift,
        health: evidence.health(),
        health_reason: evidence.reason(),
        latency_ms,
        members: Vec::new(),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}
