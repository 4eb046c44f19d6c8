//! The hydrate entry: the browser loads this wasm and hydrates the islands of the
//! server-rendered page (the `#[island]` components of `apiary_app`).

use wasm_bindgen::prelude::wasm_bindgen;

/// Called by the island script that the server puts into every page, before it hydrates the
/// page's islands (one call each, right after this one).
#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
    apiary_app::mark_hydrated();
}
