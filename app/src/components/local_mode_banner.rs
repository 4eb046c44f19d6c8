use leptos::prelude::*;

use super::ForViewer;
use crate::model::Viewer;

/// The visible warning that Apiary runs without sign-in, as the single local admin.
#[component]
pub fn LocalModeBanner() -> impl IntoView {
    let banner = |viewer: Option<Viewer>| {
        viewer.is_some_and(|v| v.local_mode).then(|| view! {
            <div
                role="status"
                class="bg-amber-100 px-4 py-2 text-center text-sm text-amber-900 dark:bg-amber-900 dark:text-amber-100"
                data-testid="local-mode-banner"
            >
                "Local mode: no sign-in is configured, so everyone on this machine acts as the admin. "
                "Set APIARY_OIDC_ISSUER to require sign-in."
            </div>
        })
    };
    view! { <ForViewer render=banner /> }
}
