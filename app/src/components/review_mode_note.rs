use leptos::prelude::*;

use crate::api::current_viewer;

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
    let viewer = crate::api::load_once(current_viewer());
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                let local_mode = viewer.await.map(|v| v.local_mode).unwrap_or(false);
                view! {
                    <p class="mt-1 text-sm text-slate-700 dark:text-slate-300" data-testid="review-mode-note">
                        {if local_mode { local } else { signed_in }}
                    </p>
                }
            })}
        </Suspense>
    }
}
