//! Editing a model's description. The description lives in the model's
//! profile, so the change is one compare-and-swap, and it counts as an
//! update of the model for the "recently updated" listing.

use coffer_app::models::api::{DescriptionChange, ModelDetail};

use super::{Browse, ChangeError};
use crate::audit::{Action, AuditEvent, Outcome};
use crate::error::ApiError;
use crate::registry::Touch;
use crate::uploads::Caller;

/// The longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 4000;

/// Checks a description and returns its stored form: line breaks as `\n`.
/// Refuses over-long text and control characters other than newline and
/// tab.
pub fn check_description(description: &str) -> Result<String, String> {
    // Browsers send a textarea's line breaks as CRLF in forms.
    let description = description.replace("\r\n", "\n");

    let length = description.chars().count();
    if length > MAX_DESCRIPTION_CHARS {
        return Err(format!(
            "a description has at most {MAX_DESCRIPTION_CHARS} characters; this one has {length}"
        ));
    }
    if let Some(bad) = description
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\t'))
    {
        return Err(format!(
            "a description may not contain control characters other than newline and tab \
             (found {})",
            bad.escape_unicode()
        ));
    }
    Ok(description)
}

impl Browse {
    /// Replaces a model's description and answers the model as it now is.
    pub async fn set_description(
        &self,
        caller: Caller<'_>,
        model: &str,
        change: &DescriptionChange,
    ) -> Result<ModelDetail, ChangeError> {
        let description = check_description(&change.description).map_err(ApiError::BadRequest)?;
        self.require_model(model).await?;

        // The record is durable before the change is made.
        let event = AuditEvent::new(
            &caller.user.username,
            Action::DescriptionChanged,
            Outcome::Success,
            caller.request_id,
        )
        .with_model(model);
        self.audit.record(event).await?;
        self.registry
            .touch(model, self.clock.now(), &Touch::Description(description))
            .await?;
        tracing::info!(model.name = %model, "description changed");

        self.model(model, None)
            .await?
            .ok_or_else(|| ChangeError::NotFound(format!("there is no model named {model}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_keep_newlines_and_tabs_and_refuse_other_controls() {
        assert_eq!(check_description("a\r\nb\tc\n").as_deref(), Ok("a\nb\tc\n"));
        let refused = check_description("bell\u{7}").expect_err("refused");
        assert!(refused.contains("\\u{7}"), "{refused}");
        assert!(check_description("a\rb").is_err());
    }

    #[test]
    fn descriptions_are_bounded_in_characters_not_bytes() {
        assert!(check_description(&"é".repeat(MAX_DESCRIPTION_CHARS)).is_ok());
        let refused = check_description(&"a".repeat(MAX_DESCRIPTION_CHARS + 1)).expect_err("long");
        assert!(refused.contains("at most 4000"), "{refused}");
    }
}
