use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::api::{preview_proposal, PreviewProposal, ProposeServer};
use crate::model::proposals::{FormError, ProposalForm};

const INPUT: &str = "mt-1 block w-full rounded border border-slate-300 px-2 py-1 dark:border-slate-700 dark:bg-slate-900";

/// One labelled form field with its message, when the server refused that field.
#[component]
pub fn FormField(
    /// The form field's name.
    name: &'static str,
    /// The label.
    label: &'static str,
    /// The value to show.
    value: String,
    /// The refusals of the previous post; those of this field are shown next to it.
    errors: Vec<FormError>,
    /// A hint under the field.
    #[prop(optional)]
    hint: &'static str,
    /// Rows for a textarea; 0 makes a one-line input.
    #[prop(optional)]
    rows: u32,
) -> impl IntoView {
    let message = messages_for(&errors, name);
    let invalid = message.is_some().then_some("true");
    let described = format!("{name}-hint {name}-error");
    let control = if rows == 0 {
        view! {
            <input class=INPUT id=name name=name value=value aria-invalid=invalid
                aria-describedby=described.clone() />
        }
        .into_any()
    } else {
        view! {
            <textarea class=format!("{INPUT} font-mono text-sm") id=name name=name rows=rows
                aria-invalid=invalid aria-describedby=described.clone()>{value}</textarea>
        }
        .into_any()
    };
    view! {
        <div class="text-sm" data-testid=format!("field-{name}")>
            <label for=name class="font-medium">{label}</label>
            {control}
            {(!hint.is_empty()).then(|| view! {
                <p id=format!("{name}-hint") class="mt-1 text-xs text-slate-600 dark:text-slate-400">{hint}</p>
            })}
            {message.map(|m| view! {
                <p id=format!("{name}-error") data-testid=format!("error-{name}")
                    class="mt-1 text-sm text-red-800 dark:text-red-300">{m}</p>
            })}
        </div>
    }
    .into_any()
}

/// The messages of `field` among `errors`, joined; `None` when it has none.
fn messages_for(errors: &[FormError], field: &str) -> Option<String> {
    let messages: Vec<&str> = errors
        .iter()
        .filter(|e| e.field == field)
        .map(|e| e.message.as_str())
        .collect();
    (!messages.is_empty()).then(|| messages.join(" "))
}

/// The summary of a refused post, above the form: every refusal, in form order, each linking
/// to its field (`fields` are the inputs the form has, with their labels; other refusals are
/// listed with the path they name). Once its island is hydrated, focus moves to the first
/// invalid field.
#[component]
pub fn ErrorSummary(
    /// The refusals.
    errors: Vec<FormError>,
    /// The form's inputs in form order: name and label.
    fields: &'static [(&'static str, &'static str)],
) -> impl IntoView {
    if errors.is_empty() {
        return ().into_any();
    }
    let position = |field: &str| fields.iter().position(|(name, _)| *name == field);
    let mut ordered = errors;
    // Fields without an input first (they explain the rest), then the inputs in form order.
    ordered.sort_by_key(|e| position(&e.field).map_or(0, |i| i + 1));
    let first_input = ordered
        .iter()
        .find_map(|e| position(&e.field).map(|i| fields[i].0));
    let first = first_input.unwrap_or("error-summary").to_owned();
    let heading = match ordered.len() {
        1 => "The form was not accepted: 1 problem to fix.".to_owned(),
        n => format!("The form was not accepted: {n} problems to fix."),
    };
    let items = ordered
        .into_iter()
        .map(|e| match position(&e.field) {
            Some(i) => {
                let (name, label) = fields[i];
                view! { <li><a class="underline" href=format!("#{name}")>{label}</a>": "{e.message}</li> }.into_any()
            }
            None => view! { <li data-testid="error-form">{format!("{}: {}", e.field, e.message)}</li> }.into_any(),
        })
        .collect_view();
    view! {
        <div id="error-summary" role="alert" tabindex="-1" data-testid="error-summary"
            class="mt-4 rounded border border-red-300 p-3 text-sm text-red-800 dark:text-red-200">
            <p class="font-medium">{heading}</p>
            <ul class="mt-1 list-disc pl-5">{items}</ul>
        </div>
        <FocusOnLoad id=first />
    }
    .into_any()
}

