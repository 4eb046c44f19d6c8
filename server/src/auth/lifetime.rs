//! Keeps a signed-in session within its limits on each request: it ends at its maximum age,
//! and every recheck interval the person's roles and teams are read again from the provider;
//! when the provider no longer vouches for them (revoked, disabled), the session ends.

use tower_sessions::Session;

use apiary_app::access::Viewer;

use super::oidc::{unix_now, RecheckError, SignInRecord};
use super::routes::{SIGN_IN_KEY, VIEWER_KEY};
use super::Auth;

/// The person signed in on `session`, after the checks; `None` when nobody is (any more).
pub(super) async fn current(
    auth: &Auth,
    session: &Session,
) -> Result<Option<Viewer>, tower_sessions::session::Error> {
    let Some(viewer) = session.get::<Viewer>(VIEWER_KEY).await? else {
        return Ok(None);
    };
    let Some(mut record) = session.get::<SignInRecord>(SIGN_IN_KEY).await? else {
        // A session from before sign-in records were kept: sign in again.
        end(auth, session).await?;
        return Ok(None);
    };
    let settings = auth.provider.settings();
    let now = unix_now();
    if now - record.signed_in_at >= secs(settings.session_max_age) {
        tracing::info!(subject = %viewer.subject, "the session reached its maximum age");
        end(auth, session).await?;
        return Ok(None);
    }
    if now - record.checked_at < secs(settings.session_recheck) {
        return Ok(Some(viewer));
    }
    match auth.provider.recheck(&record).await {
        Ok((identity, fresh)) => {
            let renewed = auth.viewer_for(identity);
            if renewed.roles != viewer.roles || renewed.teams != viewer.teams {
                tracing::info!(
                    subject = %viewer.subject,
                    roles = ?renewed.roles,
                    teams = ?renewed.teams,
                    "roles and teams changed at the provider"
                );
            }
            session.insert(VIEWER_KEY, &renewed).await?;
            session.insert(SIGN_IN_KEY, &fresh).await?;
            Ok(Some(renewed))
        }
        Err(RecheckError::Refused(reason)) => {
            tracing::info!(subject = %viewer.subject, %reason, "the session ended: the provider refused to renew it");
            end(auth, session).await?;
            Ok(None)
        }
        Err(error @ RecheckError::Unavailable(_)) => {
            // Keep the roles read last and try again after the next interval.
            tracing::warn!(subject = %viewer.subject, %error, "cannot recheck a session's roles");
            record.checked_at = now;
            session.insert(SIGN_IN_KEY, &record).await?;
            Ok(Some(viewer))
        }
    }
}

/// Ends `session`: its data, and its entry in the index of sessions.
pub(super) async fn end(
    auth: &Auth,
    session: &Session,
) -> Result<(), tower_sessions::session::Error> {
    if let (Some(db), Some(id)) = (&auth.db, session.id()) {
        if let Err(error) = super::index::forget(db, &id.to_string()).await {
            tracing::warn!(%error, "cannot remove an ended session from the index");
        }
    }
    session.flush().await
}

fn secs(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}
