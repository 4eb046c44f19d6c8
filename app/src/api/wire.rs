//! How a value a page loaded on the server reaches the browser: one JSON codec for resources
//! and server functions alike.

use std::future::Future;

use leptos::prelude::*;
use leptos::server::codee::{Decoder, Encoder};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// JSON read from bytes, as server functions read their answers.
///
/// Leptos' default resource codec reads from a `&str` and server functions from bytes, so the
/// hydrate bundle held every answer type's deserialiser twice, once for each reader (a tenth
/// of the module; docs/BENCHMARKS.md, "Hydrate bundle size"). With one reader it holds one.
pub struct Json;

impl<T: Serialize> Encoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(value: &T) -> Result<String, serde_json::Error> {
        serde_json::to_string(value)
    }
}

impl<T: DeserializeOwned> Decoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(text: &str) -> Result<T, serde_json::Error> {
        serde_json::from_slice(text.as_bytes())
    }
}

/// What a page loads through a server function, sent along with its HTML.
pub type Loading<T> = Resource<Result<T, ServerFnError>, Json>;

/// A resource that loads `fetcher(source())` again whenever the source changes.
#[track_caller]
pub fn load<S, T, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> Resource<T, Json>
where
    S: Send + Sync + Clone + PartialEq + 'static,
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}

/// A resource that loads `future` once.
#[track_caller]
pub fn load_once<T>(future: impl Future<Output = T> + Send + 'static) -> OnceResource<T, Json>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    OnceResource::new_with_options(future, false)
}
