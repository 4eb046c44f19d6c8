use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_location, use_params_map};

use crate::api::load_curation;
use crate::components::{request_source, Loaded, NotFound, PageSection};
use crate::model::curation_form::{CurateToolRow, CurationPage, HintChoice, PreviewTool};

/// An admin's curation of one server: which published tools consumers see, under which name
/// and description, with allow and deny globs. "Preview" shows exactly what consumers will see
/// (a GET of the same page with the draft in the URL); "Save" stores it, audited, and the
/// registry and gateway use it at once. Both work without JavaScript.
#[component]
pub fn CuratePage() -> impl IntoView {
    let params = use_params_map();
    let location = use_location();
    let key = Memo::new(move |_| {
        let namespace = params.with(|p| p.get("namespace").unwrap_or_default());
        let name = params.with(|p| p.get("name").unwrap_or_default());
        let search = location.search.get();
        let draft = search.contains("draft=1").then_some(search);
        (namespace, name, draft)
    });
    let page = crate::api::load(
        request_source(move || key.get()),
        |(namespace, name, draft)| load_curation(namespace, name, draft),
    );
    view! {
        <Title text="Curate" />
        <Loaded loading="the tools" failure="The curation" resource=page render={move |found: Option<CurationPage>| {
            let saved = location.search.get_untracked().contains("saved=1");
            match found {
                Some(found) => view! { <CurateForm found saved /> }.into_any(),
                None => view! {
                    <NotFound title="No such server">
                        <p><a class="underline" href="/">"Back to the catalog"</a></p>
                    </NotFound>
                }
                .into_any(),
            }
        }} />
    }
}

#[component]
fn CurateForm(found: CurationPage, saved: bool) -> impl IntoView {
    let id = format!("{}/{}", found.namespace, found.name);
    let here = format!("/servers/{id}/curate");
    let discard = here.clone();
    let field = "mt-1 block w-full rounded border border-slate-300 px-2 py-1 dark:border-slate-700 dark:bg-slate-900";
    let belongs = |field: &str, name: &str| {
        field == name
            || field.starts_with(&format!("{name}."))
            || field.starts_with(&format!("{name}["))
    };
    let messages_for = |name: &str| {
        let messages: Vec<String> = found
            .errors
            .iter()
            .filter(|(f, _)| belongs(f, name))
            .map(|(f, message)| format!("{f}: {message}"))
            .collect();
        (!messages.is_empty()).then(|| messages.join(" "))
    };
    let (allow_error, deny_error) = (messages_for("allow"), messages_for("deny"));
    let error_for = |name: &'static str, message: Option<String>| {
        message.map(|m| view! {
            <p id=format!("{name}-error") class="text-sm text-red-800 dark:text-red-300" data-testid=format!("curation-error-{name}")>{m}</p>
        })
    };
    // Every refusal at once: a summary at the top, linking to the globs' fields.
    let other_error = (!found.errors.is_empty()).then(|| {
        let items = found
            .errors
            .iter()
            .map(|(f, message)| {
                let target = ["allow", "deny"].into_iter().find(|name| belongs(f, name));
                match target {
                    Some(name) => view! { <li><a class="underline" href=format!("#{name}")>{f.clone()}</a>": "{message.clone()}</li> }.into_any(),
                    None => view! { <li>{format!("{f}: {message}")}</li> }.into_any(),
                }
            })
            .collect_view();
        view! {
            <div class="mt-2 text-sm text-red-800 dark:text-red-300" role="alert" data-testid="curation-error">
                <p class="font-medium">{format!("Not saved: {} to fix.", match found.errors.len() { 1 => "1 problem".to_owned(), n => format!("{n} problems") })}</p>
                <ul class="list-disc pl-5">{items}</ul>
            </div>
        }
    });
    let rows = found
        .tools
        .iter()
        .map(|tool| view! { <ToolRow tool=tool.clone() /> }.into_any())
        .collect_view();
    let preview =
        view! { <CurationPreview preview=found.preview.clone() hidden=found.hidden.clone() /> };
    view! {
        <nav aria-label="Breadcrumb" class="text-sm">
            <a class="underline" href="/">"Catalog"</a>" / "
            <a class="underline" href=format!("/servers/{id}")>{id.clone()}</a>" / curate"
        </nav>
        <h1 class="mt-2 text-2xl font-bold">{format!("Curate {id}")}</h1>
        {saved.then(|| view! { <p role="status" class="mt-2 text-sm text-emerald-800 dark:text-emerald-300">"Saved: the catalog, the registry API and the gateway use it now."</p> })}
        {found.draft.then(|| view! { <p role="status" class="mt-2 text-sm">"Not saved yet: this is a preview of your changes."</p> })}
        {other_error}
        <div class="xl:grid xl:grid-cols-[minmax(0,2fr)_minmax(0,1fr)] xl:gap-6">
        <form method="post" action=here.clone() class="mt-4 space-y-4" aria-label="Curation">
            <input type="hidden" name="draft" value="1" />
            <div class="overflow-x-auto">
                <table class="min-w-full text-sm" data-testid="curate-tools">
                    <thead>
                        <tr class="text-left text-slate-600 dark:text-slate-400">
                            <th scope="col" class="px-2 py-2">"Shown"</th>
                            <th scope="col" class="px-2 py-2">"Tool"</th>
                            <th scope="col" class="px-2 py-2">"Name consumers see"</th>
                            <th scope="col" class="px-2 py-2">"Description consumers see"</th>
                            <th scope="col" class="px-2 py-2">"Hints consumers see"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            <div class="grid gap-4 sm:grid-cols-2">
                <label class="block text-sm">"Allow globs (one per line; empty allows every tool)"
                    <textarea id="allow" name="allow" rows="3" class=field
                        aria-invalid=allow_error.is_some().then_some("true")
                        aria-describedby=allow_error.is_some().then_some("allow-error")>{found.allow.clone()}</textarea>
                    {error_for("allow", allow_error.clone())}
                </label>
                <label class="block text-sm">"Deny globs (one per line)"
                    <textarea id="deny" name="deny" rows="3" class=field
                        aria-invalid=deny_error.is_some().then_some("true")
                        aria-describedby=deny_error.is_some().then_some("deny-error")>{found.deny.clone()}</textarea>
                    {error_for("deny", deny_error.clone())}
                </label>
            </div>
            <div class="flex gap-3">
                <button type="submit" formmethod="get" formaction=here.clone() class="rounded border border-slate-300 px-3 py-1 dark:border-slate-700">"Preview"</button>
                <button type="submit" class="rounded bg-slate-800 px-3 py-1 text-white dark:bg-slate-200 dark:text-slate-900">"Save"</button>
                <a class="self-center text-sm underline" href=discard>"Discard changes"</a>
            </div>
        </form>
        <div class="xl:sticky xl:top-4 xl:self-start">
            <PageSection id="preview" title="What consumers will see">{preview}</PageSection>
        </div>
        </div>
    }
}

