//! `/auth/login`, `/auth/callback`, `/auth/logout` and `/auth/backchannel-logout`.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Json, Router};
use serde::Deserialize;
use tower_sessions::session::Id;
use tower_sessions::{Session, SessionStore};

use apiary_app::access::Viewer;

use super::oidc::{PendingLogin, SignInRecord};
use super::Auth;

/// Session key of the signed-in person.
pub(super) const VIEWER_KEY: &str = "viewer";
/// Session key of the provider's side of the sign-in ([`SignInRecord`]).
pub(super) const SIGN_IN_KEY: &str = "sign_in";
/// Session key of a sign-in in progress.
const PENDING_KEY: &str = "pending_login";

/// The sign-in routes; they answer 404 in local mode, where nobody signs in.
pub fn routes() -> Router<Option<Arc<Auth>>> {
    Router::new()
        .route("/auth/login", get(login))
        .route("/auth/callback", get(callback))
        .route("/auth/logout", post(logout))
        .route(BACKCHANNEL_LOGOUT_PATH, post(backchannel_logout))
}

/// Where the provider POSTs back-channel logout tokens (register it as the client's
/// `backchannel_logout_uri`).
pub const BACKCHANNEL_LOGOUT_PATH: &str = "/auth/backchannel-logout";

#[derive(Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
}

