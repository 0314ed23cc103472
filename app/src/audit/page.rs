//! `/audit`: the compliance dashboard. Three sources as tabs and a combined
//! timeline, filters sent as a plain GET form (so the address says what is
//! shown and every view renders on the server), cursor paging, a coverage
//! strip, events per day, exports and the trail's verification. Nothing on
//! this page changes anything.
//!
//! Every value shown comes from records and logs that outsiders can shape
//! (user agents, keys, referers); Leptos escapes all text, and nothing here
//! is inserted as markup.

use crate::access::Access;
use crate::audit::api::{
    AuditEventRow, AuditQuery, AuditView, Coverage, DayCount, Source, VerifyReport,
};
use crate::components::Gate;
use crate::server_fns::AppError;
use crate::upload::plan::human_time;
use leptos::prelude::*;

/// What the page shows for an address, for compliance staff and admins.
#[server(prefix = "/_srv", endpoint = "load_audit_view")]
pub async fn load_audit_view(query: AuditQuery) -> Result<AuditView, AppError> {
    use crate::models::catalog::{caller, catalog};
    use crate::session::Viewer;

    caller(Viewer::may_audit)?;
    catalog()?.audit_view(query).await.map_err(AppError::from)
}

/// Walks the whole portal trail and reports whether it is intact.
#[server(prefix = "/_srv", endpoint = "verify_trail")]
pub async fn verify_trail() -> Result<VerifyReport, AppError> {
    use crate::models::catalog::{caller, catalog};
    use crate::session::Viewer;

    caller(Viewer::may_audit)?;
    catalog()?.verify_trail().await.map_err(AppError::from)
}

/// The query an address names; unknown sources read as the portal trail
/// and limits are kept in bounds, so a hand-edited address still shows a
/// page (the server checks the rest and says what is wrong).
pub fn query_from(param: impl Fn(&str) -> Option<String>) -> AuditQuery {
    let text = |name: &str| param(name).unwrap_or_default().trim().to_owned();
    AuditQuery {
        source: param("source")
            .and_then(|name| Source::from_name(&name))
            .unwrap_or_default(),
        from: text("from"),
        to: text("to"),
        actor: text("actor"),
        action: text("action"),
        model: text("model"),
        outcome: text("outcome"),
        limit: param("limit")
            .and_then(|limit| limit.trim().parse::<u32>().ok())
            .map(|limit| limit.clamp(1, 200)),
        cursor: text("cursor"),
    }
}

/// The query string of a query, empty filters left out.
pub fn query_string(query: &AuditQuery) -> String {
    // Strings and numbers always encode; the fallback is unreachable.
    serde_urlencoded::to_string(query).unwrap_or_default()
}

/// `/audit` with `query`.
pub fn page_href(query: &AuditQuery) -> String {
    format!("/audit?{}", query_string(query))
}

/// `/audit`: compliance staff and admins only.
#[component]
pub fn AuditPage() -> impl IntoView {
    view! {
        <Gate access=Access::Audit>
            <Dashboard />
        </Gate>
    }
}

#[component]
fn Dashboard() -> impl IntoView {
    let params = leptos_router::hooks::use_query_map();
    let query = Memo::new(move |_| params.with(|params| query_from(|key| params.get(key))));
    let view = Resource::new(
        move || query.get(),
        |query| async move {
            let answer = load_audit_view(query.clone()).await;
            (query, answer)
        },
    );
    let ready = RwSignal::new(false);
    Effect::new(move |_| ready.set(true));

    view! {
        <section
            class="panel audit"
            data-testid="audit-page"
            data-ready=move || ready.get().to_string()
        >
            <h1>"Audit"</h1>
            <p class="hint">
                "Read-only. Coffer's own trail, AWS CloudTrail and the bucket's access logs; "
                "nothing here can change a record."
            </p>
            <Tabs query />
            <FilterForm query />
            <Suspense fallback=|| view! { <p class="hint">"Loading…"</p> }>
                {move || {
                    view.get()
                        .map(|(query, answer)| match answer {
                            Ok(view) => view! { <Results view query /> }.into_any(),
                            Err(error) => {
                                view! {
                                    <p class="error" role="alert" data-testid="audit-error">
                                        {error.to_string()}
                                    </p>
                                }
                                    .into_any()
                            }
                        })
                }}
            </Suspense>
            {move || {
                (query.with(|query| query.source) == Source::Portal)
                    .then(|| view! { <VerifyPanel ready /> })
            }}
        </section>
    }
}

