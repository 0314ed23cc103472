//! Typed settings, read from flags and `COFFER_*` variables and validated
//! once at start-up. `coffer-server --help` prints every one of them; the
//! same table lives in `docs/configuration.md`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use clap::{Parser, ValueEnum};
use openidconnect::IssuerUrl;
use secrecy::SecretString;
use url::Url;

use crate::auth::roles::GroupMap;

/// Where Coffer keeps its buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StorageMode {
    /// An S3 endpoint inside this process, storing under `--data-dir`.
    Embedded,
    /// AWS S3 or any S3-compatible server, through the AWS SDK's default
    /// credential chain; honours `AWS_ENDPOINT_URL_S3`.
    S3,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// A switch written `on` or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// Whether compliance staff may download artifacts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ComplianceDownloads {
    /// Compliance may download, as data scientists and admins do.
    Allow,
    /// Compliance may browse and audit but not download.
    Deny,
}

/// Every setting of the server, as given on the command line or in the
/// environment.
#[derive(Clone, Debug, Parser)]
#[command(
    name = "coffer-server",
    version,
    about = "Coffer: a secure, auditable store for machine-learning model artifacts.",
    long_about = "Coffer: a secure, auditable store for machine-learning model artifacts.\n\n\
        Every setting is a flag and a COFFER_* environment variable. With no settings \
        at all, Coffer runs embedded: an S3 endpoint and a development identity \
        provider inside this process, data under ./data."
)]
pub struct Settings {
    /// Address the portal listens on.
    #[arg(long, env = "COFFER_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    /// The portal's public URL; OIDC redirect URIs derive from it, and
    /// cookies are `Secure` when it is https.
    #[arg(
        long,
        env = "COFFER_PUBLIC_URL",
        default_value = "http://127.0.0.1:3000"
    )]
    pub public_url: Url,

    /// Where buckets live: `embedded` or `s3`.
    #[arg(long, env = "COFFER_STORAGE", value_enum, default_value = "embedded")]
    pub storage: StorageMode,

    /// Address of the embedded S3 endpoint.
    #[arg(long, env = "COFFER_S3_LISTEN", default_value = "127.0.0.1:9000")]
    pub s3_listen: SocketAddr,

    /// Access key id of the embedded endpoint (generated on first run and
    /// kept in the data folder when unset).
    #[arg(long, env = "COFFER_S3_ACCESS_KEY_ID")]
    pub s3_access_key_id: Option<String>,

    /// Secret key of the embedded endpoint (generated on first run and kept
    /// in the data folder when unset).
    #[arg(long, env = "COFFER_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub s3_secret_access_key: Option<SecretString>,

    /// Path-style bucket addressing; defaults to true for embedded storage
    /// and false for s3.
    #[arg(long, env = "COFFER_S3_FORCE_PATH_STYLE")]
    pub s3_force_path_style: Option<bool>,

    /// Folder for the embedded endpoint's objects, its keys and the
    /// development provider's keys.
    #[arg(long, env = "COFFER_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Bucket holding artifacts, the registry, sessions and the audit trail.
    #[arg(long, env = "COFFER_BUCKET", default_value = "coffer-artifacts")]
    pub bucket: String,

    /// Bucket receiving S3 server access logs (and CloudTrail files in AWS).
    #[arg(long, env = "COFFER_LOG_BUCKET", default_value = "coffer-logs")]
    pub log_bucket: String,

    /// OIDC issuer URL, exactly as the provider writes it (discovery must
    /// match it to the letter); unset means the embedded development
    /// provider at `<public-url>/dev-idp`.
    #[arg(long, env = "COFFER_OIDC_ISSUER", value_parser = parse_issuer)]
    pub oidc_issuer: Option<IssuerUrl>,

    /// OIDC client id (set by the embedded provider when no issuer is given).
    #[arg(long, env = "COFFER_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,

    /// OIDC client secret, for confidential clients.
    #[arg(long, env = "COFFER_OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<SecretString>,

    /// Sign-out URL of a provider whose discovery document names no
    /// `end_session_endpoint`, such as Cognito's hosted UI
    /// (`https://<domain>/logout`); Coffer adds `client_id` and `logout_uri`.
    #[arg(long, env = "COFFER_OIDC_LOGOUT_URL")]
    pub oidc_logout_url: Option<Url>,

    /// ID token claim that lists the user's groups.
    #[arg(long, env = "COFFER_GROUPS_CLAIM", default_value = "cognito:groups")]
    pub groups_claim: String,

    /// Which group grants which role, as `group=role` pairs separated by
    /// commas; roles are `data-scientist`, `compliance` and `admin`.
    #[arg(
        long,
        env = "COFFER_GROUP_ROLES",
        default_value = "data-scientists=data-scientist,compliance=compliance,admins=admin"
    )]
    pub group_roles: GroupMap,

    /// Users file replacing the development provider's demo accounts.
    #[arg(long, env = "COFFER_DEV_IDP_USERS")]
    pub dev_idp_users: Option<PathBuf>,

    /// Serve the development provider even though the portal listens
    /// beyond loopback. Anyone who can reach the portal can then sign in
    /// with the demo passwords.
    #[arg(long, env = "COFFER_DEV_IDP_FORCE", default_value_t = false)]
    pub dev_idp_force: bool,

    /// Read CloudTrail for the compliance dashboard; honours
    /// `AWS_ENDPOINT_URL_CLOUDTRAIL`.
    #[arg(long, env = "COFFER_CLOUDTRAIL", value_enum, default_value = "on")]
    pub cloudtrail: Switch,

    /// Seconds between two flushes of the embedded endpoint's access logs
    /// (they go to `s3-access/` in the log bucket).
    #[arg(long, env = "COFFER_ACCESS_LOG_FLUSH_SECS", default_value_t = 60)]
    pub access_log_flush_secs: u64,

    /// Minutes of inactivity after which a session ends.
    #[arg(long, env = "COFFER_SESSION_IDLE_MINUTES", default_value_t = 30)]
    pub session_idle_minutes: u64,

    /// Hours after sign-in at which a session ends, active or not.
    #[arg(long, env = "COFFER_SESSION_MAX_HOURS", default_value_t = 12)]
    pub session_max_hours: u64,

    /// Folder holding the built browser bundle (trunk's output).
    #[arg(long, env = "COFFER_SITE_DIR", default_value = "target/site")]
    pub site_dir: PathBuf,

    /// Log line format: `text` or `json`.
    #[arg(long, env = "COFFER_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Largest file an upload may hold, in bytes (100 GiB).
    #[arg(long, env = "COFFER_MAX_FILE_SIZE", default_value_t = 100 << 30)]
    pub max_file_size: u64,

    /// Largest version an upload may create, all files together, in bytes
    /// (1 TiB).
    #[arg(long, env = "COFFER_MAX_VERSION_SIZE", default_value_t = 1 << 40)]
    pub max_version_size: u64,

    /// Most files one version may hold.
    #[arg(long, env = "COFFER_MAX_FILES_PER_VERSION", default_value_t = 1000)]
    pub max_files_per_version: usize,

    /// Most uploads one user may have open at once.
    #[arg(long, env = "COFFER_MAX_OPEN_UPLOADS", default_value_t = 4)]
    pub max_open_uploads: usize,

    /// Parts the upload page keeps in flight.
    #[arg(long, env = "COFFER_UPLOAD_PARALLEL_PARTS", default_value_t = 6)]
    pub upload_parallel_parts: u32,

    /// Seconds a presigned part URL stays valid.
    #[arg(long, env = "COFFER_PART_URL_TTL_SECS", default_value_t = 900)]
    pub part_url_ttl_secs: u64,

    /// Hours without a new part after which the janitor aborts an upload.
    #[arg(long, env = "COFFER_UPLOAD_EXPIRY_HOURS", default_value_t = 24)]
    pub upload_expiry_hours: u64,

    /// Seconds between two janitor rounds.
    #[arg(long, env = "COFFER_JANITOR_INTERVAL_SECS", default_value_t = 600)]
    pub janitor_interval_secs: u64,

    /// Whether compliance staff may download artifacts: `allow` or `deny`.
    /// They may browse and audit either way.
    #[arg(
        long,
        env = "COFFER_COMPLIANCE_DOWNLOADS",
        value_enum,
        default_value = "allow"
    )]
    pub compliance_downloads: ComplianceDownloads,
}

