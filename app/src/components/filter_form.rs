use leptos::prelude::*;

/// A GET form of filters (the catalog's, a server page's tool filter), an island: the browser
/// loads the filtered page from the server, and this form says the results are updating until
/// it arrives. A select applies its choice at once when picked with the pointer; with the
/// keyboard, arrow keys only move the choice and Enter applies it (WCAG 3.2.2: no navigation on
/// each arrow key). Without JavaScript it is a plain form with a submit button.
#[island]
pub fn FilterForm(
    /// Where the form goes: the page it filters.
    action: String,
    /// The fields and the submit button.
    children: Children,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    // Whether the last change of a select came from the keyboard.
    let by_keyboard = StoredValue::new(false);
    // A page the browser brings back from its history cache is not loading anything.
    let _ = window_event_listener(leptos::ev::pageshow, move |_| busy.set(false));
    view! {
        <form method="get" action=action
            on:submit=move |_| busy.set(true)
            on:pointerdown=move |_| by_keyboard.set_value(false)
            on:keydown=move |event: leptos::ev::KeyboardEvent| {
                if !from_select(&event) {
                    return;
                }
                if event.key() == "Enter" {
                    event.prevent_default();
                    submit(&event);
                } else {
                    by_keyboard.set_value(true);
                }
            }
            on:change=move |event: leptos::ev::Event| {
                if from_select(&event) && !by_keyboard.get_value() {
                    submit(&event);
                }
            }>
            {children()}
            <p role="status" aria-live="polite" data-testid="updating"
                class=move || if busy.get() { "mt-2 text-sm text-slate-600 dark:text-slate-400" } else { "sr-only" }>
                {move || busy.get().then_some("Updating the results…")}
            </p>
        </form>
    }
}

/// Whether `event` came from a select.
fn from_select(event: &leptos::ev::Event) -> bool {
    use leptos::wasm_bindgen::JsCast;
    event
        .target()
        .is_some_and(|target| target.dyn_into::<web_sys::HtmlSelectElement>().is_ok())
}

/// Submits the form `event` came from, as if its button were pressed (so `submit` fires).
fn submit(event: &leptos::ev::Event) {
    use leptos::wasm_bindgen::JsCast;
    let form = event
        .current_target()
        .and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok());
    if let Some(form) = form {
        let _ = form.request_submit();
    }
}
