//! The rules for model names and for file paths inside a version. The
//! server enforces them; the browser applies the same ones to say what is
//! wrong before anything is sent.

/// Longest model name, in characters.
pub const MAX_MODEL_NAME: usize = 64;

/// Longest file path inside a version, in bytes of UTF-8.
pub const MAX_PATH_BYTES: usize = 1024;

/// Longest single path segment, in bytes of UTF-8.
pub const MAX_SEGMENT_BYTES: usize = 255;

/// The rule for model names, as users read it in error messages.
pub const MODEL_NAME_RULE: &str = "a model name has 1 to 64 characters: lowercase letters, \
     digits, '.', '_' and '-', starting and ending with a letter or digit";

/// Checks a model name; the error says what is wrong.
pub fn validate_model_name(name: &str) -> Result<(), String> {
    let is_edge = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let is_inner = |c: char| is_edge(c) || matches!(c, '.' | '_' | '-');

    if name.is_empty() || name.chars().count() > MAX_MODEL_NAME {
        return Err(format!(
            "'{}' is not a valid name: {MODEL_NAME_RULE}",
            shorten(name)
        ));
    }
    let first = name.chars().next().is_some_and(is_edge);
    let last = name.chars().last().is_some_and(is_edge);
    if !first || !last || !name.chars().all(is_inner) {
        return Err(format!(
            "'{}' is not a valid name: {MODEL_NAME_RULE}",
            shorten(name)
        ));
    }
    Ok(())
}

/// Validates a file path inside a version and returns its normal form:
/// `/`-separated, without empty or `.` segments. Refuses absolute paths,
/// `..`, backslashes, control characters and over-long paths.
pub fn normalize_file_path(path: &str) -> Result<String, String> {
    let shown = shorten(path);

    if path.chars().any(is_bidi_control) {
        return Err(format!(
            "file path '{}' contains invisible text-direction characters",
            shown.escape_unicode()
        ));
    }
    if path.chars().any(char::is_control) {
        return Err(format!(
            "file path '{}' contains control characters",
            shown.escape_debug()
        ));
    }
    if path.starts_with('/') {
        return Err(format!(
            "file path '{shown}' is absolute; give a path inside the version"
        ));
    }
    if path.contains('\\') {
        return Err(format!(
            "file path '{shown}' contains '\\'; separate folders with '/'"
        ));
    }

    // Empty and `.` segments carry no meaning; `..` would climb out.
    let mut segments = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => continue,
            ".." => return Err(format!("file path '{shown}' contains '..'")),
            _ if segment.len() > MAX_SEGMENT_BYTES => {
                return Err(format!(
                    "file path '{shown}' has a name longer than {MAX_SEGMENT_BYTES} bytes"
                ));
            }
            _ => segments.push(segment),
        }
    }

    let normal = segments.join("/");
    if normal.is_empty() {
        return Err("a file path must name a file".to_owned());
    }
    if normal.len() > MAX_PATH_BYTES {
        return Err(format!(
            "file path '{shown}' is longer than {MAX_PATH_BYTES} bytes"
        ));
    }
    if path.ends_with('/') {
        return Err(format!("file path '{shown}' names a folder, not a file"));
    }
    Ok(normal)
}

/// Characters that reorder how text is displayed without showing
/// themselves: a file name could read as `model.pt` and be something
/// else.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// At most 80 characters of user input, for error messages.
fn shorten(text: &str) -> String {
    let mut short: String = text.chars().take(80).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_follow_the_rule() {
        for good in ["a", "resnet50", "fraud-detector.v2", "x_1", &"a".repeat(64)] {
            assert_eq!(validate_model_name(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "-lead",
            "trail.",
            "Upper",
            "has space",
            "slash/inside",
            "ünïcode",
            &"a".repeat(65),
        ] {
            let error = validate_model_name(bad).expect_err(bad);
            assert!(error.contains("lowercase letters"), "{error}");
        }
    }

    #[test]
    fn paths_are_normalised() {
        assert_eq!(normalize_file_path("model.bin").as_deref(), Ok("model.bin"));
        assert_eq!(
            normalize_file_path("./a//b/./c.pt").as_deref(),
            Ok("a/b/c.pt")
        );
        assert_eq!(
            normalize_file_path("données/模型.bin").as_deref(),
            Ok("données/模型.bin")
        );
    }

    #[test]
    fn dangerous_paths_are_refused_with_a_reason() {
        let cases = [
            ("../etc/passwd", "'..'"),
            ("a/../../b", "'..'"),
            ("/etc/passwd", "absolute"),
            ("a\\b", "'\\'"),
            ("a\u{0}b", "control"),
            ("line\nbreak", "control"),
            ("model\u{202E}tp.lkp", "text-direction"),
            ("", "must name a file"),
            ("./", "must name a file"),
            ("folder/", "names a folder"),
        ];
        for (path, reason) in cases {
            let error = normalize_file_path(path).expect_err(path);
            assert!(error.contains(reason), "{path:?}: {error}");
        }
        let long_segment = "x".repeat(MAX_SEGMENT_BYTES + 1);
        assert!(normalize_file_path(&long_segment).is_err());
        let long_path = vec!["abcdefgh"; 200].join("/");
        assert!(
            normalize_file_path(&long_path)
                .expect_err("long")
                .contains("longer than")
        );
    }
}
