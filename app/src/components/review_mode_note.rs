use leptos::prelude::*;

use super::ForViewer;
use crate::model::Viewer;

/// What happens to a proposal in the mode Apiary runs in: with sign-in on, another owner of
/// the team approves it (four-eyes rule); in local mode the single admin approves it
/// themselves, recorded as a self-approval.
#[component]
pub fn ReviewModeNote(
    /// The text for local mode.
    local: &'static str,
    /// The text with sign-in on.
    signed_in: &'static str,
) -> impl IntoView {
    let note = move |viewer: Option<Viewer>| {
        let local_mode = viewer.is_some_and(|v| v.local_mode);
        view! {
            <p class="mt-1 text-sm text-slate-700 dark:text-slate-300" data-testid="review-mode-note">
                {if local_mode { local } else { signed_in }}
            </p>
        }
    };
    view! { <ForViewer render=note /> }
}
