//! The provider's HTML: the sign-in form and plain message pages, with the
//! headers that keep them out of caches and frames.

use anyhow::Context;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use url::Url;

/// The pages' only style sheet, served at `<issuer>/style.css` so that
/// `style-src 'self'` admits it, under this provider's CSP or a stricter one
/// an embedding server may set.
const STYLE: &str = "\
body{font-family:system-ui,sans-serif;background:#f4f5f7;color:#1d2330;margin:0}
main{max-width:24rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:8px;
box-shadow:0 1px 4px rgba(0,0,0,.15)}
h1{font-size:1.3rem;margin:0 0 .5rem}
.banner{background:#fff4d6;border:1px solid #e0b84c;padding:.5rem .75rem;border-radius:4px;
font-size:.85rem}
.error{background:#fde2e1;border:1px solid #d9534f;padding:.5rem .75rem;border-radius:4px}
label{display:block;margin-top:1rem;font-weight:600}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.5rem;
margin-top:.25rem;border:1px solid #9aa3b2;border-radius:4px;font-size:1rem}
button{margin-top:1.5rem;width:100%;padding:.6rem;font-size:1rem;background:#2456c7;
color:#fff;border:0;border-radius:4px;cursor:pointer}
.hint{font-size:.85rem;color:#4a5263}
";

/// `GET /style.css`.
pub(super) async fn style() -> Response {
    let headers = [
        (
            CONTENT_TYPE,
            HeaderValue::from_static("text/css; charset=utf-8"),
        ),
        (
            CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=3600"),
        ),
        (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    ];
    (headers, STYLE).into_response()
}

/// What the sign-in form needs to show itself again.
pub(super) struct SignInForm<'a> {
    /// The authorization request, carried in hidden fields.
    pub(super) hidden: &'a [(&'static str, String)],
    /// The username typed last time, to save typing it again.
    pub(super) username: &'a str,
    pub(super) error: Option<&'a str>,
    /// Whether to list the demo accounts.
    pub(super) demo: bool,
}

/// The CSP of the sign-in form. `form-action` covers the redirect that
/// follows a successful sign-in, so it lists the redirect URIs' origins.
pub(super) fn sign_in_csp(redirect_uris: &[Url]) -> anyhow::Result<HeaderValue> {
    let mut form_action = vec!["'self'".to_owned()];
    for uri in redirect_uris {
        let origin = uri.origin().ascii_serialization();
        if !form_action.contains(&origin) {
            form_action.push(origin);
        }
    }
    let policy = format!(
        "default-src 'none'; style-src 'self'; form-action {}; frame-ancestors 'none'; \
         base-uri 'none'",
        form_action.join(" ")
    );
    HeaderValue::from_str(&policy).context("a redirect URI makes an invalid CSP")
}

/// The sign-in form, answered with `status`.
pub(super) fn sign_in(status: StatusCode, csp: &HeaderValue, form: &SignInForm<'_>) -> Response {
    // Every echoed value goes through `escape`.
    let hidden: String = form
        .hidden
        .iter()
        .map(|(name, value)| {
            format!(
                r#"<input type="hidden" name="{name}" value="{}">"#,
                escape(value)
            )
        })
        .collect();
    let error = form
        .error
        .map(|message| {
            format!(
                r#"<p class="error" role="alert" data-testid="dev-idp-error">{}</p>"#,
                escape(message)
            )
        })
        .unwrap_or_default();
    let demo = if form.demo {
        r#"<p class="hint" data-testid="dev-idp-demo-accounts">Demo accounts: alice and bob
(data scientists), carol (compliance), dave (admin), erin (no group).
Password: <code>coffer-demo</code>.</p>"#
    } else {
        ""
    };
    let body = format!(
        r#"<h1>Sign in to Coffer</h1>
<p class="banner">Development sign-in. For use on this computer only.</p>
{error}
<form method="post" action="authorize" data-testid="dev-idp-form">
{hidden}
<label for="username">Username</label>
<input type="text" id="username" name="username" value="{username}"
 autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus
 data-testid="dev-idp-username">
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password"
 required data-testid="dev-idp-password">
<button type="submit" data-testid="dev-idp-submit">Sign in</button>
</form>
{demo}"#,
        username = escape(form.username),
    );
    page(status, csp.clone(), "Sign in to Coffer", &body)
}

/// A page with a title and one paragraph and no way onwards, used where the
/// provider must not redirect.
pub(super) fn message(status: StatusCode, title: &str, text: &str) -> Response {
    let body = format!(
        r#"<h1>{}</h1>
<p data-testid="dev-idp-message">{}</p>"#,
        escape(title),
        escape(text)
    );
    let csp = HeaderValue::from_static(
        "default-src 'none'; style-src 'self'; form-action 'none'; frame-ancestors 'none'; \
         base-uri 'none'",
    );
    page(status, csp, title, &body)
}

/// Wraps `body` in a document and adds the headers every page carries.
fn page(status: StatusCode, csp: HeaderValue, title: &str, body: &str) -> Response {
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{} · Coffer development sign-in</title>
<link rel="stylesheet" href="style.css">
</head>
<body>
<main>
{body}
</main>
</body>
</html>
"#,
        escape(title)
    );
    let headers = [
        (
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        ),
        (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (CONTENT_SECURITY_POLICY, csp),
        (X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
    ];
    (status, headers, html).into_response()
}

/// Escapes text for HTML element content and quoted attribute values.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_neutralises_markup_and_quotes() {
        let escaped = escape(r#"<script>alert("x")</script>&'"#);

        assert_eq!(
            escaped,
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"
        );
    }

    #[test]
    fn the_sign_in_csp_allows_the_redirect_origins_and_nothing_else() {
        let uris = [
            Url::parse("http://127.0.0.1:3000/auth/callback").expect("url"),
            Url::parse("http://127.0.0.1:3000/other").expect("url"),
        ];

        let csp = sign_in_csp(&uris).expect("csp");

        let csp = csp.to_str().expect("ascii");
        assert!(csp.contains("default-src 'none'"));
        assert!(csp.contains("form-action 'self' http://127.0.0.1:3000;"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(csp.contains("style-src 'self'"));
    }
}
