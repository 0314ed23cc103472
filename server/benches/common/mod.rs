//! Helpers the benchmarks share: settings from the environment, source
//! files, an S3 client for the embedded endpoint, and a signed-in portal
//! session.

#![allow(
    dead_code,
    reason = "each benchmark includes this module and uses a part of it"
)]

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, bail};
use aws_sdk_s3::Client as S3Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use reqwest::{Client, StatusCode};
use scraper::{Html, Selector};
use sha2::{Digest as _, Sha256};

pub const MIB: u64 = 1024 * 1024;

/// A whole-number setting from the environment.
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// Writes `size_mib` MiB of pseudo-random bytes (xorshift, so nothing
/// compresses or deduplicates them) and answers their SHA-256 in hex.
pub fn write_source(path: &Path, size_mib: u64) -> anyhow::Result<String> {
    let file = std::fs::File::create(path)
        .with_context(|| format!("failed to create {}", path.display()))?;
    let mut file = std::io::BufWriter::new(file);
    let mut hash = Sha256::new();
    let mut chunk = vec![0u8; MIB as usize];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..size_mib {
        for word in chunk.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        hash.update(&chunk);
        file.write_all(&chunk)?;
    }
    file.flush()?;
    Ok(hex::encode(hash.finalize()))
}

/// An S3 client for an embedded endpoint, path-style, as Coffer uses it.
pub fn s3_client(endpoint: &str, access_key_id: &str, secret: &str) -> S3Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(access_key_id, secret, None, None, "bench"))
        .force_path_style(true)
        .build();
    S3Client::from_conf(config)
}

/// A signed-in browser-like client of a portal.
pub struct Session {
    pub base: String,
    pub client: Client,
    pub csrf_token: String,
}

impl Session {
    /// Runs the sign-in flow against the development provider.
    pub async fn sign_in(base: &str, username: &str) -> anyhow::Result<Session> {
        let client = Client::builder().cookie_store(true).build()?;

        // `/login` leads to the provider's form; its answer leads back.
        let form_page = client.get(format!("{base}/login?next=/")).send().await?;
        let form_url = form_page.url().clone();
        let html = form_page.text().await?;
        let (action, mut fields) = form_fields(&html)?;
        for (name, value) in &mut fields {
            match name.as_str() {
                "username" => *value = username.to_owned(),
                "password" => *value = "coffer-demo".to_owned(),
                _ => {}
            }
        }
        let done = client
            .post(form_url.join(&action)?)
            .form(&fields)
            .send()
            .await?;
        if !done.status().is_success() {
            bail!("sign-in of {username} ended with {}", done.status());
        }

        // The CSRF token rides every change.
        let me: serde_json::Value = client
            .get(format!("{base}/api/v1/me"))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let csrf_token = me["csrf_token"]
            .as_str()
            .context("no csrf_token in /api/v1/me")?
            .to_owned();
        Ok(Session {
            base: base.to_owned(),
            client,
            csrf_token,
        })
    }

    /// A page or JSON answer as text, failing on any non-success.
    pub async fn get_text(&self, url: &str) -> anyhow::Result<String> {
        let response = self.client.get(url).send().await?;
        if response.status() != StatusCode::OK {
            bail!("GET {url} answered {}", response.status());
        }
        Ok(response.text().await?)
    }

    /// POSTs JSON to the API and reads the JSON answer.
    pub async fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> anyhow::Result<T> {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header("x-csrf-token", &self.csrf_token)
            .json(body)
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("POST {path} answered {}", response.status());
        }
        Ok(response.json().await?)
    }
}

/// The first form's action and named inputs.
fn form_fields(html: &str) -> anyhow::Result<(String, Vec<(String, String)>)> {
    let document = Html::parse_document(html);
    let form = document
        .select(&Selector::parse("form").expect("selector"))
        .next()
        .context("no form on the provider's page")?;
    let action = form.value().attr("action").unwrap_or("").to_owned();
    let fields = form
        .select(&Selector::parse("input[name]").expect("selector"))
        .map(|input| {
            let value = input.value().attr("value").unwrap_or_default();
            (
                input.value().attr("name").unwrap_or_default().to_owned(),
                value.to_owned(),
            )
        })
        .collect();
    Ok((action, fields))
}

/// Percentile `p` (0 to 100) of sorted samples.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}
