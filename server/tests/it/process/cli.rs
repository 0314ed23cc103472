//! The binary as an operator meets it: `--help`, and a clean stop on
//! SIGTERM.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use coffer_server::storage::embedded::{
    ACCESS_LOG_PREFIX, EmbeddedS3, EmbeddedS3Config, load_or_create_credentials,
};
use secrecy::ExposeSecret as _;
use tempfile::TempDir;

use super::{BINARY, Launch};

/// The settings table of the public contract (PRODUCT.md): every variable
/// and its flag.
const CONTRACT_SETTINGS: [(&str, &str); 16] = [
    ("--listen", "COFFER_LISTEN"),
    ("--public-url", "COFFER_PUBLIC_URL"),
    ("--storage", "COFFER_STORAGE"),
    ("--s3-listen", "COFFER_S3_LISTEN"),
    ("--s3-access-key-id", "COFFER_S3_ACCESS_KEY_ID"),
    ("--s3-secret-access-key", "COFFER_S3_SECRET_ACCESS_KEY"),
    ("--s3-force-path-style", "COFFER_S3_FORCE_PATH_STYLE"),
    ("--data-dir", "COFFER_DATA_DIR"),
    ("--bucket", "COFFER_BUCKET"),
    ("--log-bucket", "COFFER_LOG_BUCKET"),
    ("--oidc-issuer", "COFFER_OIDC_ISSUER"),
    ("--oidc-client-id", "COFFER_OIDC_CLIENT_ID"),
    ("--oidc-client-secret", "COFFER_OIDC_CLIENT_SECRET"),
    ("--groups-claim", "COFFER_GROUPS_CLAIM"),
    ("--cloudtrail", "COFFER_CLOUDTRAIL"),
    ("--access-log-flush-secs", "COFFER_ACCESS_LOG_FLUSH_SECS"),
];

/// The log bucket's default name.
const LOG_BUCKET: &str = "coffer-logs";

#[test]
fn help_lists_every_setting_of_the_public_contract_and_hides_secret_values() {
    // `--help` with secrets set in the environment, as in a container.
    let hidden = "help-must-not-print-this-secret";
    let run = Command::new(BINARY)
        .arg("--help")
        .env_clear()
        .env("COFFER_S3_SECRET_ACCESS_KEY", hidden)
        .env("COFFER_OIDC_CLIENT_SECRET", hidden)
        .output()
        .expect("coffer-server --help runs");
    assert!(run.status.success(), "--help exit status {}", run.status);
    let help = String::from_utf8_lossy(&run.stdout);

    // Every flag and variable of the contract is there.
    for (flag, variable) in CONTRACT_SETTINGS {
        assert!(help.contains(flag), "{flag} missing from --help:\n{help}");
        assert!(
            help.contains(variable),
            "{variable} missing from --help:\n{help}"
        );
    }

    // So is every variable docs/configuration.md documents.
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/configuration.md"
    ))
    .expect("docs/configuration.md");
    let documented = coffer_variables(&docs);
    assert!(
        documented.len() >= CONTRACT_SETTINGS.len(),
        "{documented:?}"
    );
    for variable in documented {
        assert!(
            help.contains(&variable),
            "{variable} is documented but missing from --help"
        );
    }

    // Secret values never appear, even in help.
    assert!(!help.contains(hidden), "--help printed a secret:\n{help}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_server_cleanly_and_flushes_the_access_log() {
    // A server whose access log is written only at the periodic flush,
    // an hour away, or at a clean stop.
    let data = TempDir::new().expect("data folder");
    let mut server = Launch::new(data.path())
        .args(&["--access-log-flush-secs", "3600"])
        .start()
        .await;

    // A readiness check makes the portal call its embedded endpoint.
    let ready = reqwest::get(format!("{}/readyz", server.url))
        .await
        .expect("GET /readyz");
    assert!(ready.status().is_success());

    // SIGTERM: exit 0 within seconds.
    let status = server.terminate(Duration::from_secs(15)).await;
    assert!(
        status.is_some_and(|status| status.code() == Some(0)),
        "no clean exit after SIGTERM ({status:?}):\n{}",
        server.output()
    );
    assert!(
        server.output().contains("embedded S3 endpoint stopped"),
        "{}",
        server.output()
    );

    // The same data folder, opened again, holds the flushed access log.
    let (key_id, secret) = load_or_create_credentials(data.path()).expect("stored credentials");
    let endpoint = EmbeddedS3::start(EmbeddedS3Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        data_dir: data.path().to_path_buf(),
        access_key_id: key_id.clone(),
        secret_access_key: secret.clone(),
        buckets: vec!["coffer-artifacts".to_owned()],
        log_bucket: LOG_BUCKET.to_owned(),
        access_log_flush: Duration::from_secs(3600),
        cors_origins: Vec::new(),
    })
    .await
    .expect("embedded endpoint reopens");
    let s3 = crate::s3::client(&endpoint.endpoint_url(), &key_id, secret.expose_secret());
    let log_text = access_log_text(&s3).await;
    endpoint.shutdown().await.expect("clean stop");

    // It records the requests of the run that was stopped.
    assert!(
        log_text.contains("REST.HEAD.BUCKET") && log_text.contains("REST.PUT.OBJECT"),
        "unexpected access log:\n{log_text}"
    );
}

/// Every access log object in the log bucket, concatenated; fails when
/// there is none.
async fn access_log_text(s3: &aws_sdk_s3::Client) -> String {
    let listing = s3
        .list_objects_v2()
        .bucket(LOG_BUCKET)
        .prefix(ACCESS_LOG_PREFIX)
        .send()
        .await
        .expect("list the log bucket");
    let keys: Vec<&str> = listing
        .contents()
        .iter()
        .filter_map(|object| object.key())
        .collect();
    assert!(!keys.is_empty(), "no object under {ACCESS_LOG_PREFIX}");

    let mut text = String::new();
    for key in keys {
        let object = s3
            .get_object()
            .bucket(LOG_BUCKET)
            .key(key)
            .send()
            .await
            .expect("get access log object");
        let bytes = object.body.collect().await.expect("body").into_bytes();
        text.push_str(&String::from_utf8_lossy(&bytes));
    }
    text
}

/// The `COFFER_*` names a text mentions, each once.
fn coffer_variables(text: &str) -> Vec<String> {
    let mut names: Vec<String> = text
        .match_indices("COFFER_")
        .map(|(at, _)| {
            text[at..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect()
        })
        .collect();
    names.sort();
    names.dedup();
    names
}
