use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_location;

use crate::components::{ProposalFormView, ReviewModeNote};
use crate::model::proposals::{FormError, ProposalForm};

/// The values and refusals a refused post brought back in the query string (see
/// `api::refused_url`): each `error` belongs to the `error_field` before it.
pub fn refused_from_query<F: serde::de::DeserializeOwned + Default>(
    search: &str,
) -> (F, Vec<FormError>) {
    let search = search.trim_start_matches('?');
    let form: F = serde_urlencoded::from_str(search).unwrap_or_default();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(search).unwrap_or_default();
    let mut errors = Vec::new();
    let mut field = String::new();
    for (key, value) in pairs {
        match key.as_str() {
            "error_field" => field = value,
            "error" if !value.is_empty() => errors.push(FormError {
                field: std::mem::take(&mut field),
                message: value,
            }),
            _ => {}
        }
    }
    (form, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_comes_back_with_its_field() {
        let form = ProposalForm {
            kind: "create".into(),
            name: "Bad Name".into(),
            ..ProposalForm::default()
        };
        let errors = vec![
            FormError {
                field: "name".into(),
                message: "use lower case & digits".into(),
            },
            FormError {
                field: "port".into(),
                message: "\"x\" is not a port number".into(),
            },
        ];
        let url = crate::api::refused_url(&form, &errors);
        let (search_form, back): (ProposalForm, _) =
            refused_from_query(url.split_once('?').expect("a query").1);
        assert_eq!(back, errors);
        assert_eq!(search_form.name, "Bad Name");
    }
}

/// `/propose`: the form for a new server. A refused post comes back here with the values, a
/// summary of the refusals, and each message next to its field.
#[component]
pub fn ProposePage() -> impl IntoView {
    let (mut form, errors): (ProposalForm, _) =
        refused_from_query(&use_location().search.get_untracked());
    form.kind = "create".into();
    view! {
        <Title text="Propose a server" />
        <h1 class="text-2xl font-bold">"Propose a server"</h1>
        <ReviewModeNote
            local="Local mode: you are the only person, so after proposing you approve the change yourself on its review page, with a comment recorded as a self-approval. Then Apiary runs and publishes the server."
            signed_in="The owners of the team you name review the proposal; once an owner other than you approves it, Apiary runs and publishes the server."
        />
        <ProposalFormView form errors />
    }
}
