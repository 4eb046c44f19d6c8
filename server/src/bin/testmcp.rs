//! `apiary-testmcp`: an MCP server whose tool list a test controls.
//!
//! It reads its tools (a JSON array of MCP tool objects) from `--tools FILE` on every
//! `tools/list`, so rewriting the file changes what the next fetch sees. `--page-size N` splits
//! the list into pages, and `--delay-ms N` makes every `tools/list` slow. Every `tools/call`
//! echoes its arguments back as JSON text, whatever the tool, without touching the file, so it
//! can serve as a fast gateway benchmark backend; with `--structured` the answer also carries
//! the arguments as `structuredContent`, keys in the order the client sent them. With `--call-log FILE` it appends the name of
//! every called tool to FILE, one per line, so a test can see what reached the server (with
//! `--call-log-ids`, followed by the request's id), and `cancelled TOOL` when the client
//! cancels a call while `--call-delay-ms` holds it. With
//! `--notify-on TOOL` a call of TOOL first tells the client its tool list changed. With
//! `--session-log FILE` (streamable HTTP) it appends `open` to FILE when a client session
//! begins and `close` when it ends; `--initialize-delay-ms N` makes every `initialize` slow.
//! With `--roots-log FILE` it asks each client for its roots, outside any call, once
//! initialized and whenever the client says they changed, and appends `N roots` (or the
//! error) to FILE. With `--ask-client-on TOOL` a call of TOOL first sends the
//! client `ping`, `roots/list`, `sampling/createMessage` and `elicitation/create`, whatever its
//! capabilities, and answers with what came back, one line each.
//!
//! It serves stdio by default, or streamable HTTP at `/mcp` with `--http ADDR`; then it prints
//! `listening on http://ADDR/mcp` as the first line on stdout (use port 0 for a free port).
//! It answers requests whose `Host` is loopback, or one given with `--allowed-host`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    InitializeRequestParams, InitializeResult, ListToolsResult, PaginatedRequestParams,
    ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{NotificationContext, RequestContext};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "apiary-testmcp",
    about = "An MCP server for tests, with a tool list read from a file"
)]
struct Args {
    /// A JSON file holding an array of MCP tool objects; read on every tools/list.
    #[arg(long)]
    tools: PathBuf,
    /// Tools per tools/list page; 0 lists them all in one page.
    #[arg(long, default_value_t = 0)]
    page_size: usize,
    /// Milliseconds to wait before answering each tools/list.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Calls of this tool answer with a tool error (`isError: true`).
    #[arg(long)]
    failing: Option<String>,
    /// Calls of this tool answer with a JSON-RPC internal error: the server failed.
    #[arg(long)]
    broken: Option<String>,
    /// Milliseconds to wait before answering each tools/call.
    #[arg(long, default_value_t = 0)]
    call_delay_ms: u64,
    /// Serve streamable HTTP on this address instead of stdio.
    #[arg(long)]
    http: Option<String>,
    /// Append the name of every called tool to this file, one per line.
    #[arg(long)]
    call_log: Option<PathBuf>,
    /// Each line of the call log also names the request's JSON-RPC id.
    #[arg(long)]
    call_log_ids: bool,
    /// A `Host` it answers besides loopback (repeatable), for a test that reaches it as if it
    /// were another host, through an HTTP proxy.
    #[arg(long)]
    allowed_host: Vec<String>,
    /// Every tools/call answer also carries its arguments as structuredContent.
    #[arg(long)]
    structured: bool,
    /// The server name reported in initialize.
    #[arg(long, default_value = "apiary-testmcp")]
    name: String,
    /// Append this process's id to this file when it starts, one line per start.
    #[arg(long)]
    starts_log: Option<PathBuf>,
    /// Milliseconds to wait before serving, as a server that is slow to start.
    #[arg(long, default_value_t = 0)]
    start_delay_ms: u64,
    /// Milliseconds to wait before answering each `initialize`, as a server slow to open a
    /// session.
    #[arg(long, default_value_t = 0)]
    initialize_delay_ms: u64,
    /// A call of this tool first sends `notifications/tools/list_changed` to the client.
    #[arg(long)]
    notify_on: Option<String>,
    /// Append `open` to this file when a client session begins and `close` when it ends.
    #[arg(long)]
    session_log: Option<PathBuf>,
    /// A call of this tool first sends the client `ping`, `roots/list`,
    /// `sampling/createMessage` and `elicitation/create`, and answers with what came back.
    #[arg(long)]
    ask_client_on: Option<String>,
    /// Once a client session is initialized, ask the client for its roots (outside any call)
    /// and append what came back to this file.
    #[arg(long)]
    roots_log: Option<PathBuf>,
}

/// A line in the session log for a session's beginning, and one for its end when dropped.
struct SessionMark(PathBuf);

impl SessionMark {
    fn open(path: &PathBuf) -> Self {
        append(path, "open");
        Self(path.clone())
    }
}

