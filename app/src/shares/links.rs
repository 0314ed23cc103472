//! The addresses pages link files to: a user's download through the API
//! and a recipient's through a share link. Paths are user text, so each
//! segment is percent-encoded and the `/` between them kept.

/// `path` with every byte outside RFC 3986's unreserved set
/// percent-encoded, segment by segment.
pub fn encode_path(path: &str) -> String {
    path.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

/// One path segment, `/` included, percent-encoded.
pub fn encode_segment(segment: &str) -> String {
    let mut encoded = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                encoded.push(char::from(byte));
            }
            other => encoded.push_str(&format!("%{other:02X}")),
        }
    }
    encoded
}

/// `GET /api/v1/models/{name}/versions/{n}/files/{path}`: checks the
/// caller's role and redirects to the bytes.
pub fn version_file_href(model: &str, version: u64, path: &str) -> String {
    format!(
        "/api/v1/models/{}/versions/{version}/files/{}",
        encode_segment(model),
        encode_path(path)
    )
}

/// `GET /s/{token}/files/{path}`: a recipient's download.
pub fn shared_file_href(token: &str, path: &str) -> String {
    format!("/s/{}/files/{}", encode_segment(token), encode_path(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_pass_unchanged() {
        assert_eq!(encode_path("weights/model-v2.bin"), "weights/model-v2.bin");
    }

    #[test]
    fn each_segment_is_encoded_and_slashes_are_kept() {
        assert_eq!(
            encode_path("my dir/a#b?c%d.pt"),
            "my%20dir/a%23b%3Fc%25d.pt"
        );
        assert_eq!(encode_path("café/ü.bin"), "caf%C3%A9/%C3%BC.bin");
    }

    #[test]
    fn download_routes_carry_the_encoded_path() {
        assert_eq!(
            version_file_href("fraud", 3, "sub dir/x.bin"),
            "/api/v1/models/fraud/versions/3/files/sub%20dir/x.bin"
        );
        assert_eq!(
            shared_file_href("abc_DEF-1", "<b>.bin"),
            "/s/abc_DEF-1/files/%3Cb%3E.bin"
        );
    }

    #[test]
    fn a_token_cannot_add_path_segments() {
        assert_eq!(shared_file_href("a/b", "x"), "/s/a%2Fb/files/x");
    }
}
