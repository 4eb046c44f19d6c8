//! Bearer tokens for machines (orchestrators, CI, MCP clients): JWT access tokens from the same
//! provider, verified against its JWKS (cached, refetched when an unknown key id appears) with
//! `iss`, `aud`, `exp` and `nbf` checked. [`IssuerVerifier`] checks the same for another
//! issuer and audience (a server's own OIDC, enforced at the gateway).

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::RwLock;

use super::oidc::{OidcProvider, VerifiedIdentity};

/// Seconds of clock difference tolerated between the provider and Apiary.
const LEEWAY_SECS: u64 = 2;
/// How long fetched keys are trusted before they are fetched again.
const KEYS_FOR: Duration = Duration::from_secs(15 * 60);
/// The least time between two fetches forced by an unknown key id.
const REFETCH_AFTER: Duration = Duration::from_secs(30);
/// How old (`iat`) a logout token may be, in seconds.
const LOGOUT_TOKEN_FOR: i64 = 5 * 60;
/// The `events` member that makes a JWT a back-channel logout token.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The claims of a verified back-channel logout token.
#[derive(Debug, Deserialize)]
pub struct LogoutClaims {
    /// The person whose sessions end.
    pub sub: Option<String>,
    /// The provider session that ended.
    pub sid: Option<String>,
    iat: Option<i64>,
    events: Option<serde_json::Map<String, serde_json::Value>>,
    nonce: Option<serde_json::Value>,
}

/// Why a bearer token was refused; the text goes into `WWW-Authenticate`, so it never
/// contains the token.
#[derive(Debug, thiserror::Error)]
pub enum BearerError {
    /// The token is malformed, badly signed, expired, or for another audience or issuer.
    #[error("{0}")]
    Invalid(String),
    /// The provider's keys could not be fetched.
    #[error("the identity provider's keys are unavailable: {0}")]
    Keys(String),
}

struct Keys {
    set: JwkSet,
    fetched: Instant,
}

/// Where an issuer's signing keys are found.
#[derive(Clone)]
enum KeySource {
    /// Apiary's own provider, through its discovery.
    Provider(OidcProvider),
    /// Another issuer: its `jwks_url`, or else its discovery document.
    Issuer {
        issuer: String,
        jwks_url: Option<String>,
        http: reqwest::Client,
    },
}

/// One issuer's signing keys, fetched on demand and cached ([`KEYS_FOR`]); an unknown key id
/// fetches them again, at most every [`REFETCH_AFTER`].
#[derive(Clone)]
pub struct Jwks {
    source: KeySource,
    keys: Arc<RwLock<Option<Keys>>>,
}

/// Verifies bearer tokens issued by one provider.
#[derive(Clone)]
pub struct BearerVerifier {
    provider: OidcProvider,
    jwks: Jwks,
}

/// Verifies bearer tokens from an issuer other than Apiary's, for one audience: a server
/// whose manifest declares its own OIDC ([`crate::gateway::inbound`]).
#[derive(Clone)]
pub struct IssuerVerifier {
    issuer: String,
    audience: String,
    jwks: Jwks,
}

impl IssuerVerifier {
    /// A verifier for tokens of `issuer` for `audience`, signed by keys from `jwks`.
    pub fn new(issuer: String, audience: String, jwks: Jwks) -> Self {
        Self {
            issuer,
            audience,
            jwks,
        }
    }

