//! Ports for test servers without a window in which another process can take them.
//!
//! Picking a free port and binding it later races with every other process on a busy machine.
//! `apiary` gets its socket already bound ([`PassedSocket`], socket activation); servers that
//! only take a port number are started on a [`candidate`] and started again on another when
//! the one they got turns out to be taken ([`listens_on`] tells).

use std::net::TcpListener;

use command_fds::{CommandFdExt, FdMapping};

/// A loopback socket bound to a free port, handed to a child as fd 3 with `LISTEN_FDS=1`.
pub struct PassedSocket {
    listener: TcpListener,
    /// The bound port.
    pub port: u16,
}

impl PassedSocket {
    /// Binds a free loopback port.
    pub fn bind() -> Self {
        Self::bind_to("127.0.0.1:0")
    }

    /// Binds `addr` (port 0 for a free one).
    pub fn bind_to(addr: &str) -> Self {
        let listener = TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
        let port = listener.local_addr().expect("local address").port();
        Self { listener, port }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Makes `command`'s child receive this socket as fd 3 (the systemd `LISTEN_FDS`
    /// protocol). Call after any `env_clear`, and drop the socket once the child is spawned,
    /// so that connections after the child exits are refused rather than queued.
    pub fn pass_to(&self, command: &mut std::process::Command) {
        let parent_fd = self
            .listener
            .try_clone()
            .expect("duplicate the listening socket")
            .into();
        command.env("LISTEN_FDS", "1").env_remove("LISTEN_PID");
        command
            .fd_mappings(vec![FdMapping {
                parent_fd,
                child_fd: 3,
            }])
            .expect("fd 3 is mapped once");
    }
}

/// A loopback port that is free now, from below the kernel's ephemeral range, so that the
/// ports the system hands out for `:0` binds and outgoing connections never collide with it.
pub fn candidate() -> u16 {
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let low = 10_000u16.min(ephemeral_start.saturating_sub(1_000));
    let span = u32::from(ephemeral_start - low);
    for _ in 0..200 {
        let port = low + u16::try_from(rand_below(span)).expect("below the span");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port below {ephemeral_start} in 200 tries")
}

/// A number below `n`, good enough to spread ports (not for secrets).
fn rand_below(n: u32) -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    u32::try_from(hasher.finish() % u64::from(n)).expect("below n")
}

/// Whether the process `pid` holds the socket listening on loopback `port`: a server that lost
/// its port to another process must not be mistaken for that other process.
pub fn listens_on(pid: u32, port: u16) -> bool {
    let inodes = listening_inodes(port);
    if inodes.is_empty() {
        return false;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .ok()
            .and_then(|target| {
                let target = target.to_string_lossy().into_owned();
                let inode = target.strip_prefix("socket:[")?.strip_suffix(']')?;
                Some(inodes.iter().any(|listening| listening == inode))
            })
            .unwrap_or(false)
    })
}

/// The inodes of the sockets listening on `port` (IPv4 and IPv6).
fn listening_inodes(port: u16) -> Vec<String> {
    let wanted = format!("{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .flat_map(|table| {
            table
                .lines()
                .skip(1)
                .filter_map(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    let local_port = fields.get(1)?.rsplit(':').next()?;
                    // State 0A is LISTEN; field 9 is the inode.
                    (local_port == wanted && *fields.get(3)? == "0A")
                        .then(|| fields.get(9).map(|inode| (*inode).to_owned()))
                        .flatten()
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Starts a server that takes its port as a number: `spawn(port)` on a [`candidate`], then
/// waits until that very process listens there. A process that exits first (its port was
/// taken in between) is started again on another port, up to five times, with a warning.
pub async fn start_on_candidate(
    what: &str,
    mut spawn: impl FnMut(u16) -> tokio::process::Child,
) -> (tokio::process::Child, u16) {
    const STARTS: u32 = 5;
    for start in 1..=STARTS {
        let port = candidate();
        let mut child = spawn(port);
        let pid = child.id().expect("a started child has a pid");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                eprintln!(
                    "WARNING: {what} exited ({status}) before listening on port {port} \
                     (start {start} of {STARTS}); trying another port"
                );
                break;
            }
            if listens_on(pid, port) {
                return (child, port);
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{what} did not listen on port {port} within 30 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    panic!("{what} could not listen in {STARTS} starts on different ports")
}
