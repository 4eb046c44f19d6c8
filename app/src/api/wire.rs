//! How a page loads what it shows: resources that the server awaits while it renders the page.
//!
//! Pages render on the server only; the browser hydrates the islands (`#[island]`). Outside the
//! islands Leptos does not send a resource's value to the browser. An island must not load
//! through a resource: Leptos numbers an island's resources on the server in the order the
//! islands resolve, in the browser in page order, so an island could read another's value; and
//! a `LocalResource`, which never loads on the server, keeps the page's `Suspense` from
//! finishing. Islands take what the page loaded as props, and ask server functions through a
//! `ServerAction` or by calling them.

use std::future::Future;

use leptos::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// What a page loads through a server function.
pub type Loading<T> = Resource<Result<T, ServerFnError>>;

/// A resource that loads `fetcher(source())`.
#[track_caller]
pub fn load<S, T, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> Resource<T>
where
    S: Send + Sync + Clone + PartialEq + 'static,
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}

/// A resource that loads `future` once.
#[track_caller]
pub fn load_once<T>(future: impl Future<Output = T> + Send + 'static) -> OnceResource<T>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    OnceResource::new_with_options(future, false)
}