/// Moves focus to the element with `id` once hydrated, an island with nothing to show.
#[island]
fn FocusOnLoad(id: String) -> impl IntoView {
    Effect::new(move |_| focus(&id));
}

/// Moves focus to the element with `id`, in the browser.
fn focus(id: &str) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        if let Some(element) = document()
            .get_element_by_id(id)
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = element.focus();
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = id;
}

/// The propose form's inputs in form order, with their labels.
const FIELDS: &[(&str, &str)] = &[
    ("namespace", "Namespace"),
    ("name", "Name"),
    ("description", "Description"),
    ("owner_team", "Owner team"),
    ("category", "Category"),
    ("cost_class", "Cost class"),
    ("sensitivity", "Sensitivity"),
    ("tags", "Tags"),
    ("docs_url", "Docs URL"),
    ("source", "Source"),
    ("command", "Command"),
    ("args", "Arguments"),
    ("transport", "Transport"),
    ("env", "Environment"),
    ("port", "Port"),
    ("mcp_port", "Container port"),
    ("permission_profile", "Permission profile"),
    ("cpu_request", "CPU request"),
    ("memory_request", "Memory request"),
    ("cpu_limit", "CPU limit"),
    ("memory_limit", "Memory limit"),
    ("manifest", "MCPServer YAML"),
];

/// The change form's inputs: the propose form's, without the namespace and name it keeps.
const CHANGE_FIELDS: &[(&str, &str)] = FIELDS.split_at(2).1;

/// The retire form's inputs.
const RETIRE_FIELDS: &[(&str, &str)] = &[
    ("replacement", "Replacement server (optional)"),
    ("message", "Message for consumers"),
];

/// The form's current values, read from the form element an input event came from.
fn read_form(event: &leptos::ev::Event) -> Option<ProposalForm> {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        let form: web_sys::HtmlFormElement = event.current_target()?.dyn_into().ok()?;
        let data = web_sys::FormData::new_with_form(&form).ok()?;
        let params = web_sys::UrlSearchParams::new_with_str_sequence_sequence(&data).ok()?;
        serde_urlencoded::from_str(&String::from(params.to_string())).ok()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = event;
        None
    }
}

/// The `MCPServer` the form's values would propose: `rendered` with the page, then the answer
/// to the newest of `asked` (each change of the form asks, and abandons the question before).
#[component]
fn YamlPreview(asked: ServerAction<PreviewProposal>, rendered: String) -> impl IntoView {
    let text = move || match asked.value().get() {
        Some(answer) => answer.unwrap_or_else(|e| unavailable(&e)),
        None => rendered.clone(),
    };
    view! {
        <section aria-labelledby="preview-heading" class="mt-6">
            <h2 id="preview-heading" class="text-lg font-semibold">"Preview"</h2>
            <p class="text-xs text-slate-600 dark:text-slate-400">"The MCPServer this form proposes; it updates as you type."</p>
            <pre class="mt-2 overflow-x-auto rounded bg-slate-100 p-3 text-xs dark:bg-slate-900" data-testid="yaml-preview">
                {text}
            </pre>
        </section>
    }
    .into_any()
}

/// The preview's text when it could not be rendered.
fn unavailable(error: &ServerFnError) -> String {
    format!("# the preview is not available: {error}")
}

/// The propose form for a new server (`kind` create) or a change (`kind` update): a plain POST
/// to the `propose_server` server function, which works without JavaScript, and the preview of
/// what it proposes.
#[component]
pub fn ProposalFormView(
    /// The values to show.
    form: ProposalForm,
    /// The refusals of the previous post.
    errors: Vec<FormError>,
) -> impl IntoView {
    let preview = crate::api::load_once(preview_proposal(form.clone()));
    let part = move || {
        let (form, errors) = (form.clone(), errors.clone());
        Suspend::new(async move {
            let preview = preview.await.unwrap_or_else(|e| unavailable(&e));
            view! { <ProposalFormIsland form errors preview /> }
        })
    };
    view! { <Suspense>{part}</Suspense> }
}

