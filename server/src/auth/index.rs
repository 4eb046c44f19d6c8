//! Which sessions belong to whom: the provider's `sub` and `sid` of every signed-in session
//! (table `signed_in_sessions`), so a back-channel logout finds them on any replica.

use crate::db::{Db, DbError};

/// Records that `session_id` is `sub`'s sign-in (provider session `sid`), and drops rows of
/// sessions that are past `max_age_secs` by now.
pub async fn remember(
    db: &Db,
    session_id: &str,
    sub: &str,
    sid: Option<&str>,
    signed_in_at: i64,
    max_age_secs: i64,
) -> Result<(), DbError> {
    sqlx::query("DELETE FROM signed_in_sessions WHERE signed_in_at < $1")
        .bind(signed_in_at - max_age_secs)
        .execute(db.pool())
        .await?;
    sqlx::query(
        "INSERT INTO signed_in_sessions (session_id, sub, sid, signed_in_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(session_id)
    .bind(sub)
    .bind(sid)
    .bind(signed_in_at)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Forgets `session_id` (signed out or ended).
pub async fn forget(db: &Db, session_id: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM signed_in_sessions WHERE session_id = $1")
        .bind(session_id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// The sessions of `sub` and/or provider session `sid` (both must match when both are given).
pub async fn find(db: &Db, sub: Option<&str>, sid: Option<&str>) -> Result<Vec<String>, DbError> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT session_id FROM signed_in_sessions \
         WHERE ($1 = '' OR sub = $1) AND ($2 = '' OR sid = $2)",
    )
    .bind(sub.unwrap_or_default())
    .bind(sid.unwrap_or_default())
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}
