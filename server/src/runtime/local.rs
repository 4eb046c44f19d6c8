//! The local runtime: each stdio server is a child process in its own process group, watched
//! by one supervisor task.
//!
//! - **Readiness.** A stdio MCP server writes nothing until a client speaks, so a process is
//!   `ready` once it has stayed up for [`LocalRuntimeConfig::ready_after`] (500 ms by default).
//! - **Logs.** stderr is captured line by line into a ring buffer (the last 200 lines by
//!   default), together with the supervisor's own `apiary:` lines; secrets (the spec's
//!   environment values, credential shapes) are redacted as a line is captured. stdout is never
//!   read here: it is the MCP channel, handed out through [`Runtime::open_stdio`] (see
//!   [`super::stdio`]).
//! - **Restarts.** A process that exits by itself is `failed` and is started again after an
//!   exponential backoff (0.5 s doubling up to 30 s by default); the backoff starts over once a
//!   process has stayed up for a minute. There is never a hot loop.
//! - **Stopping.** On remove, replace or shutdown the whole process group gets SIGTERM, then
//!   SIGKILL after a grace period, so grandchildren (`npx` → `node`) stop too. `kill_on_drop`
//!   is a backstop for the leader.
//! - **Environment.** Children do not inherit Apiary's settings or secrets: they get `PATH`,
//!   `HOME`, locale, temp-dir, proxy and certificate variables, the `npm_config_*`, `UV_*` and
//!   `PIP_*` package-tool variables, then the spec's `env`.

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::BufReader;
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::logs::{next_line, LogBuffer, LogLine};
use super::process_group;
use super::redact::Redactor;
use super::{
    DesiredServer, LocalSpec, ProcessSpec, Reach, Runtime, RuntimeError, RuntimeState,
    RuntimeStatus, ServerId, StdioHandle,
};
use crate::locks::lock;

/// How long a SIGKILLed process group gets to disappear.
const KILL_SETTLE: Duration = Duration::from_secs(1);

/// Timings and limits of the local runtime.
#[derive(Clone, Debug)]
pub struct LocalRuntimeConfig {
    /// How long a process must stay up to count as ready.
    pub ready_after: Duration,
    /// The first restart delay; it doubles after each failure.
    pub backoff_initial: Duration,
    /// The longest restart delay.
    pub backoff_max: Duration,
    /// A process up this long resets the backoff to `backoff_initial`.
    pub backoff_reset_after: Duration,
    /// How long a process group has between SIGTERM and SIGKILL.
    pub stop_grace: Duration,
    /// How many log lines are kept per server.
    pub log_lines: usize,
}

impl Default for LocalRuntimeConfig {
    fn default() -> Self {
        Self {
            ready_after: Duration::from_millis(500),
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            backoff_reset_after: Duration::from_secs(60),
            stop_grace: Duration::from_secs(5),
            log_lines: 200,
        }
    }
}

impl LocalRuntimeConfig {
    /// The delay before the next start after `failures` consecutive failures (0 for the first).
    pub fn backoff(&self, failures: u32) -> Duration {
        let factor = 1u32 << failures.min(20);
        self.backoff_initial
            .checked_mul(factor)
            .map_or(self.backoff_max, |delay| delay.min(self.backoff_max))
    }
}

/// Runs the desired servers as supervised local processes. Cheap to clone; clones share state.
#[derive(Clone, Debug)]
pub struct LocalRuntime {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: LocalRuntimeConfig,
    servers: Mutex<HashMap<ServerId, Entry>>,
    /// Serializes apply, remove and shutdown, which may wait for processes to stop.
    changes: tokio::sync::Mutex<bool>,
}

#[derive(Debug)]
struct Entry {
    spec: LocalSpec,
    shared: Arc<Shared>,
    supervisor: Option<Supervisor>,
}

#[derive(Debug)]
struct Supervisor {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

/// What the supervisor task and the runtime's readers share about one server.
#[derive(Debug)]
struct Shared {
    id: ServerId,
    /// Hides secrets in captured stderr lines.
    redactor: Redactor,
    status: Mutex<RuntimeStatus>,
    logs: Mutex<LogBuffer>,
    stdio: Mutex<Option<StdioParts>>,
}

#[derive(Debug)]
struct StdioParts {
    stdout: ChildStdout,
    stdin: ChildStdin,
    release: oneshot::Sender<()>,
}

impl Shared {
    fn set(&self, state: RuntimeState, pid: Option<u32>) {
        let mut status = lock(&self.status);
        status.state = state;
        status.pid = pid;
    }