impl Drop for SessionMark {
    fn drop(&mut self) {
        append(&self.0, "close");
    }
}

fn append(path: &PathBuf, line: &str) {
    use std::io::Write;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path);
    if let Err(error) = file.and_then(|mut f| writeln!(f, "{line}")) {
        eprintln!("cannot write {}: {error}", path.display());
    }
}

/// The handler: shared, read-only settings (and, over HTTP, its session's mark).
#[derive(Clone)]
struct TestServer {
    args: Arc<Args>,
    _session: Option<Arc<SessionMark>>,
}

impl TestServer {
    async fn read_tools(&self) -> Result<Vec<Tool>, ErrorData> {
        let text = tokio::fs::read(&self.args.tools).await.map_err(|e| {
            ErrorData::internal_error(
                format!("cannot read {}: {e}", self.args.tools.display()),
                None,
            )
        })?;
        serde_json::from_slice(&text).map_err(|e| {
            ErrorData::internal_error(
                format!("{} is not a tool list: {e}", self.args.tools.display()),
                None,
            )
        })
    }
}

impl TestServer {
    /// With `--roots-log`, asks the client for its roots and logs what came back.
    fn log_roots(&self, context: NotificationContext<RoleServer>) {
        let Some(log) = self.args.roots_log.clone() else {
            return;
        };
        let peer = context.peer.clone();
        // Not inside the notification's handling: rmcp answers nothing until it returns.
        tokio::spawn(async move {
            #[allow(deprecated)] // Roots are deprecated (SEP-2577), but clients still answer them.
            let line = match peer.list_roots().await {
                Ok(roots) => format!("{} roots", roots.roots.len()),
                Err(rmcp::ServiceError::McpError(error)) => format!("error {}", error.code.0),
                Err(error) => format!("failed: {error}"),
            };
            append(&log, &line);
        });
    }
}

impl ServerHandler for TestServer {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
            .build();
        ServerConfig::new(capabilities).with_server_info(Implementation::new(
            self.args.name.clone(),
            env!("CARGO_PKG_VERSION"),
        ))
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        self.log_roots(context);
    }

    async fn on_roots_list_changed(&self, context: NotificationContext<RoleServer>) {
        self.log_roots(context);
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        if self.args.initialize_delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(self.args.initialize_delay_ms)).await;
        }
        context.peer.set_peer_info(request.clone());
        self.negotiate_initialize(&request)
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        if self.args.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(self.args.delay_ms)).await;
        }
        let tools = self.read_tools().await?;
        let start = match request.and_then(|r| r.cursor) {
            None => 0,
            Some(cursor) => cursor
                .parse::<usize>()
                .map_err(|_| ErrorData::invalid_params("bad cursor", None))?,
        };
        let size = if self.args.page_size == 0 {
            tools.len()
        } else {
            self.args.page_size
        };
        let end = start.saturating_add(size).min(tools.len());
        let page = tools.get(start..end).unwrap_or_default().to_vec();
        let mut result = ListToolsResult::with_all_items(page);
        if end < tools.len() {
            result.next_cursor = Some(end.to_string());
        }
        Ok(result)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if let Some(log) = &self.args.call_log {
            let line = if self.args.call_log_ids {
                format!("{} {}", request.name, context.id)
            } else {
                request.name.to_string()
            };
            log_call(log, &line).await?;
        }
        if self.args.notify_on.as_deref() == Some(request.name.as_ref()) {
            context
                .peer
                .notify_tool_list_changed()
                .await
                .map_err(|e| ErrorData::internal_error(format!("cannot notify: {e}"), None))?;
        }
        if self.args.ask_client_on.as_deref() == Some(request.name.as_ref()) {
            let text = ask_client(&context.peer).await;
            return Ok(CallToolResult::success(vec![ContentBlock::text(text)]).into());
        }
        if self.args.call_delay_ms > 0 {
            let delay = tokio::time::sleep(Duration::from_millis(self.args.call_delay_ms));
            tokio::select! {
                () = delay => {}
                () = context.ct.cancelled() => {
                    if let Some(log) = &self.args.call_log {
                        log_call(log, &format!("cancelled {}", request.name)).await?;
                    }
                    return Err(ErrorData::internal_error("the client cancelled the call", None));
                }
            }
        }
        let arguments = serde_json::Value::Object(request.arguments.unwrap_or_default());
        if self.args.broken.as_deref() == Some(request.name.as_ref()) {
            return Err(ErrorData::internal_error(
                format!("{} is broken on purpose", request.name),
                None,
            ));
        }
        if self.args.failing.as_deref() == Some(request.name.as_ref()) {
            return Ok(CallToolResult::error(vec![ContentBlock::text(format!(
                "{} failed on purpose",
                request.name
            ))])
            .into());
        }
        let mut result = CallToolResult::success(vec![ContentBlock::text(arguments.to_string())]);
        if self.args.structured {
            result.structured_content = Some(arguments);
        }
        Ok(result.into())
    }
}