/// The tools consumers will see, renamed ones marked with the server's name, then the tools
/// left out, struck through.
#[component]
fn CurationPreview(preview: Vec<PreviewTool>, hidden: Vec<String>) -> impl IntoView {
    let shown = if preview.is_empty() {
        view! { <p class="text-sm" data-testid="preview-empty">"Consumers would see no tools."</p> }
            .into_any()
    } else {
        view! {
            <ul class="list-disc space-y-1 pl-5 text-sm" data-testid="preview">
                {preview.into_iter().map(|t| view! {
                    <li data-testid="preview-tool" data-tool=t.name.clone()><code>{t.name.clone()}</code>
                        {t.renamed_from.map(|own| view! {
                            <span class="ml-1 rounded bg-sky-100 px-1 text-xs text-sky-900 dark:bg-sky-950 dark:text-sky-100" data-testid="preview-renamed">{format!("renamed from {own}")}</span>
                        })}
                        " — "{t.description}
                        {(!t.hints.is_empty()).then(|| view! {
                            <span class="ml-1 text-xs text-slate-600 dark:text-slate-400" data-testid="preview-hints">{format!("({})", t.hints)}</span>
                        })}
                    </li>
                }).collect_view()}
            </ul>
        }
        .into_any()
    };
    let left_out = (!hidden.is_empty()).then(|| {
        view! {
            <h3 class="mt-3 text-sm font-semibold">{format!("Hidden from consumers ({})", hidden.len())}</h3>
            <ul class="mt-1 space-y-1 pl-5 text-sm" data-testid="preview-hidden">
                {hidden.into_iter().map(|name| view! {
                    <li><del><code>{name}</code></del><span class="sr-only">" (hidden)"</span></li>
                }).collect_view()}
            </ul>
        }
    });
    view! { {shown} {left_out} }
}

#[component]
fn ToolRow(tool: CurateToolRow) -> impl IntoView {
    let input = "block w-full rounded border border-slate-300 px-2 py-1 dark:border-slate-700 dark:bg-slate-900";
    let label = format!("Show {}", tool.name);
    view! {
        <tr class="border-t border-slate-200 align-top dark:border-slate-800" data-testid="curate-row">
            <td class="px-2 py-2"><input type="checkbox" name="show" value=tool.name.clone() checked=tool.shown aria-label=label /></td>
            <td class="px-2 py-2"><code>{tool.name.clone()}</code><span class="block text-xs text-slate-600 dark:text-slate-400">{tool.description.clone()}</span></td>
            <td class="px-2 py-2"><input class=input name=format!("name.{}", tool.name) value=tool.rename placeholder=tool.name.clone() aria-label=format!("New name for {}", tool.name) /></td>
            <td class="px-2 py-2"><input class=input name=format!("description.{}", tool.name) value=tool.describe aria-label=format!("New description for {}", tool.name) /></td>
            <td class="px-2 py-2">
                <div class="grid gap-1">
                    {tool.hints.iter().map(|hint| view! { <HintSelect tool=tool.name.clone() hint=hint.clone() /> }.into_any()).collect_view()}
                </div>
            </td>
        </tr>
    }
}

/// One behaviour hint of a tool: the server's own value, or an override to true or false.
#[component]
fn HintSelect(tool: String, hint: HintChoice) -> impl IntoView {
    let server = match hint.server {
        Some(value) => format!("as the server says ({value})"),
        None => "as the server says (unset)".to_owned(),
    };
    let option = |value: &'static str, text: String| {
        let selected = hint.chosen == value;
        view! { <option value=value selected=selected>{text}</option> }
    };
    view! {
        <label class="flex items-center justify-between gap-2 text-xs">
            <span>{hint.label.clone()}</span>
            <select class="rounded border border-slate-300 px-1 py-0.5 dark:border-slate-700 dark:bg-slate-900"
                name=format!("hint.{tool}.{}", hint.key)
                aria-label=format!("{} hint for {tool}", hint.label)>
                {option("", server)}
                {option("true", "true".to_owned())}
                {option("false", "false".to_owned())}
            </select>
        </label>
    }
}
