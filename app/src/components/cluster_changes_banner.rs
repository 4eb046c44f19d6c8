use leptos::prelude::*;

use super::ForViewer;
use crate::access::Action;
use crate::model::cluster_changes::{display_value, ClusterChanges, FieldChange};
use crate::model::Viewer;

/// "Changed outside Apiary": the fields of the server's custom resources whose live value in
/// the cluster is not the approved revision's, or the resources missing there, and for owners
/// of its team and admins what to do about it. Shows nothing when the cluster matches, and in
/// local mode.
#[component]
pub fn ClusterChangesBanner(
    /// `namespace/name`.
    id: String,
    /// The server's owner team.
    owner_team: String,
    /// The comparison; `None` in local mode.
    changes: Option<ClusterChanges>,
    /// Whether consumers see the server.
    published: bool,
) -> impl IntoView {
    let (revision, missing, fields) = match changes {
        Some(ClusterChanges::Changed {
            revision,
            missing,
            fields,
        }) => (revision, missing, fields),
        Some(ClusterChanges::Unreadable { message }) => {
            return view! {
                <div role="alert" data-testid="cluster-unreadable"
                    class="mt-4 rounded-lg border border-amber-300 bg-amber-50 p-3 text-sm dark:border-amber-700 dark:bg-amber-950">
                    "Apiary could not compare this server with the cluster: " {message}
                </div>
            }
            .into_any();
        }
        _ => return ().into_any(),
    };
    let missing = missing.into_iter().map(|kind| {
        let consequence = (kind == "MCPServer").then_some(if published {
            " It was deleted outside Apiary, yet the server is still published: consumers see a server that does not run."
        } else {
            " It was deleted outside Apiary, and the server is unpublished: consumers no longer see it."
        });
        view! {
            <li data-testid="cluster-missing">
                <code>{kind.clone()}</code>" is missing in the cluster." {consequence}
            </li>
        }
    });
    view! {
        <div role="alert" data-testid="cluster-changes"
            class="mt-4 rounded-lg border border-amber-400 bg-amber-50 p-3 text-sm dark:border-amber-600 dark:bg-amber-950">
            <h2 class="text-base font-semibold">"Changed outside Apiary"</h2>
            <p class="mt-1">
                {format!("The cluster no longer matches revision {revision}, the one Apiary applied. \
                          Someone changed it directly (kubectl, GitOps).")}
            </p>
            <ul class="mt-2 list-disc pl-5">{missing.collect_view()}</ul>
            <FieldChanges fields revision />
            <OwnerNextSteps id owner_team revision />
        </div>
    }
    .into_any()
}

/// The changed fields: approved and live values, and who changed them.
#[component]
fn FieldChanges(fields: Vec<FieldChange>, revision: i64) -> impl IntoView {
    if fields.is_empty() {
        return ().into_any();
    }
    view! {
        <div class="mt-2 overflow-x-auto">
            <table class="w-full min-w-[36rem] text-left" data-testid="cluster-fields">
                <thead class="border-b border-amber-300 dark:border-amber-700">
                    <tr>
                        <th scope="col" class="py-1 pr-3">"Field"</th>
                        <th scope="col" class="py-1 pr-3">{format!("Approved (revision {revision})")}</th>
                        <th scope="col" class="py-1 pr-3">"Live"</th>
                        <th scope="col" class="py-1">"Changed by"</th>
                    </tr>
                </thead>
                <tbody>
                    {fields.into_iter().map(|f| {
                        let by = if f.changed_by.is_empty() { "unknown".to_owned() } else { f.changed_by.join(", ") };
                        view! {
                            <tr class="border-b border-amber-100 align-top dark:border-amber-900" data-testid="cluster-field">
                                <td class="py-1 pr-3"><code class="break-all">{format!("{} {}", f.kind, f.path)}</code></td>
                                <td class="py-1 pr-3"><code class="break-all">{display_value(f.approved.as_ref())}</code></td>
                                <td class="py-1 pr-3"><code class="break-all">{display_value(f.live.as_ref())}</code></td>
                                <td class="py-1">{by}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

/// For owners of the team and admins: keep the live values through a proposal, or put the
/// approved revision back.
#[component]
fn OwnerNextSteps(id: String, owner_team: String, revision: i64) -> impl IntoView {
    let steps = move |viewer: Option<Viewer>| {
        viewer?.may(Action::Review, Some(&owner_team)).then(|| view! {
            <p class="mt-2" data-testid="cluster-next-steps">
                "To keep the live values, "
                <a class="underline" href=format!("/servers/{id}/change")>"propose them as a change"</a>
                " so they are reviewed. To put the approved values back, re-apply "
                <a class="underline" href=format!("/api/v1/servers/{id}/revisions/{revision}/manifest")>
                    {format!("revision {revision}'s manifest")}
                </a>
                " with "<code>"kubectl apply --server-side --field-manager=apiary --force-conflicts -f"</code>"."
            </p>
        })
    };
    view! { <ForViewer render=steps /> }
}
