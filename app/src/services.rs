//! The server-side capabilities that server functions use, implemented by the server crate and
//! put into Leptos context. Keeping them behind traits keeps kube, sqlx and rmcp out of this crate.

use std::sync::Arc;

use async_trait::async_trait;
use leptos::prelude::{use_context, ServerFnError};

use crate::access::{Action, Viewer};
use crate::model::audit::{AuditPage, AuditQuery};
use crate::model::catalog_search::{CatalogQuery, CatalogResults};
use crate::model::curation_form::CurationPage;
use crate::model::proposals::{FormError, ProposalForm, ProposalReview, ProposalSummary};
use crate::model::refresh::{FleetProgress, RefreshReport};
use crate::model::server_detail::ServerDetail;
use crate::model::virtual_servers::VirtualServerCard;

/// A failure that is safe to show to the person who caused it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ServiceError(pub String);

/// Read access to the catalog.
#[async_trait]
pub trait CatalogService: Send + Sync {
    /// One page of the servers that are not retired and match `query`, by namespace and name,
    /// with the facet counts.
    async fn search(&self, query: &CatalogQuery) -> Result<CatalogResults, ServiceError>;
}

/// Read access to the virtual servers.
#[async_trait]
pub trait VirtualServerService: Send + Sync {
    /// Every virtual server with the tools it shows now, by namespace and name.
    async fn list(&self) -> Result<Vec<VirtualServerCard>, ServiceError>;
}

/// Read access to one server's page.
#[async_trait]
pub trait ServerPageService: Send + Sync {
    /// Everything the page of `namespace/name` shows, or `None` when there is no such server.
    async fn server_detail(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<ServerDetail>, ServiceError>;
}

/// Read access to the audit log.
#[async_trait]
pub trait AuditService: Send + Sync {
    /// One page of the entries that match `query`, newest first.
    async fn search(&self, query: &AuditQuery) -> Result<AuditPage, ServiceError>;
}

/// The admin's curation form.
#[async_trait]
pub trait CurationService: Send + Sync {
    /// The form of `namespace/name`: the saved curation, or the unsaved `draft` (the form's
    /// query string) with its preview and any error; `None` when there is no such server.
    async fn page(
        &self,
        namespace: &str,
        name: &str,
        draft: Option<&str>,
    ) -> Result<Option<CurationPage>, ServiceError>;
}

/// Approving schema drift.
#[async_trait]
pub trait DriftService: Send + Sync {
    /// The owner team of `namespace/name`, or `None` when there is no such server.
    async fn owner_team(&self, namespace: &str, name: &str)
        -> Result<Option<String>, ServiceError>;

    /// Makes `snapshot_id` the baseline of `namespace/name` on behalf of `viewer` (who may
    /// review it); refused when the comment is empty or the snapshot is no longer pending.
    async fn approve(
        &self,
        viewer: &Viewer,
        namespace: &str,
        name: &str,
        snapshot_id: &str,
        comment: &str,
    ) -> Result<(), ServiceError>;
}

/// Refreshing tools on demand: one server, or every published server as a background job.
#[async_trait]
pub trait RefreshService: Send + Sync {
    /// The owner team of `namespace/name`, or `None` when there is no such server.
    async fn owner_team(&self, namespace: &str, name: &str)
        -> Result<Option<String>, ServiceError>;

    /// Fetches the tools of `namespace/name` now and records them; `None` when there is no
    /// such server.
    async fn refresh(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<RefreshReport>, ServiceError>;

    /// Starts refreshing every published server in the background on behalf of `viewer`,
    /// unless a fleet refresh already runs; the progress either way.
    async fn start_fleet(&self, viewer: &Viewer) -> Result<FleetProgress, ServiceError>;

    /// The progress of the newest fleet refresh.
    fn fleet(&self) -> FleetProgress;
}

/// What a reviewer's decision led to, for the review page to say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecisionOutcome {
    /// Taken; the proposal now has this status (applied, failed, rejected, superseded).
    Decided(String),
    /// Not taken: a field of the decision is invalid.
    Invalid(FormError),
    /// Not taken: someone decided first, the proposal changed, or the viewer may not decide it.
    Refused(String),
    /// No such proposal.
    NotFound,
}

/// Proposals: propose, the review queue, one review, and decisions.
#[async_trait]
pub trait OnboardingService: Send + Sync {
    /// Validates `form` as `author`'s proposal and stores it; its id, or every field that is
    /// wrong, in form order (nothing is stored then).
    async fn propose(
        &self,
        author: &Viewer,
        form: &ProposalForm,
    ) -> Result<Result<String, Vec<FormError>>, ServiceError>;

