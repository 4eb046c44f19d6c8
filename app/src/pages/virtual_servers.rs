use leptos::prelude::*;
use leptos_meta::Title;

use leptos::server_fn::ServerFn;
use leptos_router::hooks::use_location;

use crate::api::{load_virtual_servers, ProposeVirtualServer};
use crate::components::{
    CallLatencyChart, ConnectionSnippets, CopyableCode, EmptyState, ErrorSummary, FormField,
    Loaded, ReviewModeNote, ToolUsageTable,
};
use crate::model::proposals::FormError;
use crate::model::virtual_servers::{VirtualProposalForm, VirtualServerCard, VirtualTool};

use super::propose::refused_from_query;

/// Virtual servers: one endpoint each, with a curated selection of the tools of several
/// published servers; each with its endpoint to copy, its members and its tools.
#[component]
pub fn VirtualServersPage() -> impl IntoView {
    let servers = crate::api::load(|| (), |()| load_virtual_servers());
    view! {
        <Title text="Virtual servers" />
        <h1 class="text-2xl font-bold">"Virtual servers"</h1>
        <p class="mt-1 text-sm text-slate-700 dark:text-slate-300">
            "One MCP endpoint with tools drawn from several published servers. Each tool answers as its server does, under that server's curation and access rules."
        </p>
        <p class="mt-2"><a class="underline" href="/virtual-servers/propose" data-testid="propose-virtual">"Propose a virtual server"</a></p>
        <Loaded loading="the virtual servers" failure="The virtual servers" resource=servers render={move |found| {
            view! { <VirtualServerList servers=found /> }
        }} />
    }
}

#[component]
fn VirtualServerList(servers: Vec<VirtualServerCard>) -> impl IntoView {
    if servers.is_empty() {
        return view! {
            <EmptyState title="No virtual servers yet">
                <p>"Give a team one endpoint for the tools of several published servers: "
                    <a class="underline" href="/virtual-servers/propose">"propose a virtual server"</a>
                    ", and an owner of its team reviews it."</p>
            </EmptyState>
        }
        .into_any();
    }
    servers
        .into_iter()
        .map(|server| view! { <VirtualServerSection server /> })
        .collect_view()
        .into_any()
}

#[component]
fn VirtualServerSection(server: VirtualServerCard) -> impl IntoView {
    let anchor = server.id.replace('/', "-");
    let members = server.members.join(", ");
    let warnings = server
        .unresolved
        .iter()
        .map(|member| format!("{member} is not published now, so its tools are not shown."))
        .chain(server.conflicts.iter().map(|c| format!("Not shown: {c}")))
        .map(|text| view! { <li>{text}</li> })
        .collect_view();
    let has_warnings = !server.unresolved.is_empty() || !server.conflicts.is_empty();
    let count = server.tools.len();
    let finder = server.finder.then(|| {
        view! {
            <p class="mt-2 text-sm">"Clients list only " <code>"find_tools"</code> " and the pinned tools, and find the others by searching; every tool below is callable."</p>
        }
    });
    view! {
        <section id=anchor.clone() aria-labelledby=format!("{anchor}-heading") data-testid="virtual-server" class="mt-8">
            <h2 id=format!("{anchor}-heading") class="text-xl font-semibold">{server.id.clone()}</h2>
            <div class="mt-3">
                <p class="text-sm">{server.description.clone()}</p>
                <dl class="mt-2 grid grid-cols-[max-content_1fr] gap-x-4 gap-y-1 text-sm">
                    <dt class="font-semibold">"Owner team"</dt><dd>{server.owner_team.clone()}</dd>
                    <dt class="font-semibold">"Members"</dt><dd data-testid="virtual-members">{members}</dd>
                    {(!server.sensitivity.is_empty()).then(|| view! {
                        <dt class="font-semibold">"Sensitivity"</dt><dd>{server.sensitivity.clone()}</dd>
                    })}
                </dl>
                {has_warnings.then(|| view! {
                    <ul role="status" class="mt-2 list-disc rounded border border-amber-400 bg-amber-50 p-2 pl-6 text-sm text-amber-900 dark:bg-amber-950 dark:text-amber-100">{warnings}</ul>
                })}
                {server.declared_by.clone().map(|object| view! {
                    <p class="mt-2 text-sm" data-testid="declared-by">
                        "Declared by the VirtualMCPServer " <code>{object}</code>
                        " in the cluster: change it there; Apiary's API and proposals do not."
                    </p>
                })}
                <h3 class="mt-3 font-semibold">"Endpoint"</h3>
                <CopyableCode label=format!("MCP endpoint of {}", server.id) code=server.url.clone() />
                <h3 class="mt-3 font-semibold">"Connect a client"</h3>
                <ConnectionSnippets snippets=server.snippets published=true withheld=None />
                <h3 class="mt-3 font-semibold">{format!("Tools ({count})")}</h3>
                {finder}
                <ToolTable tools=server.tools />
                <h3 class="mt-3 font-semibold">"Tool calls through this endpoint"</h3>
                <p class="mt-1 text-sm text-slate-700 dark:text-slate-300">"Counted here under the names its clients call; each member counts them too, under its own names, and only the member's count sets the member's health."</p>
                {if server.calls.is_empty() {
                    view! { <p class="mt-2 text-sm" data-testid="no-calls">"No calls through this endpoint yet."</p> }.into_any()
                } else {
                    view! { <CallLatencyChart calls=server.calls /> }.into_any()
                }}
                <ToolUsageTable usage=server.tool_usage />
            </div>
        </section>
    }
}

