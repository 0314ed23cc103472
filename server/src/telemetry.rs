//! Structured logs through `tracing`: human-readable by default, one JSON
//! object per line with `--log-format json`. `RUST_LOG` filters, below the
//! ceilings that keep secrets out of the log.

use tracing_subscriber::filter::{FilterExt as _, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _, fmt};

use crate::config::LogFormat;

/// What is logged when `RUST_LOG` is unset. tower-sessions wraps every
/// request in an empty `call` span at info, which would hide the request
/// span from JSON's `span` field, so it is kept to warnings.
const DEFAULT_FILTER: &str = "info,tower_http=info,tower_sessions=warn,aws=warn,hyper=warn,s3s=off";

/// Levels no `RUST_LOG` can raise, however specific its directives: these
/// crates print whole requests when verbose, and requests carry secrets.
/// s3s dumps each request it parses at debug (`s3s::service`), with the
/// `Authorization` header and presigned query strings, whose signatures
/// let anyone who reads the log replay the request until it expires.
/// Capping here rather than appending to the `RUST_LOG` directives makes
/// it a true ceiling: an `EnvFilter` lets a more specific directive such as
/// `s3s::service=debug` win over a crate-wide one.
fn ceilings() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_target("s3s", LevelFilter::INFO)
}

/// Installs the global subscriber; later calls (tests) are ignored.
pub fn init(format: LogFormat) {
    let requested =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let layer = match format {
        LogFormat::Text => fmt::layer().with_target(false).boxed(),
        LogFormat::Json => fmt::layer()
            .with_target(false)
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(requested.and(ceilings())))
        .try_init();
}
