//! Downloads: Coffer checks the caller and the file, records the download,
//! and redirects to a short-lived presigned GET, so the bytes go straight
//! from S3 to the client. Share links redirect the same way.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use coffer_app::names::validate_model_name;
use coffer_app::session::Role;
use coffer_app::upload::api::VersionState;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use tracing::instrument;

use crate::api::Requester;
use crate::audit::{Action, AuditEvent, Outcome};
use crate::config::ComplianceDownloads;
use crate::error::ApiError;
use crate::registry::{Manifest, ManifestFile};
use crate::state::AppState;
use crate::storage::ResponseHeaders;

/// How long a download's presigned URL lives: long enough to start a
/// large download on a slow link (S3 checks expiry when a request starts),
/// short enough that a copied URL soon stops working.
pub const DOWNLOAD_URL_TTL: Duration = Duration::from_secs(300);

/// The content type every download is forced to, so no browser renders
/// what it fetched.
const ATTACHMENT_TYPE: &str = "application/octet-stream";

/// Characters RFC 5987 lets `filename*` carry unencoded (`attr-char`).
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `GET /api/v1/models/{name}/versions/{n}/files/{*path}`
#[instrument(skip_all, fields(model.name = %model, model.version = %version))]
pub async fn download(
    State(state): State<AppState>,
    requester: Requester,
    Path((model, version, path)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    requester.require(&state, downloaders(&state)).await?;

    // Only an exact file of an available version may be fetched.
    validate_model_name(&model).map_err(ApiError::BadRequest)?;
    let version: u64 = version
        .parse()
        .ok()
        .filter(|version| *version > 0)
        .ok_or_else(|| ApiError::BadRequest("a version is a positive whole number".into()))?;
    let manifest = state
        .uploads
        .registry()
        .version(&model, version)
        .await?
        .filter(|manifest| manifest.state == VersionState::Available)
        .ok_or(ApiError::NotFound)?;
    let file = file_of(&manifest, &path).ok_or(ApiError::NotFound)?;

    // The download is on record before the URL that allows it exists:
    // S3's own logs name only the signer, never the person.
    let event = AuditEvent::new(
        &requester.user.username,
        Action::Download,
        Outcome::Success,
        &requester.request_id,
    )
    .with_version(&model, version)
    .with_path(&file.path);
    state.audit.record(event).await?;

    tracing::info!(file.path = %file.path, "download granted");
    redirect_to_file(&state, file, &requester.request_id, DOWNLOAD_URL_TTL).await
}

/// Who may download: data scientists, admins, and compliance staff unless
/// an admin forbade it.
fn downloaders(state: &AppState) -> &'static [Role] {
    match state.settings.compliance_downloads {
        ComplianceDownloads::Allow => &[Role::DataScientist, Role::Compliance, Role::Admin],
        ComplianceDownloads::Deny => &[Role::DataScientist, Role::Admin],
    }
}

/// The file of a version at exactly `path`.
pub fn file_of<'a>(manifest: &'a Manifest, path: &str) -> Option<&'a ManifestFile> {
    manifest.files.iter().find(|file| file.path == path)
}

/// Redirects to a fresh presigned GET of `file`, valid for `ttl`, that
/// saves the file under its own name and carries `request_id` for the S3
/// access log. The caller has checked the right to it and recorded it.
/// The URL is a bearer credential until it expires: it is never logged.
pub async fn redirect_to_file(
    state: &AppState,
    file: &ManifestFile,
    request_id: &str,
    ttl: Duration,
) -> Result<Response, ApiError> {
    // Every download is an attachment of an opaque type, named by the
    // last segment of its path.
    let name = file.path.rsplit('/').next().unwrap_or(&file.path);
    let overrides = ResponseHeaders {
        content_disposition: attachment_disposition(name),
        content_type: ATTACHMENT_TYPE.to_owned(),
    };
    let url = state
        .storage
        .presign_get(&file.key, &overrides, request_id, ttl)
        .await?;

    // A presigned URL is plain ASCII.
    let location = HeaderValue::from_str(&url)
        .map_err(|_| ApiError::Internal(anyhow::anyhow!("a presigned URL is not a header")))?;

    // Nothing may cache the redirect, and the page or link the client
    // came from must not reach S3 (or its access log) as a referer.
    let headers = [
        (header::LOCATION, location),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ];
    Ok((StatusCode::FOUND, headers).into_response())
}

/// `Content-Disposition` for saving a file as `name` (RFC 6266): an ASCII
/// `filename` for old clients, in which anything outside printable ASCII,
/// quotes, backslashes and `%` (which some clients decode) become `_`, and the exact name as UTF-8 in
/// `filename*` (RFC 5987).
pub fn attachment_disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            let plain = c.is_ascii() && !c.is_ascii_control() && !matches!(c, '"' | '\\' | '%');
            if plain { c } else { '_' }
        })
        .collect();
    let encoded = utf8_percent_encode(name, ATTR_CHAR);
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_name_is_kept_in_both_forms() {
        assert_eq!(
            attachment_disposition("model.safetensors"),
            "attachment; filename=\"model.safetensors\"; filename*=UTF-8''model.safetensors"
        );
    }

    #[test]
    fn quotes_backslashes_controls_and_non_ascii_fall_back_to_underscores() {
        assert_eq!(
            attachment_disposition("mod\u{e8}le \"v1\"\\\u{7}.bin"),
            "attachment; filename=\"mod_le _v1___.bin\"; \
             filename*=UTF-8''mod%C3%A8le%20%22v1%22%5C%07.bin"
        );
    }

    #[test]
    fn the_header_is_always_ascii_and_never_breaks_out_of_its_quotes() {
        let header = attachment_disposition("a\";x=\u{1F600}\r\n.bin");
        assert!(header.is_ascii(), "{header}");
        assert!(!header.contains('\r') && !header.contains('\n'));
        assert!(header.starts_with("attachment; filename=\"a_;x=___.bin\"; "));
        assert!(HeaderValue::from_str(&header).is_ok());
    }
}
