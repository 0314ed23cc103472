//! Model cards: a version's `README.md` rendered for its page.
//!
//! This is the one place the server reads artifact bytes. It reads at most
//! [`MAX_CARD_BYTES`] of one file with a ranged GET, turns them into HTML
//! and never forwards them: the page gets only the sanitized HTML. Raw HTML
//! in the Markdown is dropped while parsing, and the result goes through an
//! allow-list sanitizer that keeps only `http`, `https` and `mailto` links,
//! each with `rel="noopener noreferrer"`. A card that cannot be read leaves
//! the page without one, and the cause goes to the log.

use std::collections::HashSet;

use anyhow::Context;
use aws_sdk_s3::config::ResponseChecksumValidation;
use pulldown_cmark::{Event, Options, Parser};

use crate::registry::{Manifest, ManifestFile};
use crate::storage::Storage;
use coffer_app::upload::api::VersionState;

/// The most bytes of a README a card shows: 1 MiB.
pub const MAX_CARD_BYTES: u64 = 1 << 20;

/// Said under a card cut at [`MAX_CARD_BYTES`].
const TRUNCATED_NOTE: &str = "<p class=\"card-truncated\"><em>This README is longer than 1 MiB; only its first MiB is \
     shown. Download the file to read it all.</em></p>";

/// The card of a version: its root `README.md` (any case), rendered;
/// `None` when it has none, is not available, or the file cannot be read.
pub async fn for_version(storage: &Storage, manifest: &Manifest) -> Option<String> {
    if manifest.state != VersionState::Available {
        return None;
    }
    let file = readme(manifest)?;
    match load(storage, file).await {
        Ok(html) => Some(html),
        Err(error) => {
            tracing::warn!(
                model.name = %manifest.model,
                model.version = manifest.version,
                s3.key = %file.key,
                error = %format!("{error:#}"),
                "could not read the model card; the page shows none"
            );
            None
        }
    }
}

/// The version's README at its root, if any.
pub fn readme(manifest: &Manifest) -> Option<&ManifestFile> {
    manifest
        .files
        .iter()
        .find(|file| file.path.eq_ignore_ascii_case("README.md"))
}

/// Reads the first [`MAX_CARD_BYTES`] of the file and renders them.
async fn load(storage: &Storage, file: &ManifestFile) -> anyhow::Result<String> {
    // An empty object has no byte 0 to range over.
    if file.size == 0 {
        return Ok(render(""));
    }

    // A ranged read: never more than the bound, whatever the file's size.
    // Checksums cover whole objects, so there is none to check on a range.
    let output = storage
        .client()
        .get_object()
        .bucket(storage.bucket())
        .key(&file.key)
        .range(format!("bytes=0-{}", MAX_CARD_BYTES - 1))
        .customize()
        .config_override(
            aws_sdk_s3::config::Builder::default()
                .response_checksum_validation(ResponseChecksumValidation::WhenRequired),
        )
        .send()
        .await
        .context("failed to read the README")?;

    // Stop at the bound even if the server sent more than asked.
    let mut body = output.body;
    let mut bytes = Vec::new();
    while let Some(chunk) = body.try_next().await.context("failed to read the README")? {
        let room = usize::try_from(MAX_CARD_BYTES)?.saturating_sub(bytes.len());
        bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if room <= chunk.len() {
            break;
        }
    }

    let mut html = render(&String::from_utf8_lossy(&bytes));
    if file.size > MAX_CARD_BYTES {
        html.push_str(TRUNCATED_NOTE);
    }
    Ok(html)
}

/// Markdown to safe HTML: raw HTML dropped, then sanitized.
pub fn render(markdown: &str) -> String {
    // Parse with the common extensions, leaving out every raw HTML event.
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES;
    let events = Parser::new_ext(markdown, options)
        .filter(|event| !matches!(event, Event::Html(_) | Event::InlineHtml(_)));
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events);

    // Markdown links can still carry any scheme; the sanitizer keeps only
    // safe ones and whatever tags an allow-list names.
    ammonia::Builder::default()
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .link_rel(Some("noopener noreferrer"))
        .clean(&html)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_in_the_readme_does_not_survive() {
        let html = render("# Card\n\n<script>alert(1)</script>\n\ntext <script>alert(2)</script>");
        assert!(!html.to_lowercase().contains("<script"), "{html}");
        assert!(html.contains("<h1>Card</h1>"), "{html}");
    }

    #[test]
    fn a_javascript_link_loses_its_target() {
        let html = render("[x](javascript:alert(1)) [y](JavaScript:alert(1))");
        assert!(!html.to_lowercase().contains("javascript:"), "{html}");
        assert!(!html.contains("href"), "{html}");
        assert!(html.contains('x') && html.contains('y'), "{html}");
    }

    #[test]
    fn raw_html_images_and_handlers_are_gone() {
        let html =
            render("before <img src=x onerror=alert(1)> after\n\n<img src=y onerror=alert(2)>");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
        assert!(html.contains("before") && html.contains("after"), "{html}");
    }

    #[test]
    fn links_keep_safe_schemes_and_cannot_reach_the_opener() {
        let html = render(
            "[docs](https://example.com/a) [mail](mailto:team@example.com) [ftp](ftp://x/y)",
        );
        assert!(
            html.contains(r#"<a href="https://example.com/a" rel="noopener noreferrer">docs</a>"#),
            "{html}"
        );
        assert!(html.contains(r#"href="mailto:team@example.com""#), "{html}");
        assert!(!html.contains("ftp://"), "{html}");
    }

    #[test]
    fn ordinary_markdown_renders() {
        let markdown = "\
# Fraud detector

## Metrics

| metric | value |
| --- | --- |
| auc | 0.97 |

```python
model.predict(x)
```

- [x] trained
- *emphasis* and **strong** and `code`
";
        let html = render(markdown);
        for expected in [
            "<h1>Fraud detector</h1>",
            "<h2>Metrics</h2>",
            "<table>",
            "<th>metric</th>",
            "<td>0.97</td>",
            "<pre><code>model.predict(x)\n</code></pre>",
            "<em>emphasis</em>",
            "<strong>strong</strong>",
            "<code>code</code>",
        ] {
            assert!(html.contains(expected), "{expected} missing from {html}");
        }
    }

    #[test]
    fn the_readme_is_the_root_one_in_any_case() {
        let file = |path: &str| ManifestFile {
            path: path.to_owned(),
            size: 1,
            sha256: String::new(),
            s3_checksum: String::new(),
            key: format!("k/{path}"),
        };
        let manifest = Manifest {
            model: "m".into(),
            version: 1,
            state: VersionState::Available,
            uploader: "alice".into(),
            upload_id: "u".into(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            finished_at: time::OffsetDateTime::UNIX_EPOCH,
            description: String::new(),
            metadata: Default::default(),
            files: vec![file("docs/README.md"), file("ReadMe.MD")],
            failure: None,
        };
        assert_eq!(
            readme(&manifest).map(|f| f.path.as_str()),
            Some("ReadMe.MD")
        );
    }
}
