//! A button that copies a value (a SHA-256, a share link) and says so.

use std::time::Duration;

use leptos::prelude::*;

use crate::shares::browser::copy_text;

/// How long the button says what happened before it reads "Copy" again.
const FEEDBACK: Duration = Duration::from_millis(1500);

/// What the button says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Copied {
    Not,
    Yes,
    Failed,
}

/// Copies `text` to the clipboard on click and says "Copied" briefly.
/// `label` says what is copied, as the button's tooltip.
#[component]
pub fn CopyButton(text: String, label: String, test_id: &'static str) -> impl IntoView {
    let copied = RwSignal::new(Copied::Not);
    let on_click = move |_| {
        copy_text(text.clone(), move |worked| {
            // The page may have moved on by then; `try_` keeps that quiet.
            let outcome = if worked { Copied::Yes } else { Copied::Failed };
            _ = copied.try_set(outcome);
            set_timeout(
                move || {
                    _ = copied.try_set(Copied::Not);
                },
                FEEDBACK,
            );
        });
    };

    view! {
        <button
            type="button"
            class="copy"
            data-testid=test_id
            title=label
            on:click=on_click
        >
            {move || match copied.get() {
                Copied::Not => "Copy",
                Copied::Yes => "Copied",
                Copied::Failed => "Copy failed",
            }}
        </button>
    }
    .into_any()
}
