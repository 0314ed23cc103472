//! The version page's share form: a link for the whole version or one
//! file, with an expiry, an optional download limit and a note. The
//! server checks everything again; the form only explains mistakes early.

use leptos::prelude::*;

use crate::shares::api::{CreateShare, CreatedShare};
use crate::shares::browser::create_share;
use crate::shares::copy::CopyButton;
use crate::upload::plan::human_time;

/// Hours a link lives unless the user says otherwise.
pub const DEFAULT_EXPIRY_HOURS: u64 = 24;

/// The longest a link may live: 7 days.
pub const MAX_EXPIRY_HOURS: u64 = 168;

/// The form's fields as typed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShareFields {
    /// A path of the version, or empty for the whole version.
    pub file: String,
    pub expiry_hours: String,
    pub max_downloads: String,
    pub note: String,
}

/// The creation request the fields describe, or what to fix.
pub fn share_request(
    model: &str,
    version: u64,
    fields: &ShareFields,
) -> Result<CreateShare, String> {
    // Whole hours from 1 to 168.
    let hours = fields.expiry_hours.trim();
    let hours = match hours.parse::<u64>() {
        Ok(hours) if (1..=MAX_EXPIRY_HOURS).contains(&hours) => hours,
        _ => {
            return Err(format!(
                "The expiry must be a whole number of hours from 1 to {MAX_EXPIRY_HOURS} \
                 (7 days), not '{hours}'."
            ));
        }
    };

    // Empty means no limit; otherwise at least one download.
    let limit = fields.max_downloads.trim();
    let max_downloads = match limit {
        "" => None,
        text => match text.parse::<u32>() {
            Ok(limit) if limit >= 1 => Some(limit),
            _ => {
                return Err(format!(
                    "The download limit must be a whole number of at least 1, or empty for \
                     no limit, not '{text}'."
                ));
            }
        },
    };

    let file = (!fields.file.is_empty()).then(|| fields.file.clone());
    Ok(CreateShare {
        model: model.to_owned(),
        version,
        file,
        expires_in: Some(hours * 3600),
        max_downloads,
        note: fields.note.trim().to_owned(),
    })
}

/// The share panel: a button that opens the form, the form, and the new
/// link once created. `ready` turns true once the page is hydrated.
#[component]
pub fn ShareForm(
    model: String,
    version: u64,
    files: Vec<String>,
    csrf_token: String,
    ready: Signal<bool>,
) -> impl IntoView {
    let open = RwSignal::new(false);
    let file = RwSignal::new(String::new());
    let hours = RwSignal::new(DEFAULT_EXPIRY_HOURS.to_string());
    let limit = RwSignal::new(String::new());
    let note = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let created = RwSignal::new(None::<CreatedShare>);

    // One request at a time; a new link replaces the previous answer.
    let on_create = move |_| {
        let fields = ShareFields {
            file: file.get(),
            expiry_hours: hours.get(),
            max_downloads: limit.get(),
            note: note.get(),
        };
        let request = match share_request(&model, version, &fields) {
            Ok(request) => request,
            Err(message) => {
                error.set(Some(message));
                return;
            }
        };
        busy.set(true);
        error.set(None);
        created.set(None);
        create_share(csrf_token.clone(), request, move |answer| {
            _ = busy.try_set(false);
            match answer {
                Ok(share) => _ = created.try_set(Some(share)),
                Err(message) => _ = error.try_set(Some(message)),
            }
        });
    };
    let options = files
        .into_iter()
        .map(|path| {
            let label = path.clone();
            view! { <option value=path>{label}</option> }
        })
        .collect_view();

    view! {
        <section class="panel share" data-testid="share-panel">
            <h2>"Share"</h2>
            <p class="hint">
                "A share link lets someone without a Coffer account download this version or "
                "one of its files until the link expires or you revoke it. Every use is recorded."
            </p>
            <button
                type="button"
                data-testid="share-open"
                hidden=move || open.get()
                disabled=move || !ready.get()
                on:click=move |_| open.set(true)
            >
                "Create a share link"
            </button>
            <div class="share-form" hidden=move || !open.get()>
                <div class="fields">
                    <label for="share-file">"What"</label>
                    <select
                        id="share-file"
                        data-testid="share-file"
                        on:change=move |event| file.set(event_target_value(&event))
                    >
                        <option value="" selected>"The whole version"</option>
                        {options}
                    </select>

                    <label for="share-expiry">"Expires in"</label>
                    <div>
                        <input
                            id="share-expiry"
                            data-testid="share-expiry"
                            type="number"
                            min="1"
                            max=MAX_EXPIRY_HOURS.to_string()
                            prop:value=move || hours.get()
                            on:input=move |event| hours.set(event_target_value(&event))
                        />
                        " hours"
                        <p class="hint">"At most 168 hours (7 days)."</p>
                    </div>

                    <label for="share-limit">"Download limit"</label>
                    <div>
                        <input
                            id="share-limit"
                            data-testid="share-limit"
                            type="number"
                            min="1"
                            placeholder="no limit"
                            prop:value=move || limit.get()
                            on:input=move |event| limit.set(event_target_value(&event))
                        />
                        <p class="hint">"Leave empty for no limit."</p>
                    </div>

                    <label for="share-note">"Note"</label>
                    <input
                        id="share-note"
                        data-testid="share-note"
                        placeholder="For the audit team's review"
                        prop:value=move || note.get()
                        on:input=move |event| note.set(event_target_value(&event))
                    />
                </div>
                <div class="actions">
                    <button
                        type="button"
                        class="primary"
                        data-testid="share-create"
                        disabled=move || busy.get() || !ready.get()
                        on:click=on_create
                    >
                        "Create link"
                    </button>
                </div>
                <p class="error" data-testid="share-error" role="alert">{move || error.get()}</p>
                {move || created.get().map(|share| view! { <CreatedLink share /> })}
            </div>
        </section>
    }
    .into_any()
}

