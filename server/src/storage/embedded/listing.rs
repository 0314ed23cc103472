//! The paging rules of ListObjects: prefix, delimiter roll-up into common
//! prefixes, page size, and where the next page resumes. Kept apart from the
//! index so the rules can be tested on plain lists of keys.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as TOKEN_CODEC;

/// Where a listing resumes: strictly after a key, or after every key that
/// rolls up into a common prefix already returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resume {
    AfterKey(String),
    AfterPrefix(String),
}

impl Resume {
    /// The first key in index order that may belong to the page.
    pub(crate) fn position(&self) -> &str {
        match self {
            Resume::AfterKey(key) | Resume::AfterPrefix(key) => key,
        }
    }

    fn skips(&self, key: &str) -> bool {
        match self {
            Resume::AfterKey(after) => key <= after.as_str(),
            Resume::AfterPrefix(prefix) => key <= prefix.as_str() || key.starts_with(prefix),
        }
    }

    /// An opaque continuation token; clients must hand it back unchanged.
    pub(crate) fn to_token(&self) -> String {
        let tagged = match self {
            Resume::AfterKey(key) => format!("k{key}"),
            Resume::AfterPrefix(prefix) => format!("p{prefix}"),
        };
        TOKEN_CODEC.encode(tagged)
    }

    /// Reads a token made by [`Resume::to_token`]; anything else is `None`.
    pub(crate) fn from_token(token: &str) -> Option<Self> {
        let bytes = TOKEN_CODEC.decode(token).ok()?;
        let tagged = String::from_utf8(bytes).ok()?;
        let mut chars = tagged.chars();
        match chars.next()? {
            'k' => Some(Resume::AfterKey(chars.as_str().to_owned())),
            'p' => Some(Resume::AfterPrefix(chars.as_str().to_owned())),
            _ => None,
        }
    }
}

/// What one page asks for.
#[derive(Debug, Clone)]
pub(crate) struct PageRequest {
    pub(crate) prefix: String,
    pub(crate) delimiter: Option<String>,
    pub(crate) max_keys: usize,
    pub(crate) resume: Option<Resume>,
}

impl PageRequest {
    /// The index key a range scan should start from.
    pub(crate) fn scan_start(&self) -> &str {
        match &self.resume {
            Some(resume) if resume.position() > self.prefix.as_str() => resume.position(),
            _ => &self.prefix,
        }
    }
}

/// One line of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry<T> {
    Object(String, T),
    CommonPrefix(String),
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Page<T> {
    pub(crate) entries: Vec<Entry<T>>,
    pub(crate) truncated: bool,
    /// Set when truncated: where the next page starts.
    pub(crate) next: Option<Resume>,
}

/// Builds one page from keys in ascending byte order, starting at or before
/// [`PageRequest::scan_start`]. Stops reading as soon as the page is full or
/// the keys leave the prefix, so a scan never reads more than it needs.
pub(crate) fn paginate<T, E>(
    keys: impl IntoIterator<Item = Result<(String, T), E>>,
    request: &PageRequest,
) -> Result<Page<T>, E> {
    let mut entries: Vec<Entry<T>> = Vec::new();
    let mut truncated = false;

    // Walk the keys, rolling up those that contain the delimiter past the
    // prefix; the page is truncated only if one more entry exists.
    for item in keys {
        let (key, value) = item?;
        if !key.starts_with(&request.prefix) {
            if key.as_str() > request.prefix.as_str() {
                break;
            }
            continue;
        }
        if request
            .resume
            .as_ref()
            .is_some_and(|resume| resume.skips(&key))
        {
            continue;
        }
        let entry = match rolled_up_prefix(&key, request) {
            Some(common) => {
                if matches!(entries.last(), Some(Entry::CommonPrefix(last)) if *last == common) {
                    continue;
                }
                Entry::CommonPrefix(common)
            }
            None => Entry::Object(key, value),
        };
        if entries.len() >= request.max_keys {
            truncated = request.max_keys > 0;
            break;
        }
        entries.push(entry);
    }

    // The last entry returned is where the next page resumes.
    let next = if truncated {
        entries.last().map(|entry| match entry {
            Entry::Object(key, _) => Resume::AfterKey(key.clone()),
            Entry::CommonPrefix(prefix) => Resume::AfterPrefix(prefix.clone()),
        })
    } else {
        None
    };
    Ok(Page {
        entries,
        truncated,
        next,
    })
}

