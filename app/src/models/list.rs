//! `/models`: every model, searchable by name and sorted by last update or
//! by name, one page at a time. The search is a plain GET form, so it works
//! before the page is hydrated and its address can be shared.

use leptos::ev::Event as DomEvent;
use leptos::prelude::*;
use serde::Serialize;

use crate::access::Access;
use crate::components::{Gate, use_viewer};
use crate::models::api::{ModelList, ModelQuery, ModelSort, ModelSummary};
use crate::server_fns::AppError;
use crate::upload::plan::human_time;

/// Most rows a page may ask for through `limit`, as the API allows.
pub const MAX_LIMIT: u32 = 100;

/// How much of a description a row shows, in characters.
const SUMMARY_CHARS: usize = 120;

/// A page of models, for anyone who may browse.
#[server(prefix = "/_srv", endpoint = "list_models")]
pub async fn list_models(query: ModelQuery) -> Result<ModelList, AppError> {
    use crate::models::catalog::{caller, catalog};
    use crate::session::Viewer;

    caller(Viewer::may_browse)?;
    catalog()?.models(query).await.map_err(AppError::from)
}

/// The listing the address asks for: `q`, `sort`, `cursor` and `limit`,
/// read through `param`. An unknown sort reads as the default and a limit
/// is kept in bounds, so a hand-edited address still shows a page.
pub fn query_from(param: impl Fn(&str) -> Option<String>) -> ModelQuery {
    let sort = match param("sort").as_deref() {
        Some("name") => ModelSort::Name,
        _ => ModelSort::Updated,
    };
    let limit = param("limit")
        .and_then(|text| text.trim().parse::<u32>().ok())
        .map(|limit| limit.clamp(1, MAX_LIMIT));
    ModelQuery {
        q: param("q").unwrap_or_default().trim().to_owned(),
        sort,
        cursor: param("cursor").filter(|cursor| !cursor.is_empty()),
        limit,
    }
}

/// The query string of a listing's address, leaving out what is default.
#[derive(Serialize)]
struct Address<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    q: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sort: Option<ModelSort>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<u32>,
}

/// The address of the same search and sort at `cursor` (`None`: the first
/// page).
pub fn page_href(query: &ModelQuery, cursor: Option<&str>) -> String {
    let address = Address {
        q: &query.q,
        sort: (query.sort != ModelSort::default()).then_some(query.sort),
        cursor,
        limit: query.limit,
    };

    // Plain strings and numbers always encode; the fallback is unreachable.
    let encoded = serde_urlencoded::to_string(&address).unwrap_or_default();
    if encoded.is_empty() {
        "/models".to_owned()
    } else {
        format!("/models?{encoded}")
    }
}

/// A description's first non-empty line, cut at `max` characters with an
/// ellipsis.
pub fn summary_line(description: &str, max: usize) -> String {
    let line = description
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or_default();
    if line.chars().count() <= max {
        return line.to_owned();
    }
    let cut: String = line.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", cut.trim_end())
}

/// `/models`: every role.
#[component]
pub fn ModelsPage() -> impl IntoView {
    view! {
        <Gate access=Access::Browse>
            <ModelBrowser />
        </Gate>
    }
}

/// The search form and the page of models the address names.
#[component]
fn ModelBrowser() -> impl IntoView {
    let params = leptos_router::hooks::use_query_map();
    let query = Memo::new(move |_| params.with(|params| query_from(|key| params.get(key))));
    // Each answer keeps the query it answers, so its paging links never
    // mix an old page with a newer address.
    let models = Resource::new(
        move || query.get(),
        |query| async move {
            let answer = list_models(query.clone()).await;
            (query, answer)
        },
    );
    let ready = RwSignal::new(false);

    // Effects run in the browser only: the sort choice submits itself from
    // then on.
    Effect::new(move |_| ready.set(true));

    view! {
        <section
            class="panel models-list"
            data-testid="models-page"
            data-ready=move || ready.get().to_string()
        >
            <h1>"Models"</h1>
            <SearchForm query />
            <Suspense fallback=|| view! { <p class="hint">"Loading…"</p> }>
                {move || {
                    models
                        .get()
                        .map(|(query, answer)| match answer {
                            Ok(list) => view! { <ModelRows list query /> }.into_any(),
                            Err(error) => {
                                view! {
                                    <p class="error" role="alert" data-testid="models-error">
                                        {error.to_string()}
                                    </p>
                                }
                                    .into_any()
                            }
                        })
                }}
            </Suspense>
        </section>
    }
}

/// Search words and sort order, sent as a GET so the address says what is
/// shown.
#[component]
fn SearchForm(query: Memo<ModelQuery>) -> impl IntoView {
    let q = move || query.with(|query| query.q.clone());
    let by_name = move || query.with(|query| query.sort == ModelSort::Name);
    let limit = move || query.with(|query| query.limit);

    view! {
        <form class="model-search" method="get" action="/models" role="search">
            <input
                type="search"
                name="q"
                data-testid="models-search"
                aria-label="Search models by name"
                placeholder="Search by name"
                value=q
            />
            <label>
                "Sort by "
                <select name="sort" data-testid="models-sort" on:change=submit_own_form>
                    <option value="updated" selected=move || !by_name()>"last update"</option>
                    <option value="name" selected=by_name>"name"</option>
                </select>
            </label>
            {move || {
                limit()
                    .map(|limit| view! { <input type="hidden" name="limit" value=limit /> })
            }}
            <button type="submit" class="primary" data-testid="models-go">"Search"</button>
        </form>
        <p class="hint" data-testid="search-order" hidden=move || q().is_empty()>
            "Matches are listed by the word of their name that matches, then by name; "
            "the sort applies to the full list."
        </p>
    }
}

