//! The stdio MCP channel of a running server.
//!
//! A stdio MCP server speaks the protocol on its stdin and stdout, and a protocol session
//! belongs to one client. So the runtime never reads stdout itself; it hands the pair out as
//! one [`StdioHandle`] through [`Runtime::open_stdio`](super::Runtime::open_stdio):
//!
//! - at most one handle exists per process start; while it is out, `open_stdio` fails with
//!   [`RuntimeError::StdioUnavailable`](super::RuntimeError::StdioUnavailable);
//! - dropping the handle closes the server's stdin and ends the session: the local runtime
//!   then waits for the process to exit (or stops its process group after the grace period)
//!   and starts a fresh process at once, without backoff, whose new handle is available to the
//!   next caller;
//! - when the process crashes or is replaced, reads on an old handle end (EOF) and writes fail;
//!   the caller opens a new handle once the server is running again.
//!
//! The handle implements [`AsyncRead`] (the server's stdout) and [`AsyncWrite`] (its stdin), so
//! it can be given to any MCP client transport over a byte stream, or split with
//! `tokio::io::split`.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;

/// A connected stdio channel: read the server's stdout, write its stdin.
pub struct StdioHandle {
    reader: Pin<Box<dyn AsyncRead + Send + Sync>>,
    writer: Pin<Box<dyn AsyncWrite + Send + Sync>>,
    /// Dropped with the handle, which tells the supervisor that the session ended.
    _release: Option<oneshot::Sender<()>>,
}

impl StdioHandle {
    /// A handle over any reader (the server's output) and writer (its input).
    pub fn new(
        reader: impl AsyncRead + Send + Sync + 'static,
        writer: impl AsyncWrite + Send + Sync + 'static,
    ) -> Self {
        Self {
            reader: Box::pin(reader),
            writer: Box::pin(writer),
            _release: None,
        }
    }

    /// A handle that signals `release` when dropped.
    pub(crate) fn with_release(
        reader: impl AsyncRead + Send + Sync + 'static,
        writer: impl AsyncWrite + Send + Sync + 'static,
        release: oneshot::Sender<()>,
    ) -> Self {
        Self {
            _release: Some(release),
            ..Self::new(reader, writer)
        }
    }
}

impl std::fmt::Debug for StdioHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StdioHandle").finish_non_exhaustive()
    }
}

impl AsyncRead for StdioHandle {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.get_mut().reader.as_mut().poll_read(cx, buf)
    }
}

impl AsyncWrite for StdioHandle {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.get_mut().writer.as_mut().poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.get_mut().writer.as_mut().poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.get_mut().writer.as_mut().poll_shutdown(cx)
    }
}
