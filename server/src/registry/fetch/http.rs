//! The streamable HTTP client for fetching: rmcp's reqwest client, watched for size errors.
//!
//! rmcp enforces the response size limits itself, but when one is broken its worker ends the
//! connection and the caller only sees "transport closed". This wrapper notices the size
//! errors on their way through and sets the fetch's `oversized` flag, so the fetch can report
//! `Rejected` instead of `Connect`. rmcp's event-size error type is private, so SSE events are
//! recognized by its message, "exceeded the maximum size". The events' text is shown to
//! [`RawTools`] before rmcp reads it (answers sent as one JSON body reach the fetch only as
//! rmcp read them).

use super::raw::RawTools;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::stream::BoxStream;
use futures::StreamExt;
use reqwest::header::{HeaderName, HeaderValue};
use rmcp::model::ClientJsonRpcMessage;
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};
use sse_stream::Sse;

type SseStream = BoxStream<'static, Result<Sse, SseError>>;
type HttpResult<T> = Result<T, StreamableHttpError<reqwest::Error>>;

/// A reqwest client that reports broken size limits through `oversized`.
#[derive(Clone)]
pub(super) struct WatchedClient {
    inner: reqwest::Client,
    oversized: Arc<AtomicBool>,
    raw: RawTools,
}

impl WatchedClient {
    /// Wraps `inner`; `oversized` is set when a response breaks a size limit, and `raw` sees
    /// every event.
    pub fn new(inner: reqwest::Client, oversized: Arc<AtomicBool>, raw: RawTools) -> Self {
        Self {
            inner,
            oversized,
            raw,
        }
    }

    fn check<T>(&self, result: HttpResult<T>) -> HttpResult<T> {
        if let Err(StreamableHttpError::ResponseBodyTooLarge { .. }) = &result {
            self.oversized.store(true, Ordering::Relaxed);
        }
        result
    }

    fn watch_stream(&self, stream: SseStream) -> SseStream {
        let flag = self.oversized.clone();
        let raw = self.raw.clone();
        stream
            .inspect(move |item| match item {
                Ok(event) => {
                    if let Some(data) = &event.data {
                        raw.see(data.as_bytes());
                    }
                }
                Err(SseError::Body(error)) => {
                    if error.to_string().contains("exceeded the maximum size") {
                        flag.store(true, Ordering::Relaxed);
                    }
                }
                Err(_) => {}
            })
            .boxed()
    }

    fn watch_post(
        &self,
        result: HttpResult<StreamableHttpPostResponse>,
    ) -> HttpResult<StreamableHttpPostResponse> {
        match self.check(result)? {
            StreamableHttpPostResponse::Sse(stream, session) => Ok(
                StreamableHttpPostResponse::Sse(self.watch_stream(stream), session),
            ),
            other => Ok(other),
        }
    }
}

impl StreamableHttpClient for WatchedClient {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> HttpResult<StreamableHttpPostResponse> {
        let result = self
            .inner
            .post_message(uri, message, session_id, auth_header, custom_headers)
            .await;
        self.watch_post(result)
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> HttpResult<StreamableHttpPostResponse> {
        let result = self
            .inner
            .post_message_with_max_sse_event_size(
                uri,
                message,
                session_id,
                auth_header,
                custom_headers,
                max_sse_event_size,
            )
            .await;
        self.watch_post(result)
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> HttpResult<StreamableHttpPostResponse> {
        let result = self
            .inner
            .post_message_with_response_limits(
                uri,
                message,
                session_id,
                auth_header,
                custom_headers,
                limits,
            )
            .await;
        self.watch_post(result)
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> HttpResult<()> {
        let result = self
            .inner
            .delete_session(uri, session_id, auth_header, custom_headers)
            .await;
        self.check(result)
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> HttpResult<SseStream> {
        let result = self
            .inner
            .get_stream(uri, session_id, last_event_id, auth_header, custom_headers)
            .await;
        self.check(result).map(|s| self.watch_stream(s))
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> HttpResult<SseStream> {
        let result = self
            .inner
            .get_stream_with_max_sse_event_size(
                uri,
                session_id,
                last_event_id,
                auth_header,
                custom_headers,
                max_sse_event_size,
            )
            .await;
        self.check(result).map(|s| self.watch_stream(s))
    }
}