    fn log(&self, line: String) {
        lock(&self.logs).push(line);
    }
}

impl LocalRuntime {
    /// A runtime with no servers. Needs no Tokio context until the first `apply`.
    pub fn new(config: LocalRuntimeConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                servers: Mutex::new(HashMap::new()),
                changes: tokio::sync::Mutex::new(false),
            }),
        }
    }

    fn start(&self, server: &DesiredServer) -> Entry {
        let (state, url, command) = match &server.spec {
            LocalSpec::Remote { url, .. } => (RuntimeState::Ready, Some(url.clone()), None),
            LocalSpec::Process(process) => {
                (RuntimeState::Starting, None, Some(process.command_line()))
            }
        };
        let redactor = match &server.spec {
            LocalSpec::Process(process) => {
                Redactor::new(process.env.iter().map(|(_, v)| v.as_str()))
            }
            LocalSpec::Remote { .. } => Redactor::default(),
        };
        let shared = Arc::new(Shared {
            id: server.id.clone(),
            redactor,
            status: Mutex::new(RuntimeStatus {
                state,
                pid: None,
                restarts: 0,
                url,
                command,
            }),
            logs: Mutex::new(LogBuffer::new(self.inner.config.log_lines)),
            stdio: Mutex::new(None),
        });
        let supervisor = match &server.spec {
            LocalSpec::Remote { url, transport } => {
                shared.log(format!(
                    "apiary: remote {} server at {url}; nothing runs locally",
                    transport.as_str()
                ));
                None
            }
            LocalSpec::Process(process) => {
                let stop = CancellationToken::new();
                let task = tokio::spawn(supervise(
                    process.clone(),
                    shared.clone(),
                    self.inner.config.clone(),
                    stop.clone(),
                ));
                Some(Supervisor { stop, task })
            }
        };
        Entry {
            spec: server.spec.clone(),
            shared,
            supervisor,
        }
    }
}

impl Entry {
    async fn stop(&mut self) {
        if let Some(supervisor) = self.supervisor.take() {
            supervisor.stop.cancel();
            if let Err(error) = supervisor.task.await {
                tracing::error!(server = %self.shared.id, %error, "the supervisor task failed");
            }
        }
        self.shared.set(RuntimeState::Stopped, None);
    }
}

#[async_trait]
impl Reach for LocalRuntime {
    async fn status(&self, id: &ServerId) -> Option<RuntimeStatus> {
        let servers = lock(&self.inner.servers);
        let entry = servers.get(id)?;
        let status = lock(&entry.shared.status).clone();
        Some(status)
    }

    async fn logs(&self, id: &ServerId) -> Vec<LogLine> {
        let servers = lock(&self.inner.servers);
        servers
            .get(id)
            .map(|entry| lock(&entry.shared.logs).snapshot())
            .unwrap_or_default()
    }

    async fn open_stdio(&self, id: &ServerId) -> Result<StdioHandle, RuntimeError> {
        let shared = {
            let servers = lock(&self.inner.servers);
            let entry = servers
                .get(id)
                .ok_or_else(|| RuntimeError::NotFound(id.clone()))?;
            if matches!(entry.spec, LocalSpec::Remote { .. }) {
                return Err(RuntimeError::NotStdio(id.clone()));
            }
            entry.shared.clone()
        };
        let parts = lock(&shared.stdio)
            .take()
            .ok_or_else(|| RuntimeError::StdioUnavailable(id.clone()))?;
        Ok(StdioHandle::with_release(
            parts.stdout,
            parts.stdin,
            parts.release,
        ))
    }
}

#[async_trait]
impl Runtime for LocalRuntime {
    async fn apply(&self, server: &DesiredServer) -> Result<(), RuntimeError> {
        let shut_down = self.inner.changes.lock().await;
        if *shut_down {
            return Err(RuntimeError::ShutDown);
        }
        let old = {
            let mut servers = lock(&self.inner.servers);
            match servers.get(&server.id) {
                Some(entry) if entry.spec == server.spec => return Ok(()),
                _ => servers.remove(&server.id),
            }
        };
        if let Some(mut old) = old {
            tracing::info!(server = %server.id, "the spec changed; replacing the server");
            old.stop().await;
        }
        tracing::info!(server = %server.id, "starting in the local runtime");
        let entry = self.start(server);
        lock(&self.inner.servers).insert(server.id.clone(), entry);
        Ok(())
    }

