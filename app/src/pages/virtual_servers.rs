use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::load_virtual_servers;
use crate::components::{CopyableCode, EmptyState, Loaded};
use crate::model::virtual_servers::{VirtualServerCard, VirtualTool};

/// Virtual servers: one endpoint each, with a curated selection of the tools of several
/// published servers; each with its endpoint to copy, its members and its tools.
#[component]
pub fn VirtualServersPage() -> impl IntoView {
    let servers = Resource::new(|| (), |()| load_virtual_servers());
    view! {
        <Title text="Virtual servers" />
        <h1 class="text-2xl font-bold">"Virtual servers"</h1>
        <p class="mt-1 text-sm text-slate-700 dark:text-slate-300">
            "One MCP endpoint with tools drawn from several published servers. Each tool answers as its server does, under that server's curation and access rules."
        </p>
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
                <p>"An admin defines one with PUT /api/v1/virtual-servers/{namespace}/{name}, naming the published servers it draws tools from."</p>
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
                <h3 class="mt-3 font-semibold">"Endpoint"</h3>
                <CopyableCode label=format!("The MCP endpoint of {}", server.id) code=server.url.clone() />
                <h3 class="mt-3 font-semibold">{format!("Tools ({count})")}</h3>
                {finder}
                <ToolTable tools=server.tools />
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