    /// Validates `form` as `author`'s proposal of a virtual server and stores it; its id, or
    /// every field that is wrong (nothing is stored then).
    async fn propose_virtual(
        &self,
        author: &Viewer,
        form: &crate::model::virtual_servers::VirtualProposalForm,
    ) -> Result<Result<String, Vec<FormError>>, ServiceError>;

    /// The `MCPServer` manifest `form` would propose (not validated), or a YAML comment that
    /// says why there is none yet.
    async fn preview(&self, form: &ProposalForm) -> Result<String, ServiceError>;

    /// The form of an update of `namespace/name`, filled from its current spec and metadata, or
    /// `None` when there is no such server.
    async fn change_form(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<ProposalForm>, ServiceError>;

    /// The open proposals `viewer` may decide, and their own open ones, newest first.
    async fn queue(&self, viewer: &Viewer) -> Result<Vec<ProposalSummary>, ServiceError>;

    /// One proposal with its diff and findings, as `viewer` sees it.
    async fn review(
        &self,
        viewer: &Viewer,
        id: &str,
    ) -> Result<Option<ProposalReview>, ServiceError>;

    /// `reviewer` approves (`approve` true) or rejects proposal `id` at `version`; an approval
    /// is applied at once.
    async fn decide(
        &self,
        reviewer: &Viewer,
        id: &str,
        approve: bool,
        comment: &str,
        version: i64,
        override_reason: Option<String>,
    ) -> Result<DecisionOutcome, ServiceError>;
}

/// Everything server functions can reach, provided once per router.
#[derive(Clone)]
pub struct Services {
    /// The catalog.
    pub catalog: Arc<dyn CatalogService>,
    /// The server pages.
    pub server_pages: Arc<dyn ServerPageService>,
    /// The audit log.
    pub audit: Arc<dyn AuditService>,
    /// Drift approvals.
    pub drift: Arc<dyn DriftService>,
    /// The curation form.
    pub curation: Arc<dyn CurationService>,
    /// Proposals and reviews.
    pub onboarding: Arc<dyn OnboardingService>,
    /// Tool refreshes.
    pub refresh: Arc<dyn RefreshService>,
    /// Virtual servers.
    pub virtual_servers: Arc<dyn VirtualServerService>,
}

/// The services of the current request, or a clear error when the server forgot to provide them.
pub fn services() -> Result<Services, ServerFnError> {
    use_context::<Services>()
        .ok_or_else(|| ServerFnError::new("Apiary's services are not available"))
}

/// The person behind the current request. The server's sign-in middleware puts them into the
/// request; a request without one never reaches a page or server function.
pub fn viewer() -> Result<Viewer, ServerFnError> {
    use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Viewer>().cloned())
        .ok_or_else(|| ServerFnError::new("you are not signed in; reload the page to sign in"))
}

/// The person behind the current request, if they may do `action` (on a server owned by
/// `owner_team`); otherwise an error that says what is missing. Every server function that
/// changes something calls this first.
pub fn authorize(action: Action, owner_team: Option<&str>) -> Result<Viewer, ServerFnError> {
    let viewer = viewer()?;
    if viewer.may(action, owner_team) {
        Ok(viewer)
    } else {
        // The refusal is a 403 for pages and API clients, not a generic server error. A plain
        // form post with a Referer is sent back to that page with the refusal in the query
        // instead (leptos_axum's redirect, which a status set here would replace).
        let sent_back = plain_form_post()
            && use_context::<http::request::Parts>()
                .is_some_and(|parts| parts.headers.contains_key(http::header::REFERER));
        if !sent_back {
            if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                response.set_status(http::StatusCode::FORBIDDEN);
            }
        }
        Err(ServerFnError::new(format!(
            "{} may not {} here; ask an Apiary admin for the right role",
            viewer.name,
            action.describe()
        )))
    }
}

/// True when the current request is a plain form post from a browser without JavaScript (a
/// POST that accepts HTML), which is answered with a redirect to a page rather than with data.
/// A page load accepts HTML too, but is a GET.
pub fn plain_form_post() -> bool {
    use_context::<http::request::Parts>().is_some_and(|parts| {
        parts.method == http::Method::POST
            && parts
                .headers
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("text/html"))
    })
}

/// The Content-Security-Policy nonce the server chose for this response; the server's security
/// headers middleware puts it into the request.
#[derive(Clone, Debug)]
pub struct CspNonce(pub String);

/// Makes the request's CSP nonce the one Leptos puts on its scripts, so the hydration scripts
/// match the `Content-Security-Policy` header.
pub fn provide_request_nonce() {
    let nonce = use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<CspNonce>().cloned());
    if let Some(CspNonce(nonce)) = nonce {
        leptos::prelude::provide_context(leptos::nonce::Nonce::from_value(nonce));
    }
}