    async fn remove(&self, id: &ServerId) -> Result<(), RuntimeError> {
        let _changes = self.inner.changes.lock().await;
        let old = lock(&self.inner.servers).remove(id);
        if let Some(mut old) = old {
            tracing::info!(server = %id, "removing from the local runtime");
            old.stop().await;
        }
        Ok(())
    }

    async fn shutdown(&self) {
        let mut shut_down = self.inner.changes.lock().await;
        *shut_down = true;
        let mut supervisors = Vec::new();
        for entry in lock(&self.inner.servers).values_mut() {
            if let Some(supervisor) = entry.supervisor.take() {
                supervisor.stop.cancel();
                supervisors.push((entry.shared.clone(), supervisor.task));
            }
        }
        tracing::info!(count = supervisors.len(), "stopping local servers");
        // Every supervisor got its stop signal above, so they stop in parallel.
        for (shared, task) in supervisors {
            if let Err(error) = task.await {
                tracing::error!(server = %shared.id, %error, "the supervisor task failed");
            }
            shared.set(RuntimeState::Stopped, None);
        }
        for entry in lock(&self.inner.servers).values() {
            entry.shared.set(RuntimeState::Stopped, None);
        }
    }
}

/// How one run of a process ended.
enum RunEnd {
    /// The runtime asked it to stop; it is gone.
    Stopped,
    /// The stdio session ended; start a fresh process at once.
    Recycle,
    /// It exited by itself or could not start.
    Failed {
        reason: String,
        exit_code: Option<i32>,
        uptime: Duration,
    },
}

/// Runs `process` until `stop`, restarting it with backoff.
async fn supervise(
    process: ProcessSpec,
    shared: Arc<Shared>,
    config: LocalRuntimeConfig,
    stop: CancellationToken,
) {
    let mut failures = 0u32;
    loop {
        match run_once(&process, &shared, &config, &stop).await {
            RunEnd::Stopped => break,
            RunEnd::Recycle => continue,
            RunEnd::Failed {
                reason,
                exit_code,
                uptime,
            } => {
                if uptime >= config.backoff_reset_after {
                    failures = 0;
                }
                let delay = config.backoff(failures);
                failures = failures.saturating_add(1);
                let reason = format!("{reason}; restarting in {:.1} s", delay.as_secs_f64());
                tracing::warn!(server = %shared.id, %reason, "a local server failed");
                shared.log(format!("apiary: {reason}"));
                shared.set(RuntimeState::Failed { reason, exit_code }, None);
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = stop.cancelled() => break,
                }
                let mut status = lock(&shared.status);
                status.restarts = status.restarts.saturating_add(1);
            }
        }
    }
    shared.set(RuntimeState::Stopped, None);
    shared.log("apiary: stopped".into());
}

/// Starts the process once and watches it until it ends or must stop.
async fn run_once(
    process: &ProcessSpec,
    shared: &Arc<Shared>,
    config: &LocalRuntimeConfig,
    stop: &CancellationToken,
) -> RunEnd {
    shared.set(RuntimeState::Starting, None);
    let mut command = Command::new(&process.program);
    command
        .args(&process.args)
        .env_clear()
        .envs(inherited_env())
        .envs(process.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => {
            return RunEnd::Failed {
                reason: format!(
                    "cannot start {:?}: {error} (is it installed and on PATH?)",
                    process.program
                ),
                exit_code: None,
                uptime: Duration::ZERO,
            }
        }
    };
    let started = Instant::now();
    let Some(pid) = child.id() else {
        return RunEnd::Failed {
            reason: "the process ended before it could be watched".into(),
            exit_code: None,
            uptime: Duration::ZERO,
        };
    };
    if let Some(stderr) = child.stderr.take() {
        tokio::spawn(capture_stderr(stderr, shared.clone()));
    }
    let (release, mut released) = oneshot::channel();
    if let (Some(stdout), Some(stdin)) = (child.stdout.take(), child.stdin.take()) {
        *lock(&shared.stdio) = Some(StdioParts {
            stdout,
            stdin,
            release,
        });
    }
    shared.set(RuntimeState::Starting, Some(pid));
    shared.log(format!("apiary: started (pid {pid})"));
    tracing::info!(server = %shared.id, pid, "started a local server");

    enum Watch {
        Exited(std::io::Result<ExitStatus>),
        Stop,
        Released,
    }
    let ready = tokio::time::sleep(config.ready_after);
    tokio::pin!(ready);
    let mut is_ready = false;
    let watch = loop {
        tokio::select! {
            exit = child.wait() => break Watch::Exited(exit),
            () = stop.cancelled() => break Watch::Stop,
            _ = &mut released => break Watch::Released,
            () = &mut ready, if !is_ready => {
                is_ready = true;
                shared.set(RuntimeState::Ready, Some(pid));
            }
        }
    };
    // A handle given out and dropped closes the sender; one still in the slot keeps it open.
    let session_ended = matches!(
        released.try_recv(),
        Err(oneshot::error::TryRecvError::Closed)
    ) && lock(&shared.stdio).is_none();
    lock(&shared.stdio).take();
    match watch {
        Watch::Stop => {
            stop_group(pid, &mut child, config.stop_grace).await;
            RunEnd::Stopped
        }
        Watch::Released => {
            shared.log("apiary: the stdio session ended; starting a fresh process".into());
            // Closing stdin asks a stdio server to exit; give it the grace period to do so.
            let _ = tokio::time::timeout(config.stop_grace, child.wait()).await;
            stop_group(pid, &mut child, config.stop_grace).await;
            RunEnd::Recycle
        }
        Watch::Exited(exit) => {
            // Leftover grandchildren of the dead leader must not pile up.
            stop_group(pid, &mut child, config.stop_grace).await;
            if session_ended {
                shared.log("apiary: the stdio session ended; starting a fresh process".into());
                return RunEnd::Recycle;
            }
            let (reason, exit_code) = match exit {
                Ok(status) => (describe(status), status.code()),
                Err(error) => (format!("cannot wait for the process: {error}"), None),
            };
            let uptime = started.elapsed();
            RunEnd::Failed {
                reason: format!("{reason} after {:.1} s", uptime.as_secs_f64()),
                exit_code,
                uptime,
            }
        }
    }
}

