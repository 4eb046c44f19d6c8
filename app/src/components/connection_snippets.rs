use leptos::prelude::*;

use super::CopyableCode;
use crate::model::server_detail::Snippet;

/// Client configuration for connecting through Apiary's gateway, one copyable block per client.
#[component]
pub fn ConnectionSnippets(
    snippets: Vec<Snippet>,
    published: bool,
    /// Why a published server gets no snippets (it cannot run), if so.
    withheld: Option<String>,
) -> impl IntoView {
    if let Some(why) = withheld {
        return view! {
            <p class="text-sm" data-testid="no-snippets">
                {format!("No connection snippets: {why}. They appear once it runs.")}
            </p>
        }
        .into_any();
    }
    if !published || snippets.is_empty() {
        return view! {
            <p class="text-sm" data-testid="no-snippets">
                "This server is not published, so the gateway does not serve it yet. Connection snippets appear once it is published."
            </p>
        }
        .into_any();
    }
    view! {
        <div class="grid gap-4 lg:grid-cols-2" data-testid="snippets">
            {snippets.into_iter().map(|s| view! {
                <div class="min-w-0" data-testid="snippet" data-client=s.client.clone()>
                    <h3 class="font-medium">{s.client.clone()}</h3>
                    <p class="text-xs text-slate-600 dark:text-slate-400">"In " <code>{s.file}</code></p>
                    <div class="mt-1"><CopyableCode label=format!("{} snippet", s.client) code=s.code /></div>
                </div>
            }).collect_view()}
        </div>
    }
    .into_any()
}
