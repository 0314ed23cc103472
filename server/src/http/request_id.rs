//! Every request gets an id, echoed in `x-request-id`, carried by its log
//! span and by the audit records it causes.

use axum::http::{HeaderName, Request};
use tower_http::request_id::{MakeRequestId, RequestId};

/// The header carrying the request id.
pub static REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Mints random request ids. Ids sent by clients are not trusted: they
/// would let a caller choose what the audit trail says.
#[derive(Clone, Copy, Debug, Default)]
pub struct MakeRandomRequestId;

impl MakeRequestId for MakeRandomRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        id.parse().ok().map(RequestId::new)
    }
}

/// The id of a request, or `unknown` when the layer did not run.
pub fn request_id_of(extensions: &axum::http::Extensions) -> String {
    extensions
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("unknown")
        .to_owned()
}
