//! The hydrate entry: the browser loads this wasm and attaches Leptos to the server-rendered page.

use wasm_bindgen::prelude::wasm_bindgen;

/// Called by the hydration script that the server puts into every page.
#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(apiary_app::App);
}
