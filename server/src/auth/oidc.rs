//! The OpenID Connect relying party: discovery, the authorization request (code flow with
//! PKCE, `state` and `nonce`), and the code exchange whose ID token is verified against the
//! provider's JWKS (signature, `iss`, `aud`, `exp`, `nonce`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreRevocableToken, CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AccessToken, AdditionalClaims, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken,
    EmptyExtraTokenFields, EndSessionUrl, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    IdTokenClaims, IdTokenFields, IssuerUrl, LogoutRequest, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout,
    RedirectUrl, RefreshToken, RequestTokenError, Scope, StandardErrorResponse,
    StandardTokenResponse, SubjectIdentifier, TokenResponse, UserInfoClaims, UserInfoError,
};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;

use crate::config::oidc::OidcSettings;

/// Claims beyond the standard ones, kept as JSON so the roles claim can be configured.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ExtraClaims(serde_json::Map<String, serde_json::Value>);

impl AdditionalClaims for ExtraClaims {}

type TokenFields = IdTokenFields<
    ExtraClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

type OidcClient = Client<
    ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    StandardTokenResponse<TokenFields, CoreTokenType>,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Why sign-in failed. The message is safe to show; it never contains tokens.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider's discovery document or keys could not be read.
    #[error("the identity provider at {issuer} cannot be reached or is misconfigured: {reason}")]
    Discovery {
        /// The configured issuer.
        issuer: String,
        /// What went wrong.
        reason: String,
    },
    /// The code exchange failed at the provider.
    #[error("the identity provider refused the sign-in code: {0}")]
    Exchange(String),
    /// The ID token is missing, badly signed, expired, or for someone else.
    #[error("the ID token was refused: {0}")]
    IdToken(String),
}

/// A sign-in in progress: what the callback must see again. Kept in the session, never in a URL.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PendingLogin {
    /// The `state` sent to the provider.
    pub state: String,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier for the code exchange.
    pub pkce_verifier: String,
    /// Where to go after sign-in: a path on this site.
    pub return_to: String,
}

/// A finished sign-in: who it is, and what the session keeps to end or renew it.
#[derive(Clone, Debug)]
pub struct SignedIn {
    /// The verified identity.
    pub identity: VerifiedIdentity,
    /// What the session keeps about the provider's side of this sign-in.
    pub record: SignInRecord,
}

/// The provider's side of a sign-in, kept in the server-side session data (never in the
/// cookie, never logged): the ID token for `id_token_hint` at sign-out, `sub` and `sid` for
/// back-channel logout, and when it started.
#[derive(Clone, Serialize, Deserialize)]
pub struct SignInRecord {
    /// The raw ID token.
    pub id_token: String,
    /// The provider's `sub`.
    pub sub: String,
    /// The provider's session id (`sid`), when the ID token carries one.
    pub sid: Option<String>,
    /// When the person signed in, Unix seconds.
    pub signed_in_at: i64,
    /// The refresh token, when the provider gave one.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// The latest access token, for userinfo when there is no refresh token.
    #[serde(default)]
    pub access_token: Option<String>,
    /// When roles and teams were last read from the provider, Unix seconds.
    #[serde(default)]
    pub checked_at: i64,
}

/// Why reading a session's roles again failed.
#[derive(Debug, thiserror::Error)]
pub enum RecheckError {
    /// The provider refused (revoked grant, disabled user, ended session): the session ends.
    #[error("the identity provider no longer vouches for this sign-in: {0}")]
    Refused(String),
    /// The provider could not be asked; the session keeps its roles until the next check.
    #[error("the identity provider cannot be reached: {0}")]
    Unavailable(String),
}

impl std::fmt::Debug for SignInRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInRecord")
            .field("sub", &self.sub)
            .field("sid", &self.sid)
            .field("signed_in_at", &self.signed_in_at)
            .finish_non_exhaustive()
    }
}

/// The verified identity from an ID token.
#[derive(Clone, Debug)]
pub struct VerifiedIdentity {
    /// `iss` and `sub`, joined.
    pub subject: String,
    /// A display name: `name`, else `preferred_username`, else `email`, else `sub`.
    pub name: String,
    /// `email`, when present.
    pub email: Option<String>,
    /// The values of the configured roles claim.
    pub groups: Vec<String>,
}

