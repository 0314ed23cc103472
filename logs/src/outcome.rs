//! How a logged request ended, in the three kinds the dashboard filters by.

use serde::Serialize;

/// How a logged request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The request did what it asked for.
    Success,
    /// The caller was not allowed to do it: the kind compliance looks for.
    Denied,
    /// Anything else that went wrong.
    Failure,
}

/// Whether an AWS error code says the caller lacked permission.
///
/// Services spell it differently (`AccessDenied` in S3 and STS,
/// `AccessDeniedException` in KMS and Lambda, `Client.UnauthorizedOperation`
/// in EC2, `AllAccessDisabled` for a blocked S3 account), so this looks for
/// the words rather than a fixed list.
pub(crate) fn is_denial_code(code: &str) -> bool {
    const WORDS: &[&str] = &[
        "accessdenied",
        "unauthorized",
        "forbidden",
        "allaccessdisabled",
    ];
    WORDS
        .iter()
        .any(|word| contains_ignore_ascii_case(code, word))
}

/// `haystack` contains the lower-case ASCII `needle`, ignoring ASCII case.
fn contains_ignore_ascii_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denial_codes_of_several_services_are_recognised() {
        for code in [
            "AccessDenied",
            "AccessDeniedException",
            "Client.UnauthorizedOperation",
            "UnauthorizedAccess",
            "AllAccessDisabled",
            "Forbidden",
        ] {
            assert!(is_denial_code(code), "{code}");
        }
    }

    #[test]
    fn other_error_codes_are_not_denials() {
        for code in ["NoSuchKey", "ThrottlingException", "InternalError", ""] {
            assert!(!is_denial_code(code), "{code}");
        }
    }
}
