use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_location;

use crate::components::{ProposalFormView, ReviewModeNote};
use crate::model::proposals::{FormError, ProposalForm};

/// The values and refusal a refused post brought back in the query string (see
/// `api::refused_url`).
pub fn refused_from_query(search: &str) -> (ProposalForm, Option<FormError>) {
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Refusal {
        error_field: String,
        error: String,
    }
    let search = search.trim_start_matches('?');
    let form: ProposalForm = serde_urlencoded::from_str(search).unwrap_or_default();
    let refusal: Refusal = serde_urlencoded::from_str(search).unwrap_or_default();
    let error = (!refusal.error.is_empty()).then_some(FormError {
        field: refusal.error_field,
        message: refusal.error,
    });
    (form, error)
}

/// `/propose`: the form for a new server. A refused post comes back here with the values and
/// the message next to the refused field.
#[component]
pub fn ProposePage() -> impl IntoView {
    let search = use_location().search;
    view! {
        <Title text="Propose a server" />
        <h1 class="text-2xl font-bold">"Propose a server"</h1>
        <ReviewModeNote
            local="Local mode: you are the only person, so after proposing you approve the change yourself on its review page, with a comment recorded as a self-approval. Then Apiary runs and publishes the server."
            signed_in="The owners of the team you name review the proposal; once an owner other than you approves it, Apiary runs and publishes the server."
        />
        {move || {
            let (mut form, error) = refused_from_query(&search.get());
            form.kind = "create".into();
            view! { <ProposalFormView form error /> }.into_any()
        }}
    }
}
