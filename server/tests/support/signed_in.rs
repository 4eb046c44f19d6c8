//! Apiary with OIDC sign-in on a real loopback socket, in front of the real test provider, and
//! a cookie-keeping client that signs in through both the way a browser does.

use std::time::Duration;

use apiary_server::auth::{Auth, OidcSettings, RawOidc};
use apiary_server::web::{router, AppState};
use reqwest::header::{ACCEPT, LOCATION, ORIGIN};
use reqwest::{StatusCode, Url};
use serde_json::Value;

use super::oidc::{self, OidcProvider};
use super::TestDb;

/// Apiary serving on a socket with sign-in, plus the provider it trusts.
pub struct SignedInApp {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The provider.
    pub provider: OidcProvider,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for SignedInApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Starts the provider and Apiary over `db` with sign-in, or `None` when the test provider is
/// not configured.
pub async fn start(db: &TestDb) -> Option<SignedInApp> {
    start_with_expired_tokens(db, false).await
}

/// Like [`start`]; with `expired`, every ID token is valid for one second and arrives two
/// seconds late, so it has expired when Apiary checks it.
pub async fn start_with_expired_tokens(db: &TestDb, expired: bool) -> Option<SignedInApp> {
    let options = if expired {
        oidc::Options {
            id_token_ttl_secs: Some(1),
            token_delay_ms: Some(2_100),
            ..oidc::Options::default()
        }
    } else {
        oidc::Options::default()
    };
    start_with(db, options).await
}

/// Like [`start`], with the provider's token lifetimes and delays set by `options`.
pub async fn start_with(db: &TestDb, options: oidc::Options) -> Option<SignedInApp> {
    start_configured(db, options, |_| {}, |state| state).await
}

/// Like [`start_with`], with the settings adjusted by `settings` and the state (its runtime,
/// a cluster client) by `state`.
pub async fn start_configured(
    db: &TestDb,
    options: oidc::Options,
    settings: impl FnOnce(&mut apiary_server::Settings),
    state: impl FnOnce(AppState) -> AppState,
) -> Option<SignedInApp> {
    let configure = settings;
    let adjust = state;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("local address"));
    let callback = format!("{url}/auth/callback");
    let home = format!("{url}/");
    let backchannel = format!("{url}/auth/backchannel-logout");
    let backchannel = options.backchannel_logout.then_some(backchannel.as_str());
    let provider = oidc::start_full(&[&callback], &[&home], backchannel, options).await?;
    let mut settings = super::settings();
    settings.public_url = Some(url.clone());
    settings.oidc = Some(oidc_settings(&provider.issuer));
    configure(&mut settings);
    let oidc = settings.oidc.clone().expect("sign-in settings");
    let auth = Auth::connect(oidc, &db.url, &url)
        .await
        .expect("set up sign-in");
    let state = adjust(AppState::new(settings, db.db.clone()).with_auth(auth));
    let app = router(state);
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    Some(SignedInApp {
        url,
        provider,
        server,
    })
}

/// The settings the test provider needs: its client, and the `groups` scope.
pub fn oidc_settings(issuer: &str) -> OidcSettings {
    RawOidc {
        issuer: Some(issuer.into()),
        client_id: Some(oidc::CLIENT_ID.into()),
        client_secret: Some(oidc::CLIENT_SECRET.into()),
        scopes: Some("openid profile email groups".into()),
        ..RawOidc::default()
    }
    .validate()
    .expect("valid OIDC settings")
    .expect("OIDC is on")
}

/// A browser's view of Apiary: cookies kept, redirects not followed, so tests see each hop.
pub struct Client {
    /// The HTTP client.
    pub http: reqwest::Client,
    /// The provider side of the same browser.
    pub provider: oidc::Browser,
    /// Apiary's URL.
    pub base: String,
    jar: std::sync::Arc<reqwest::cookie::Jar>,
}

impl Client {
    /// A fresh browser for `app`.
    pub fn new(app: &SignedInApp) -> Self {
        Self::at(&app.url)
    }