/// A link just created: the only time its address is ever shown.
#[component]
fn CreatedLink(share: CreatedShare) -> impl IntoView {
    view! {
        <div class="share-result" data-testid="share-result">
            <label for="share-url">"Link"</label>
            <div class="share-url">
                <input
                    id="share-url"
                    data-testid="share-url"
                    readonly
                    value=share.url.clone()
                    on:focus=move |event| select_all(&event)
                />
                <CopyButton
                    text=share.url.clone()
                    label="Copy the link".to_owned()
                    test_id="copy-share-url"
                />
            </div>
            <p class="hint">
                "Expires " {human_time(&share.expires_at)}
                ". Coffer shows this link only now; it keeps no copy of it, only a way to "
                "recognise it. Revoke it any time on "
                <a href="/shares">"Share links"</a> "."
            </p>
        </div>
    }
    .into_any()
}

/// Selects an input's whole text, so one keystroke copies a link.
fn select_all(event: &leptos::ev::FocusEvent) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if let Some(input) = event
            .target()
            .and_then(|target| target.dyn_into::<web_sys::HtmlInputElement>().ok())
        {
            input.select();
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = event;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(file: &str, hours: &str, limit: &str, note: &str) -> ShareFields {
        ShareFields {
            file: file.into(),
            expiry_hours: hours.into(),
            max_downloads: limit.into(),
            note: note.into(),
        }
    }

    #[test]
    fn the_defaults_share_the_whole_version_for_a_day_without_limit() {
        let request = share_request("fraud", 2, &fields("", "24", "", "")).expect("valid");

        assert_eq!(
            request,
            CreateShare {
                model: "fraud".into(),
                version: 2,
                file: None,
                expires_in: Some(86_400),
                max_downloads: None,
                note: String::new(),
            }
        );
    }

    #[test]
    fn one_file_with_a_limit_and_a_note() {
        let request = share_request(
            "fraud",
            2,
            &fields("w/model.pkl", " 168 ", "5", "  for bob "),
        )
        .expect("valid");

        assert_eq!(request.file.as_deref(), Some("w/model.pkl"));
        assert_eq!(request.expires_in, Some(604_800));
        assert_eq!(request.max_downloads, Some(5));
        assert_eq!(request.note, "for bob");
    }

    #[test]
    fn expiries_outside_one_hour_to_seven_days_are_explained() {
        for hours in ["0", "169", "", "1.5", "-3", "a day"] {
            let error = share_request("m", 1, &fields("", hours, "", "")).expect_err(hours);
            assert!(error.contains("from 1 to 168"), "{hours}: {error}");
        }
    }

    #[test]
    fn a_limit_must_allow_at_least_one_download() {
        for limit in ["0", "-1", "many", "2.5"] {
            let error = share_request("m", 1, &fields("", "24", limit, "")).expect_err(limit);
            assert!(error.contains("at least 1"), "{limit}: {error}");
        }
    }
}
