//! Signals to a child's whole process group, so grandchildren (`npx` → `node`) stop too.
//!
//! Every child is spawned as the leader of a new process group (`process_group(0)`), so its
//! process group id equals its pid.

use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::time::Instant;

/// Sends `signal` to the group; `None` only checks that some member exists.
/// Returns false when the group has no member left.
fn signal_group(pgid: u32, signal: Option<Signal>) -> bool {
    let Ok(raw) = i32::try_from(pgid) else {
        return false;
    };
    if raw <= 1 {
        // Never signal "every process" (0, -1) or init's group.
        return false;
    }
    match killpg(Pid::from_raw(raw), signal) {
        Ok(()) => true,
        Err(Errno::ESRCH) => false,
        Err(error) => {
            tracing::warn!(pgid, %error, "cannot signal a process group");
            // EPERM: the group exists but is not ours to signal.
            true
        }
    }
}

/// Whether any process (zombies included) is still in the group.
pub(crate) fn group_alive(pgid: u32) -> bool {
    signal_group(pgid, None)
}

/// Asks the group to stop with SIGTERM.
pub(crate) fn terminate(pgid: u32) -> bool {
    signal_group(pgid, Some(Signal::SIGTERM))
}

/// Kills the group with SIGKILL.
pub(crate) fn kill(pgid: u32) {
    signal_group(pgid, Some(Signal::SIGKILL));
}

/// Waits until the group is empty or `deadline` passes; returns whether it is empty.
pub(crate) async fn wait_empty(pgid: u32, deadline: Instant) -> bool {
    loop {
        if !group_alive(pgid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