/// The propose form and its live preview, an island.
#[island]
fn ProposalFormIsland(
    /// The values to show.
    form: ProposalForm,
    /// The refusals of the previous post.
    errors: Vec<FormError>,
    /// The preview of `form`, rendered with the page.
    preview: String,
) -> impl IntoView {
    let update = form.kind == "update";
    let f = |name: &'static str, label: &'static str, value: &String| {
        view! { <FormField name label value=value.clone() errors=errors.clone() /> }
    };
    let transport = form.transport.clone();
    let option = move |value: &'static str, label: &'static str| {
        let selected = transport == value;
        view! { <option value=value selected=selected>{label}</option> }
    };
    let transport_error = messages_for(&errors, "transport");
    let asked = ServerAction::<PreviewProposal>::new();
    // The question in flight: a newer one abandons it, so an older answer cannot arrive last.
    let in_flight = StoredValue::new(None::<ActionAbortHandle>);
    let on_input = move |event: leptos::ev::Event| {
        if let Some(form) = read_form(&event) {
            if let Some(previous) = in_flight.try_update_value(Option::take).flatten() {
                previous.abort();
            }
            in_flight.set_value(Some(asked.dispatch(PreviewProposal { form })));
        }
    };
    view! {
        <ErrorSummary errors=errors.clone() fields=if update { CHANGE_FIELDS } else { FIELDS } />
        <form method="post" action=ProposeServer::url() class="mt-4 grid gap-4" data-testid="propose-form" on:input=on_input
            aria-label=if update { "Propose a change" } else { "Propose a server" }>
            <input type="hidden" name="kind" value=if update { "update" } else { "create" } />
            <fieldset class="grid gap-3 sm:grid-cols-2">
                <legend class="font-semibold">"Server"</legend>
                {if update {
                    view! {
                        <input type="hidden" name="namespace" value=form.namespace.clone() />
                        <input type="hidden" name="name" value=form.name.clone() />
                        <p class="text-sm sm:col-span-2">"Changing " <code>{format!("{}/{}", form.namespace, form.name)}</code></p>
                    }.into_any()
                } else {
                    view! {
                        {f("namespace", "Namespace", &form.namespace)}
                        {f("name", "Name", &form.name)}
                    }.into_any()
                }}
                <div class="sm:col-span-2">
                    <FormField name="description" label="Description" value=form.description.clone() errors=errors.clone() rows=2 />
                </div>
                {f("owner_team", "Owner team", &form.owner_team)}
                {f("category", "Category", &form.category)}
                {f("cost_class", "Cost class", &form.cost_class)}
                {f("sensitivity", "Sensitivity", &form.sensitivity)}
                <FormField name="tags" label="Tags" value=form.tags.clone() errors=errors.clone() hint="Separated by commas." />
                {f("docs_url", "Docs URL", &form.docs_url)}
            </fieldset>
            <fieldset class="grid gap-3 sm:grid-cols-2">
                <legend class="font-semibold">"What runs"</legend>
                <div class="sm:col-span-2">
                    <FormField name="source" label="Source" value=form.source.clone() errors=errors.clone()
                        hint="A container image (ghcr.io/org/server:1.0), npx://package, uvx://package, or the https:// URL of a remote server. Leave empty for a command." />
                </div>
                <FormField name="command" label="Command" value=form.command.clone() errors=errors.clone()
                    hint="A local command instead of a source (local runtime only)." />
                <FormField name="args" label="Arguments" value=form.args.clone() errors=errors.clone() rows=3 hint="One per line." />
                <div class="text-sm" data-testid="field-transport">
                    <label for="transport" class="font-medium">"Transport"</label>
                    <select class=INPUT id="transport" name="transport"
                        aria-invalid=transport_error.is_some().then_some("true")
                        aria-describedby=transport_error.is_some().then_some("transport-error")>
                        {option("", "Default (stdio)")}
                        {option("stdio", "stdio")}
                        {option("streamable-http", "streamable HTTP")}
                        {option("sse", "HTTP + SSE (legacy)")}
                    </select>
                    {transport_error.map(|message| view! {
                        <p id="transport-error" data-testid="error-transport" class="mt-1 text-sm text-red-800 dark:text-red-300">{message}</p>
                    })}
                </div>
                <FormField name="env" label="Environment" value=form.env.clone() errors=errors.clone() rows=3
                    hint="One NAME=value per line. Secrets only as references: NAME=secret:secret-name/key." />
            </fieldset>
            <fieldset class="grid gap-3 sm:grid-cols-2">
                <legend class="font-semibold">"Ports, permissions and resources"</legend>
                <FormField name="port" label="Port" value=form.port.clone() errors=errors.clone()
                    hint="The Service port clients use (default 8080)." />
                <FormField name="mcp_port" label="Container port" value=form.mcp_port.clone() errors=errors.clone()
                    hint="The port the server listens on in its container (default 8080)." />
                <div class="sm:col-span-2">
                    <FormField name="permission_profile" label="Permission profile" value=form.permission_profile.clone() errors=errors.clone()
                        hint="none (no network, the default), network, or configmap:NAME[/KEY] for a ToolHive profile in a ConfigMap." />
                </div>
                {f("cpu_request", "CPU request", &form.cpu_request)}
                {f("memory_request", "Memory request", &form.memory_request)}
                {f("cpu_limit", "CPU limit", &form.cpu_limit)}
                {f("memory_limit", "Memory limit", &form.memory_limit)}
            </fieldset>
            {(!form.extra_spec.is_empty()).then(|| view! {
                <input type="hidden" name="extra_spec" value=form.extra_spec.clone() />
                <p class="text-sm" data-testid="extra-spec">
                    "Kept as they are (paste a manifest to change them): " <code class="break-all">{form.extra_spec.clone()}</code>
                </p>
            })}
            <fieldset class="grid gap-3">
                <legend class="font-semibold">"Or paste an MCPServer manifest"</legend>
                <FormField name="manifest" label="MCPServer YAML" value=form.manifest.clone() errors=errors.clone() rows=8
                    hint="When given, the manifest is proposed instead of the fields above; Apiary's metadata goes into apiary.dev/ annotations." />
            </fieldset>
            <div>
                <button type="submit" class="rounded bg-slate-800 px-3 py-1 text-white dark:bg-slate-200 dark:text-slate-900">
                    {if update { "Propose the change" } else { "Propose the server" }}
                </button>
            </div>
        </form>
        <YamlPreview asked rendered=preview />
    }
    .into_any()
}

/// The retire form of a server: an optional replacement and a message for consumers.
#[component]
pub fn RetireFormView(
    /// The server's namespace.
    namespace: String,
    /// The server's name.
    name: String,
    /// The values of a refused post.
    replacement: String,
    /// The message of a refused post.
    message: String,
    /// The refusals of the previous post.
    errors: Vec<FormError>,
) -> impl IntoView {
    view! {
        <ErrorSummary errors=errors.clone() fields=RETIRE_FIELDS />
        <form method="post" action=ProposeServer::url() class="mt-4 grid gap-3" data-testid="retire-form" aria-label="Propose retiring">
            <input type="hidden" name="kind" value="retire" />
            <input type="hidden" name="namespace" value=namespace />
            <input type="hidden" name="name" value=name />
            <FormField name="replacement" label="Replacement server (optional)" value=replacement errors=errors.clone()
                hint="namespace/name of the server consumers should use instead." />
            <FormField name="message" label="Message for consumers" value=message errors=errors rows=2 />
            <div>
                <button type="submit" class="rounded border border-red-400 px-3 py-1 text-red-800 dark:text-red-200">"Propose retiring"</button>
            </div>
        </form>
    }
    .into_any()
}