    /// The issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The audience.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// Verifies `token`: the signature against the issuer's keys, `iss`, `aud`, `exp` and
    /// `nbf`. Returns all its claims.
    pub async fn verify(
        &self,
        token: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, BearerError> {
        let (alg, key) = self.jwks.signing_key(token).await?;
        let mut validation = Validation::new(alg);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_issuer(&[self.issuer.as_str()]);
        validation.set_audience(&[self.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        decode::<serde_json::Map<String, serde_json::Value>>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| BearerError::Invalid(format!("the token was refused: {e}")))
    }
}

impl Jwks {
    /// The keys of `issuer`, from `jwks_url` or, without one, from the `jwks_uri` of its
    /// discovery document; fetched with `http`, which must not follow redirects.
    pub fn of_issuer(issuer: String, jwks_url: Option<String>, http: reqwest::Client) -> Self {
        Self {
            source: KeySource::Issuer {
                issuer,
                jwks_url,
                http,
            },
            keys: Arc::default(),
        }
    }
}

#[derive(Deserialize)]
struct AccessClaims {
    iss: String,
    sub: Option<String>,
    client_id: Option<String>,
    azp: Option<String>,
    name: Option<String>,
    preferred_username: Option<String>,
    email: Option<String>,
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
}

impl BearerVerifier {
    /// A verifier for tokens from `provider`.
    pub fn new(provider: OidcProvider) -> Self {
        BearerVerifier {
            jwks: Jwks {
                source: KeySource::Provider(provider.clone()),
                keys: Arc::default(),
            },
            provider,
        }
    }

    /// Verifies `token` for one of `audiences` and returns who it speaks for: the subject, or the
    /// client for client-credentials tokens, with the groups from the configured claim.
    pub async fn verify(
        &self,
        token: &str,
        audiences: &[&str],
    ) -> Result<VerifiedIdentity, BearerError> {
        let (alg, key) = self.jwks.signing_key(token).await?;
        let settings = self.provider.settings();
        let mut validation = Validation::new(alg);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_issuer(&[settings.issuer.as_str()]);
        validation.set_audience(audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let claims = decode::<AccessClaims>(token, &key, &validation)
            .map_err(|e| BearerError::Invalid(format!("the token was refused: {e}")))?
            .claims;
        identity_of(claims, &settings.roles_claim)
    }

    /// Verifies an OIDC back-channel `logout_token` for this client: the signature against
    /// the provider's keys, `iss`, `aud` (the client id), `iat`, the back-channel logout
    /// event, no `nonce`, and a `sub` or `sid`.
    pub async fn verify_logout_token(&self, token: &str) -> Result<LogoutClaims, BearerError> {
        let (alg, key) = self.jwks.signing_key(token).await?;
        let settings = self.provider.settings();
        let mut validation = Validation::new(alg);
        validation.leeway = LEEWAY_SECS;
        validation.set_issuer(&[settings.issuer.as_str()]);
        validation.set_audience(&[settings.client_id.as_str()]);
        // `exp` is checked when present; the spec makes `iat` the required time.
        validation.set_required_spec_claims(&["iss", "aud"]);
        let claims = decode::<LogoutClaims>(token, &key, &validation)
            .map_err(|e| BearerError::Invalid(format!("the logout token was refused: {e}")))?
            .claims;
        let now = super::oidc::unix_now();
        match claims.iat {
            Some(iat) if iat <= now + LEEWAY_SECS as i64 && now - iat <= LOGOUT_TOKEN_FOR => {}
            Some(_) => {
                return Err(BearerError::Invalid(
                    "the logout token was issued too long ago or in the future (iat)".into(),
                ))
            }
            None => return Err(BearerError::Invalid("the logout token has no iat".into())),
        }
        if !claims
            .events
            .as_ref()
            .and_then(|events| events.get(BACKCHANNEL_LOGOUT_EVENT))
            .is_some_and(serde_json::Value::is_object)
        {
            return Err(BearerError::Invalid(format!(
                "the logout token lacks the {BACKCHANNEL_LOGOUT_EVENT} event"
            )));
        }
        if claims.nonce.is_some() {
            return Err(BearerError::Invalid(
                "a logout token must not carry a nonce".into(),
            ));
        }
        if claims.sub.is_none() && claims.sid.is_none() {
            return Err(BearerError::Invalid(
                "the logout token names neither sub nor sid".into(),
            ));
        }
        Ok(claims)
    }
}

impl Jwks {
    /// The algorithm and key that `token` says it is signed with, when the provider has them.
    async fn signing_key(&self, token: &str) -> Result<(Algorithm, DecodingKey), BearerError> {
        let header = decode_header(token)
            .map_err(|e| BearerError::Invalid(format!("the token is not a JWT ({e})")))?;
        if !matches!(
            header.alg,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
                | Algorithm::ES256
                | Algorithm::ES384
                | Algorithm::EdDSA
        ) {
            return Err(BearerError::Invalid(format!(
                "tokens signed with {:?} are not accepted",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| BearerError::Invalid("the token names no signing key (kid)".into()))?;
        Ok((header.alg, self.key(&kid).await?))
    }
}

/// Who an access token speaks for.
fn identity_of(claims: AccessClaims, roles_claim: &str) -> Result<VerifiedIdentity, BearerError> {
    let client = claims.client_id.or(claims.azp);
    let who = claims
        .sub
        .or_else(|| client.clone())
        .ok_or_else(|| BearerError::Invalid("the token has neither sub nor client_id".into()))?;
    // A person's name as for sign-in; a machine client's id.
    let name = claims
        .name
        .or(claims.preferred_username)
        .or_else(|| claims.email.clone())
        .or(client)
        .unwrap_or_else(|| who.clone());
    let groups = super::oidc::claim_strings(&claims.other, roles_claim);
    Ok(VerifiedIdentity {
        subject: format!("{}#{who}", claims.iss),
        name,
        email: claims.email,
        groups,
    })
}

impl Jwks {
    /// The decoding key for `kid`, fetching the key set when it is stale or lacks the key.
    async fn key(&self, kid: &str) -> Result<DecodingKey, BearerError> {
        {
            let keys = self.keys.read().await;
            if let Some(keys) = keys.as_ref() {
                let fresh = keys.fetched.elapsed() < KEYS_FOR;
                match keys.set.find(kid) {
                    Some(jwk) if fresh => return decoding_key(jwk),
                    None if keys.fetched.elapsed() < REFETCH_AFTER => {
                        return Err(BearerError::Invalid(format!(
                            "the signing key {kid:?} is not one of the provider's keys"
                        )))
                    }
                    _ => {}
                }
            }
        }
        let set = self.fetch().await?;
        let key = set.find(kid).map(decoding_key).transpose()?;
        *self.keys.write().await = Some(Keys {
            set,
            fetched: Instant::now(),
        });
        key.ok_or_else(|| {
            BearerError::Invalid(format!(
                "the signing key {kid:?} is not one of the provider's keys"
            ))
        })
    }

    async fn fetch(&self) -> Result<JwkSet, BearerError> {
        let (uri, http) = match &self.source {
            KeySource::Provider(provider) => (
                provider
                    .jwks_uri()
                    .await
                    .map_err(|e| BearerError::Keys(e.to_string()))?,
                provider.http(),
            ),
            KeySource::Issuer {
                jwks_url: Some(url),
                http,
                ..
            } => (url.clone(), http),
            KeySource::Issuer {
                issuer,
                jwks_url: None,
                http,
            } => (discovered_jwks_uri(issuer, http).await?, http),
        };
        let response = http
            .get(&uri)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| BearerError::Keys(e.to_string()))?;
        response
            .json::<JwkSet>()
            .await
            .map_err(|e| BearerError::Keys(format!("{uri} is not a JWK set: {e}")))
    }
}

/// The `jwks_uri` of `issuer`'s discovery document, which must name the same issuer.
async fn discovered_jwks_uri(issuer: &str, http: &reqwest::Client) -> Result<String, BearerError> {
    #[derive(Deserialize)]
    struct Discovery {
        issuer: String,
        jwks_uri: String,
    }
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let discovery: Discovery = http
        .get(&url)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| BearerError::Keys(format!("{url}: {e}")))?
        .json()
        .await
        .map_err(|e| BearerError::Keys(format!("{url} is not a discovery document: {e}")))?;
    if discovery.issuer != issuer {
        return Err(BearerError::Keys(format!(
            "{url} names the issuer {}, not {issuer}",
            discovery.issuer
        )));
    }
    Ok(discovery.jwks_uri)
}

fn decoding_key(jwk: &jsonwebtoken::jwk::Jwk) -> Result<DecodingKey, BearerError> {
    DecodingKey::from_jwk(jwk)
        .map_err(|e| BearerError::Keys(format!("a provider key cannot be used: {e}")))
}
