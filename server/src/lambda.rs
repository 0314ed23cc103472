//! Running as an AWS Lambda function behind an API Gateway HTTP API: the
//! same binary, started by Lambda as `bootstrap`, notices the runtime and
//! answers its events with the portal's routes instead of listening on a
//! port.

use anyhow::{anyhow, bail};

use crate::config::{Settings, StorageMode};

/// The variable the Lambda runtime sets to the address of its runtime API.
const RUNTIME_API: &str = "AWS_LAMBDA_RUNTIME_API";

/// Whether this process was started by the Lambda runtime.
pub fn detected() -> bool {
    std::env::var_os(RUNTIME_API).is_some()
}

/// Refuses settings that cannot work in Lambda, whose local disk is
/// discarded between environments and whose loopback no browser reaches.
pub fn check_settings(settings: &Settings) -> anyhow::Result<()> {
    if settings.storage != StorageMode::S3 {
        bail!(
            "in Lambda, set --storage s3: the embedded endpoint keeps its data on a local disk that Lambda discards"
        );
    }
    if settings.oidc_issuer.is_none() {
        bail!(
            "in Lambda, set --oidc-issuer: the development identity provider is for laptops only"
        );
    }
    Ok(())
}

/// Answers API Gateway events with `app` until the runtime stops the
/// process. Each event becomes an ordinary request, so every route,
/// header and cookie behaves as it does behind a listener.
pub async fn serve(app: axum::Router) -> anyhow::Result<()> {
    lambda_http::run(app)
        .await
        .map_err(|error| anyhow!("the Lambda runtime loop failed: {error}"))
}
