//! `upstream-api`: run the example notes API.
//!
//! ```text
//! upstream-api --bind 127.0.0.1:3000 --jwks-url http://127.0.0.1:8080/.well-known/jwks.json
//! upstream-api --hs256-secret-file secret.txt --token-cookie accessToken   # compatibility mode
//! ```

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use portcullis_verifier::{JwksCache, KeySet, Validation, Verifier};
use tracing_subscriber::EnvFilter;

/// An example API behind Portcullis: per-user notes.
#[derive(Debug, Parser)]
#[command(name = "upstream-api", version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "UPSTREAM_API_BIND", default_value = "127.0.0.1:3000")]
    bind: String,
    /// Portcullis's JWKS, where the token-signing keys are published.
    #[arg(
        long,
        env = "UPSTREAM_API_JWKS_URL",
        default_value = "http://127.0.0.1:8080/.well-known/jwks.json"
    )]
    jwks_url: String,
    /// Verify HS256 tokens with the shared secret in this file instead of
    /// fetching the JWKS (Portcullis's `signing_secret_file`).
    #[arg(long, env = "UPSTREAM_API_HS256_SECRET_FILE", value_name = "FILE")]
    hs256_secret_file: Option<PathBuf>,
    /// Also read the token from this cookie (e.g. `accessToken`).
    #[arg(long, env = "UPSTREAM_API_TOKEN_COOKIE")]
    token_cookie: Option<String>,
    /// The expected `iss` claim.
    #[arg(long, env = "UPSTREAM_API_ISSUER", default_value = "portcullis")]
    issuer: String,
    /// The expected `aud` claim.
    #[arg(long, env = "UPSTREAM_API_AUDIENCE", default_value = "portcullis")]
    audience: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("upstream-api: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let validation = Validation::new(args.issuer, args.audience);
    let mut verifier = match &args.hs256_secret_file {
        Some(path) => {
            let secret =
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let keys = KeySet::from_shared_secret(trim_newline(&secret))
                .map_err(|e| format!("{}: {e}", path.display()))?;
            Verifier::new(keys, validation)
        }
        None => {
            let cache = JwksCache::new(&args.jwks_url).map_err(|e| e.to_string())?;
            // Not fatal: Portcullis may start after us; the keys are fetched
            // again on the first token.
            if let Err(e) = cache.refresh().await {
                tracing::warn!(error = %e, "no JWKS yet");
            }
            Verifier::from_jwks(cache, validation)
        }
    };
    if let Some(cookie) = args.token_cookie {
        verifier = verifier.with_token_cookie(cookie);
    }
    let listener = tokio::net::TcpListener::bind(&args.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.bind))?;
    tracing::info!(addr = %args.bind, "upstream-api is listening");
    axum::serve(listener, upstream_api::router(verifier))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())
}

/// The secret file's bytes less one trailing newline, as Portcullis reads it.
fn trim_newline(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes.strip_suffix(b"\r").unwrap_or(bytes)
}
