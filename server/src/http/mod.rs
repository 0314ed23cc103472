//! Cross-cutting HTTP behaviour: request ids, security headers and the
//! checks that keep other sites from acting for a signed-in user.

pub mod headers;
pub mod request_id;