/// SIGTERM to the group, SIGKILL after `grace`, and the leader reaped.
async fn stop_group(pgid: u32, child: &mut Child, grace: Duration) {
    let deadline = Instant::now() + grace;
    if process_group::terminate(pgid) {
        let _ = tokio::time::timeout_at(deadline, child.wait()).await;
        if !process_group::wait_empty(pgid, deadline).await {
            tracing::warn!(
                pgid,
                "a process group outlived its grace period; killing it"
            );
            process_group::kill(pgid);
            // SIGKILL is delivered asynchronously; members that stay are zombies whose
            // (adoptive) parent has not reaped them yet, so this wait is bounded.
            process_group::wait_empty(pgid, Instant::now() + KILL_SETTLE).await;
        }
    }
    if let Err(error) = child.kill().await {
        tracing::debug!(pgid, %error, "the leader was already gone");
    }
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => match nix::sys::signal::Signal::try_from(signal) {
            Ok(name) => format!("was killed by signal {signal} ({name})"),
            Err(_) => format!("was killed by signal {signal}"),
        },
        (None, None) => format!("ended ({status})"),
    }
}

async fn capture_stderr(stderr: ChildStderr, shared: Arc<Shared>) {
    let mut reader = BufReader::new(stderr);
    loop {
        match next_line(&mut reader).await {
            Ok(Some(line)) => {
                let line = shared.redactor.redact(&line);
                tracing::debug!(server = %shared.id, %line, "stderr");
                shared.log(line);
            }
            Ok(None) => break,
            Err(error) => {
                tracing::debug!(server = %shared.id, %error, "stderr closed");
                break;
            }
        }
    }
}

/// The part of Apiary's environment a child may see: no settings and no secrets.
fn inherited_env() -> impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)> {
    const KEYS: &[&str] = &[
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "all_proxy",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "NODE_EXTRA_CA_CERTS",
    ];
    const PREFIXES: &[&str] = &["LC_", "npm_config_", "NPM_CONFIG_", "UV_", "PIP_"];
    std::env::vars_os().filter(|(key, _)| {
        key.to_str().is_some_and(|key| {
            KEYS.contains(&key) || PREFIXES.iter().any(|prefix| key.starts_with(prefix))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_half_a_second_up_to_thirty() {
        let config = LocalRuntimeConfig::default();
        let delays: Vec<_> = (0..8).map(|n| config.backoff(n).as_millis()).collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
        assert_eq!(config.backoff(u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn exit_statuses_are_described() {
        assert_eq!(describe(ExitStatus::from_raw(3 << 8)), "exited with code 3");
        assert_eq!(
            describe(ExitStatus::from_raw(9)),
            "was killed by signal 9 (SIGKILL)"
        );
    }
}
