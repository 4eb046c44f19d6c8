use leptos::prelude::*;

/// A block of text to copy: a `<pre>` anyone can select, plus a copy button that appears once
/// the island is hydrated (it needs the clipboard API).
#[island]
pub fn CopyableCode(
    /// What the code is, for the button's accessible name, such as `VS Code snippet`.
    label: String,
    /// The text.
    code: String,
) -> impl IntoView {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    // `None` until a copy was tried; then whether the browser says it worked.
    let copied = RwSignal::new(None::<bool>);
    let text = StoredValue::new(code.clone());
    let copy = move |_| {
        copied.set(None);
        write_to_clipboard(text.get_value(), copied);
    };
    view! {
        <div class="relative">
            <pre
                class="max-h-96 overflow-auto rounded bg-slate-100 p-3 text-xs dark:bg-slate-900"
                tabindex="0"
                aria-label=label.clone()
            ><code>{code}</code></pre>
            <div class="mt-1 flex items-center gap-2">
                <button
                    type="button"
                    hidden=move || !hydrated.get()
                    class="rounded border border-slate-300 px-2 py-0.5 text-xs hover:bg-slate-100 dark:border-slate-700 dark:hover:bg-slate-800"
                    aria-label=format!("Copy the {label}")
                    on:click=copy
                >
                    "Copy"
                </button>
                <span role="status" class="text-xs text-slate-600 dark:text-slate-400">
                    {move || copied.get().map(|done| if done {
                        "Copied to the clipboard."
                    } else {
                        "The browser did not allow copying: select the text and copy it yourself."
                    })}
                </span>
            </div>
        </div>
    }
}

/// Writes `text` to the clipboard and sets `copied` to what the browser answered (it may
/// refuse: no permission, the page not focused).
fn write_to_clipboard(text: String, copied: RwSignal<Option<bool>>) {
    #[cfg(feature = "hydrate")]
    {
        let written = window().navigator().clipboard().write_text(&text);
        leptos::task::spawn_local(async move {
            let done = wasm_bindgen_futures::JsFuture::from(written).await.is_ok();
            copied.set(Some(done));
        });
    }
    #[cfg(not(feature = "hydrate"))]
    {
        // Only a hydrated page has the button.
        let _ = (text, copied);
    }
}
