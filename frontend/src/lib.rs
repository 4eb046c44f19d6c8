//! The hydrate entry: the browser loads this wasm and hydrates the islands of the
//! server-rendered page (the `#[island]` components of `apiary_app`).

use std::time::Duration;

use leptos::prelude::set_timeout;
use wasm_bindgen::prelude::wasm_bindgen;

/// Called by the island script that the server puts into every page, before it hydrates the
/// page's islands (one call each, right after this one, in the same task).
#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
    apiary_app::provide_server_action_error();
    // A later task: the islands are hydrated by then.
    set_timeout(apiary_app::mark_hydrated, Duration::ZERO);
}
