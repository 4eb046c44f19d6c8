//! Sign-in against a real OpenID provider (npm oidc-provider): the whole code flow, session
//! rotation, sign-out at the provider, and the refusals that keep it safe (tampered state,
//! wrong nonce, expired ID token, no role, cross-site requests).

mod support;

use std::time::Duration;

use reqwest::header::{ACCEPT, ORIGIN, SET_COOKIE};
use reqwest::{StatusCode, Url};
use serde_json::json;
use support::oidc::Options;
use support::signed_in::{self, location, Client, SignedInApp};

async fn apps(expired_tokens: bool) -> Vec<(support::TestDb, SignedInApp)> {
    let mut apps = Vec::new();
    for db in support::all_backends().await {
        let Some(app) = signed_in::start_with_expired_tokens(&db, expired_tokens).await else {
            return Vec::new();
        };
        apps.push((db, app));
    }
    apps
}

/// Replaces query parameter `name` of `url` with `value`.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut url = Url::parse(url).expect("URL");
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name {
                value.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url.into()
}

fn param(url: &str, name: &str) -> Option<String> {
    Url::parse(url)
        .expect("URL")
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn signing_in_rotates_the_session_and_signing_out_ends_it_at_the_provider() {
    for (_db, app) in apps(false).await {
        let browser = Client::new(&app);

        let first = browser.page("/servers?x=1").await;
        assert_eq!(first.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            location(&first),
            format!("{}/auth/login?return_to=%2Fservers%3Fx%3D1", app.url),
            "a page load without a session goes to sign-in and remembers where it was"
        );

        let authorize = browser.start_sign_in().await;
        assert!(authorize.starts_with(&app.provider.issuer), "{authorize}");
        assert_eq!(
            param(&authorize, "code_challenge_method").as_deref(),
            Some("S256")
        );
        for required in ["state", "nonce", "code_challenge"] {
            assert!(
                param(&authorize, required).is_some(),
                "{required} in {authorize}"
            );
        }
        let before = browser
            .session_cookie()
            .expect("the sign-in in progress lives in a session");

        let callback = browser
            .provider
            .sign_in(&authorize, "carol", "carol-pw")
            .await;
        let answer = browser.finish_sign_in(&callback).await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&answer), format!("{}/", app.url));
        let cookie = answer
            .headers()
            .get(SET_COOKIE)
            .expect("the session cookie is set")
            .to_str()
            .expect("text")
            .to_owned();
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(
            !cookie.contains("Secure"),
            "plain http public URL: {cookie}"
        );
        let after = browser.session_cookie().expect("signed-in session");
        assert_ne!(before, after, "the session id rotates at sign-in");

        let catalog = browser.page("/").await;
        assert_eq!(catalog.status(), StatusCode::OK);
        let html = catalog.text().await.expect("body");
        assert!(
            html.contains("Carol Consumer"),
            "the header names the person"
        );
        assert!(html.contains("Sign out"), "and offers to sign out");

        // The id from before sign-in is worthless now (no session fixation).
        let planted = reqwest::cookie::Jar::default();
        planted.add_cookie_str(
            &format!("apiary_session={before}"),
            &Url::parse(&app.url).expect("url"),
        );
        let attacker = reqwest::Client::builder()
            .cookie_provider(std::sync::Arc::new(planted))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let planted_page = attacker
            .get(format!("{}/", app.url))
            .header(ACCEPT, "text/html")
            .send()
            .await
            .expect("GET");
        assert_eq!(planted_page.status(), StatusCode::SEE_OTHER);

        // The callback cannot be replayed.
        let replay = browser.finish_sign_in(&callback).await;
        assert_eq!(replay.status(), StatusCode::BAD_REQUEST);

        let logout = browser
            .http
            .post(format!("{}/auth/logout", app.url))
            .header(ORIGIN, &app.url)
            .send()
            .await
            .expect("POST logout");
        assert_eq!(logout.status(), StatusCode::SEE_OTHER);
        let end_session = location(&logout);
        assert!(
            end_session.starts_with(&app.provider.issuer),
            "{end_session}"
        );
        assert_eq!(
            param(&end_session, "post_logout_redirect_uri"),
            Some(format!("{}/", app.url))
        );
        let back = browser.provider.sign_out(&end_session).await;
        assert!(back.starts_with(&format!("{}/", app.url)), "{back}");
        assert!(!browser.is_signed_in().await, "signed out of Apiary");
        let again = browser.page("/").await;
        assert!(
            location(&again).contains("/auth/login"),
            "sent back to sign-in"
        );
        let authorize = browser.start_sign_in().await;
        let login_page = browser
            .provider
            .attempt_sign_in(&authorize, "carol", "wrong")
            .await;
        assert!(
            login_page.is_err(),
            "the provider's session ended too: its login form is shown again"
        );
    }
}

/// `url` without query parameter `name`.
fn without_param(url: &str, name: &str) -> String {
    let mut url = Url::parse(url).expect("URL");
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url.into()
}

