//! The stdio transport for fetching: the server runs as a child process in its own process
//! group, its stdout lines are bounded, and the whole group is killed when the transport goes.

use std::future::Future;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use process_wrap::tokio::{ChildWrapper, CommandWrap, KillOnDrop, ProcessGroup};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::transport::Transport;
use rmcp::RoleClient;
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};
use tokio::process::{ChildStdin, ChildStdout};

use super::raw::RawTools;

/// How much of the server's stderr is kept for error messages.
const STDERR_KEPT: usize = 4096;

/// A running stdio MCP server. Dropping it kills the server and everything it started.
pub(super) struct ChildTransport {
    child: Option<Box<dyn ChildWrapper>>,
    inner: AsyncRwTransport<RoleClient, BoundedLines<ChildStdout>, ChildStdin>,
}

/// What the caller can inspect after a failure.
#[derive(Clone, Default)]
pub(super) struct ChildDiagnostics {
    /// Set when the server wrote a line longer than the limit.
    pub oversized: Arc<AtomicBool>,
    /// The first bytes the server wrote to stderr.
    pub stderr: Arc<Mutex<Vec<u8>>>,
    /// Every line the server wrote, as it wrote it.
    pub raw: RawTools,
}

impl ChildDiagnostics {
    /// The server's stderr so far, as text, trimmed.
    pub fn stderr_text(&self) -> String {
        let bytes = self.stderr.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).trim().to_owned()
    }
}

impl ChildTransport {
    /// Starts `command` with `args` and `env` added to Apiary's environment, in a new process
    /// group. Lines longer than `max_line_bytes` on its stdout end the connection.
    pub fn spawn(
        command: &str,
        args: &[String],
        env: &[(String, String)],
        max_line_bytes: usize,
    ) -> std::io::Result<(Self, ChildDiagnostics)> {
        let mut cmd = tokio::process::Command::new(command);
        cmd.args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut wrapped = CommandWrap::from(cmd);
        wrapped.wrap(ProcessGroup::leader()).wrap(KillOnDrop);
        let mut child = wrapped.spawn()?;
        let missing = |what| std::io::Error::other(format!("the child's {what} is not piped"));
        let stdin = child.stdin().take().ok_or_else(|| missing("stdin"))?;
        let stdout = child.stdout().take().ok_or_else(|| missing("stdout"))?;
        let diagnostics = ChildDiagnostics::default();
        if let Some(mut stderr) = child.stderr().take() {
            let kept = diagnostics.stderr.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                while let Ok(n @ 1..) = stderr.read(&mut buf).await {
                    if let Ok(mut kept) = kept.lock() {
                        let room = STDERR_KEPT.saturating_sub(kept.len());
                        kept.extend_from_slice(&buf[..n.min(room)]);
                    }
                }
            });
        }
        let reader = BoundedLines {
            inner: stdout,
            max: max_line_bytes,
            current: 0,
            oversized: diagnostics.oversized.clone(),
            line: Vec::new(),
            raw: diagnostics.raw.clone(),
        };
        let inner = AsyncRwTransport::new(reader, stdin)
            .with_max_line_length(max_line_bytes.saturating_add(2));
        Ok((
            Self {
                child: Some(child),
                inner,
            },
            diagnostics,
        ))
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGKILL to the whole group; an error means it already exited.
            let _ = child.start_kill();
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    let _ = child.wait().await;
                });
            }
        }
    }
}

impl Drop for ChildTransport {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Transport<RoleClient> for ChildTransport {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.inner.send(item)
    }

    fn receive(&mut self) -> impl Future<Output = Option<RxJsonRpcMessage<RoleClient>>> + Send {
        self.inner.receive()
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        let closed = self.inner.close().await;
        self.kill();
        closed
    }
}

/// A reader that fails once a line grows past `max` bytes, and remembers that it did. Each
/// whole line is shown to `raw`.
pub(super) struct BoundedLines<R> {
    inner: R,
    max: usize,
    current: usize,
    oversized: Arc<AtomicBool>,
    /// The line being read.
    line: Vec<u8>,
    raw: RawTools,
}

impl<R: AsyncRead + Unpin> AsyncRead for BoundedLines<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.oversized.load(Ordering::Relaxed) {
            return Poll::Ready(Err(too_long(self.max)));
        }
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let mut current = this.current;
                for &b in &buf.filled()[before..] {
                    if b == b'\n' {
                        current = 0;
                    } else {
                        current += 1;
                        if current > this.max {
                            // A failed read must not hand out bytes.
                            buf.set_filled(before);
                            this.oversized.store(true, Ordering::Relaxed);
                            return Poll::Ready(Err(too_long(this.max)));
                        }
                    }
                }
                this.current = current;
                let mut read = &buf.filled()[before..];
                while let Some(end) = read.iter().position(|&b| b == b'\n') {
                    this.line.extend_from_slice(&read[..end]);
                    this.raw.see(&this.line);
                    this.line.clear();
                    read = &read[end + 1..];
                }
                this.line.extend_from_slice(read);
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

fn too_long(max: usize) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("the server sent a message longer than {max} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    #[tokio::test]
    async fn bounded_lines_fail_on_a_long_line_only() {
        let flag = Arc::new(AtomicBool::new(false));
        let mut ok = BoundedLines {
            inner: &b"12345\n12345\n"[..],
            max: 5,
            current: 0,
            oversized: flag.clone(),
            line: Vec::new(),
            raw: RawTools::default(),
        };
        let mut out = Vec::new();
        ok.read_to_end(&mut out)
            .await
            .expect("lines within the limit");
        assert!(!flag.load(Ordering::Relaxed));

        let mut long = BoundedLines {
            inner: &b"12345\n123456\n"[..],
            max: 5,
            current: 0,
            oversized: flag.clone(),
            line: Vec::new(),
            raw: RawTools::default(),
        };
        let err = long
            .read_to_end(&mut Vec::new())
            .await
            .expect_err("a line over the limit");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        assert!(flag.load(Ordering::Relaxed));
    }
}
