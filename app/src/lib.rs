//! Apiary's console: Leptos pages, components and server functions.
//!
//! The same crate compiles twice: with `ssr` inside the axum server, and with `hydrate` into the
//! browser bundle. Pages render on the server; the browser hydrates only the `#[island]`
//! components (the filter forms, copy buttons, the refresh, drift and propose forms), so
//! following a link or applying a filter loads the new page from the server. Server-only logic
//! stays behind the [`services`] traits that the server crate implements and puts into Leptos
//! context, so kube, sqlx and rmcp never reach the wasm build.

#![recursion_limit = "256"]

pub mod access;
pub mod api;
pub mod components;
pub mod model;
pub mod pages;
pub mod present;
#[cfg(feature = "ssr")]
pub mod services;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path, SsrMode,
};

use crate::components::{LocalModeBanner, SiteHeader};
use crate::pages::{
    AuditLogPage, CatalogPage, ChangePage, CuratePage, FleetRefreshPage, NotFoundPage, ProposePage,
    ProposeVirtualServerPage, ReviewPage, ReviewsPage, ServerPage, VirtualServersPage,
};

/// The HTML document around every page, rendered only on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    services::provide_request_nonce();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" href="data:," />
                <link rel="stylesheet" href=format!("/pkg/{}.css", options.output_name) />
                <AutoReload options=options.clone() />
                <HydrationScripts options islands=true />
                <MetaTags />
            </head>
            <body class="min-h-screen bg-slate-50 text-slate-900 dark:bg-slate-950 dark:text-slate-100">
                <App />
            </body>
        </html>
    }
}

/// The root component: shared chrome plus the router.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title formatter=|page: String| format!("{page} · Apiary") />
        <Router>
            <a href="#main" class="skip-link">"Skip to content"</a>
            <LocalModeBanner />
            <SiteHeader />
            <main id="main" class="mx-auto max-w-6xl px-4 py-6">
                <Routes fallback=NotFoundPage>
                    <Route path=path!("") view=CatalogPage ssr=SsrMode::Async />
                    <Route path=path!("/servers/:namespace/:name") view=ServerPage ssr=SsrMode::Async />
                    <Route path=path!("/servers/:namespace/:name/change") view=ChangePage ssr=SsrMode::Async />
                    <Route path=path!("/propose") view=ProposePage ssr=SsrMode::Async />
                    <Route path=path!("/reviews") view=ReviewsPage ssr=SsrMode::Async />
                    <Route path=path!("/reviews/:id") view=ReviewPage ssr=SsrMode::Async />
                    <Route path=path!("/virtual-servers") view=VirtualServersPage ssr=SsrMode::Async />
                    <Route path=path!("/virtual-servers/propose") view=ProposeVirtualServerPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/audit") view=AuditLogPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/refresh") view=FleetRefreshPage ssr=SsrMode::Async />
                    <Route path=path!("/servers/:namespace/:name/curate") view=CuratePage ssr=SsrMode::Async />
                </Routes>
            </main>
        </Router>
    }
}

/// Sets `data-hydrated` on `<body>`, so tests and styles can tell a live page from
/// server-rendered HTML. Called in the browser once the islands are hydrated
/// (`apiary_frontend::hydrate`).
pub fn mark_hydrated() {
    if let Some(body) = document().body() {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}

/// Gives the islands the error a server function answered a plain form post with (server
/// functions redirect back with `__err` and `__path` in the query), through the router's own
/// reading of the URL as on the server, so a `ServerAction` starts with the same value in the
/// browser as in the page's HTML. Called in the browser (`apiary_frontend::hydrate`).
pub fn provide_server_action_error() {
    use leptos_router::location::{BrowserUrl, LocationProvider};
    if let Ok(url) = BrowserUrl::current() {
        url.provide_server_action_error();
    }
}