/// The common prefix a key rolls up into, if the delimiter occurs after the
/// requested prefix.
fn rolled_up_prefix(key: &str, request: &PageRequest) -> Option<String> {
    let delimiter = request.delimiter.as_deref().filter(|d| !d.is_empty())?;
    let rest = &key[request.prefix.len()..];
    let at = rest.find(delimiter)?;
    Some(key[..request.prefix.len() + at + delimiter.len()].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    fn keys(names: &[&str]) -> Vec<Result<(String, ()), Infallible>> {
        let mut sorted: Vec<&str> = names.to_vec();
        sorted.sort_unstable();
        sorted.into_iter().map(|k| Ok((k.to_owned(), ()))).collect()
    }

    fn names(page: &Page<()>) -> Vec<String> {
        page.entries
            .iter()
            .map(|entry| match entry {
                Entry::Object(key, ()) => key.clone(),
                Entry::CommonPrefix(prefix) => format!("{prefix}*"),
            })
            .collect()
    }

    fn request(prefix: &str, delimiter: Option<&str>, max_keys: usize) -> PageRequest {
        PageRequest {
            prefix: prefix.to_owned(),
            delimiter: delimiter.map(str::to_owned),
            max_keys,
            resume: None,
        }
    }

    fn page(all: &[&str], request: &PageRequest) -> Page<()> {
        match paginate(keys(all), request) {
            Ok(page) => page,
            Err(never) => match never {},
        }
    }

    #[test]
    fn keys_outside_the_prefix_are_left_out() {
        let page = page(&["a/1", "b/1", "b/2", "c"], &request("b/", None, 10));
        assert_eq!(names(&page), ["b/1", "b/2"]);
        assert!(!page.truncated);
    }

    #[test]
    fn keys_below_a_delimiter_roll_up_into_one_common_prefix() {
        let all = ["m/1/a", "m/1/b", "m/2/a", "m/top"];
        let page = page(&all, &request("m/", Some("/"), 10));
        assert_eq!(names(&page), ["m/1/*", "m/2/*", "m/top"]);
    }

    #[test]
    fn a_full_page_is_truncated_only_when_more_entries_exist() {
        let all = ["a", "b", "c"];
        let full = page(&all, &request("", None, 3));
        assert!(!full.truncated);
        let short = page(&all, &request("", None, 2));
        assert!(short.truncated);
        assert_eq!(short.next, Some(Resume::AfterKey("b".to_owned())));
    }

    #[test]
    fn resuming_after_a_common_prefix_skips_everything_under_it() {
        let all = ["d/1", "d/2", "e"];
        let mut req = request("", Some("/"), 1);
        let first = page(&all, &req);
        assert_eq!(names(&first), ["d/*"]);
        req.resume = first.next;
        let second = page(&all, &req);
        assert_eq!(names(&second), ["e"]);
        assert!(!second.truncated);
    }

    #[test]
    fn start_after_is_exclusive() {
        let mut req = request("", None, 10);
        req.resume = Some(Resume::AfterKey("b".to_owned()));
        assert_eq!(names(&page(&["a", "b", "c"], &req)), ["c"]);
    }

    #[test]
    fn paging_through_twenty_five_keys_by_ten_sees_each_once() {
        let owned: Vec<String> = (0..25).map(|i| format!("k/{i:02}")).collect();
        let all: Vec<&str> = owned.iter().map(String::as_str).collect();
        let mut req = request("k/", None, 10);
        let mut seen = Vec::new();
        loop {
            let page = page(&all, &req);
            seen.extend(names(&page));
            if !page.truncated {
                break;
            }
            req.resume = page.next;
        }
        assert_eq!(seen, owned);
    }

    #[test]
    fn tokens_round_trip_and_garbage_is_refused() {
        let resume = Resume::AfterPrefix("models/ü/".to_owned());
        assert_eq!(Resume::from_token(&resume.to_token()), Some(resume));
        assert_eq!(Resume::from_token("not a token!"), None);
    }

    #[test]
    fn the_scan_starts_at_the_later_of_prefix_and_resume_point() {
        let mut req = request("m/", None, 10);
        req.resume = Some(Resume::AfterKey("a".to_owned()));
        assert_eq!(req.scan_start(), "m/");
        req.resume = Some(Resume::AfterKey("m/5".to_owned()));
        assert_eq!(req.scan_start(), "m/5");
    }
}