/// Sends the client `ping`, `roots/list`, `sampling/createMessage` and `elicitation/create`;
/// what came back, one line each (an elicitation's action, and the `answer` it gave).
#[allow(deprecated)] // Roots and sampling are deprecated (SEP-2577), but clients still get them.
async fn ask_client(peer: &rmcp::Peer<RoleServer>) -> String {
    use rmcp::model::{
        ClientResult, CreateMessageRequestParams, ElicitRequest, ElicitRequestParams,
        ElicitationSchema, Role, SamplingMessage, SamplingMessageContentBlock, ServerRequest,
    };
    let outcome = |result: Result<String, rmcp::ServiceError>| match result {
        Ok(text) => text,
        Err(rmcp::ServiceError::McpError(error)) => format!("error {}", error.code.0),
        Err(error) => format!("failed: {error}"),
    };
    let ping = peer
        .send_request(ServerRequest::PingRequest(Default::default()))
        .await
        .map(|_| "ok".to_owned());
    let roots = peer
        .list_roots()
        .await
        .map(|r| format!("{} roots", r.roots.len()));
    let message = SamplingMessage::new(Role::User, SamplingMessageContentBlock::text("hello"));
    let sampling = peer
        .create_message(CreateMessageRequestParams::new(vec![message], 10))
        .await
        .map(|_| "answered".to_owned());
    let question = ElicitRequestParams::FormElicitationParams {
        meta: None,
        message: "Which branch?".to_owned(),
        requested_schema: ElicitationSchema::new(Default::default()),
    };
    let elicitation = peer
        .send_request(ServerRequest::ElicitRequest(ElicitRequest::new(question)))
        .await
        .map(|result| match result {
            ClientResult::ElicitResult(result) => {
                let action = serde_json::to_value(&result.action).unwrap_or_default();
                let answer = result.content.as_ref().map(|c| c["answer"].clone());
                match answer {
                    Some(answer) => format!("{} {answer}", action.as_str().unwrap_or("?")),
                    None => action.as_str().unwrap_or("?").to_owned(),
                }
            }
            _ => "another result".to_owned(),
        });
    format!(
        "ping: {}\nroots/list: {}\nsampling/createMessage: {}\nelicitation/create: {}",
        outcome(ping),
        outcome(roots),
        outcome(sampling),
        outcome(elicitation)
    )
}

/// Appends `tool` to the call log.
async fn log_call(log: &std::path::Path, tool: &str) -> Result<(), ErrorData> {
    use tokio::io::AsyncWriteExt;
    let failed = |e: std::io::Error| {
        ErrorData::internal_error(format!("cannot write {}: {e}", log.display()), None)
    };
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .await
        .map_err(failed)?;
    file.write_all(format!("{tool}\n").as_bytes())
        .await
        .map_err(failed)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("APIARY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let args = Arc::new(Args::parse());
    if let Some(log) = &args.starts_log {
        use std::io::Write;
        let logged = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .and_then(|mut file| writeln!(file, "{}", std::process::id()));
        if let Err(error) = logged {
            tracing::error!("cannot write {}: {error}", log.display());
            return std::process::ExitCode::FAILURE;
        }
    }
    tokio::time::sleep(Duration::from_millis(args.start_delay_ms)).await;
    let result = match args.http.clone() {
        Some(addr) => serve_http(args, &addr).await,
        None => serve_stdio(args).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("apiary-testmcp failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve_stdio(args: Arc<Args>) -> Result<(), Box<dyn std::error::Error>> {
    let server = TestServer {
        args,
        _session: None,
    };
    let running = server.serve(rmcp::transport::stdio()).await?;
    running.waiting().await?;
    Ok(())
}

async fn serve_http(args: Arc<Args>, addr: &str) -> Result<(), Box<dyn std::error::Error>> {
    let stop = apiary_server::shutdown::on_signal();
    let mut config =
        StreamableHttpServerConfig::default().with_cancellation_token(stop.child_token());
    config
        .allowed_hosts
        .extend(args.allowed_host.iter().cloned());
    let service = StreamableHttpService::new(
        move || {
            Ok(TestServer {
                args: args.clone(),
                _session: args
                    .session_log
                    .as_ref()
                    .map(|p| Arc::new(SessionMark::open(p))),
            })
        },
        LocalSessionManager::default().into(),
        config,
    );
    let listener = tokio::net::TcpListener::bind(addr).await?;
    // The test harness reads this line to learn the port.
    println!("listening on http://{}/mcp", listener.local_addr()?);
    let app = axum::Router::new().nest_service("/mcp", service);
    let timeouts = apiary_server::web::serve::ConnectionTimeouts {
        header: Duration::from_secs(20),
    };
    apiary_server::web::serve::serve(listener, app, timeouts, stop).await;
    Ok(())
}
