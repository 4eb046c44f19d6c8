//! The OIDC test harness itself: the real provider from end2end/oidc answers discovery, signs
//! a user in through its login form, issues an ID token with Apiary's claims and logs out.
//! Skipped unless `APIARY_TEST_OIDC_PROVIDER` is set (`.ci/test` sets it and
//! `APIARY_REQUIRE_OIDC`).

mod support;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::Url;
use serde_json::Value;
use sha2::{Digest, Sha256};
use support::oidc::{self, Browser, OidcProvider};

const REDIRECT_URI: &str = "http://127.0.0.1:9/auth/callback";
const POST_LOGOUT_URI: &str = "http://127.0.0.1:9/signed-out";

/// The provider with the test redirect URIs, or `None` when the harness is not configured.
async fn provider() -> Option<OidcProvider> {
    oidc::start(&[REDIRECT_URI], &[POST_LOGOUT_URI], None).await
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn discovery(provider: &OidcProvider) -> Value {
    http()
        .get(provider.discovery_url())
        .send()
        .await
        .expect("fetch discovery")
        .error_for_status()
        .expect("discovery answers 200")
        .json()
        .await
        .expect("discovery is JSON")
}

/// A PKCE authorization request: the authorize URL plus the verifier, state and nonce.
struct AuthRequest {
    url: String,
    verifier: String,
    state: String,
    nonce: String,
}

fn random() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

fn auth_request(discovery: &Value, pkce: bool) -> AuthRequest {
    let verifier = random();
    let (state, nonce) = (random(), random());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let mut url = Url::parse(
        discovery["authorization_endpoint"]
            .as_str()
            .expect("authorization_endpoint"),
    )
    .expect("authorization_endpoint is a URL");
    url.query_pairs_mut()
        .append_pair("client_id", oidc::CLIENT_ID)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("scope", "openid profile email groups")
        .append_pair("state", &state)
        .append_pair("nonce", &nonce);
    if pkce {
        url.query_pairs_mut()
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
    }
    AuthRequest {
        url: url.into(),
        verifier,
        state,
        nonce,
    }
}

/// The query parameter `name` of `url`.
fn param(url: &str, name: &str) -> Option<String> {
    Url::parse(url)
        .expect("absolute URL")
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Redeems `code` at the token endpoint as `apiary` (client_secret_basic).
async fn exchange(discovery: &Value, code: &str, verifier: &str) -> Value {
    http()
        .post(
            discovery["token_endpoint"]
                .as_str()
                .expect("token_endpoint"),
        )
        .basic_auth(oidc::CLIENT_ID, Some(oidc::CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("token response is JSON")
}

/// The decoded (not verified) payload of a JWT.
fn jwt_part(jwt: &str, index: usize) -> Value {
    let part = jwt.split('.').nth(index).expect("a JWT has three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

#[tokio::test]
async fn discovery_advertises_what_apiary_needs() {
    let Some(provider) = provider().await else {
        return;
    };
    let doc = discovery(&provider).await;
    assert_eq!(doc["issuer"], provider.issuer.as_str());
    assert!(!provider.issuer.ends_with('/'));
    for endpoint in [
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "end_session_endpoint",
    ] {
        let url = doc[endpoint].as_str().unwrap_or_default();
        assert!(
            url.starts_with(&provider.issuer),
            "{endpoint} = {url:?} is not on the issuer"
        );
    }
    let methods = doc["code_challenge_methods_supported"]
        .as_array()
        .expect("code_challenge_methods_supported");
    assert!(methods.contains(&Value::from("S256")), "{methods:?}");
    let algs = doc["id_token_signing_alg_values_supported"]
        .as_array()
        .expect("id_token_signing_alg_values_supported");
    assert!(algs.contains(&Value::from("RS256")), "{algs:?}");
}

#[tokio::test]
async fn paul_signs_in_and_gets_an_id_token_with_his_groups() {
    let Some(provider) = provider().await else {
        return;
    };
    let doc = discovery(&provider).await;
    let request = auth_request(&doc, true);
    let browser = Browser::new();
    let callback = browser.sign_in(&request.url, "paul", "paul-pw").await;

    assert!(callback.starts_with(REDIRECT_URI), "{callback}");
    assert_eq!(
        param(&callback, "state").as_deref(),
        Some(request.state.as_str())
    );
    let code = param(&callback, "code").expect("the callback carries a code");

    let tokens = exchange(&doc, &code, &request.verifier).await;
    let id_token = tokens["id_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no id_token in {tokens}"));

    let header = jwt_part(id_token, 0);
    assert_eq!(header["alg"], "RS256");
    let jwks: Value = http()
        .get(doc["jwks_uri"].as_str().expect("jwks_uri"))
        .send()
        .await
        .expect("fetch JWKS")
        .json()
        .await
        .expect("JWKS is JSON");
    assert!(
        jwks["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .any(|key| key["kid"] == header["kid"] && key.get("d").is_none()),
        "the signing key {header} is published (public part only) in {jwks}"
    );

    let claims = jwt_part(id_token, 1);
    assert_eq!(claims["iss"], provider.issuer.as_str());
    assert_eq!(claims["aud"], oidc::CLIENT_ID);
    assert_eq!(claims["nonce"], request.nonce.as_str());
    assert_eq!(claims["sub"], "paul");
    assert_eq!(
        claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"),
        3600
    );
    assert_eq!(claims["preferred_username"], "paul");
    assert_eq!(claims["email"], "paul@apiary.test");
    assert!(claims["name"].is_string(), "{claims}");
    let groups = claims["groups"].as_array().expect("groups claim");
    assert!(groups.contains(&Value::from("team-search")), "{claims}");
    assert!(
        groups.contains(&Value::from("apiary-proposers")),
        "{claims}"
    );

    // RP-initiated logout returns to the registered post-logout URI with the state.
    let mut logout = Url::parse(
        doc["end_session_endpoint"]
            .as_str()
            .expect("end_session_endpoint"),
    )
    .expect("end_session_endpoint is a URL");
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", id_token)
        .append_pair("post_logout_redirect_uri", POST_LOGOUT_URI)
        .append_pair("state", "bye");
    let after = browser.sign_out(logout.as_str()).await;
    assert!(after.starts_with(POST_LOGOUT_URI), "{after}");
    assert_eq!(param(&after, "state").as_deref(), Some("bye"));

    // The provider session is gone: the next authorization asks for the password again.
    let again = auth_request(&doc, true);
    let page = browser
        .attempt_sign_in(&again.url, "paul", "not-the-password")
        .await
        .expect_err("a wrong password after logout shows the form again");
    assert!(page.body.contains("Wrong username or password"));
}

#[tokio::test]
async fn a_wrong_password_yields_no_code() {
    let Some(provider) = provider().await else {
        return;
    };
    let doc = discovery(&provider).await;
    let request = auth_request(&doc, true);
    let page = Browser::new()
        .attempt_sign_in(&request.url, "paul", "carol-pw")
        .await
        .expect_err("a wrong password must not redirect back with a code");
    assert_eq!(page.status, reqwest::StatusCode::UNAUTHORIZED);
    assert!(page.body.contains("Wrong username or password"), "{page:?}");
    assert!(page.body.contains(r#"name="username""#));
}

#[tokio::test]
async fn pkce_is_required() {
    let Some(provider) = provider().await else {
        return;
    };
    let doc = discovery(&provider).await;
    let request = auth_request(&doc, false);
    let callback = oidc::sign_in(&request.url, "paul", "paul-pw").await;
    assert!(callback.starts_with(REDIRECT_URI), "{callback}");
    assert_eq!(
        param(&callback, "error").as_deref(),
        Some("invalid_request"),
        "{callback}"
    );
    assert!(param(&callback, "code").is_none(), "{callback}");
}

#[tokio::test]
async fn the_id_token_lifetime_is_configurable() {
    let Some(provider) = oidc::start(&[REDIRECT_URI], &[], Some(90)).await else {
        return;
    };
    let doc = discovery(&provider).await;
    let request = auth_request(&doc, true);
    let callback = oidc::sign_in(&request.url, "nora", "nora-pw").await;
    let code = param(&callback, "code").expect("the callback carries a code");
    let tokens = exchange(&doc, &code, &request.verifier).await;
    let claims = jwt_part(tokens["id_token"].as_str().expect("id_token"), 1);
    assert_eq!(
        claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"),
        90
    );
    assert_eq!(claims["groups"], serde_json::json!([]), "{claims}");
}
