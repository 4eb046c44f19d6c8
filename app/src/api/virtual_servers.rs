//! Virtual server server functions.

use leptos::prelude::*;

use crate::model::virtual_servers::VirtualServerCard;

/// Every virtual server with the tools it shows now; anyone who may browse the catalog.
#[server]
pub async fn load_virtual_servers() -> Result<Vec<VirtualServerCard>, ServerFnError> {
    crate::services::authorize(crate::access::Action::Browse, None)?;
    let services = crate::services::services()?;
    Ok(services.virtual_servers.list().await?)
}

/// Proposes a virtual server from the console's form. Redirects to the new proposal's review
/// page, or back to the form with the submitted values and every refused field's message.
#[server]
pub async fn propose_virtual_server(
    #[server(flatten)] form: crate::model::virtual_servers::VirtualProposalForm,
) -> Result<(), ServerFnError> {
    let author = crate::services::authorize(crate::access::Action::Propose, None)?;
    let services = crate::services::services()?;
    let proposed = services.onboarding.propose_virtual(&author, &form).await?;
    match proposed {
        Ok(id) => leptos_axum::redirect(&format!("/reviews/{}", super::path_segment(&id))),
        Err(errors) => {
            leptos_axum::redirect(&super::back_to("/virtual-servers/propose", &form, &errors))
        }
    }
    Ok(())
}
