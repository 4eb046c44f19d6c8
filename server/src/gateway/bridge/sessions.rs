//! Sessions of Apiary's own with the stdio servers the gateway shares: the registry fetches a
//! local server's tools over the process the runtime supervises, through the same bridge
//! as every consumer, instead of starting a second copy.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::registry::fetch::{LocalSessions, SessionPipe};
use crate::runtime::{Reach, ServerId};

use super::super::Gateway;
use super::Bridge;

/// Answers and notices a fetch session holds before the fetch reads them.
const SESSION_QUEUE: usize = 32;

/// Opens sessions over the gateway's stdio bridges.
pub struct BridgedSessions {
    gateway: Gateway,
    runtime: Arc<dyn Reach>,
}

impl std::fmt::Debug for BridgedSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BridgedSessions").finish_non_exhaustive()
    }
}

impl BridgedSessions {
    /// Sessions over `gateway`'s bridges to the processes `runtime` runs.
    pub fn new(gateway: Gateway, runtime: Arc<dyn Reach>) -> Self {
        Self { gateway, runtime }
    }
}

#[async_trait::async_trait]
impl LocalSessions for BridgedSessions {
    async fn runs(&self, server: &ServerId) -> bool {
        self.runtime.status(server).await.is_some()
    }

    async fn open(&self, server: &ServerId, timeout: Duration) -> Result<SessionPipe, String> {
        let (bridge, startup) = self
            .gateway
            .bridges()
            .shared(self.runtime.as_ref(), server, timeout)
            .await?;
        let (to_server, outgoing) = mpsc::channel(SESSION_QUEUE);
        let (incoming, from_server) = mpsc::channel(SESSION_QUEUE);
        tokio::spawn(pump(bridge, outgoing, incoming));
        Ok(SessionPipe {
            to_server,
            from_server,
            startup,
        })
    }
}

/// Carries one session's messages to the bridge until the session's sender goes, then ends the
/// session. The bridge answers `initialize` itself (the process was initialized once).
async fn pump(
    bridge: Arc<Bridge>,
    mut outgoing: mpsc::Receiver<Value>,
    incoming: mpsc::Sender<Value>,
) {
    let mut session = None;
    while let Some(message) = outgoing.recv().await {
        if message["method"] == "initialize" {
            let asked = message["params"]["protocolVersion"].as_str();
            let (id, answer) = bridge.open_session(message["id"].clone(), asked);
            session = Some(id);
            if incoming.send(answer).await.is_err() {
                break;
            }
            continue;
        }
        let Some(id) = &session else { continue };
        if bridge.send(id, vec![message], &incoming).await.is_err() {
            break;
        }
    }
    if let Some(id) = session {
        let _ = bridge.close_session(&id);
    }
}
