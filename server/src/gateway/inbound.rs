//! The inbound security a server's own manifest declares (ToolHive's `oidcConfig`,
//! `oidcConfigRef`, `authzConfig`, ...). The gateway is the only way to a server, so it is where
//! these are enforced:
//! - OIDC ([`crate::operator::oidc`]): only bearer tokens of the server's issuer for its
//!   audience, verified as Apiary's own are (signature against the issuer's JWKS, `iss`, `aud`,
//!   `exp`); Apiary's tokens and access rules do not apply to such a server;
//! - anything Apiary does not enforce withholds the server: every request gets an answer
//!   naming the field, and nothing reaches the backend.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

use kube::Api;

use crate::auth::bearer::{IssuerVerifier, Jwks};
use crate::operator::crd::MCPOIDCConfig;
use crate::operator::oidc::{self, Shared};
use crate::operator::unsupported;
use crate::registry::listing::PublishedServer;

/// How the gateway admits callers of one server.
#[derive(Clone, Default)]
pub enum Inbound {
    /// Apiary's own tokens and the server's access rules ([`super::access`]).
    #[default]
    Apiary,
    /// Bearer tokens of the server's own issuer, for its audience.
    Oidc(Box<IssuerVerifier>),
    /// Not served; the text names the fields and why.
    Withheld(String),
}

impl std::fmt::Debug for Inbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Inbound::Apiary => f.write_str("Apiary"),
            Inbound::Oidc(verifier) => f
                .debug_struct("Oidc")
                .field("issuer", &verifier.issuer())
                .field("audience", &verifier.audience())
                .finish(),
            Inbound::Withheld(why) => f.debug_tuple("Withheld").field(why).finish(),
        }
    }
}

impl Inbound {
    /// The inbound security of a server with `spec` (its `MCPServer` spec as JSON), whose
    /// `oidcConfigRef` names `shared`; keys come from `keys`.
    pub fn of(spec: &Value, shared: Shared<'_>, keys: &KeyCache) -> Self {
        let unenforced = unsupported::unenforced_with(spec, shared);
        let rule = oidc::rule(spec, shared).ok().flatten();
        if !unenforced.is_empty() {
            return Inbound::Withheld(unsupported::withheld(&unenforced));
        }
        match rule {
            Some(rule) => Inbound::Oidc(Box::new(IssuerVerifier::new(
                rule.issuer.clone(),
                rule.audience,
                keys.get(rule.issuer, rule.jwks_url),
            ))),
            None => Inbound::Apiary,
        }
    }

    /// The inbound security of `server`, reading the `MCPOIDCConfig` its `oidcConfigRef`
    /// names through `cluster` (none in local mode).
    pub async fn load(
        server: &PublishedServer,
        cluster: Option<&kube::Client>,
        keys: &KeyCache,
    ) -> Self {
        let Some(name) = Self::shared_name(&server.spec) else {
            return Self::of(&server.spec, Shared::NotRead, keys);
        };
        let Some(client) = cluster else {
            return Self::of(
                &server.spec,
                Shared::Unavailable(
                    "Apiary runs in local mode, where no MCPOIDCConfig is read; use the \
                     inline oidcConfig",
                ),
                keys,
            );
        };
        let api: Api<MCPOIDCConfig> = Api::namespaced(client.clone(), &server.namespace);
        match api.get_opt(name).await {
            Ok(Some(config)) => {
                let spec = serde_json::to_value(&config.spec).unwrap_or_default();
                Self::of(&server.spec, Shared::Found(&spec), keys)
            }
            Ok(None) => {
                let why = format!("not found in namespace {}", server.namespace);
                Self::of(&server.spec, Shared::Unavailable(&why), keys)
            }
            Err(error) => {
                let why = format!("cannot be read: {error}");
                Self::of(&server.spec, Shared::Unavailable(&why), keys)
            }
        }
    }

    /// Why a server with `spec` is withheld, as far as the spec alone tells (the
    /// `MCPOIDCConfig` of an `oidcConfigRef` is checked when the gateway loads the server).
    pub fn withheld_by_spec(spec: &Value) -> Option<String> {
        let unenforced = unsupported::unenforced(spec);
        (!unenforced.is_empty()).then(|| unsupported::withheld(&unenforced))
    }

    /// Whether the spec names an `MCPOIDCConfig` to read first.
    pub fn shared_name(spec: &Value) -> Option<&str> {
        spec.get("oidcConfigRef")?
            .get("name")?
            .as_str()
            .filter(|n| !n.is_empty())
    }
}

/// Issuers' keys by `(issuer, jwksUrl)`, kept across reloads of the targets, so a server's
/// keys are fetched once per [`crate::auth::bearer`] cache period, not on every reload.
pub struct KeyCache {
    http: reqwest::Client,
    keys: Mutex<HashMap<(String, Option<String>), Jwks>>,
}

impl Default for KeyCache {
    fn default() -> Self {
        crate::tls::install_crypto_provider();
        // The issuer's answers must come from the issuer: no redirects (SSRF).
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_else(|error| {
                tracing::error!(%error, "cannot build the issuers' HTTP client; using the defaults");
                reqwest::Client::default()
            });
        Self {
            http,
            keys: Mutex::default(),
        }
    }
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyCache")
    }
}

impl KeyCache {
    /// The keys of `issuer` (at `jwks_url`, or by discovery).
    fn get(&self, issuer: String, jwks_url: Option<String>) -> Jwks {
        let mut keys = self
            .keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.entry((issuer.clone(), jwks_url.clone()))
            .or_insert_with(|| Jwks::of_issuer(issuer, jwks_url, self.http.clone()))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn of(spec: Value) -> Inbound {
        Inbound::of(&spec, Shared::NotRead, &KeyCache::default())
    }

    #[test]
    fn a_server_without_its_own_security_is_served_with_apiarys() {
        assert!(matches!(of(json!({"image": "x"})), Inbound::Apiary));
        assert!(
            matches!(
                of(json!({"url": "http://x/mcp", "oidcConfig": {}})),
                Inbound::Apiary
            ),
            "an empty object declares nothing"
        );
    }

    #[test]
    fn inline_oidc_is_enforced_with_its_issuer_and_audience() {
        let Inbound::Oidc(verifier) = of(json!({"oidcConfig": {"type": "inline", "inline": {
            "issuer": "https://idp.example.com", "audience": "fetch"}}}))
        else {
            panic!("enforced")
        };
        assert_eq!(
            (verifier.issuer(), verifier.audience()),
            ("https://idp.example.com", "fetch")
        );
    }

    #[test]
    fn an_unenforced_field_withholds_the_server_and_is_named() {
        let Inbound::Withheld(why) = of(json!({
            "image": "x",
            "authzConfig": {"type": "inline", "inline": {"policies": ["permit(principal, action, resource);"]}},
            "audit": {"enabled": true}
        })) else {
            panic!("withheld")
        };
        assert!(why.contains("spec.authzConfig ("), "{why}");
        assert!(
            !why.contains("spec.audit"),
            "only security fields withhold: {why}"
        );
        let Inbound::Withheld(why) = Inbound::of(
            &json!({"oidcConfigRef": {"name": "idp", "audience": "a"}}),
            Shared::Unavailable("Apiary runs in local mode"),
            &KeyCache::default(),
        ) else {
            panic!("withheld")
        };
        assert!(
            why.contains("spec.oidcConfigRef.name (MCPOIDCConfig idp: Apiary runs in local mode)"),
            "{why}"
        );
    }
}