impl Settings {
    /// Checks what clap cannot: relations between settings.
    pub fn validate(&self) -> anyhow::Result<()> {
        // The portal builds absolute URLs from the public URL.
        let scheme = self.public_url.scheme();
        ensure!(
            scheme == "http" || scheme == "https",
            "--public-url must be an http or https URL, not {scheme}"
        );
        ensure!(
            self.public_url.host_str().is_some() && self.public_url.query().is_none(),
            "--public-url must name a host and carry no query"
        );

        // Bucket names follow S3's rules, so a typo fails here rather than
        // on the first request.
        for bucket in [&self.bucket, &self.log_bucket] {
            validate_bucket_name(bucket)?;
        }
        ensure!(
            self.bucket != self.log_bucket,
            "--bucket and --log-bucket must differ"
        );

        // The development provider accepts well-known demo passwords, so it
        // must not be reachable from other machines by accident.
        if self.oidc_issuer.is_none() && !self.dev_idp_force && !self.listen.ip().is_loopback() {
            bail!(
                "the development identity provider serves only on loopback, but --listen is {}; \
                 set --oidc-issuer to a real provider, or --dev-idp-force to serve the demo \
                 accounts anyway",
                self.listen
            );
        }

        // An external provider needs a client registered with it.
        if self.oidc_issuer.is_some() && self.oidc_client_id.is_none() {
            bail!("--oidc-issuer needs --oidc-client-id");
        }

        // Zero would end every session at once or flush in a busy loop.
        ensure!(
            self.session_idle_minutes > 0,
            "--session-idle-minutes must be positive"
        );
        ensure!(
            self.session_max_hours > 0,
            "--session-max-hours must be positive"
        );
        ensure!(
            self.access_log_flush_secs > 0,
            "--access-log-flush-secs must be positive"
        );

        // Upload limits of zero would refuse every upload; URLs outside
        // S3's 1 s to 7 days window would be refused by S3 itself.
        ensure!(
            self.max_file_size > 0 && self.max_version_size > 0,
            "--max-file-size and --max-version-size must be positive"
        );
        ensure!(
            self.max_files_per_version > 0 && self.max_open_uploads > 0,
            "--max-files-per-version and --max-open-uploads must be positive"
        );
        ensure!(
            (1..=64).contains(&self.upload_parallel_parts),
            "--upload-parallel-parts must be between 1 and 64"
        );
        ensure!(
            (60..=604_800).contains(&self.part_url_ttl_secs),
            "--part-url-ttl-secs must be between 60 and 604800"
        );
        ensure!(
            self.upload_expiry_hours > 0 && self.janitor_interval_secs > 0,
            "--upload-expiry-hours and --janitor-interval-secs must be positive"
        );
        Ok(())
    }

