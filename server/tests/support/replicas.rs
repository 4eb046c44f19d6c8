//! Replicas: the real `apiary` binary, several at once on one database, each on its own
//! loopback port with sign-in through the test provider.

use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::process::{Child, Command};

use super::oidc;

/// One running `apiary serve`; dropping it kills the process.
pub struct Replica {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    child: Child,
    log: std::path::PathBuf,
    _data: tempfile::TempDir,
}

/// `N` distinct free loopback ports (bound together, then released, as `binary.rs` does).
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<std::net::TcpListener> = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free loopback port"))
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().expect("local address").port())
}

/// The callback and post-logout URIs the provider must know for a replica on `port`.
pub fn redirect_uris(port: u16) -> (String, String) {
    let url = format!("http://127.0.0.1:{port}");
    (format!("{url}/auth/callback"), format!("{url}/"))
}

impl Replica {
    /// Starts `apiary` on `port` with `public_url` over `database_url`, signing in through the
    /// provider at `issuer`, without waiting for it to be ready.
    pub fn spawn(port: u16, public_url: &str, database_url: &str, issuer: &str) -> Self {
        // reqwest uses rustls without a built-in crypto provider; in-process tests get ring
        // from the server, these from here.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let data = tempfile::tempdir().expect("a data folder");
        let log = data.path().join("apiary.log");
        let out = std::fs::File::create(&log).expect("create the log file");
        let err = out.try_clone().expect("clone the log file");
        let url = format!("http://127.0.0.1:{port}");
        let child = Command::new(env!("CARGO_BIN_EXE_apiary"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("APIARY_LISTEN", format!("127.0.0.1:{port}"))
            .env("APIARY_PUBLIC_URL", public_url)
            .env("APIARY_DATA_DIR", data.path())
            .env("APIARY_DATABASE_URL", database_url)
            .env("APIARY_OIDC_ISSUER", issuer)
            .env("APIARY_OIDC_CLIENT_ID", oidc::CLIENT_ID)
            .env("APIARY_OIDC_CLIENT_SECRET", oidc::CLIENT_SECRET)
            .env("APIARY_OIDC_SCOPES", "openid profile email groups")
            .env("APIARY_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .kill_on_drop(true)
            .spawn()
            .expect("start apiary");
        Replica {
            url,
            child,
            log,
            _data: data,
        }
    }

    /// Waits until `/readyz` answers 200; panics with the replica's log when it exits or takes
    /// longer than a minute.
    pub async fn wait_ready(&mut self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("poll apiary") {
                panic!("apiary at {} exited ({status}):\n{}", self.url, self.log());
            }
            let ready = client
                .get(format!("{}/readyz", self.url))
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .is_ok_and(|response| response.status() == StatusCode::OK);
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "apiary at {} was not ready within a minute:\n{}",
                self.url,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("poll apiary").is_none()
    }

    /// What the replica logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Starts the test provider and two replicas over `database_url` at the same moment, each
/// with its own URL as its public URL, and waits until both are ready; `None` when the
/// provider is not configured.
pub async fn start_two(database_url: &str) -> Option<(oidc::OidcProvider, Replica, Replica)> {
    start(database_url, false).await
}

/// Like [`start_two`], but both replicas have the first one's URL as their public URL, as
/// replicas behind one load balancer do: the provider sends every sign-in back to it, and a
/// test may deliver the callback to either replica.
pub async fn start_two_behind_one_url(
    database_url: &str,
) -> Option<(oidc::OidcProvider, Replica, Replica)> {
    start(database_url, true).await
}

async fn start(
    database_url: &str,
    one_url: bool,
) -> Option<(oidc::OidcProvider, Replica, Replica)> {
    let ports = free_ports::<2>();
    let (callbacks, homes): (Vec<String>, Vec<String>) =
        ports.iter().map(|port| redirect_uris(*port)).unzip();
    let callbacks: Vec<&str> = callbacks.iter().map(String::as_str).collect();
    let homes: Vec<&str> = homes.iter().map(String::as_str).collect();
    let provider = oidc::start(&callbacks, &homes, None).await?;
    let url = |port: u16| format!("http://127.0.0.1:{port}");
    let public_b = url(if one_url { ports[0] } else { ports[1] });
    let mut a = Replica::spawn(ports[0], &url(ports[0]), database_url, &provider.issuer);
    let mut b = Replica::spawn(ports[1], &public_b, database_url, &provider.issuer);
    tokio::join!(a.wait_ready(), b.wait_ready());
    Some((provider, a, b))
}
