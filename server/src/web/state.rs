use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use metrics_exporter_prometheus::PrometheusHandle;

use apiary_app::services::Services;

use crate::auth::Auth;
use crate::console::server_page::ServerPages;
use crate::db::Db;
use crate::gateway::{Gateway, GatewayState};
use crate::onboarding::OnboardingState;
use crate::registry::fetch::FetchLimits;
use crate::registry::fleet::FleetRefresh;
use crate::registry::refresh::Refresher;
use crate::registry::{RegistrySettings, RegistryState};
use crate::runtime::{AnyRuntime, LocalRuntime, LocalRuntimeConfig};
use crate::servers::ServerStore;
use crate::virtual_servers::api::VirtualServersState;
use crate::Settings;

use super::security_headers::FormTargets;

/// Everything a request handler can reach; each area's handlers get their part of it
/// ([`FromRef`]), so the areas never name it.
#[derive(Clone, FromRef)]
pub struct AppState {
    /// Leptos' rendering options.
    pub leptos_options: LeptosOptions,
    /// The validated settings.
    pub settings: Arc<Settings>,
    /// The database.
    pub db: Db,
    /// Server records.
    pub servers: ServerStore,
    /// The console's catalog, its tool text cached across requests.
    pub catalog: crate::console::catalog::Catalog,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Where the published servers run.
    pub runtime: AnyRuntime,
    /// Registry settings.
    pub registry: Arc<RegistrySettings>,
    /// Live tool fetches.
    pub refresher: Refresher,
    /// The fleet-wide refresh admins start from the console, and its progress.
    pub fleet: FleetRefresh,
    /// OIDC sign-in and sessions; `None` in local mode, where everyone is the local admin.
    pub auth: Option<Arc<Auth>>,
    /// Where forms may post besides this site (the identity provider, for sign-out).
    pub form_targets: FormTargets,
    /// The MCP gateway's loaded servers and HTTP client.
    pub gateway: Gateway,
    /// The cluster client in Kubernetes mode, for applying approved proposals.
    pub kube: Option<kube::Client>,
    /// What the registry lists beside the servers (the virtual servers).
    pub more_published: Option<Arc<dyn crate::registry::listing::MorePublished>>,
    /// The registry listing's tools derived from each server's snapshots and curation.
    pub listing: crate::registry::listing::ListingCache,
    /// Whole answers of `/v0.1/servers`, sent again while the fleet stands still.
    pub registry_pages: crate::db::changes::ChangeCache<axum::body::Bytes>,
}

impl AppState {
    /// Wires the state from settings and an open database, with a [`LocalRuntime`] that runs
    /// nothing until servers are applied to it.
    pub fn new(settings: Settings, db: Db) -> Self {
        let runtime = Arc::new(LocalRuntime::new(LocalRuntimeConfig::default()));
        Self::with_runtime(settings, db, AnyRuntime::Local(runtime))
    }

    /// Wires the state from settings, an open database and the runtime to use.
    pub fn with_runtime(settings: Settings, db: Db, runtime: AnyRuntime) -> Self {
        let leptos_options = LeptosOptions::builder()
            .output_name(super::assets::bundle_name(&settings.site_dir))
            .site_root(settings.site_dir.display().to_string())
            .site_pkg_dir("pkg")
            .site_addr(settings.listen)
            .build();
        let registry = Arc::new(RegistrySettings {
            public_url: settings
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", settings.listen)),
            slow_ms: settings.health_slow_ms,
        });
        let limits = FetchLimits {
            timeout: std::time::Duration::from_secs(settings.fetch_timeout_secs),
            ..FetchLimits::default()
        };
        let gateway = Gateway::new(limits.timeout, settings.runtime);
        gateway.serve_also(Arc::new(crate::virtual_servers::Endpoints::default()));
        let refresher = Refresher::new(
            db.clone(),
            settings.policy.clone(),
            limits,
            settings.runtime,
        )
        .with_local_sessions(gateway.local_sessions(runtime.reach()));
        Self {
            refresher,
            fleet: FleetRefresh::default(),
            registry,
            leptos_options,
            servers: ServerStore::new(db.clone()),
            catalog: crate::console::catalog::Catalog::new(db.clone())
                .slow_after(settings.health_slow_ms),
            settings: Arc::new(settings),
            db,
            metrics: crate::telemetry::metrics_handle(),
            runtime,
            auth: None,
            form_targets: FormTargets::default(),
            gateway,
            kube: None,
            more_published: Some(Arc::new(crate::virtual_servers::Published)),
            listing: crate::registry::listing::ListingCache::default(),
            registry_pages: crate::db::changes::ChangeCache::default(),
        }
    }

