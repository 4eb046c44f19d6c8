use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::load_server_detail;
use crate::components::{
    request_source, CallLatencyChart, ClusterChangesBanner, ConnectionSnippets, CopyableCode,
    DriftApproval, ForViewer, LatencyChart, Loaded, NotFound, PageSection, PolicyFindings,
    RefreshToolsButton, RuntimeStatusView, ServerOverviewView, SnapshotHistory, ToolList,
    ToolUsageTable,
};
use crate::model::server_detail::{Manifest, ServerDetail};

/// One server: overview, whether it runs (and if not, why), published tools with their argument tables, latency chart, snapshot
/// history, policy findings, connection snippets and the `MCPServer` manifest. Unknown servers
/// get a 404 page that says what to do.
#[component]
pub fn ServerPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| {
        params.with(|p| {
            (
                p.get("namespace").unwrap_or_default(),
                p.get("name").unwrap_or_default(),
            )
        })
    });
    let detail = crate::api::load(request_source(move || id.get()), |(namespace, name)| {
        load_server_detail(namespace, name)
    });

    let render = move |found: Option<ServerDetail>| match found {
        Some(detail) => view! { <ServerDetailView detail /> }.into_any(),
        None => {
            let (namespace, name) = id.get_untracked();
            view! {
                <NotFound title="Server not found">
                    <p class="mt-2">
                        "There is no server named " <code>{format!("{namespace}/{name}")}</code>
                        ". It may have been renamed or retired, or the link has a typo."
                    </p>
                    <p class="mt-2"><a class="underline" href="/">"Search the catalog"</a></p>
                </NotFound>
            }
            .into_any()
        }
    };
    view! { <Loaded loading="the server" failure="This server" resource=detail render /> }
}

#[component]
fn ServerDetailView(detail: ServerDetail) -> impl IntoView {
    let id = detail.overview.id();
    let admin_id = id.clone();
    let published = detail.overview.published;
    let owner = (
        detail.overview.namespace.clone(),
        detail.overview.name.clone(),
        detail.overview.owner_team.clone(),
    );
    let tool_count = detail.tools.len();
    let cluster = view! { <ClusterChangesBanner id=id.clone() owner_team=owner.2.clone() changes=detail.cluster published /> };
    let manifest = match detail.manifest {
        Manifest::Yaml(yaml) => {
            view! { <CopyableCode label="MCPServer manifest".to_owned() code=yaml /> }.into_any()
        }
        Manifest::Unavailable(reason) => view! { <p class="text-sm">{reason}</p> }.into_any(),
    };
    view! {
        <Title text=id.clone() />
        <nav aria-label="Breadcrumb" class="text-sm"><a class="underline" href="/">"Catalog"</a>" / "{id.clone()}</nav>
        <h1 class="mt-2 text-2xl font-bold break-words" data-testid="server-title">{id.clone()}</h1>
        <p class="mt-1 text-sm"><a class="underline" href=format!("/servers/{id}/change") data-testid="propose-change">"Propose a change"</a></p>
        <nav aria-label="On this page" class="mt-3">
            <ul class="flex flex-wrap gap-x-4 gap-y-1 text-sm">
                <li><a class="underline" href="#runtime">"Runtime"</a></li>
                <li><a class="underline" href="#tools">{format!("Tools ({tool_count})")}</a></li>
                <li><a class="underline" href="#health">"Health"</a></li>
                <li><a class="underline" href="#calls">"Calls"</a></li>
                <li><a class="underline" href="#drift">"Drift"</a></li>
                <li><a class="underline" href="#history">"History"</a></li>
                <li><a class="underline" href="#findings">"Policy findings"</a></li>
                <li><a class="underline" href="#connect">"Connect"</a></li>
                <li><a class="underline" href="#manifest">"Manifest"</a></li>
                <AdminLinks id=admin_id />
            </ul>
        </nav>
        <RefreshToolsButton namespace=owner.0.clone() name=owner.1.clone() owner_team=owner.2.clone() />
        {cluster}
        <div class="mt-4"><ServerOverviewView overview=detail.overview /></div>
        <PageSection id="runtime" title="Runtime"><RuntimeStatusView runtime=detail.runtime /></PageSection>
        <PageSection id="tools" title="Tools"><ToolList tools=detail.tools action=format!("/servers/{id}") /></PageSection>
        <PageSection id="health" title="Fetch latency"><LatencyChart samples=detail.health /></PageSection>
        <PageSection id="calls" title="Tool calls through the gateway">
            <CallLatencyChart calls=detail.calls />
            <ToolUsageTable usage=detail.tool_usage />
        </PageSection>
        <PageSection id="drift" title="Schema drift">
            <DriftApproval namespace=owner.0 name=owner.1 owner_team=owner.2 pending=detail.pending_drift />
        </PageSection>
        <PageSection id="history" title="Snapshot history"><SnapshotHistory history=detail.history /></PageSection>
        <PageSection id="findings" title="Policy findings"><PolicyFindings findings=detail.findings checked=detail.has_snapshot /></PageSection>
        <PageSection id="connect" title="Connect a client">
            <ConnectionSnippets snippets=detail.snippets published withheld=detail.snippets_withheld />
        </PageSection>
        <PageSection id="manifest" title="MCPServer manifest">{manifest}</PageSection>
    }
}

/// Links to what an admin can do with the server.
#[component]
fn AdminLinks(id: String) -> impl IntoView {
    let links = move |viewer: Option<crate::model::Viewer>| {
        viewer?.may(crate::access::Action::Curate, None).then(|| view! {
            <li><a class="underline" href=format!("/servers/{id}/curate")>"Curate published tools"</a></li>
        })
    };
    view! { <ForViewer render=links /> }
}