#[tokio::test]
async fn signing_out_sends_the_id_token_so_the_provider_ends_its_session_without_asking() {
    for (_db, app) in apps(false).await {
        let browser = Client::signed_in(&app, "carol").await;
        let logout = browser
            .http
            .post(format!("{}/auth/logout", app.url))
            .header(ORIGIN, &app.url)
            .send()
            .await
            .expect("POST logout");
        assert_eq!(logout.status(), StatusCode::SEE_OTHER);
        let end_session = location(&logout);
        let hint = param(&end_session, "id_token_hint").expect("an id_token_hint");
        assert_eq!(
            hint.split('.').count(),
            3,
            "the hint is the ID token: {hint}"
        );

        // Without the hint the provider asks, and a person who walks away stays signed in.
        let asked = browser
            .provider
            .sign_out_unattended(&without_param(&end_session, "id_token_hint"))
            .await
            .expect_err("without id_token_hint the provider asks first");
        assert!(asked.body.contains("Do you want to sign out"), "{asked:?}");

        let back = browser
            .provider
            .sign_out_unattended(&end_session)
            .await
            .unwrap_or_else(|page| panic!("the provider asked despite the hint: {page:?}"));
        assert!(back.starts_with(&format!("{}/", app.url)), "{back}");
        let authorize = browser.start_sign_in().await;
        let login_page = browser
            .provider
            .attempt_sign_in(&authorize, "carol", "wrong")
            .await;
        assert!(
            login_page.is_err(),
            "the provider's session ended: the next visit asks for the password again"
        );
    }
}

#[tokio::test]
async fn a_tampered_state_is_refused() {
    for (_db, app) in apps(false).await {
        let browser = Client::new(&app);
        let authorize = browser.start_sign_in().await;
        let callback = browser
            .provider
            .sign_in(&authorize, "adam", "adam-pw")
            .await;
        let tampered = with_param(&callback, "state", "forged-state");
        let answer = browser.finish_sign_in(&tampered).await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
        let text = answer.text().await.expect("body");
        assert!(text.contains("state mismatch"), "{text}");
        assert!(!browser.is_signed_in().await);
    }
}

#[tokio::test]
async fn an_id_token_with_a_different_nonce_is_refused() {
    for (_db, app) in apps(false).await {
        let browser = Client::new(&app);
        let authorize = browser.start_sign_in().await;
        let swapped = with_param(&authorize, "nonce", "a-nonce-apiary-never-sent");
        let callback = browser.provider.sign_in(&swapped, "adam", "adam-pw").await;
        let answer = browser.finish_sign_in(&callback).await;
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
        let text = answer.text().await.expect("body");
        assert!(text.to_lowercase().contains("nonce"), "{text}");
        assert!(!browser.is_signed_in().await);
    }
}

#[tokio::test]
async fn an_expired_id_token_is_refused() {
    for (_db, app) in apps(true).await {
        let browser = Client::new(&app);
        let authorize = browser.start_sign_in().await;
        let callback = browser
            .provider
            .sign_in(&authorize, "adam", "adam-pw")
            .await;
        let answer = browser.finish_sign_in(&callback).await;
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
        let text = answer.text().await.expect("body");
        assert!(text.to_lowercase().contains("expired"), "{text}");
        assert!(!browser.is_signed_in().await);
    }
}

