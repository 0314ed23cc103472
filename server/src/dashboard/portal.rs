//! Coffer's own trail as dashboard rows.

use async_trait::async_trait;
use coffer_app::audit::api::{AuditEventRow, Source};

use super::{Event, EventStream, Filters, StreamPage, rfc3339};
use crate::audit::query::{self, ForeignCursor};
use crate::audit::{Action, AuditRecord, AuditTrail, Outcome};
use crate::error::ApiError;

/// The portal trail, paged through its indexes.
#[derive(Clone, Debug)]
pub struct PortalStream {
    trail: AuditTrail,
}

impl PortalStream {
    pub fn new(trail: AuditTrail) -> PortalStream {
        PortalStream { trail }
    }

    pub fn trail(&self) -> &AuditTrail {
        &self.trail
    }
}

/// The trail's filters for the dashboard's; `None` when no portal record
/// can match (an action name the portal does not use).
pub fn trail_filters(filters: &Filters) -> Option<query::Filters> {
    let action = match filters.action.as_deref() {
        Some(name) => Some(Action::from_name(name)?),
        None => None,
    };
    let outcome = match filters.outcome.as_deref() {
        Some(name) => Some(Outcome::from_name(name)?),
        None => None,
    };
    Some(query::Filters {
        from: filters.from,
        to: filters.to,
        actor: filters.actor.clone(),
        action,
        model: filters.model.clone(),
        outcome,
    })
}

#[async_trait]
impl EventStream for PortalStream {
    fn name(&self) -> &'static str {
        "portal"
    }

    async fn page(
        &self,
        filters: &Filters,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<StreamPage, ApiError> {
        let Some(trail_filters) = trail_filters(filters) else {
            return Ok(StreamPage {
                done: true,
                ..StreamPage::default()
            });
        };
        let page = self
            .trail
            .query(&trail_filters, cursor, limit)
            .await?
            .map_err(|ForeignCursor| ApiError::BadRequest(ForeignCursor.to_string()))?;
        let events = page
            .records
            .into_iter()
            .map(|(record, after)| Event {
                time: record.time,
                row: row_of(&record),
                after,
            })
            .collect();
        Ok(StreamPage {
            events,
            done: page.next_cursor.is_none(),
            next: page.next_cursor,
            scanned_to: page.scanned_to,
            ..StreamPage::default()
        })
    }
}

/// A record as a dashboard row.
pub fn row_of(record: &AuditRecord) -> AuditEventRow {
    let event = &record.event;
    let mut fields = std::collections::BTreeMap::new();
    if let Some(alias) = &event.alias {
        fields.insert("alias".to_owned(), alias.clone());
    }
    if let Some(from) = event.from_version {
        fields.insert("from_version".to_owned(), from.to_string());
    }
    if let Some(to) = event.to_version {
        fields.insert("to_version".to_owned(), to.to_string());
    }
    if !event.files.is_empty() {
        let files: Vec<String> = event
            .files
            .iter()
            .map(|file| match &file.sha256 {
                Some(sha256) => format!("{} ({} bytes, sha256 {sha256})", file.path, file.size),
                None => format!("{} ({} bytes)", file.path, file.size),
            })
            .collect();
        fields.insert("files".to_owned(), files.join("; "));
    }
    fields.insert("hash".to_owned(), record.hash.clone());
    AuditEventRow {
        source: Source::Portal,
        time: rfc3339(record.time),
        actor: event.actor.clone(),
        action: event.action.as_str().to_owned(),
        outcome: event.outcome.as_str().to_owned(),
        model: event.model.clone(),
        version: event.version,
        path: event.path.clone(),
        share_id: event.share_id.clone(),
        request_id: Some(event.request_id.clone()),
        seq: Some(record.seq),
        detail: event.detail.clone(),
        fields,
        portal: None,
    }
}
