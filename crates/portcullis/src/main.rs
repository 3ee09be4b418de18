//! The `portcullis` binary: parse the command line, start logging, dispatch,
//! and turn the outcome into an exit code.

use std::io::{BufWriter, IsTerminal};
use std::process::ExitCode;

use clap::Parser;
use portcullis::admin;
use portcullis::app::Application;
use portcullis::cli::{Cli, Command};
use portcullis::config::{Config, LOG_FILTER_VARIABLE, LogFormat};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match cli.sources().and_then(|s| Config::from_sources(&s)) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("portcullis: {e}");
            return ExitCode::from(2);
        }
    };
    let logging = init_logging(config.log_format);
    let outcome = match cli.command {
        Command::Serve(_) => serve(config).await,
        Command::User(c) => admin::user(&config, c).await.map_err(|e| e.to_string()),
        Command::Keys(c) => admin::keys(&config, c).await.map_err(|e| e.to_string()),
        Command::Sessions(c) => admin::sessions(&config, c).await.map_err(|e| e.to_string()),
        Command::Audit(a) => admin::audit(&config, a).await.map_err(|e| e.to_string()),
    };
    // Writes out the log lines still queued, before our last words.
    drop(logging);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("portcullis: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> Result<(), String> {
    let app = Application::build(config)
        .await
        .map_err(|e| e.to_string())?;
    app.run_until_stopped(shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

/// Logs go to stderr from a thread of their own, in batches: a request's
/// access-log line is handed over, not written, so a slow disk or pipe never
/// stalls a request (a `write` per line cost each proxied request more than
/// all of its token checks; see BENCHMARKS.md). Should the writer fall more
/// than 128k lines behind, new lines are dropped rather than block serving.
/// The returned guard writes out what is queued when dropped.
fn init_logging(format: LogFormat) -> WorkerGuard {
    let filter = EnvFilter::try_from_env(LOG_FILTER_VARIABLE)
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let ansi = std::io::stderr().is_terminal();
    let (writer, guard) = tracing_appender::non_blocking(BufWriter::new(std::io::stderr()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    guard
}
