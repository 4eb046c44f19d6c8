//! The real `apiary` binary as a child process, for tests about several replicas.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use super::ports::PassedSocket;

/// A running `apiary serve`, killed when dropped. Its log goes to a file, shown by [`Self::log`].
pub struct ApiaryProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl ApiaryProcess {
    /// Starts `apiary serve` on a free loopback port with a clean environment plus `env`, and
    /// waits until `/healthz` answers.
    pub async fn start(env: &[(&str, String)]) -> Self {
        Self::start_on(PassedSocket::bind(), env).await
    }

    /// Like [`Self::start`], serving on `socket` (handed over already bound, so no other
    /// process can take its port), for settings that name the URL before the process starts,
    /// such as `APIARY_PUBLIC_URL`.
    pub async fn start_on(socket: PassedSocket, env: &[(&str, String)]) -> Self {
        // reqwest uses rustls without a built-in crypto provider; the server installs ring
        // only in its own process.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("apiary.log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_apiary"));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("APIARY_DATA_DIR", dir.path())
            .env("APIARY_LOG", "info,kube_lease_manager=info")
            .envs(env.iter().map(|(key, value)| (*key, value)))
            .arg("serve")
            .stdout(std::fs::File::create(&log).expect("log file"))
            .stderr(
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(&log)
                    .expect("log file"),
            );
        socket.pass_to(&mut command);
        let child = command.spawn().expect("start apiary");
        let url = socket.url();
        drop(socket);
        let mut process = Self {
            child,
            url,
            log,
            _dir: dir,
        };
        process.wait_healthy().await;
        process
    }

    async fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "apiary exited with {status} while starting:\n{}",
                    self.log()
                );
            }
            if let Ok(response) = reqwest::get(format!("{}/healthz", self.url)).await {
                if response.status().is_success() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "apiary did not answer /healthz within 60 s:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The process's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The value of the unlabelled metric `name` on `/metrics`, if it is exported.
    pub async fn metric(&self, name: &str) -> Option<f64> {
        let text = reqwest::get(format!("{}/metrics", self.url))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.lines().find_map(|line| {
            let (key, value) = line.split_once(' ')?;
            (key == name).then(|| value.trim().parse().ok()).flatten()
        })
    }

    /// Kills the process at once (SIGKILL): no graceful stop, no Lease handed over.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ApiaryProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