#[component]
fn ToolTable(tools: Vec<VirtualTool>) -> impl IntoView {
    if tools.is_empty() {
        return view! { <p class="text-sm">"No tools: none of the members publishes a selected tool now."</p> }.into_any();
    }
    let rows = tools
        .into_iter()
        .map(|tool| {
            let from = if tool.member_tool == tool.name {
                tool.member.clone()
            } else {
                format!("{} ({})", tool.member, tool.member_tool)
            };
            view! {
                <tr class="border-t border-slate-200 align-top dark:border-slate-800" data-testid="virtual-tool">
                    <td class="px-3 py-2 font-mono">{tool.name}</td>
                    <td class="px-3 py-2">{tool.description}</td>
                    <td class="px-3 py-2 break-all">{from}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="overflow-x-auto">
            <table class="mt-1 w-full text-left text-sm">
                <thead>
                    <tr>
                        <th scope="col" class="px-3 py-2">"Tool"</th>
                        <th scope="col" class="px-3 py-2">"Description"</th>
                        <th scope="col" class="px-3 py-2">"From (its name there)"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

/// The form's inputs in form order, with their labels.
const FIELDS: &[(&str, &str)] = &[
    ("namespace", "Namespace"),
    ("name", "Name"),
    ("description", "Description"),
    ("owner_team", "Owner team"),
    ("sensitivity", "Sensitivity"),
    ("members", "Members"),
    ("conflicts", "Tools of the same name"),
    ("finder", "Tool finder"),
];

/// `/virtual-servers/propose`: the form for a new virtual server. A refused post comes back
/// here with the values, a summary of the refusals, and each message next to its field.
#[component]
pub fn ProposeVirtualServerPage() -> impl IntoView {
    let (form, errors): (VirtualProposalForm, Vec<FormError>) =
        refused_from_query(&use_location().search.get_untracked());
    view! {
        <Title text="Propose a virtual server" />
        <h1 class="text-2xl font-bold">"Propose a virtual server"</h1>
        <ReviewModeNote
            local="Local mode: you are the only person, so after proposing you approve the change yourself on its review page, with a comment recorded as a self-approval. Then its endpoint serves the tools at once."
            signed_in="The owners of the team you name review the proposal; once an owner other than you approves it, its endpoint serves the tools."
        />
        <VirtualProposalFormView form errors />
    }
}

#[component]
fn VirtualProposalFormView(form: VirtualProposalForm, errors: Vec<FormError>) -> impl IntoView {
    let f = |name: &'static str, label: &'static str, value: &String| {
        view! { <FormField name label value=value.clone() errors=errors.clone() /> }
    };
    let priority = form.conflicts == "priority";
    let conflicts_error = errors
        .iter()
        .filter(|e| e.field == "conflicts")
        .map(|e| e.message.clone())
        .collect::<Vec<_>>()
        .join(" ");
    view! {
        <ErrorSummary errors=errors.clone() fields=FIELDS />
        <form method="post" action=ProposeVirtualServer::url() class="mt-4 grid gap-4" data-testid="propose-virtual-form"
            aria-label="Propose a virtual server">
            <fieldset class="grid gap-3 sm:grid-cols-2">
                <legend class="font-semibold">"Virtual server"</legend>
                {f("namespace", "Namespace", &form.namespace)}
                {f("name", "Name", &form.name)}
                <div class="sm:col-span-2">
                    <FormField name="description" label="Description" value=form.description.clone() errors=errors.clone() rows=2 />
                </div>
                <FormField name="owner_team" label="Owner team" value=form.owner_team.clone() errors=errors.clone()
                    hint="Its owners review this proposal and later changes." />
                {f("sensitivity", "Sensitivity", &form.sensitivity)}
            </fieldset>
            <fieldset class="grid gap-3">
                <legend class="font-semibold">"Tools"</legend>
                <FormField name="members" label="Members" value=form.members.clone() errors=errors.clone() rows=5
                    hint="One published server per line as namespace/name, then, if you like, globs of the tools to show (search_*) and -glob for tools to leave out. Each member's own curation and access rules still apply." />
                <fieldset class="text-sm" data-testid="field-conflicts" aria-describedby="conflicts-error">
                    <legend class="font-medium">"Tools of the same name"</legend>
                    <label class="mt-1 flex items-center gap-2">
                        <input type="radio" name="conflicts" value="prefix" checked=!priority />
                        "Prefix each tool with its server's name (search_fetch)"
                    </label>
                    <label class="mt-1 flex items-center gap-2">
                        <input type="radio" name="conflicts" value="priority" checked=priority />
                        "Keep the names; the member listed first keeps a shared name"
                    </label>
                    {(!conflicts_error.is_empty()).then(|| view! {
                        <p id="conflicts-error" class="mt-1 text-sm text-red-800 dark:text-red-300">{conflicts_error}</p>
                    })}
                </fieldset>
                <label class="flex items-center gap-2 text-sm" data-testid="field-finder">
                    <input type="checkbox" id="finder" name="finder" value="on" checked=form.finder == "on" />
                    "Offer find_tools: clients list only the finder and search for the other tools (for many tools)"
                </label>
            </fieldset>
            <p class="text-sm">"The definition is checked when you propose it: every member must be published, and two tools that would share a name are refused, naming both."</p>
            <div><button type="submit" class="rounded bg-slate-800 px-3 py-1 text-white dark:bg-slate-200 dark:text-slate-900">"Propose"</button></div>
        </form>
    }
}
