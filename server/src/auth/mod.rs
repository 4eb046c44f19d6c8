//! Sign-in and authorization: OIDC login into a database-backed session, roles from the
//! provider's groups, and the middleware that puts the person behind each request into it.
//!
//! Without an issuer (the embedded default) every request acts as the single local admin.

pub mod bearer;
pub mod cedar;
mod guard;
mod http;
mod index;
mod lifetime;
pub mod oidc;
pub mod resource;
mod routes;
mod server_guard;
pub mod session;

pub use crate::config::oidc::{
    OidcSettings, RawOidc, RoleMapping, Secret, DEFAULT_SESSION_MAX_AGE, DEFAULT_SESSION_RECHECK,
};
pub use guard::{bearer_of, require_sign_in, Forbidden, Principal};
pub use routes::{routes, BACKCHANNEL_LOGOUT_PATH};

use apiary_app::access::Viewer;

use self::oidc::{OidcProvider, VerifiedIdentity};
use crate::db::DbError;

/// Sign-in for one Apiary: the provider and the session store.
#[derive(Clone)]
pub struct Auth {
    /// The OpenID provider.
    pub provider: OidcProvider,
    /// Where sessions live.
    pub store: session::Store,
    /// Whether cookies need HTTPS (the public URL is https).
    pub secure_cookies: bool,
    /// Verifies machine clients' bearer tokens.
    pub bearer: bearer::BearerVerifier,
    /// The `aud` that bearer tokens for Apiary's API must carry.
    pub audience: String,
    /// The URL people and clients reach Apiary at.
    pub public_url: String,
    /// The database where sessions are indexed by the provider's `sub` and `sid`; set by
    /// [`crate::web::AppState::with_auth`].
    pub db: Option<crate::db::Db>,
}

/// Why sign-in could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    /// The provider settings are unusable.
    #[error(transparent)]
    Oidc(#[from] oidc::OidcError),
    /// The session store could not be opened.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for AuthSetupError {
    fn from(error: sqlx::Error) -> Self {
        AuthSetupError::Db(DbError::Query(error))
    }
}

impl Auth {
    /// Sets up sign-in with `settings`, sessions in `database_url`, and `public_url` as the
    /// address the provider sends people back to.
    pub async fn connect(
        settings: OidcSettings,
        database_url: &str,
        public_url: &str,
    ) -> Result<Self, AuthSetupError> {
        let audience = settings
            .audience
            .clone()
            .unwrap_or_else(|| public_url.to_owned());
        let provider = OidcProvider::new(settings, public_url)?;
        let store = session::Store::connect(database_url).await?;
        Ok(Auth {
            bearer: bearer::BearerVerifier::new(provider.clone()),
            provider,
            store,
            secure_cookies: public_url.starts_with("https://"),
            audience,
            public_url: public_url.trim_end_matches('/').to_owned(),
            db: None,
        })
    }

    /// The viewer for a verified identity: roles from the mapped groups, teams from the
    /// groups with the team prefix.
    pub fn viewer_for(&self, identity: VerifiedIdentity) -> Viewer {
        let settings = self.provider.settings();
        let groups = identity.groups.iter().map(String::as_str);
        let roles = settings.roles.roles_for(groups.clone());
        let teams = if settings.team_prefix.is_empty() {
            Vec::new()
        } else {
            groups
                .filter_map(|g| g.strip_prefix(settings.team_prefix.as_str()))
                .filter(|t| !t.is_empty())
                .map(String::from)
                .collect()
        };
        Viewer {
            subject: identity.subject,
            name: identity.name,
            email: identity.email,
            roles,
            teams,
            local_mode: false,
        }
    }
}
