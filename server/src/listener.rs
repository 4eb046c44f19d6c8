//! The socket Apiary serves on: one a service manager passed in (socket activation, the
//! systemd `LISTEN_FDS` protocol), else one bound to the `listen` setting.
//!
//! A passed socket lets systemd hold a privileged or fixed port across restarts, and lets a
//! test harness bind a free port itself and hand it over, with no window in which another
//! process can take the port.

use std::net::SocketAddr;
use std::sync::Mutex;

/// The socket passed in at start, taken by [`adopt_inherited`] and used once by [`open`].
static INHERITED: Mutex<Option<std::io::Result<std::net::TcpListener>>> = Mutex::new(None);

/// Takes the first socket passed through `LISTEN_FDS` (and clears those variables). Call it
/// before any other thread starts, because it changes the environment.
pub fn adopt_inherited() {
    let taken = listenfd::ListenFd::from_env()
        .take_tcp_listener(0)
        .transpose();
    *INHERITED.lock().unwrap_or_else(|e| e.into_inner()) = taken;
}

/// Why no socket could be opened.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// The configured address could not be bound.
    #[error("cannot listen on {addr} (APIARY_LISTEN): {source}")]
    Bind {
        /// The configured address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// `LISTEN_FDS` named a socket that is not a usable TCP listener.
    #[error("the socket passed in LISTEN_FDS (fd 3) is not a listening TCP socket: {0}")]
    Inherited(std::io::Error),
    /// The passed socket serves other machines, which needs sign-in.
    #[error(
        "the socket passed in LISTEN_FDS is bound to {0}; without sign-in Apiary only serves \
         loopback (127.0.0.1 or [::1]): pass a loopback socket or set APIARY_OIDC_ISSUER"
    )]
    NotLoopback(SocketAddr),
}

/// The socket passed in at start if there is one, else `listen` bound now. `loopback_only`
/// refuses a passed socket on another address, as the settings refuse such a `listen`.
pub async fn open(
    listen: SocketAddr,
    loopback_only: bool,
) -> Result<tokio::net::TcpListener, ListenError> {
    let inherited = INHERITED.lock().unwrap_or_else(|e| e.into_inner()).take();
    let Some(inherited) = inherited else {
        return tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| ListenError::Bind {
                addr: listen,
                source,
            });
    };
    let listener = inherited
        .and_then(|socket| {
            socket.set_nonblocking(true)?;
            tokio::net::TcpListener::from_std(socket)
        })
        .map_err(ListenError::Inherited)?;
    let addr = listener.local_addr().map_err(ListenError::Inherited)?;
    if loopback_only && !addr.ip().is_loopback() {
        return Err(ListenError::NotLoopback(addr));
    }
    tracing::info!(%addr, "serving on the socket passed in LISTEN_FDS (APIARY_LISTEN is not used)");
    Ok(listener)
}
