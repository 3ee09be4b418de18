//! The `portcullis` binary: parse the command line, start logging, dispatch,
//! and turn the outcome into an exit code — and, on failure, tell the
//! operator everything the error knows: its message and each cause under it,
//! one per line.

use std::error::Error;
use std::io::BufWriter;
use std::process::ExitCode;

use clap::Parser;
use portcullis::admin;
use portcullis::app::Application;
use portcullis::cli::{Cli, Command};
use portcullis::config::{Config, LOG_FILTER_VARIABLE, LogFormat};
use portcullis::report::Chain;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match cli.sources().and_then(|s| Config::from_sources(&s)) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("portcullis: {:#}", Chain(&e));
            return ExitCode::from(2);
        }
    };
    let logging = init_logging(config.log_format);
    let outcome = match cli.command {
        Command::Serve(_) => serve(config).await,
        Command::User(c) => admin::user(&config, c).await.map_err(Into::into),
        Command::Keys(c) => admin::keys(&config, c).await.map_err(Into::into),
        Command::Sessions(c) => admin::sessions(&config, c).await.map_err(Into::into),
        Command::Audit(a) => admin::audit(&config, a).await.map_err(Into::into),
    };
    // Writes out the log lines still queued, before our last words.
    drop(logging);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portcullis: {:#}", Chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> Result<(), Box<dyn Error>> {
    let stop = shutdown_signal();
    let app = Application::build(config).await?;
    Ok(app.run_until_stopped(stop).await?)
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM. The handlers are installed at
/// once, not when the future is first polled: a signal that arrives while
/// the server starts, or just after it says it is listening, must still stop
/// it gracefully rather than kill it.
#[cfg(unix)]
fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{Signal, SignalKind, signal};

    async fn received(signal: Option<Signal>) {
        match signal {
            Some(mut signal) => {
                signal.recv().await;
            }
            // Not installed: this signal cannot stop the server.
            None => std::future::pending().await,
        }
    }

    let terminate = signal(SignalKind::terminate()).ok();
    let interrupt = signal(SignalKind::interrupt()).ok();
    async move {
        tokio::select! {
            () = received(terminate) => {},
            () = received(interrupt) => {},
        }
        tracing::info!("shutting down");
    }
}

/// Resolves on Ctrl-C.
#[cfg(not(unix))]
fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        tracing::info!("shutting down");
    }
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
    let (writer, guard) = tracing_appender::non_blocking(BufWriter::new(std::io::stderr()));
    // No colours, on a terminal either: escape codes cost every line its
    // styling calls and would land in any file the terminal's output is
    // later saved to.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(writer);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    guard
}
