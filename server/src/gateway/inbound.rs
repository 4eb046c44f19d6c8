//! The inbound security a server's own manifest declares (ToolHive's `oidcConfig`,
//! `oidcConfigRef`, `authzConfig`, ...). The gateway is the only way to a server, so it is where
//! these are enforced:
//! - OIDC ([`crate::resources::oidc`]): only bearer tokens of the server's issuer for its
//!   audience, verified as Apiary's own are (signature against the issuer's JWKS, `iss`, `aud`,
//!   `exp`); Apiary's tokens and access rules do not apply to such a server;
//! - Cedar authorization ([`crate::resources::authz`]), only together with such OIDC: the
//!   verified token's claims are the principal ([`super::authz`]);
//! - anything Apiary does not enforce withholds the server: every request gets an answer
//!   naming the field, and nothing reaches the backend.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use kube::Api;

use k8s_openapi::api::core::v1::ConfigMap;

use crate::auth::bearer::{IssuerVerifier, Jwks};
use crate::auth::cedar::Policies;
use crate::registry::listing::PublishedServer;
use crate::resources::authz::{self, Source};
use crate::resources::crd::MCPOIDCConfig;
use crate::resources::oidc::{self, Shared};
use crate::resources::unsupported::{self, Referenced};

/// How the gateway admits callers of one server.
#[derive(Clone, Default)]
pub enum Inbound {
    /// Apiary's own tokens and the server's access rules ([`super::access`]).
    #[default]
    Apiary,
    /// Bearer tokens of the server's own issuer, for its audience; with its Cedar policies
    /// when it declares some.
    Oidc(Box<IssuerVerifier>, Option<Arc<Policies>>),
    /// Not served; the text names the fields and why.
    Withheld(String),
}

impl std::fmt::Debug for Inbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Inbound::Apiary => f.write_str("Apiary"),
            Inbound::Oidc(verifier, policies) => f
                .debug_struct("Oidc")
                .field("issuer", &verifier.issuer())
                .field("audience", &verifier.audience())
                .field("cedar", &policies.is_some())
                .finish(),
            Inbound::Withheld(why) => f.debug_tuple("Withheld").field(why).finish(),
        }
    }
}

impl Inbound {
    /// The inbound security of the server `name` with `spec` (its `MCPServer` spec as JSON),
    /// given the objects it refers to; keys come from `keys`.
    pub fn of(spec: &Value, name: &str, referenced: Referenced<'_>, keys: &KeyCache) -> Self {
        let unenforced = unsupported::unenforced_with(spec, referenced);
        if !unenforced.is_empty() {
            return Inbound::Withheld(unsupported::withheld(&unenforced));
        }
        let rule = oidc::rule(spec, referenced.oidc).ok().flatten();
        let policies = authz::rule(spec, referenced.authz, name).ok().flatten();
        match rule {
            Some(rule) => Inbound::Oidc(
                Box::new(IssuerVerifier::new(
                    rule.issuer.clone(),
                    rule.audience,
                    keys.get(rule.issuer, rule.jwks_url),
                )),
                policies.map(Arc::new),
            ),
            None => Inbound::Apiary,
        }
    }

    /// The inbound security of `server`, reading the `MCPOIDCConfig` its `oidcConfigRef`
    /// names and the ConfigMap its `authzConfig` names through `cluster` (none in local mode).
    pub async fn load(
        server: &PublishedServer,
        cluster: Option<&kube::Client>,
        keys: &KeyCache,
    ) -> Self {
        let reads = Reads::of(&server.spec, &server.namespace, cluster).await;
        Self::of(&server.spec, &server.name, reads.referenced(), keys)
    }

    /// Why the gateway withholds a server with `spec` in `namespace`, reading what it refers
    /// to as [`Self::load`] does; `None` when it is served.
    pub async fn withheld(
        spec: &Value,
        namespace: &str,
        cluster: Option<&kube::Client>,
    ) -> Option<String> {
        let reads = Reads::of(spec, namespace, cluster).await;
        let unenforced = unsupported::unenforced_with(spec, reads.referenced());
        (!unenforced.is_empty()).then(|| unsupported::withheld(&unenforced))
    }
}

/// The objects a spec refers to, as read (or why they could not be).
struct Reads {
    shared: Option<Result<Value, String>>,
    configmap: Option<Result<String, String>>,
}