#[tokio::test]
async fn a_person_without_an_apiary_group_is_told_so() {
    for (_db, app) in apps(false).await {
        let browser = Client::signed_in(&app, "nora").await;
        let page = browser.page("/").await;
        assert_eq!(page.status(), StatusCode::FORBIDDEN);
        let text = page.text().await.expect("body");
        assert!(text.contains("Nora Nobody"), "{text}");
        assert!(text.contains("none of your groups"), "{text}");
        assert!(
            text.contains(r#"<form method="post" action="/auth/logout">"#)
                && !text.contains("/auth/login"),
            "the page offers to sign out, not to sign in again: {text}"
        );
        let logout = browser
            .http
            .post(format!("{}/auth/logout", app.url))
            .header(ORIGIN, &app.url)
            .send()
            .await
            .expect("POST logout");
        assert_eq!(logout.status(), StatusCode::SEE_OTHER);
        assert!(
            location(&logout).starts_with(&app.provider.issuer),
            "on to the provider's sign-out"
        );
        let again = browser.page("/").await;
        assert!(location(&again).contains("/auth/login"), "signed out");
    }
}

#[tokio::test]
async fn session_cookies_are_secure_behind_an_https_public_url() {
    let db = support::sqlite().await;
    let Some(provider) =
        support::oidc::start(&["https://apiary.test/auth/callback"], &[], None).await
    else {
        return;
    };
    let mut settings = support::settings();
    settings.public_url = Some("https://apiary.test".into());
    let oidc = signed_in::oidc_settings(&provider.issuer);
    let auth = apiary_server::auth::Auth::connect(oidc, &db.url, "https://apiary.test")
        .await
        .expect("sign-in");
    let app = apiary_server::web::router(
        apiary_server::web::AppState::new(settings, db.db.clone()).with_auth(auth),
    );
    let response = tower::ServiceExt::oneshot(
        app,
        axum::http::Request::get("/auth/login")
            .header("host", "apiary.test")
            .body(axum::body::Body::empty())
            .expect("request"),
    )
    .await
    .expect("answer");
    assert_eq!(response.status(), axum::http::StatusCode::SEE_OTHER);
    let cookie = response
        .headers()
        .get("set-cookie")
        .expect("cookie")
        .to_str()
        .expect("text");
    assert!(cookie.contains("Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
}

/// Apiary over `db` whose provider uses opaque subjects and knows Apiary's back-channel
/// logout endpoint, with the sign-in settings adjusted by `oidc`.
async fn app_with(
    db: &support::TestDb,
    oidc: impl FnOnce(&mut apiary_server::auth::OidcSettings),
) -> Option<SignedInApp> {
    let options = Options {
        opaque_subjects: true,
        backchannel_logout: true,
        ..Options::default()
    };
    signed_in::start_configured(
        db,
        options,
        |settings| oidc(settings.oidc.as_mut().expect("sign-in settings")),
        |state| state,
    )
    .await
}

#[tokio::test]
async fn a_back_channel_logout_ends_that_persons_apiary_sessions_at_once() {
    for db in support::all_backends().await {
        let Some(app) = app_with(&db, |_| {}).await else {
            return;
        };
        let carol = Client::signed_in(&app, "carol").await;
        let adam = Client::signed_in(&app, "adam").await;
        assert!(carol.is_signed_in().await && adam.is_signed_in().await);

        // Carol signs out at the provider itself (another application's sign-out button):
        // the provider tells Apiary over the back channel.
        carol
            .provider
            .sign_out(&format!("{}/session/end", app.provider.issuer))
            .await;
        assert!(
            !carol.is_signed_in().await,
            "Carol's Apiary session ended with her provider session"
        );
        assert!(adam.is_signed_in().await, "Adam's session is untouched");

        let forged = reqwest::Client::new()
            .post(format!("{}/auth/backchannel-logout", app.url))
            .form(&[("logout_token", "eyJhbGciOiJub25lIn0.e30.")])
            .send()
            .await
            .expect("POST");
        assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
        let answer: serde_json::Value = forged.json().await.expect("JSON");
        assert_eq!(answer["error"], "invalid_request", "{answer}");
        assert!(adam.is_signed_in().await, "a forged token ends nothing");

        // A genuine, well-signed ID token of Adam's is not a logout token either (no
        // back-channel logout event, and a nonce).
        let adam_elsewhere = Client::signed_in(&app, "adam").await;
        let logout = adam_elsewhere
            .http
            .post(format!("{}/auth/logout", app.url))
            .header(ORIGIN, &app.url)
            .send()
            .await
            .expect("POST logout");
        let id_token = param(&location(&logout), "id_token_hint").expect("an ID token");
        let replayed = reqwest::Client::new()
            .post(format!("{}/auth/backchannel-logout", app.url))
            .form(&[("logout_token", id_token.as_str())])
            .send()
            .await
            .expect("POST");
        assert_eq!(replayed.status(), StatusCode::BAD_REQUEST);
        let answer: serde_json::Value = replayed.json().await.expect("JSON");
        assert!(
            answer["error_description"]
                .as_str()
                .is_some_and(|d| d.contains("backchannel-logout")),
            "{answer}"
        );
        assert!(adam.is_signed_in().await, "an ID token ends no session");
    }
}

#[tokio::test]
async fn a_session_ends_at_its_maximum_age_however_active() {
    let db = support::sqlite().await;
    let Some(app) = app_with(&db, |oidc| {
        oidc.session_max_age = Duration::from_secs(3);
    })
    .await
    else {
        return;
    };
    let carol = Client::signed_in(&app, "carol").await;
    assert!(carol.is_signed_in().await);
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert!(carol.is_signed_in().await, "still within its maximum age");
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let page = carol.page("/").await;
    assert!(
        location(&page).contains("/auth/login"),
        "past its maximum age the session is over: sign in again"
    );
    let (status, _) = carol
        .call("GET", "/api/v1/audit/export?format=jsonl", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn roles_are_read_again_so_a_removed_group_or_a_disabled_user_takes_effect() {
    let db = support::sqlite().await;
    let Some(app) = app_with(&db, |oidc| {
        oidc.session_recheck = Duration::from_secs(1);
    })
    .await
    else {
        return;
    };
    let carol = Client::signed_in(&app, "carol").await;
    assert_eq!(carol.page("/").await.status(), StatusCode::OK);

    app.provider
        .change_user("carol", json!({ "groups": [] }))
        .await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let page = carol.page("/").await;
    assert_eq!(
        page.status(),
        StatusCode::FORBIDDEN,
        "the consumer group is gone"
    );
    assert!(page
        .text()
        .await
        .expect("body")
        .contains("No access to Apiary"));

    app.provider
        .change_user("carol", json!({ "groups": ["apiary-consumers"] }))
        .await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(
        carol.page("/").await.status(),
        StatusCode::OK,
        "and back once the group is back"
    );

    app.provider
        .change_user("carol", json!({ "disabled": true }))
        .await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let page = carol.page("/").await;
    assert!(
        location(&page).contains("/auth/login"),
        "a disabled user's refresh fails and the session ends"
    );
}
