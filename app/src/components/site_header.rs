use leptos::prelude::*;

use leptos_router::hooks::use_location;

use super::ForViewer;
use crate::access::Action;
use crate::model::{Role, Viewer};

/// The top bar with the product name, the main navigation and who is signed in.
#[component]
pub fn SiteHeader() -> impl IntoView {
    let path = use_location().pathname;
    // The link to the page being shown (or to the section it belongs to) is marked as current.
    let current = move |href: &'static str| {
        move || {
            let path = path.get();
            let here = match href {
                "/" => path == "/" || path.starts_with("/servers/"),
                _ => path == href || path.starts_with(&format!("{href}/")),
            };
            here.then_some("page")
        }
    };
    let links = move |viewer: Option<Viewer>| {
        let viewer = viewer?;
        let audit = viewer.may(Action::Audit, None).then(|| view! {
            <a href="/admin/audit" aria-current=current("/admin/audit") class="text-sm hover:underline aria-[current=page]:font-semibold aria-[current=page]:underline">"Audit log"</a>
        });
        let refresh = viewer.may(Action::Refresh, None).then(|| view! {
            <a href="/admin/refresh" aria-current=current("/admin/refresh") class="text-sm hover:underline aria-[current=page]:font-semibold aria-[current=page]:underline">"Refresh tools"</a>
        });
        let propose = viewer.may(Action::Propose, None).then(|| view! {
            <a href="/propose" aria-current=current("/propose") class="text-sm hover:underline aria-[current=page]:font-semibold aria-[current=page]:underline">"Propose a server"</a>
        });
        let reviews = (viewer.has(Role::Owner) || viewer.has(Role::Admin)).then(|| view! {
            <a href="/reviews" aria-current=current("/reviews") class="text-sm hover:underline aria-[current=page]:font-semibold aria-[current=page]:underline">"Reviews"</a>
        });
        let signed_in = (!viewer.local_mode).then(|| view! { <SignedIn viewer /> });
        Some(view! { {propose} {reviews} {audit} {refresh} {signed_in} })
    };
    view! {
        <header class="border-b border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
            <nav aria-label="Main" class="mx-auto flex max-w-6xl flex-wrap items-center gap-x-6 gap-y-2 px-4 py-3">
                <a href="/" class="text-lg font-bold tracking-tight">"Apiary"</a>
                <a href="/" aria-current=current("/") class="text-sm hover:underline aria-[current=page]:font-semibold aria-[current=page]:underline">"Catalog"</a>
                <a href="/virtual-servers" aria-current=current("/virtual-servers") class="text-sm hover:underline aria-[current=page]:font-semibold aria-[current=page]:underline">"Virtual servers"</a>
                <ForViewer render=links />
            </nav>
        </header>
    }
}

/// The signed-in person, their roles, and the sign-out button (a plain form post).
#[component]
fn SignedIn(viewer: Viewer) -> impl IntoView {
    let roles = viewer
        .roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    view! {
        <div class="ml-auto flex items-center gap-3 text-sm" data-testid="signed-in">
            <span>
                <span class="sr-only">"Signed in as "</span>
                <span class="font-medium" data-testid="viewer-name">{viewer.name}</span>
                <span class="text-slate-500 dark:text-slate-400">{format!(" ({roles})")}</span>
            </span>
            <form method="post" action="/auth/logout">
                <button
                    type="submit"
                    class="rounded border border-slate-300 px-2 py-1 hover:bg-slate-100 focus-visible:outline focus-visible:outline-2 dark:border-slate-700 dark:hover:bg-slate-800"
                >
                    "Sign out"
                </button>
            </form>
        </div>
    }
}
