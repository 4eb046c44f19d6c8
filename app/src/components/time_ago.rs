use leptos::prelude::*;

use crate::model::moment::Moment;

/// A time as how long ago it was, with the exact time on hover (and read out after it by
/// screen readers).
#[component]
pub fn TimeAgo(moment: Moment) -> impl IntoView {
    let exact = format!(" ({})", moment.exact);
    view! {
        <time datetime=moment.iso title=moment.exact data-testid="time-ago">
            {moment.ago}<span class="sr-only">{exact}</span>
        </time>
    }
}
