//! The desired state of the runtime, read from the database: every published server that is
//! not retired.

use sqlx::Row;

use crate::db::{Db, DbError};
use crate::servers::server_id;
use crate::validation::FieldError;

use super::{DesiredServer, Runtime, ServerId};

/// Whether and how a stored server should run.
#[derive(Clone, Debug, PartialEq)]
pub enum Desired {
    /// No server has this id.
    Unknown,
    /// The server exists but is not published, or is retired: nothing should run.
    Idle {
        /// Why nothing runs, in words.
        reason: String,
    },
    /// The server should run, but its spec cannot run in this runtime.
    Invalid(FieldError),
    /// The server should run like this.
    Run(DesiredServer),
}

/// Every published, non-retired server, parsed. Servers whose spec cannot run locally come
/// back as errors, paired with their id.
pub async fn load_all(
    db: &Db,
) -> Result<Vec<Result<DesiredServer, (ServerId, FieldError)>>, DbError> {
    let rows = sqlx::query(
        "SELECT namespace, name, spec FROM servers \
         WHERE published = TRUE AND lifecycle <> 'retired' ORDER BY namespace, name",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            let id = ServerId::new(
                row.try_get::<String, _>("namespace")?,
                row.try_get::<String, _>("name")?,
            );
            let spec: String = row.try_get("spec")?;
            Ok(parse(id, &spec))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

/// What should run for `id`.
pub async fn load_one(db: &Db, id: &ServerId) -> Result<Desired, DbError> {
    let published = sqlx::query(
        "SELECT spec, lifecycle FROM servers \
         WHERE namespace = $1 AND name = $2 AND published = TRUE",
    )
    .bind(&id.namespace)
    .bind(&id.name)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = published else {
        return Ok(match server_id(db.pool(), &id.namespace, &id.name).await? {
            Some(_) => Desired::Idle {
                reason: format!("{id} is not published"),
            },
            None => Desired::Unknown,
        });
    };
    let lifecycle: String = row.try_get("lifecycle")?;
    if lifecycle == "retired" {
        return Ok(Desired::Idle {
            reason: format!("{id} is retired"),
        });
    }
    let spec: String = row.try_get("spec")?;
    Ok(match parse(id.clone(), &spec) {
        Ok(server) => Desired::Run(server),
        Err((_, error)) => Desired::Invalid(error),
    })
}

fn parse(id: ServerId, spec: &str) -> Result<DesiredServer, (ServerId, FieldError)> {
    let value: serde_json::Value = match serde_json::from_str(spec) {
        Ok(value) => value,
        Err(error) => {
            return Err((
                id,
                FieldError::new("spec", format!("is not valid JSON: {error}")),
            ))
        }
    };
    DesiredServer::from_spec(id.clone(), &value).map_err(|error| (id, error))
}

/// Applies every published, non-retired server; servers that cannot run are logged and
/// skipped. Returns how many were applied.
pub async fn apply_all(db: &Db, runtime: &dyn Runtime) -> Result<usize, DbError> {
    let mut applied = 0;
    for server in load_all(db).await? {
        match server {
            Ok(server) => match runtime.apply(&server).await {
                Ok(()) => applied += 1,
                Err(error) => tracing::warn!(server = %server.id, %error, "cannot start"),
            },
            Err((id, error)) => {
                tracing::warn!(server = %id, %error, "not started: the spec cannot run here");
            }
        }
    }
    Ok(applied)
}

/// Brings one server in the runtime in line with the database: applies it, or removes it when
/// it should not run. Failures are logged; the runtime endpoint reports them.
pub async fn sync(db: &Db, runtime: &dyn Runtime, id: &ServerId) {
    let outcome = match load_one(db, id).await {
        Ok(Desired::Run(server)) => runtime.apply(&server).await,
        Ok(Desired::Invalid(error)) => {
            tracing::warn!(server = %id, %error, "not started: the spec cannot run here");
            runtime.remove(id).await
        }
        Ok(Desired::Idle { .. } | Desired::Unknown) => runtime.remove(id).await,
        Err(error) => {
            tracing::error!(server = %id, %error, "cannot read the server to run it");
            Ok(())
        }
    };
    if let Err(error) = outcome {
        tracing::warn!(server = %id, %error, "the runtime refused the server");
    }
}