    /// A fresh browser for the Apiary at `base` (`http://127.0.0.1:PORT`).
    pub fn at(base: &str) -> Self {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("build the HTTP client");
        Client {
            http,
            provider: oidc::Browser::new(),
            base: base.to_owned(),
            jar,
        }
    }

    /// A fresh browser for `app`, signed in as `user`.
    pub async fn signed_in(app: &SignedInApp, user: &str) -> Self {
        Self::signed_in_at(&app.url, user).await
    }

    /// A fresh browser for the Apiary at `base`, signed in as `user`.
    pub async fn signed_in_at(base: &str, user: &str) -> Self {
        let client = Client::at(base);
        client.sign_in_as(user).await;
        client
    }

    /// Sends a JSON request (`GET`, `POST`, `PUT` or `DELETE`) from Apiary's own origin;
    /// returns the status and the JSON answer (`Null` when the body is not JSON).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => self.http.get(url),
            "POST" => self.http.post(url),
            "PUT" => self.http.put(url),
            "DELETE" => self.http.delete(url),
            other => panic!("no method {other}"),
        };
        let request = match body {
            Some(body) => request.json(body),
            None => request,
        };
        let response = request
            .header(ORIGIN, &self.base)
            .send()
            .await
            .expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `GET path` as a page load (accepting HTML).
    pub async fn page(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .header(ACCEPT, "text/html")
            .send()
            .await
            .expect("GET a page")
    }

    /// Starts a sign-in and returns the provider's authorize URL.
    pub async fn start_sign_in(&self) -> String {
        let response = self.page("/auth/login?return_to=%2F").await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "login redirects to the provider"
        );
        location(&response)
    }

    /// Hands the provider's answer to Apiary's callback and returns Apiary's response.
    pub async fn finish_sign_in(&self, callback_url: &str) -> reqwest::Response {
        self.http
            .get(callback_url)
            .header(ACCEPT, "text/html")
            .send()
            .await
            .expect("GET the callback")
    }

    /// Signs in as `user` (password `<user>-pw`) through the whole flow.
    pub async fn sign_in_as(&self, user: &str) {
        let authorize = self.start_sign_in().await;
        let callback = self
            .provider
            .sign_in(&authorize, user, &format!("{user}-pw"))
            .await;
        let response = self.finish_sign_in(&callback).await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "sign-in as {user} ends with a redirect into Apiary: {}",
            response.text().await.unwrap_or_default()
        );
    }

    /// True when Apiary treats this browser as signed in (the catalog renders).
    pub async fn is_signed_in(&self) -> bool {
        self.page("/").await.status() == StatusCode::OK
    }

    /// A browser for the Apiary at `base` that sends this browser's session cookie, as a load
    /// balancer does when it sends the next request to another replica.
    pub fn with_session_at(&self, base: &str) -> Self {
        let cookie = self
            .session_cookie()
            .expect("a session cookie to carry over");
        let client = Client::at(base);
        let url = Url::parse(base).expect("base URL");
        client
            .jar
            .add_cookie_str(&format!("apiary_session={cookie}; Path=/"), &url);
        client
    }

    /// The current session cookie's value, if any.
    pub fn session_cookie(&self) -> Option<String> {
        use reqwest::cookie::CookieStore;
        let url = Url::parse(&self.base).expect("base URL");
        let header = self.jar.cookies(&url)?;
        header
            .to_str()
            .ok()?
            .split("; ")
            .find_map(|pair| pair.strip_prefix("apiary_session="))
            .map(String::from)
    }
}

/// The `Location` of a redirect, absolute.
pub fn location(response: &reqwest::Response) -> String {
    let value = response
        .headers()
        .get(LOCATION)
        .unwrap_or_else(|| panic!("{} has no Location", response.status()))
        .to_str()
        .expect("Location is text");
    response
        .url()
        .join(value)
        .map(Url::into)
        .expect("Location is a URL")
}

/// The `WWW-Authenticate` challenge of a response, or an empty string.
pub fn challenge(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().expect("text").to_owned())
        .unwrap_or_default()
}