impl Reads {
    async fn of(spec: &Value, namespace: &str, cluster: Option<&kube::Client>) -> Self {
        let shared = match oidc::shared_name(spec) {
            None => None,
            Some(name) => Some(read_shared(name, namespace, cluster).await),
        };
        let configmap = match authz::configmap(spec) {
            None => None,
            Some((name, key)) => Some(read_authz(name, key, namespace, cluster).await),
        };
        Self { shared, configmap }
    }

    fn referenced(&self) -> Referenced<'_> {
        Referenced {
            oidc: match &self.shared {
                None => Shared::NotRead,
                Some(Ok(spec)) => Shared::Found(spec),
                Some(Err(why)) => Shared::Unavailable(why),
            },
            authz: match &self.configmap {
                None => Source::NotRead,
                Some(Ok(text)) => Source::Found(text),
                Some(Err(why)) => Source::Unavailable(why),
            },
        }
    }
}

/// The spec of the `MCPOIDCConfig` `name`, or why it cannot be had.
async fn read_shared(
    name: &str,
    namespace: &str,
    cluster: Option<&kube::Client>,
) -> Result<Value, String> {
    let Some(client) = cluster else {
        return Err(
            "Apiary runs in local mode, where no MCPOIDCConfig is read; use the \
                    inline oidcConfig"
                .into(),
        );
    };
    let api: Api<MCPOIDCConfig> = Api::namespaced(client.clone(), namespace);
    match api.get_opt(name).await {
        Ok(Some(config)) => Ok(serde_json::to_value(&config.spec).unwrap_or_default()),
        Ok(None) => Err(format!("not found in namespace {namespace}")),
        Err(error) => Err(format!("cannot be read: {error}")),
    }
}

/// The text under `key` of the ConfigMap `name`, or why it cannot be had.
async fn read_authz(
    name: &str,
    key: &str,
    namespace: &str,
    cluster: Option<&kube::Client>,
) -> Result<String, String> {
    let Some(client) = cluster else {
        return Err(
            "Apiary runs in local mode, where no ConfigMap is read; use type inline".into(),
        );
    };
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    match api.get_opt(name).await {
        Ok(Some(map)) => authz::text_of(map, key, namespace),
        Ok(None) => Err(format!("not found in namespace {namespace}")),
        Err(error) => Err(format!("cannot be read: {error}")),
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
        let mut keys = crate::locks::lock(&self.keys);
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
        Inbound::of(&spec, "s", Referenced::NOT_READ, &KeyCache::default())
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
        let Inbound::Oidc(verifier, None) = of(json!({"oidcConfig": {"type": "inline", "inline": {
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
    fn cedar_policies_come_with_the_oidc_that_verifies_the_principal() {
        let oidc = json!({"type": "inline", "inline": {"issuer": "https://idp.example.com", "audience": "a"}});
        let policies = json!({"type": "inline", "inline": {"policies": [
            "permit(principal, action == Action::\"call_tool\", resource == Tool::\"weather\");"]}});
        assert!(matches!(
            of(json!({"image": "x", "oidcConfig": oidc, "authzConfig": policies})),
            Inbound::Oidc(_, Some(_))
        ));
        let bad = json!({"type": "inline", "inline": {"policies": ["permit(principal,"]}});
        let Inbound::Withheld(why) =
            of(json!({"image": "x", "oidcConfig": oidc, "authzConfig": bad}))
        else {
            panic!("withheld")
        };
        assert!(
            why.contains("spec.authzConfig.inline (policy 0 does not parse: "),
            "{why}"
        );
        let reference = json!({"type": "configMap", "configMap": {"name": "authz"}});
        let Inbound::Withheld(why) = Inbound::of(
            &json!({"image": "x", "oidcConfig": oidc, "authzConfig": reference}),
            "s",
            Referenced {
                oidc: Shared::NotRead,
                authz: Source::Unavailable("Apiary runs in local mode"),
            },
            &KeyCache::default(),
        ) else {
            panic!("withheld")
        };
        assert!(
            why.contains(
                "spec.authzConfig.configMap.name (ConfigMap authz: Apiary runs in local mode)"
            ),
            "{why}"
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
            "s",
            Referenced {
                oidc: Shared::Unavailable("Apiary runs in local mode"),
                authz: Source::NotRead,
            },
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