/// Starts a sign-in at the provider, remembering state, nonce and PKCE verifier in the session.
async fn login(
    State(auth): State<Option<Arc<Auth>>>,
    session: Option<Extension<Session>>,
    Query(query): Query<LoginQuery>,
) -> Response {
    let (Some(auth), Some(Extension(session))) = (auth, session) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let return_to = local_path(query.return_to.as_deref());
    if matches!(session.get::<Viewer>(VIEWER_KEY).await, Ok(Some(_))) {
        return Redirect::to(&return_to).into_response();
    }
    match auth.provider.authorize(return_to).await {
        Ok((url, pending)) => match session.insert(PENDING_KEY, pending).await {
            Ok(()) => Redirect::to(&url).into_response(),
            Err(error) => session_failed(error),
        },
        Err(error) => {
            tracing::error!(%error, "cannot start a sign-in");
            page(
                StatusCode::BAD_GATEWAY,
                "Sign-in is unavailable",
                &format!("{error}. Try again in a minute, or tell your Apiary admin."),
            )
        }
    }
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Finishes a sign-in: checks `state`, exchanges the code, verifies the ID token, then starts
/// a fresh session (a new id, so a planted session id is worthless) for the person.
async fn callback(
    State(auth): State<Option<Arc<Auth>>>,
    session: Option<Extension<Session>>,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let (Some(auth), Some(Extension(session))) = (auth, session) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let pending = match session.remove::<PendingLogin>(PENDING_KEY).await {
        Ok(Some(pending)) => pending,
        Ok(None) => {
            return refused(
                StatusCode::BAD_REQUEST,
                "This sign-in link has expired or was already used.",
            )
        }
        Err(error) => return session_failed(error),
    };
    if let Some(error) = query.error {
        let detail = query.error_description.unwrap_or_default();
        return refused(
            StatusCode::UNAUTHORIZED,
            &format!("The identity provider did not sign you in ({error}: {detail})."),
        );
    }
    if query.state.as_deref() != Some(pending.state.as_str()) {
        tracing::warn!("sign-in refused: the state parameter does not match");
        return refused(
            StatusCode::BAD_REQUEST,
            "The sign-in answer does not belong to the sign-in this browser started (state mismatch).",
        );
    }
    let Some(code) = query.code else {
        return refused(
            StatusCode::BAD_REQUEST,
            "The identity provider sent no code.",
        );
    };
    let signed_in = match auth.provider.finish(code, &pending).await {
        Ok(signed_in) => signed_in,
        Err(error) => {
            tracing::warn!(%error, "sign-in refused");
            return refused(StatusCode::UNAUTHORIZED, &error.to_string());
        }
    };
    let viewer = auth.viewer_for(signed_in.identity);
    tracing::info!(subject = %viewer.subject, roles = ?viewer.roles, "signed in");
    if let Err(error) = session.cycle_id().await {
        return session_failed(error);
    }
    if let Err(error) = session.insert(VIEWER_KEY, &viewer).await {
        return session_failed(error);
    }
    if let Err(error) = session.insert(SIGN_IN_KEY, &signed_in.record).await {
        return session_failed(error);
    }
    // Saved now, so it has its id for the index a back-channel logout searches.
    if let Err(error) = session.save().await {
        return session_failed(error);
    }
    if let (Some(db), Some(id)) = (&auth.db, session.id()) {
        let record = &signed_in.record;
        let max_age =
            i64::try_from(auth.provider.settings().session_max_age.as_secs()).unwrap_or(i64::MAX);
        if let Err(error) = super::index::remember(
            db,
            &id.to_string(),
            &record.sub,
            record.sid.as_deref(),
            record.signed_in_at,
            max_age,
        )
        .await
        {
            tracing::error!(%error, "cannot index the new session");
            return session_failed(tower_sessions::session::Error::Store(
                tower_sessions::session_store::Error::Backend(error.to_string()),
            ));
        }
    }
    Redirect::to(&pending.return_to).into_response()
}

/// Ends the session here and, when the provider offers it, there too.
async fn logout(
    State(auth): State<Option<Arc<Auth>>>,
    session: Option<Extension<Session>>,
) -> Response {
    let (Some(auth), Some(Extension(session))) = (auth, session) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let record = match session.get::<SignInRecord>(SIGN_IN_KEY).await {
        Ok(record) => record,
        Err(error) => return session_failed(error),
    };
    if let Err(error) = super::lifetime::end(&auth, &session).await {
        return session_failed(error);
    }
    let hint = record.as_ref().map(|r| r.id_token.as_str());
    let target = auth
        .provider
        .logout_url(hint)
        .await
        .unwrap_or_else(|| "/".into());
    Redirect::to(&target).into_response()
}

#[derive(Deserialize)]
struct LogoutTokenForm {
    logout_token: Option<String>,
}

/// OIDC Back-Channel Logout: the provider POSTs a signed `logout_token` naming a `sub` and/or
/// `sid`, and every Apiary session of theirs ends at once, on every replica (the sessions
/// are in the database). 200 when done, 400 with the reason for a token that is refused.
async fn backchannel_logout(
    State(auth): State<Option<Arc<Auth>>>,
    Form(form): Form<LogoutTokenForm>,
) -> Response {
    let Some(auth) = auth else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let refused = |description: String| {
        tracing::warn!(reason = %description, "refused a back-channel logout");
        (
            StatusCode::BAD_REQUEST,
            [(axum::http::header::CACHE_CONTROL, "no-store")],
            Json(
                serde_json::json!({ "error": "invalid_request", "error_description": description }),
            ),
        )
            .into_response()
    };
    let Some(token) = form.logout_token else {
        return refused("the logout_token parameter is missing".into());
    };
    let claims = match auth.bearer.verify_logout_token(&token).await {
        Ok(claims) => claims,
        Err(error) => return refused(error.to_string()),
    };
    let Some(db) = &auth.db else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let sessions = match super::index::find(db, claims.sub.as_deref(), claims.sid.as_deref()).await
    {
        Ok(sessions) => sessions,
        Err(error) => {
            tracing::error!(%error, "cannot look up sessions for a back-channel logout");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    for session_id in &sessions {
        if let Ok(id) = session_id.parse::<Id>() {
            if let Err(error) = auth.store.delete(&id).await {
                tracing::error!(%error, "cannot end a session for a back-channel logout");
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        }
        if let Err(error) = super::index::forget(db, session_id).await {
            tracing::warn!(%error, "cannot remove an ended session from the index");
        }
    }
    tracing::info!(
        sub = claims.sub.as_deref().unwrap_or_default(),
        sessions = sessions.len(),
        "back-channel logout ended sessions"
    );
    (
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        StatusCode::OK,
    )
        .into_response()
}

/// `return_to` when it is a path on this site; `/` otherwise (no open redirects).
fn local_path(return_to: Option<&str>) -> String {
    match return_to {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
            path.to_owned()
        }
        _ => "/".into(),
    }
}

fn refused(status: StatusCode, reason: &str) -> Response {
    page(
        status,
        "Sign-in refused",
        &format!("{reason} Nothing was signed in. Start again from the sign-in page."),
    )
}

fn session_failed(error: tower_sessions::session::Error) -> Response {
    tracing::error!(%error, "the session store failed");
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Sign-in is unavailable",
        "Apiary cannot reach its session store right now. Try again in a minute.",
    )
}

/// A small standalone HTML page for sign-in outcomes, outside the console, that offers to sign in.
pub(super) fn page(status: StatusCode, title: &str, message: &str) -> Response {
    standalone(
        status,
        title,
        message,
        "<p><a href=\"/auth/login\">Sign in</a></p>",
    )
}

/// Like [`page`], for someone signed in: it offers to sign out (the same POST form as the
/// console's, under the same cross-site checks), so they can sign in as someone else.
pub(super) fn signed_in_page(status: StatusCode, title: &str, message: &str) -> Response {
    standalone(
        status,
        title,
        message,
        "<form method=\"post\" action=\"/auth/logout\"><button type=\"submit\">Sign out</button></form>",
    )
}

fn standalone(status: StatusCode, title: &str, message: &str, action: &str) -> Response {
    let title = html_escape::encode_text(title);
    let message = html_escape::encode_text(message);
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Apiary</title></head>\
         <body>\
         <h1>{title}</h1><p role=\"alert\">{message}</p>{action}</body></html>"
    );
    (status, Html(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_return_targets() {
        assert_eq!(local_path(Some("/servers/a/b?x=1")), "/servers/a/b?x=1");
        assert_eq!(local_path(Some("//evil.example")), "/");
        assert_eq!(local_path(Some("https://evil.example")), "/");
        assert_eq!(local_path(Some("/\\evil.example")), "/");
        assert_eq!(local_path(None), "/");
    }
}