    /// Whether cookies may travel over plain HTTP (loopback development).
    pub fn is_https(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// The portal's origin, as browsers send it in `Origin`.
    pub fn public_origin(&self) -> String {
        self.public_url.origin().ascii_serialization()
    }

    /// A URL under the public URL, for redirects and OIDC callbacks.
    pub fn public_url_for(&self, path: &str) -> anyhow::Result<Url> {
        let base = self.public_url.as_str().trim_end_matches('/');
        Url::parse(&format!("{base}{path}")).with_context(|| format!("bad public URL for {path}"))
    }

    /// Path-style addressing as configured, or the mode's default.
    pub fn force_path_style(&self) -> bool {
        self.s3_force_path_style
            .unwrap_or(self.storage == StorageMode::Embedded)
    }

    /// How long a session may sit idle.
    pub fn session_idle(&self) -> Duration {
        Duration::from_secs(self.session_idle_minutes * 60)
    }

    /// How long a session may live at all.
    pub fn session_max(&self) -> Duration {
        Duration::from_secs(self.session_max_hours * 3600)
    }
}

/// An issuer URL, kept as typed: `Url` would add a slash to a bare origin,
/// and OpenID Connect compares issuers as exact strings.
fn parse_issuer(text: &str) -> Result<IssuerUrl, String> {
    let issuer = IssuerUrl::new(text.to_owned()).map_err(|error| format!("{error}"))?;
    match issuer.url().scheme() {
        "http" | "https" => Ok(issuer),
        other => Err(format!(
            "the issuer must be an http or https URL, not {other}"
        )),
    }
}

/// S3's bucket naming rules: 3 to 63 lowercase letters, digits, dots and
/// hyphens, starting and ending with a letter or digit.
fn validate_bucket_name(name: &str) -> anyhow::Result<()> {
    let valid_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    let valid_ends = name
        .bytes()
        .next()
        .zip(name.bytes().last())
        .is_some_and(|(a, z)| a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric());
    ensure!(
        (3..=63).contains(&name.len()) && valid_chars && valid_ends && !name.contains(".."),
        "bucket name {name:?} is not valid: use 3 to 63 lowercase letters, digits, dots and \
         hyphens, starting and ending with a letter or digit"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Settings {
        let mut argv = vec!["coffer-server"];
        argv.extend_from_slice(args);
        Settings::try_parse_from(argv).expect("arguments parse")
    }

    #[test]
    fn defaults_describe_the_embedded_portal_on_loopback() {
        let settings = parse(&[]);
        assert_eq!(settings.storage, StorageMode::Embedded);
        assert!(settings.force_path_style());
        assert!(settings.validate().is_ok());
        assert_eq!(settings.public_origin(), "http://127.0.0.1:3000");
    }

    #[test]
    fn the_development_provider_refuses_a_public_listen_address() {
        let settings = parse(&["--listen", "0.0.0.0:3000"]);
        let error = settings.validate().expect_err("must refuse").to_string();
        assert!(error.contains("loopback"), "{error}");
        assert!(
            parse(&["--listen", "0.0.0.0:3000", "--dev-idp-force"])
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn bad_bucket_names_are_refused_with_the_rule() {
        for bad in ["ab", "Upper", "-lead", "trail-", "a..b", "under_score"] {
            let error = validate_bucket_name(bad).expect_err(bad).to_string();
            assert!(error.contains("lowercase letters"), "{bad}: {error}");
        }
        assert!(validate_bucket_name("coffer-artifacts").is_ok());
    }

    #[test]
    fn an_external_issuer_needs_a_client_id() {
        let settings = parse(&["--oidc-issuer", "https://idp.example.com"]);
        assert!(settings.validate().is_err());
    }

    #[test]
    fn an_issuer_keeps_the_spelling_it_was_given() {
        for typed in [
            "https://accounts.google.com",
            "https://idp.example.com/realms/coffer/",
        ] {
            let settings = parse(&["--oidc-issuer", typed, "--oidc-client-id", "c"]);
            let issuer = settings.oidc_issuer.expect("issuer set");
            assert_eq!(issuer.as_str(), typed);
        }
        assert!(Settings::try_parse_from(["coffer-server", "--oidc-issuer", "ftp://idp"]).is_err());
    }

    #[test]
    fn compliance_may_download_unless_an_admin_forbids_it() {
        assert_eq!(parse(&[]).compliance_downloads, ComplianceDownloads::Allow);
        assert_eq!(
            parse(&["--compliance-downloads", "deny"]).compliance_downloads,
            ComplianceDownloads::Deny
        );
        assert!(
            Settings::try_parse_from(["coffer-server", "--compliance-downloads", "maybe"]).is_err()
        );
    }

    #[test]
    fn s3_storage_defaults_to_virtual_hosted_addressing() {
        assert!(!parse(&["--storage", "s3"]).force_path_style());
    }
}
