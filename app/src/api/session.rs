//! Who is signed in.

use leptos::prelude::*;

use crate::model::Viewer;

/// The current viewer and mode.
#[server]
pub async fn current_viewer() -> Result<Viewer, ServerFnError> {
    crate::services::viewer()
}