/// One tab per source and the combined timeline, keeping the filters.
#[component]
fn Tabs(query: Memo<AuditQuery>) -> impl IntoView {
    let tabs = Source::ALL
        .into_iter()
        .map(|source| {
            let href = move || {
                page_href(&AuditQuery {
                    source,
                    ..query.get().first_page()
                })
            };
            let current = move || query.with(|query| query.source == source);
            view! {
                <a
                    href=href
                    class="tab"
                    class:current=current
                    aria-current=move || current().then_some("page")
                    data-testid=format!("audit-tab-{}", source.as_str())
                >
                    {source.label()}
                </a>
            }
        })
        .collect_view();
    view! { <nav class="tabs" aria-label="Sources">{tabs}</nav> }
}

/// The filters, as a GET form: its address is the view.
#[component]
fn FilterForm(query: Memo<AuditQuery>) -> impl IntoView {
    let field = move |get: fn(&AuditQuery) -> String| move || query.with(get);
    let source = move || query.with(|query| query.source.as_str().to_owned());
    let outcome = move || query.with(|query| query.outcome.clone());
    let outcomes = ["", "success", "failure", "denied"]
        .into_iter()
        .map(|value| {
            let label = if value.is_empty() { "any" } else { value };
            view! {
                <option value=value selected=move || outcome() == value>{label}</option>
            }
        })
        .collect_view();

    view! {
        <form class="audit-filters" method="get" action="/audit" data-testid="audit-filters">
            <input type="hidden" name="source" value=source />
            <label>
                "From "
                <input
                    name="from"
                    data-testid="filter-from"
                    placeholder="2026-12-01"
                    value=field(|query| query.from.clone())
                />
            </label>
            <label>
                "To "
                <input
                    name="to"
                    data-testid="filter-to"
                    placeholder="2026-12-31"
                    value=field(|query| query.to.clone())
                />
            </label>
            <label>
                "Actor "
                <input
                    name="actor"
                    data-testid="filter-actor"
                    value=field(|query| query.actor.clone())
                />
            </label>
            <label>
                "Action "
                <input
                    name="action"
                    data-testid="filter-action"
                    placeholder="download, GetObject…"
                    value=field(|query| query.action.clone())
                />
            </label>
            <label>
                "Model "
                <input
                    name="model"
                    data-testid="filter-model"
                    value=field(|query| query.model.clone())
                />
            </label>
            <label>
                "Outcome "
                <select name="outcome" data-testid="filter-outcome">{outcomes}</select>
            </label>
            <button type="submit" class="primary" data-testid="filter-go">"Filter"</button>
            <a
                href=move || page_href(&AuditQuery { source: query.with(|q| q.source), ..AuditQuery::default() })
                data-testid="filter-clear"
            >
                "Clear"
            </a>
        </form>
    }
}