struct Discovered {
    client: OidcClient,
    /// The issuer exactly as the provider names itself (in `iss`).
    issuer: String,
    jwks_uri: String,
    end_session: Option<EndSessionUrl>,
    fetched: Instant,
}

/// The relying party for one provider. Discovery is fetched on first use and again after
/// [`RELOAD_AFTER`], so rotated signing keys are picked up.
#[derive(Clone)]
pub struct OidcProvider {
    settings: Arc<OidcSettings>,
    redirect: RedirectUrl,
    post_logout: PostLogoutRedirectUrl,
    http: reqwest::Client,
    discovered: Arc<RwLock<Option<Arc<Discovered>>>>,
}

/// How long discovery and keys are cached.
pub const RELOAD_AFTER: Duration = Duration::from_secs(15 * 60);

impl OidcProvider {
    /// A relying party that sends people back to `{public_url}/auth/callback`.
    pub fn new(settings: OidcSettings, public_url: &str) -> Result<Self, OidcError> {
        let bad = |reason: String| OidcError::Discovery {
            issuer: settings.issuer.clone(),
            reason,
        };
        let redirect = RedirectUrl::new(format!("{public_url}/auth/callback"))
            .map_err(|e| bad(format!("bad redirect URL: {e}")))?;
        let post_logout = PostLogoutRedirectUrl::new(format!("{public_url}/"))
            .map_err(|e| bad(format!("bad post-logout URL: {e}")))?;
        crate::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            // The provider's answers must come from the provider: never follow redirects.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| bad(e.to_string()))?;
        Ok(OidcProvider {
            settings: Arc::new(settings),
            redirect,
            post_logout,
            http,
            discovered: Arc::default(),
        })
    }

    /// The settings this provider was built from.
    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// The provider's origin, which sign-out forms are allowed to reach.
    pub fn issuer_origin(&self) -> String {
        url::Url::parse(&self.settings.issuer)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default()
    }

    async fn discovered(&self) -> Result<Arc<Discovered>, OidcError> {
        if let Some(current) = self.discovered.read().await.as_ref() {
            if current.fetched.elapsed() < RELOAD_AFTER {
                return Ok(current.clone());
            }
        }
        let mut slot = self.discovered.write().await;
        if let Some(current) = slot.as_ref() {
            if current.fetched.elapsed() < RELOAD_AFTER {
                return Ok(current.clone());
            }
        }
        let fresh = Arc::new(self.discover().await?);
        *slot = Some(fresh.clone());
        Ok(fresh)
    }

