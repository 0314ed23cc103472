//! What the binary prints: no secret at any log level (ASVS 7.1.1), and
//! with `--log-format json` one JSON object per line whose request lines
//! carry the request's span fields.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use reqwest::header::ORIGIN;
use reqwest::{Client, StatusCode};
use serde_json::Value;
use tempfile::TempDir;
use url::Url;

use super::{Launch, ServerProcess, free_port};
use crate::support::{
    DEMO_PASSWORD, Portal as _, begin_sign_in, browser, follow_callback, location, me,
    session_cookie, submit_credentials,
};

/// A password distinctive enough that finding it anywhere means a leak.
const WRONG_PASSWORD: &str = "Wrong-Pass-123!";

/// How long a server may take to stop on SIGTERM.
const STOP_WITHIN: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_logs_at_the_default_level() {
    let (output, secrets) = sign_in_and_out_collecting_secrets(None).await;

    assert_no_secret_in(&output, &secrets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_logs_with_rust_log_debug() {
    let (output, secrets) = sign_in_and_out_collecting_secrets(Some("debug")).await;

    // The filter took effect, so the scan below covers debug lines.
    assert!(
        output.contains(" DEBUG "),
        "RUST_LOG=debug printed no debug line:\n{output}"
    );
    assert_no_secret_in(&output, &secrets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_log_cannot_turn_on_the_s3_request_dump() {
    // The most specific directive there is for the module that prints
    // whole requests; a crate-wide cap appended to RUST_LOG would lose to
    // it.
    let filter = "debug,s3s::service=trace";
    let (output, secrets) = sign_in_and_out_collecting_secrets(Some(filter)).await;

    assert_no_secret_in(&output, &secrets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_and_carry_the_request_span() {
    // A server writing JSON.
    let data = TempDir::new().expect("data folder");
    let mut server = Launch::new(data.path())
        .args(&["--log-format", "json"])
        .start()
        .await;

    // alice signs in; the callback's request id is in its answer.
    let client = browser();
    let authorize = begin_sign_in(&server, &client, "/").await;
    let answer = submit_credentials(&client, &authorize, "alice", DEMO_PASSWORD).await;
    let done = follow_callback(&client, location(&answer)).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let request_id = done
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .expect("x-request-id on the callback")
        .to_owned();

    // Every log line printed up to a clean stop is a JSON object.
    stop(&mut server).await;
    let output = server.logs();
    let lines: Vec<Value> = output
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
            assert!(value.is_object(), "not a JSON object: {line}");
            value
        })
        .collect();
    assert!(lines.len() > 3, "too few lines:\n{output}");

    // The callback's "signed in" line carries its request's fields, in
    // its current span, where a collector that reads one span finds them.
    let signed_in = lines
        .iter()
        .find(|line| line["message"] == "signed in")
        .unwrap_or_else(|| panic!("no \"signed in\" line:\n{output}"));
    assert_eq!(signed_in["span"]["name"], "request", "{signed_in}");
    let expected = [
        ("request.id", request_id.as_str()),
        ("http.method", "GET"),
        ("http.path", "/auth/callback"),
    ];
    for (name, value) in expected {
        assert_eq!(field(signed_in, name), Some(value), "{name} in {signed_in}");
    }
}

/// A field of a JSON log line's current span.
fn field<'a>(line: &'a Value, name: &str) -> Option<&'a str> {
    line.get("span")
        .and_then(|span| span.get(name))
        .and_then(Value::as_str)
}

/// Secrets seen during a test, each with a name for the failure message.
type Secrets = Vec<(&'static str, String)>;

/// Runs a server with `RUST_LOG` set to `rust_log` (or unset), takes it
/// through everything that handles a secret, stops it, and answers its
/// whole output with the secrets it must not contain.
async fn sign_in_and_out_collecting_secrets(rust_log: Option<&str>) -> (String, Secrets) {
    // A server whose embedded S3 endpoint this test calls too.
    let data = TempDir::new().expect("data folder");
    let s3_endpoint = format!("127.0.0.1:{}", free_port());
    let mut launch = Launch::new(data.path()).s3_listen(&s3_endpoint);
    if let Some(filter) = rust_log {
        launch = launch.env("RUST_LOG", filter);
    }
    let mut server = launch.start().await;

    // What people type, and what the server keeps in its data folder.
    let stored = StoredSecrets::read(data.path());
    let mut secrets = stored.named();
    secrets.push(("the demo password", DEMO_PASSWORD.to_owned()));
    secrets.push(("the wrong password", WRONG_PASSWORD.to_owned()));

    // alice signs in; someone else tries her account with a wrong
    // password; a pipeline uses a token; the embedded endpoint sees signed
    // and presigned requests; alice signs out.
    let client = browser();
    let csrf = sign_alice_in(&server, &client, &mut secrets).await;
    try_a_wrong_password(&server).await;
    use_a_pipeline_token(&server, &stored, &mut secrets).await;
    call_the_embedded_endpoint(&s3_endpoint, &stored, &mut secrets).await;
    sign_alice_out(&server, &client, &csrf).await;

    // A clean stop, so that every line is out.
    stop(&mut server).await;
    (server.output(), secrets)
}

/// The secrets a server keeps under its data folder.
struct StoredSecrets {
    portal_client_secret: String,
    pipeline_client_secret: String,
    s3_access_key_id: String,
    s3_secret_access_key: String,
    signing_key: String,
}

impl StoredSecrets {
    fn read(data_dir: &Path) -> StoredSecrets {
        let read = |path: PathBuf| {
            std::fs::read_to_string(&path)
                .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
        };
        let dev_idp = data_dir.join("dev-idp");
        let s3: Value = serde_json::from_str(&read(data_dir.join("s3-credentials.json")))
            .expect("credentials JSON");
        let s3_field = |name: &str| s3[name].as_str().expect(name).to_owned();
        StoredSecrets {
            portal_client_secret: read(dev_idp.join("portal-client-secret")).trim().to_owned(),
            pipeline_client_secret: read(dev_idp.join("pipeline-client-secret"))
                .trim()
                .to_owned(),
            s3_access_key_id: s3_field("access_key_id"),
            s3_secret_access_key: s3_field("secret_access_key"),
            signing_key: read(dev_idp.join("signing-key.pem")),
        }
    }

    /// Those that must never be logged; a line from the middle of the key
    /// stands for all of it.
    fn named(&self) -> Secrets {
        let key_line = self.signing_key.lines().nth(5).expect("key material");
        vec![
            (
                "the portal's client secret",
                self.portal_client_secret.clone(),
            ),
            (
                "the pipeline's client secret",
                self.pipeline_client_secret.clone(),
            ),
            (
                "the embedded endpoint's secret key",
                self.s3_secret_access_key.clone(),
            ),
            ("the provider's signing key", key_line.to_owned()),
            ("a PEM private key", "PRIVATE KEY".to_owned()),
        ]
    }
}

/// Signs alice in step by step, adding every value her browser carries on
/// the way to `secrets`; answers her CSRF token.
async fn sign_alice_in(server: &ServerProcess, client: &Client, secrets: &mut Secrets) -> String {
    // The anonymous session, state and nonce, from the start of sign-in.
    let login = client
        .get(server.at("/login?next=/"))
        .send()
        .await
        .expect("GET /login");
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    let authorize = location(&login);
    secrets.push(("the pre-sign-in session cookie", cookie_value(&login)));
    secrets.push(("the state", query_value(&authorize, "state")));
    secrets.push(("the nonce", query_value(&authorize, "nonce")));

    // The code from the provider, and the session it opens.
    let answer = submit_credentials(client, &authorize, "alice", DEMO_PASSWORD).await;
    assert!(answer.status().is_redirection(), "{}", answer.status());
    let callback = location(&answer);
    secrets.push(("the authorization code", query_value(&callback, "code")));
    let done = follow_callback(client, callback).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert!(!location(&done).path().starts_with("/auth/failed"));
    secrets.push(("the signed-in session cookie", cookie_value(&done)));

    // Her CSRF token.
    let (status, body) = me(server, client).await;
    assert_eq!(status, StatusCode::OK);
    let csrf = body["csrf_token"].as_str().expect("CSRF token").to_owned();
    secrets.push(("the CSRF token", csrf.clone()));
    csrf
}

/// Someone tries alice's account with a wrong password.
async fn try_a_wrong_password(server: &ServerProcess) {
    let stranger = browser();
    let authorize = begin_sign_in(server, &stranger, "/").await;
    let refused = submit_credentials(&stranger, &authorize, "alice", WRONG_PASSWORD).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}

/// The pipeline client takes an access token and presents it as a bearer
/// token.
async fn use_a_pipeline_token(
    server: &ServerProcess,
    stored: &StoredSecrets,
    secrets: &mut Secrets,
) {
    let token: Value = browser()
        .post(server.at("/dev-idp/token"))
        .basic_auth("coffer-pipeline", Some(&stored.pipeline_client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("POST token")
        .json()
        .await
        .expect("token JSON");
    let access_token = token["access_token"].as_str().expect("access token");
    secrets.push(("the pipeline's access token", access_token.to_owned()));
    let userinfo = browser()
        .get(server.at("/dev-idp/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .expect("GET userinfo");
    assert!(!userinfo.status().is_server_error());
}

/// A signed call and a presigned URL reach the embedded endpoint.
async fn call_the_embedded_endpoint(endpoint: &str, stored: &StoredSecrets, secrets: &mut Secrets) {
    // A request signed in its Authorization header.
    let s3 = crate::s3::client(
        &format!("http://{endpoint}"),
        &stored.s3_access_key_id,
        &stored.s3_secret_access_key,
    );
    s3.head_bucket()
        .bucket("coffer-artifacts")
        .send()
        .await
        .expect("signed HeadBucket");

    // A request signed in its query string, as downloads are.
    let presigned = s3
        .get_object()
        .bucket("coffer-artifacts")
        .key("models/secret-scan/1/weights.bin")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).expect("expiry"))
        .await
        .expect("presigned GET");
    let url = Url::parse(presigned.uri()).expect("presigned URL");
    secrets.push((
        "a presigned URL's signature",
        query_value(&url, "X-Amz-Signature"),
    ));
    let fetched = browser().get(url).send().await.expect("GET presigned");
    assert_eq!(fetched.status(), StatusCode::NOT_FOUND);
}

/// alice signs out, here and at the provider, and her session is gone.
async fn sign_alice_out(server: &ServerProcess, client: &Client, csrf: &str) {
    let out = client
        .post(server.at("/logout"))
        .header(ORIGIN, &server.url)
        .form(&[("csrf_token", csrf)])
        .send()
        .await
        .expect("POST /logout");
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let provider = client
        .get(location(&out))
        .send()
        .await
        .expect("GET provider logout");
    assert!(!provider.status().is_server_error());
    assert_eq!(me(server, client).await.0, StatusCode::UNAUTHORIZED);
}

/// Fails with the offending line when `output` holds a secret, a SigV4
/// signature or anything shaped like a JWT.
fn assert_no_secret_in(output: &str, secrets: &Secrets) {
    for (what, secret) in secrets {
        assert!(
            secret.len() >= 8,
            "{what} is too short to scan for: {secret:?}"
        );
        if let Some(line) = output.lines().find(|line| line.contains(secret.as_str())) {
            panic!("{what} is in the log:\n{line}");
        }
    }
    for line in output.lines() {
        assert!(
            !has_signature(line),
            "a SigV4 signature is in the log:\n{line}"
        );
        assert!(!has_jwt(line), "a JWT is in the log:\n{line}");
    }
}

/// `Signature=` (a header's or `X-Amz-Signature=`) followed by hex.
fn has_signature(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    lower.match_indices("signature=").any(|(at, found)| {
        let rest = &lower[at + found.len()..];
        rest.bytes().take_while(u8::is_ascii_hexdigit).count() >= 16
    })
}

/// `eyJ` (base64url of `{"`), base64url, a dot, more base64url: the head
/// of a JWT.
fn has_jwt(line: &str) -> bool {
    let is_b64url = |b: &u8| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_';
    line.match_indices("eyJ").any(|(at, _)| {
        let bytes = &line.as_bytes()[at..];
        let header = bytes.iter().take_while(|b| is_b64url(b)).count();
        let rest = &bytes[header..];
        header >= 10
            && rest.first() == Some(&b'.')
            && rest[1..].iter().take_while(|b| is_b64url(b)).count() >= 10
    })
}

/// The value of the `coffer` cookie a response sets.
fn cookie_value(response: &reqwest::Response) -> String {
    session_cookie(response)
        .and_then(|cookie| cookie.strip_prefix("coffer=").map(str::to_owned))
        .unwrap_or_else(|| panic!("no session cookie on {}", response.url()))
}

/// One query parameter of a URL.
fn query_value(url: &Url, name: &str) -> String {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .unwrap_or_else(|| panic!("no {name} in {url}"))
}

/// Stops a server with SIGTERM and checks that it stopped cleanly.
async fn stop(server: &mut ServerProcess) {
    let status = server.terminate(STOP_WITHIN).await;
    assert!(
        status.is_some_and(|status| status.success()),
        "no clean stop ({status:?}):\n{}",
        server.output()
    );
}

#[test]
fn the_scanners_find_what_they_look_for() {
    // Each pattern is caught, so a clean scan means something.
    assert!(has_signature(
        "uri=/b/k?X-Amz-Signature=0123456789abcdef0123"
    ));
    assert!(has_signature(
        "authorization: AWS4-HMAC-SHA256 Credential=x, Signature=aabbccddeeff00112233"
    ));
    assert!(has_jwt(
        "token=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln"
    ));
    assert!(!has_signature("signature=redacted"));
    assert!(!has_jwt("eyJhbGciOiJSUzI1NiJ9 alone"));
}
