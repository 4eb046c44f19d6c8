use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_location, use_params_map};

use crate::api::load_change_form;
use crate::components::{
    request_source, Loaded, NotFound, PageSection, ProposalFormView, RetireFormView, ReviewModeNote,
};
use crate::model::proposals::ProposalForm;

use super::propose::refused_from_query;

/// `/servers/{namespace}/{name}/change`: the propose form filled from the server's current
/// spec and metadata (an update), and the retire form.
#[component]
pub fn ChangePage() -> impl IntoView {
    let params = use_params_map();
    let search = use_location().search;
    let id = Memo::new(move |_| {
        params.with(|p| {
            (
                p.get("namespace").unwrap_or_default(),
                p.get("name").unwrap_or_default(),
            )
        })
    });
    let current = crate::api::load(request_source(move || id.get()), |(namespace, name)| {
        load_change_form(namespace, name)
    });
    let render = move |found: Option<ProposalForm>| {
        let (namespace, name) = id.get_untracked();
        let target = format!("{namespace}/{name}");
        let Some(current) = found else {
            return view! {
                <NotFound title="Server not found">
                    <p class="mt-2">"There is no server " <code>{target}</code> " to change. "
                        <a class="underline" href="/propose">"Propose a new server"</a></p>
                </NotFound>
            }
            .into_any();
        };
        let (refused, errors): (ProposalForm, _) = refused_from_query(&search.get_untracked());
        let retire_refused = refused.kind == "retire";
        let form = if refused.kind == "update" && !errors.is_empty() {
            refused.clone()
        } else {
            current
        };
        let (update_errors, retire_errors) = if retire_refused {
            (Vec::new(), errors)
        } else {
            (errors, Vec::new())
        };
        view! {
            <Title text=format!("Change {target}") />
            <nav aria-label="Breadcrumb" class="text-sm">
                <a class="underline" href="/">"Catalog"</a>" / "
                <a class="underline" href=format!("/servers/{namespace}/{name}")>{target.clone()}</a>" / change"
            </nav>
            <h1 class="mt-2 text-2xl font-bold">"Propose a change to " {target.clone()}</h1>
            <p class="mt-1 text-sm text-slate-700 dark:text-slate-300">
                "The form starts from the server's current spec and metadata."
            </p>
            <ReviewModeNote
                local="Local mode: you are the only person, so you approve the change yourself on its review page, with a comment recorded as a self-approval."
                signed_in="The owners of its team review the change; an owner other than you approves it."
            />
            <ProposalFormView form errors=update_errors />
            <PageSection id="retire" title="Retire this server">
                <p class="text-sm">"Retiring unpublishes the server and stops it once the retirement is approved."</p>
                <RetireFormView namespace name replacement=refused.replacement message=refused.message errors=retire_errors />
            </PageSection>
        }
        .into_any()
    };
    view! { <Loaded loading="the server" failure="This server" resource=current render /> }
}
