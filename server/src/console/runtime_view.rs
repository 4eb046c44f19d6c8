//! The runtime section of a server page: what the runtime reports (state, exit reason,
//! restarts, the newest log lines with secrets redacted), or why nothing runs.

use apiary_app::model::server_detail::{LogLineView, RunState, RuntimeView};

use crate::config::Runtime as RuntimeMode;
use crate::db::{Db, DbError};
use crate::runtime::desired::{self, Desired};
use crate::runtime::redact::Redactor;
use crate::runtime::{Reach, RuntimeState, RuntimeStatus, ServerId};

use crate::display_time::display_time;

/// How many of the newest log lines the page shows.
pub const LOG_LINES: usize = 30;

/// What the runtime says about `id`, or why nothing runs; `None` for an unknown server.
pub async fn load(
    runtime: &dyn Reach,
    mode: RuntimeMode,
    db: &Db,
    id: &ServerId,
) -> Result<Option<RuntimeView>, DbError> {
    if let Some(status) = runtime.status(id).await {
        let logs = runtime.logs(id).await;
        let skip = logs.len().saturating_sub(LOG_LINES);
        // The local runtime redacted its lines as it captured them; a pod's are redacted here.
        let redactor = Redactor::default();
        let logs = logs
            .into_iter()
            .skip(skip)
            .map(|l| LogLineView {
                at_label: display_time(l.at),
                line: redactor.redact(&l.line),
            })
            .collect();
        return Ok(Some(from_status(status, mode, logs)));
    }
    let reason = match desired::load_one(db, id).await? {
        Desired::Unknown => return Ok(None),
        _ if mode == RuntimeMode::Kubernetes => Some(format!(
            "{id} has no MCPServer in the cluster; an approved proposal applies one"
        )),
        Desired::Idle { reason } => Some(format!("{reason}, so nothing runs")),
        Desired::Invalid(error) => Some(format!(
            "its spec cannot run in the local runtime ({}: {})",
            error.field, error.message
        )),
        Desired::Run(_) => None,
    };
    Ok(Some(RuntimeView {
        state: reason
            .as_ref()
            .map_or(RunState::Starting, |_| RunState::Stopped),
        reason,
        ..RuntimeView::default()
    }))
}

/// The page's words for a runtime status. In local mode a ready server with a URL is a remote
/// one; in Kubernetes mode the URL is the running server's Service.
fn from_status(status: RuntimeStatus, mode: RuntimeMode, logs: Vec<LogLineView>) -> RuntimeView {
    let (state, reason, exit_code) = match status.state {
        RuntimeState::Ready if status.url.is_some() && mode == RuntimeMode::Local => {
            (RunState::Remote, None, None)
        }
        RuntimeState::Ready => (RunState::Running, None, None),
        RuntimeState::Starting if status.restarts > 0 => (RunState::Restarting, None, None),
        RuntimeState::Starting => (RunState::Starting, None, None),
        RuntimeState::Failed { reason, exit_code } => (RunState::Crashed, Some(reason), exit_code),
        RuntimeState::Stopped => (RunState::Stopped, None, None),
    };
    RuntimeView {
        state,
        reason,
        exit_code,
        restarts: status.restarts,
        command: status.command,
        logs,
        ..RuntimeView::default()
    }
}