    async fn discover(&self) -> Result<Discovered, OidcError> {
        let issuer = &self.settings.issuer;
        let bad = |reason: String| OidcError::Discovery {
            issuer: issuer.clone(),
            reason,
        };
        let issuer_url = IssuerUrl::new(issuer.clone()).map_err(|e| bad(e.to_string()))?;
        let http = super::http::adapter(&self.http);
        let metadata = ProviderMetadataWithLogout::discover_async(issuer_url, &http)
            .await
            .map_err(|e| bad(error_chain(&e)))?;
        let end_session = metadata.additional_metadata().end_session_endpoint.clone();
        let jwks_uri = metadata.jwks_uri().url().to_string();
        let issuer = metadata.issuer().as_str().to_owned();
        let client = OidcClient::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            self.settings
                .client_secret
                .as_ref()
                .map(|s| ClientSecret::new(s.expose().to_owned())),
        )
        .set_redirect_uri(self.redirect.clone());
        Ok(Discovered {
            client,
            issuer,
            jwks_uri,
            end_session,
            fetched: Instant::now(),
        })
    }

    /// The provider's JWKS URL, from discovery.
    pub async fn jwks_uri(&self) -> Result<String, OidcError> {
        Ok(self.discovered().await?.jwks_uri.clone())
    }

    /// The HTTP client for talking to the provider (no redirects, short timeouts).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Fetches discovery and keys now, to report a misconfigured provider at start.
    pub async fn check(&self) -> Result<(), OidcError> {
        self.discovered().await.map(|_| ())
    }

    /// Starts a sign-in: the URL to send the browser to, and what the callback must check.
    pub async fn authorize(&self, return_to: String) -> Result<(String, PendingLogin), OidcError> {
        let discovered = self.discovered().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = discovered.client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in self.settings.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Ok((
            url.to_string(),
            PendingLogin {
                state: state.secret().clone(),
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
                return_to,
            },
        ))
    }

    /// Finishes a sign-in: exchanges `code` with the PKCE verifier and verifies the ID token
    /// (signature against the JWKS, `iss`, `aud`, `exp` and the `nonce` of `pending`).
    pub async fn finish(
        &self,
        code: String,
        pending: &PendingLogin,
    ) -> Result<SignedIn, OidcError> {
        let discovered = self.discovered().await?;
        let http = super::http::adapter(&self.http);
        let response = discovered
            .client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| OidcError::Exchange(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(&http)
            .await
            .map_err(|e| OidcError::Exchange(error_chain(&e)))?;
        let id_token = response
            .id_token()
            .ok_or_else(|| OidcError::IdToken("the provider sent no ID token".into()))?;
        let verifier = discovered.client.id_token_verifier();
        let claims = id_token
            .claims(&verifier, &Nonce::new(pending.nonce.clone()))
            .map_err(|e| OidcError::IdToken(e.to_string()))?;
        let identity = self.identity_of_id_token(claims);
        let sid = claims
            .additional_claims()
            .0
            .get("sid")
            .and_then(|v| v.as_str())
            .map(String::from);
        let record = SignInRecord {
            id_token: id_token.to_string(),
            sub: claims.subject().as_str().to_owned(),
            sid,
            signed_in_at: unix_now(),
            refresh_token: response.refresh_token().map(|t| t.secret().clone()),
            access_token: Some(response.access_token().secret().clone()),
            checked_at: unix_now(),
        };
        Ok(SignedIn { identity, record })
    }

    /// The identity from a set of claims: `iss#sub`, a display name (`name`, else
    /// `preferred_username`, else `email`, else `sub`) and the groups of the roles claim.
    fn identity_of(
        &self,
        issuer: &str,
        sub: &str,
        name: Option<&str>,
        username: Option<&str>,
        email: Option<&str>,
        extra: &ExtraClaims,
    ) -> VerifiedIdentity {
        VerifiedIdentity {
            subject: format!("{issuer}#{sub}"),
            name: name.or(username).or(email).unwrap_or(sub).to_owned(),
            email: email.map(String::from),
            groups: claim_strings(&extra.0, &self.settings.roles_claim),
        }
    }

    /// The identity of a verified ID token's claims (see [`Self::identity_of`]).
    fn identity_of_id_token(
        &self,
        claims: &IdTokenClaims<ExtraClaims, CoreGenderClaim>,
    ) -> VerifiedIdentity {
        self.identity_of(
            claims.issuer().as_str(),
            claims.subject().as_str(),
            claims.name().and_then(|n| n.get(None)).map(|n| n.as_str()),
            claims.preferred_username().map(|u| u.as_str()),
            claims.email().map(|e| e.as_str()),
            claims.additional_claims(),
        )
    }

    /// Reads the person's roles again: with the refresh token when there is one (a new ID
    /// token, verified, for the same `sub`), else from userinfo with the access token. Returns
    /// the fresh identity and the record with the new tokens.
    pub async fn recheck(
        &self,
        record: &SignInRecord,
    ) -> Result<(VerifiedIdentity, SignInRecord), RecheckError> {
        let discovered = self
            .discovered()
            .await
            .map_err(|e| RecheckError::Unavailable(e.to_string()))?;
        let http = super::http::adapter(&self.http);
        let mut fresh = record.clone();
        fresh.checked_at = unix_now();
        if let Some(refresh) = &record.refresh_token {
            let refresh = RefreshToken::new(refresh.clone());
            let response = discovered
                .client
                .exchange_refresh_token(&refresh)
                .map_err(|e| RecheckError::Unavailable(e.to_string()))?
                .request_async(&http)
                .await
                .map_err(|e| match e {
                    RequestTokenError::ServerResponse(answer) => {
                        RecheckError::Refused(answer.to_string())
                    }
                    other => RecheckError::Unavailable(error_chain(&other)),
                })?;
            if let Some(new) = response.refresh_token() {
                fresh.refresh_token = Some(new.secret().clone());
            }
            fresh.access_token = Some(response.access_token().secret().clone());
            if let Some(id_token) = response.id_token() {
                let verifier = discovered.client.id_token_verifier();
                // A refreshed ID token carries no nonce of this sign-in.
                let claims = id_token
                    .claims(&verifier, |_: Option<&Nonce>| Ok(()))
                    .map_err(|e| RecheckError::Refused(e.to_string()))?;
                if claims.subject().as_str() != record.sub {
                    return Err(RecheckError::Refused(
                        "the refreshed ID token is for someone else".into(),
                    ));
                }
                fresh.id_token = id_token.to_string();
                let identity = self.identity_of_id_token(claims);
                return Ok((identity, fresh));
            }
        }
        let access = fresh
            .access_token
            .clone()
            .ok_or_else(|| RecheckError::Refused("no token to check the sign-in with".into()))?;
        let request = discovered
            .client
            .user_info(
                AccessToken::new(access),
                Some(SubjectIdentifier::new(record.sub.clone())),
            )
            .map_err(|_| {
                RecheckError::Refused(
                    "the provider gave no refresh token and has no userinfo endpoint".into(),
                )
            })?;
        let claims: UserInfoClaims<ExtraClaims, CoreGenderClaim> =
            request.request_async(&http).await.map_err(|e| match e {
                UserInfoError::Response(status, _, _) if status.is_client_error() => {
                    RecheckError::Refused(format!("userinfo answered {status}"))
                }
                other => RecheckError::Unavailable(error_chain(&other)),
            })?;
        let identity = self.identity_of(
            &discovered.issuer,
            claims.subject().as_str(),
            claims.name().and_then(|n| n.get(None)).map(|n| n.as_str()),
            claims.preferred_username().map(|u| u.as_str()),
            claims.email().map(|e| e.as_str()),
            claims.additional_claims(),
        );
        Ok((identity, fresh))
    }

    /// Where to send the browser to end the provider's session too, when the provider offers
    /// RP-initiated logout; it sends the browser back to the site's root. With the session's
    /// ID token as `id_token_hint`, providers end their session without asking.
    pub async fn logout_url(&self, id_token_hint: Option<&str>) -> Option<String> {
        let discovered = self.discovered().await.ok()?;
        let endpoint = discovered.end_session.clone()?;
        let mut url = LogoutRequest::from(endpoint)
            .set_client_id(ClientId::new(self.settings.client_id.clone()))
            .set_post_logout_redirect_uri(self.post_logout.clone())
            .http_get_url();
        if let Some(hint) = id_token_hint {
            url.query_pairs_mut().append_pair("id_token_hint", hint);
        }
        Some(url.to_string())
    }
}

/// Now, in Unix seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// The string values of `claim` (an ID token's, userinfo's or an access token's): a list of
/// strings, or one string.
pub(super) fn claim_strings(
    claims: &serde_json::Map<String, serde_json::Value>,
    claim: &str,
) -> Vec<String> {
    match claims.get(claim) {
        Some(serde_json::Value::Array(values)) => values
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        Some(serde_json::Value::String(value)) => vec![value.clone()],
        _ => Vec::new(),
    }
}

/// An error with its sources, for messages that say what actually failed.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_roles_claim_may_be_a_list_or_one_string() {
        let extra: ExtraClaims = serde_json::from_value(serde_json::json!({
            "groups": ["a", "b", 3],
            "role": "admin",
        }))
        .expect("claims");
        assert_eq!(claim_strings(&extra.0, "groups"), ["a", "b"]);
        assert_eq!(claim_strings(&extra.0, "role"), ["admin"]);
        assert!(claim_strings(&extra.0, "missing").is_empty());
    }
}
