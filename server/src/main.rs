//! `coffer-server`: reads its settings, starts the portal, and stops
//! cleanly on Ctrl-C or SIGTERM; in the Lambda runtime it answers API
//! Gateway events instead. `coffer-server --help` lists every
//! setting.

use clap::Parser;
use coffer_server::config::Settings;
use coffer_server::lambda;
use coffer_server::startup::{self, StartOptions};
use coffer_server::telemetry;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let settings = Settings::parse();
    telemetry::init(settings.log_format);

    // Started by Lambda as `bootstrap`: answer its events, no listener.
    if lambda::detected() {
        return match startup::serve_lambda(settings).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!(error = %format!("{error:#}"), "Coffer could not serve Lambda invocations");
                std::process::ExitCode::FAILURE
            }
        };
    }

    // A failure to start is reported once, with its whole cause chain.
    let running = match startup::start(settings, StartOptions::default()).await {
        Ok(running) => running,
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "Coffer could not start");
            return std::process::ExitCode::FAILURE;
        }
    };
    match running.run_until(shutdown_signal()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "Coffer did not stop cleanly");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM (what container runtimes send).
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