/// Coverage, the chart, the rows and the way on.
#[component]
fn Results(view: AuditView, query: AuditQuery) -> impl IntoView {
    let AuditView {
        page,
        coverage,
        days,
    } = view;
    let export = |format: &str| {
        format!(
            "/api/v1/audit/events.{format}?{}",
            query_string(&query.first_page())
        )
    };
    let next = page.next_cursor.clone().map(|cursor| {
        page_href(&AuditQuery {
            cursor,
            ..query.clone()
        })
    });
    let first = (!query.cursor.is_empty()).then(|| page_href(&query.first_page()));
    let malformed = page.malformed_lines;
    let notes = page.notes.clone();
    let empty = page.events.is_empty();
    let rows = page
        .events
        .into_iter()
        .map(|row| view! { <EventRow row /> })
        .collect_view();

    view! {
        <CoverageStrip coverage />
        <DayChart days />
        <p class="exports">
            "Export this view: "
            <a href=export("csv") data-testid="export-csv" rel="external" download="">"CSV"</a>
            " · "
            <a href=export("json") data-testid="export-json" rel="external" download="">"JSON"</a>
        </p>
        {(malformed > 0)
            .then(|| {
                view! {
                    <p class="warning" data-testid="malformed-lines">
                        {format!("{malformed} log line(s) could not be read and are not shown.")}
                    </p>
                }
            })}
        <ul class="notes" data-testid="audit-notes">
            {notes.into_iter().map(|note| view! { <li>{note}</li> }).collect_view()}
        </ul>
        <div class="table-scroll">
            <table class="audit-events" data-testid="audit-events">
                <thead>
                    <tr>
                        <th>"Time"</th>
                        <th>"Source"</th>
                        <th>"Actor"</th>
                        <th>"Action"</th>
                        <th>"Outcome"</th>
                        <th>"Model"</th>
                        <th>"Path"</th>
                        <th>"Share"</th>
                        <th>"Request"</th>
                        <th>"Details"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        {empty.then(|| view! { <p class="hint" data-testid="audit-empty">"No events on this page."</p> })}
        <nav class="pager">
            {first.map(|href| view! { <a href=href data-testid="audit-first">"First page"</a> })}
            {next.map(|href| view! { <a href=href data-testid="audit-next">"Older events"</a> })}
        </nav>
    }
}

/// One event; denials stand out.
#[component]
fn EventRow(row: AuditEventRow) -> impl IntoView {
    let denied = row.is_denial();
    let model = match (&row.model, row.version) {
        (Some(model), Some(version)) => format!("{model} v{version}"),
        (Some(model), None) => model.clone(),
        _ => String::new(),
    };
    let mut details: Vec<String> = row
        .fields
        .iter()
        .filter(|(name, _)| name.as_str() != "hash")
        .map(|(name, value)| format!("{name}: {value}"))
        .collect();
    if let Some(detail) = &row.detail {
        details.insert(0, detail.clone());
    }
    let joined = row
        .portal
        .as_ref()
        .map(|join| format!("minted for {} ({} #{})", join.actor, join.action, join.seq));
    let seq = row.seq.map(|seq| format!("#{seq} "));

    view! {
        <tr class:denied=denied data-testid="audit-row" data-outcome=row.outcome.clone()>
            <td class="nowrap">{human_time(&row.time)}</td>
            <td>{row.source.label()}</td>
            <td data-testid="row-actor">{row.actor.clone()}</td>
            <td data-testid="row-action">{seq}{row.action.clone()}</td>
            <td>
                {if denied {
                    view! { <span class="badge danger">"denied"</span> }.into_any()
                } else {
                    view! { <span>{row.outcome.clone()}</span> }.into_any()
                }}
            </td>
            <td>{model}</td>
            <td class="mono">{row.path.clone()}</td>
            <td class="mono">{row.share_id.clone()}</td>
            <td class="mono">{row.request_id.clone()}</td>
            <td data-testid="row-details">
                {joined.map(|joined| view! { <p class="joined">{joined}</p> })}
                <ul class="details">
                    {details.into_iter().map(|detail| view! { <li>{detail}</li> }).collect_view()}
                </ul>
            </td>
        </tr>
    }
}