    /// The same state with OIDC sign-in.
    pub fn with_auth(mut self, mut auth: Auth) -> Self {
        self.form_targets = FormTargets(Some(auth.provider.issuer_origin()));
        auth.db = Some(self.db.clone());
        self.auth = Some(Arc::new(auth));
        self
    }

    /// The same state with a Kubernetes client, which approved proposals are applied through
    /// and refresh results written to `MCPServer` statuses in Kubernetes mode.
    pub fn with_kube(mut self, client: kube::Client) -> Self {
        if self.settings.runtime == crate::config::Runtime::Kubernetes {
            self.refresher = self.refresher.with_cluster_status(client.clone());
        }
        self.kube = Some(client);
        self
    }

    /// The services that server functions use.
    pub fn services(&self) -> Services {
        Services {
            catalog: Arc::new(self.catalog.clone()),
            server_pages: Arc::new(
                ServerPages::new(self.db.clone(), &self.registry)
                    .with_cluster(self.cluster().cloned())
                    .with_runtime(self.runtime.reach(), self.settings.runtime),
            ),
            audit: Arc::new(crate::audit::AuditLog::new(self.db.clone())),
            drift: Arc::new(crate::registry::drift_review::DriftApprovals(
                RegistryState::from_ref(self),
            )),
            virtual_servers: Arc::new(crate::virtual_servers::console::VirtualServerCards::new(
                self.db.clone(),
                self.registry.public_url.clone(),
                self.listing.clone(),
            )),
            curation: Arc::new(crate::console::curate::CurationForms::new(
                self.db.clone(),
                self.servers.clone(),
            )),
            onboarding: Arc::new(crate::console::proposals::OnboardingConsole::new(
                OnboardingState::from_ref(self),
            )),
            refresh: Arc::new(crate::console::refresh::ConsoleRefresh::new(
                self.servers.clone(),
                self.refresher.clone(),
                self.fleet.clone(),
            )),
        }
    }
}

impl AppState {
    /// The cluster client when Apiary runs the Kubernetes runtime; `None` in local mode.
    pub fn cluster(&self) -> Option<&kube::Client> {
        self.kube
            .as_ref()
            .filter(|_| self.settings.runtime == crate::config::Runtime::Kubernetes)
    }
}

impl FromRef<AppState> for GatewayState {
    fn from_ref(state: &AppState) -> Self {
        Self {
            gateway: state.gateway.clone(),
            db: state.db.clone(),
            servers: state.servers.clone(),
            runtime: state.runtime.reach(),
            kube: state.kube.clone(),
            auth: state.auth.clone(),
        }
    }
}

impl FromRef<AppState> for RegistryState {
    fn from_ref(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            servers: state.servers.clone(),
            settings: state.registry.clone(),
            more_published: state.more_published.clone(),
            listing: state.listing.clone(),
            pages: state.registry_pages.clone(),
            refresher: state.refresher.clone(),
            gateway: Arc::new(state.gateway.clone()),
            kube: state.kube.clone(),
        }
    }
}

impl FromRef<AppState> for OnboardingState {
    fn from_ref(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            servers: state.servers.clone(),
            mode: state.settings.runtime,
            runtime: state.runtime.clone(),
            kube: state.kube.clone(),
            gateway: state.gateway.clone(),
            refresher: state.refresher.clone(),
        }
    }
}

impl FromRef<AppState> for VirtualServersState {
    fn from_ref(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            gateway: state.gateway.clone(),
            registry: state.registry.clone(),
        }
    }
}