/// Sends the form a control belongs to, as its submit button would.
fn submit_own_form(event: DomEvent) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;

        let form = event
            .target()
            .and_then(|target| target.dyn_into::<web_sys::HtmlSelectElement>().ok())
            .and_then(|select| select.form());
        if let Some(form) = form {
            // A refused submit leaves the choice for the Search button.
            let _ = form.request_submit();
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = event;
}

/// A page of rows with its paging links, or why there are none.
#[component]
fn ModelRows(list: ModelList, query: ModelQuery) -> impl IntoView {
    if list.models.is_empty() {
        return view! { <EmptyListing query /> }.into_any();
    }

    let rows = list
        .models
        .into_iter()
        .map(|model| view! { <ModelRow model /> })
        .collect_view();
    let next = list.next_cursor.map(|cursor| {
        let href = page_href(&query, Some(&cursor));
        view! { <a class="button" data-testid="models-next" href=href>"Next page"</a> }
    });
    let first = query.cursor.is_some().then(|| {
        let href = page_href(&query, None);
        view! { <a class="button" data-testid="models-first" href=href>"First page"</a> }
    });

    view! {
        <table class="listing">
            <thead>
                <tr>
                    <th>"Model"</th>
                    <th>"Description"</th>
                    <th>"Latest"</th>
                    <th class="count">"Versions"</th>
                    <th>"Updated"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        <nav class="pager" aria-label="Pages">{first}{next}</nav>
    }
    .into_any()
}

/// One model in the listing.
#[component]
fn ModelRow(model: ModelSummary) -> impl IntoView {
    let href = format!("/models/{}", model.name);
    let latest = model.latest_version.map(|version| {
        let href = format!("/models/{}/versions/{version}", model.name);
        view! { <a href=href data-testid="model-latest">"version "{version}</a> }
    });
    let summary = summary_line(&model.description, SUMMARY_CHARS);

    view! {
        <tr data-testid="model-row" data-model=model.name.clone()>
            <td><a class="name" href=href>{model.name.clone()}</a></td>
            <td class="summary">{summary}</td>
            <td>{latest}</td>
            <td class="count">{model.versions}</td>
            <td class="time">{human_time(&model.updated_at)}</td>
        </tr>
    }
}

/// No rows: nothing matches the search, or there is nothing yet.
#[component]
fn EmptyListing(query: ModelQuery) -> impl IntoView {
    let may_upload = use_viewer().is_some_and(|viewer| viewer.may_upload());
    let searching = !query.q.is_empty();

    // A later page can come out empty when the last matches of an index
    // turn out to be repeats of earlier rows.
    let message = if query.cursor.is_some() {
        view! { "No more models." }.into_any()
    } else if searching {
        view! { "No models match." }.into_any()
    } else if may_upload {
        view! { "No models yet — " <a href="/upload">"upload one"</a> "." }.into_any()
    } else {
        view! { "No models yet." }.into_any()
    };
    let first = query.cursor.is_some().then(|| {
        let href = page_href(&query, None);
        view! { " " <a data-testid="models-first" href=href>"First page"</a> }
    });
    let clear = (searching && query.cursor.is_none()).then(|| {
        let href = page_href(
            &ModelQuery {
                q: String::new(),
                cursor: None,
                ..query
            },
            None,
        );
        view! { " " <a href=href>"Show every model"</a> }
    });
    view! { <p class="empty" data-testid="models-empty">{message}{first}{clear}</p> }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The query an address with these decoded parameters names.
    fn read(pairs: &[(&str, &str)]) -> ModelQuery {
        query_from(|wanted| {
            pairs
                .iter()
                .find(|(key, _)| *key == wanted)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn an_address_reads_as_the_query_it_names() {
        let query = read(&[
            ("q", " fraud "),
            ("sort", "name"),
            ("cursor", "abc"),
            ("limit", "2"),
        ]);
        assert_eq!(
            query,
            ModelQuery {
                q: "fraud".into(),
                sort: ModelSort::Name,
                cursor: Some("abc".into()),
                limit: Some(2),
            }
        );
    }

    #[test]
    fn odd_addresses_fall_back_to_defaults_and_bounds() {
        let query = read(&[("sort", "size"), ("limit", "5000"), ("cursor", "")]);
        assert_eq!(query.sort, ModelSort::Updated);
        assert_eq!(query.limit, Some(MAX_LIMIT));
        assert_eq!(query.cursor, None);
        assert_eq!(read(&[("limit", "0")]).limit, Some(1));
        assert_eq!(read(&[("limit", "x")]).limit, None);
    }

    #[test]
    fn paging_links_keep_the_search_and_encode_the_cursor() {
        let query = ModelQuery {
            q: "fraud det".into(),
            sort: ModelSort::Name,
            cursor: Some("old".into()),
            limit: Some(2),
        };
        assert_eq!(
            page_href(&query, Some("a+b/c=")),
            "/models?q=fraud+det&sort=name&cursor=a%2Bb%2Fc%3D&limit=2"
        );
        assert_eq!(
            page_href(&query, None),
            "/models?q=fraud+det&sort=name&limit=2"
        );
        assert_eq!(page_href(&ModelQuery::default(), None), "/models");
    }

    #[test]
    fn a_row_shows_the_first_line_shortened() {
        assert_eq!(summary_line("\n  Fraud model \nmore", 40), "Fraud model");
        assert_eq!(summary_line("", 40), "");
        assert_eq!(summary_line("abcdefghij", 5), "abcd…");
        assert_eq!(summary_line("ééééé", 5), "ééééé");
    }
}