/// Which stretch of time each source covers and what it lacks.
#[component]
fn CoverageStrip(coverage: Vec<Coverage>) -> impl IntoView {
    let rows = coverage
        .into_iter()
        .map(|row| {
            let span = match (&row.from, &row.to) {
                (Some(from), Some(to)) => format!("{} – {}", human_time(from), human_time(to)),
                _ => "nothing yet".to_owned(),
            };
            view! {
                <li class=format!("coverage {}", row.state) data-testid="coverage-row">
                    <strong>{row.source.label()}" · "{row.label}</strong>
                    " "
                    <span>{span}</span>
                    " — "
                    <span class="hint">{row.note}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <section aria-label="Coverage">
            <h2>"Coverage"</h2>
            <ul class="coverage-strip" data-testid="coverage">{rows}</ul>
        </section>
    }
}

/// Events per day as bars drawn with SVG attributes (the page's style
/// policy allows no inline styles).
#[component]
fn DayChart(days: Vec<DayCount>) -> impl IntoView {
    const HEIGHT: u64 = 60;
    const BAR: usize = 18;
    let highest = days.iter().map(|day| day.count).max().unwrap_or(0).max(1);
    let width = (days.len() * BAR).max(BAR);
    let bars = days
        .iter()
        .enumerate()
        .map(|(index, day)| {
            let height = (day.count * HEIGHT).div_ceil(highest);
            let label = format!(
                "{}: {}{} event(s)",
                day.day,
                if day.at_least { "at least " } else { "" },
                day.count
            );
            view! {
                <rect
                    x=(index * BAR + 2).to_string()
                    y=(HEIGHT - height).to_string()
                    width=(BAR - 4).to_string()
                    height=height.to_string()
                    class="bar"
                    data-testid="day-bar"
                    data-day=day.day.clone()
                    data-count=day.count.to_string()
                >
                    <title>{label}</title>
                </rect>
            }
        })
        .collect_view();
    let first = days.first().map(|day| day.day.clone()).unwrap_or_default();
    let last = days.last().map(|day| day.day.clone()).unwrap_or_default();

    view! {
        <section aria-label="Events per day" class="day-chart">
            <h2>"Events per day"</h2>
            <svg
                width=width.to_string()
                height=HEIGHT.to_string()
                viewBox=format!("0 0 {width} {HEIGHT}")
                role="img"
                aria-label="Events per day"
            >
                {bars}
            </svg>
            <p class="hint">{first}" to "{last}" (UTC)"</p>
        </section>
    }
}

/// Verifies the trail on request; works once the page is hydrated.
#[component]
fn VerifyPanel(ready: RwSignal<bool>) -> impl IntoView {
    let verify = Action::new(|_: &()| verify_trail());
    let pending = verify.pending();
    let result = verify.value();

    view! {
        <section class="verify" aria-label="Verify the trail">
            <h2>"Tamper evidence"</h2>
            <p class="hint">
                "Verification reads every record and checks each one's hash and its link to "
                "the one before: it names the first record that was altered, removed or moved."
            </p>
            <button
                type="button"
                data-testid="audit-verify"
                disabled=move || pending.get() || !ready.get()
                on:click=move |_| {
                    verify.dispatch(());
                }
            >
                {move || if pending.get() { "Verifying…" } else { "Verify the trail" }}
            </button>
            <div data-testid="verify-result" aria-live="polite">
                {move || result.get().map(|outcome| match outcome {
                    Ok(report) if report.intact => view! {
                        <p class="ok" data-intact="true">
                            {format!(
                                "Intact: {} record(s) checked; the newest is #{} with hash {}.",
                                report.checked, report.head_seq, report.head_hash
                            )}
                        </p>
                    }
                    .into_any(),
                    Ok(report) => {
                        let bad = report
                            .first_bad
                            .map(|bad| format!("record #{} ({}): {}", bad.seq, bad.key, bad.reason))
                            .unwrap_or_default();
                        view! {
                            <p class="error" data-intact="false">
                                {format!(
                                    "Not intact: {} record(s) checked; the first bad one is {bad}.",
                                    report.checked
                                )}
                            </p>
                        }
                        .into_any()
                    }
                    Err(error) => view! { <p class="error">{error.to_string()}</p> }.into_any(),
                })}
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_round_trips_without_defaults() {
        let query = AuditQuery {
            source: Source::S3,
            actor: "alice smith".into(),
            outcome: "denied".into(),
            ..AuditQuery::default()
        };
        let href = page_href(&query);
        assert_eq!(href, "/audit?source=s3&actor=alice+smith&outcome=denied");
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(href.trim_start_matches("/audit?")).expect("decodes");
        let parsed = query_from(|name| {
            pairs
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        });
        assert_eq!(parsed, query);
        assert_eq!(page_href(&AuditQuery::default()), "/audit?source=portal");
    }

    #[test]
    fn unknown_sources_read_as_the_portal_and_limits_stay_in_bounds() {
        let query = query_from(|name| match name {
            "source" => Some("mainframe".into()),
            "limit" => Some("100000".into()),
            _ => None,
        });
        assert_eq!(query.source, Source::Portal);
        assert_eq!(query.limit, Some(200));
    }
}
