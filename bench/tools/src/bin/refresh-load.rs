//! `refresh-load --url http://127.0.0.1:PORT [--sessions 32] [--seconds 10]
//!  [--username NAME] [--password PASSWORD]`
//!
//! Refresh-token rotations per second. Registers the user (an existing one
//! is fine), signs in `--sessions` times to get that many independent
//! sessions, then runs one loop per session for `--seconds`: POST
//! `/api/auth/refresh` with the session's current refresh cookie, take the
//! rotated one from `Set-Cookie`, again. A refresh token is single-use, which
//! is why a fixed-request load generator cannot do this.
//!
//! Prints `rotations_per_sec=… rotations=… failures=… seconds=… p50_us=…
//! p99_us=… statuses=…`; a failure is any answer but 204 (or a 204 without a
//! new refresh cookie); the percentiles are of every refresh request's time
//! to its answer, failed ones included.
//! After a 401 the session is gone, so its loop signs in again.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use portcullis_bench::{Args, json_string};

const USAGE: &str = "refresh-load --url http://HOST:PORT [--sessions N] [--seconds S] [--username NAME] [--password PASSWORD]";

type Http = Client<HttpConnector, Full<Bytes>>;

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("refresh-load: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("refresh-load: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Where Portcullis is and who signs in.
struct Target {
    client: Http,
    url: String,
    username: String,
    password: String,
}

/// What one session's loop did.
#[derive(Default)]
struct Tally {
    rotations: u64,
    failures: u64,
    statuses: BTreeMap<u16, u64>,
    /// Each refresh request's time to its answer, in microseconds.
    latencies_us: Vec<f64>,
}

async fn run() -> Result<(), String> {
    let args = Args::parse(USAGE)?;
    let url: String = args.required("url")?;
    let sessions: usize = args.or("sessions", 32)?;
    let seconds: f64 = args.or("seconds", 10.0)?;
    if sessions == 0 || seconds.is_nan() || seconds <= 0.0 {
        return Err("--sessions and --seconds must be above zero".into());
    }
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let target = Arc::new(Target {
        client: Client::builder(TokioExecutor::new()).build(connector),
        url: url.trim_end_matches('/').to_owned(),
        username: args.or("username", "refresh-bench".to_owned())?,
        password: args.or("password", "refresh bench password 1".to_owned())?,
    });

    target.register().await?;
    let mut cookies = Vec::with_capacity(sessions);
    for _ in 0..sessions {
        cookies.push(target.sign_in().await?);
    }

    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let loops: Vec<_> = cookies
        .into_iter()
        .map(|cookie| tokio::spawn(rotate_until(target.clone(), cookie, deadline)))
        .collect();
    let mut total = Tally::default();
    for handle in loops {
        let tally = handle.await.map_err(|e| format!("a loop failed: {e}"))?;
        total.rotations += tally.rotations;
        total.failures += tally.failures;
        for (status, n) in tally.statuses {
            *total.statuses.entry(status).or_default() += n;
        }
        total.latencies_us.extend(tally.latencies_us);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let statuses = total
        .statuses
        .iter()
        .map(|(s, n)| format!("{s}:{n}"))
        .collect::<Vec<_>>()
        .join(",");
    let (p50, p99) = percentiles(&mut total.latencies_us);
    println!(
        "rotations_per_sec={:.1} rotations={} failures={} seconds={elapsed:.2} sessions={sessions} \
         p50_us={p50:.0} p99_us={p99:.0} statuses={}",
        total.rotations as f64 / elapsed,
        total.rotations,
        total.failures,
        if statuses.is_empty() { "-" } else { &statuses },
    );
    Ok(())
}

async fn rotate_until(target: Arc<Target>, mut cookie: String, deadline: Instant) -> Tally {
    let mut tally = Tally::default();
    while Instant::now() < deadline {
        let sent = Instant::now();
        let outcome = target.post("/api/auth/refresh", Some(&cookie), None).await;
        tally.latencies_us.push(sent.elapsed().as_secs_f64() * 1e6);
        match outcome {
            Ok((status, headers)) => {
                *tally.statuses.entry(status.as_u16()).or_default() += 1;
                match (status, refresh_cookie(&headers)) {
                    (StatusCode::NO_CONTENT, Some(next)) => {
                        cookie = next;
                        tally.rotations += 1;
                    }
                    (StatusCode::UNAUTHORIZED, _) => {
                        tally.failures += 1;
                        eprintln!("refresh-load: session lost (401); signing in again");
                        match target.sign_in().await {
                            Ok(next) => cookie = next,
                            Err(e) => {
                                eprintln!("refresh-load: {e}");
                                break;
                            }
                        }
                    }
                    _ => tally.failures += 1,
                }
            }
            Err(e) => {
                tally.failures += 1;
                eprintln!("refresh-load: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    tally
}

impl Target {
    async fn register(&self) -> Result<(), String> {
        let body = format!(
            "{{\"username\":{},\"email\":{},\"password\":{}}}",
            json_string(&self.username),
            json_string(&format!("{}@bench.invalid", self.username)),
            json_string(&self.password),
        );
        let (status, _) = self.post("/api/auth/register", None, Some(body)).await?;
        // 409: the account is there from an earlier run, which is fine.
        if status.is_success() || status == StatusCode::CONFLICT {
            Ok(())
        } else {
            Err(format!("registration answered {status}"))
        }
    }

    /// Signs in and returns the `Cookie` header value for the new session's
    /// refresh token.
    async fn sign_in(&self) -> Result<String, String> {
        let body = format!(
            "{{\"username\":{},\"password\":{}}}",
            json_string(&self.username),
            json_string(&self.password),
        );
        let (status, headers) = self.post("/api/auth/login", None, Some(body)).await?;
        if !status.is_success() {
            return Err(format!("sign-in answered {status}"));
        }
        refresh_cookie(&headers).ok_or_else(|| "sign-in set no refresh cookie".to_owned())
    }

    /// POSTs (JSON when there is a body) and returns the status and headers;
    /// the body is read and dropped so that the connection is reused.
    async fn post(
        &self,
        path: &str,
        cookie: Option<&str>,
        json: Option<String>,
    ) -> Result<(StatusCode, HeaderMap), String> {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(format!("{}{path}", self.url))
            // What a browser page on Portcullis's own origin sends.
            .header(header::ORIGIN, &self.url);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        if json.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(json.unwrap_or_default())))
            .map_err(|e| format!("cannot build the request: {e}"))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| format!("POST {path}: {e}"))?;
        let (parts, body) = response.into_parts();
        body.collect()
            .await
            .map_err(|e| format!("POST {path}: reading the body: {e}"))?;
        Ok((parts.status, parts.headers))
    }
}

/// The 50th and 99th percentiles (nearest rank) of some samples; zeros for
/// none.
fn percentiles(samples: &mut [f64]) -> (f64, f64) {
    if samples.is_empty() {
        return (0.0, 0.0);
    }
    samples.sort_by(f64::total_cmp);
    let rank =
        |p: f64| samples[((p * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1];
    (rank(0.50), rank(0.99))
}

/// `name=value` of the refresh cookie a response sets (with or without the
/// `__Host-` prefix), ready for a `Cookie` header; `None` when it sets none or
/// only clears it.
fn refresh_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v: &HeaderValue| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::trim)
        .find(|pair| {
            pair.split_once('=').is_some_and(|(name, value)| {
                matches!(name, "__Host-refresh_token" | "refresh_token") && !value.is_empty()
            })
        })
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_ranks() {
        let mut samples: Vec<f64> = (1..=200).rev().map(f64::from).collect();
        assert_eq!(percentiles(&mut samples), (100.0, 198.0));
        assert_eq!(percentiles(&mut [7.0]), (7.0, 7.0));
        assert_eq!(percentiles(&mut []), (0.0, 0.0));
    }

    #[test]
    fn the_refresh_cookie_is_found_among_others_and_clears_are_ignored() {
        let mut headers = HeaderMap::new();
        for value in [
            "__Host-access_token=a.b.c; HttpOnly; Secure",
            "__Host-refresh_token=xyz; HttpOnly; Max-Age=604800",
        ] {
            headers.append(header::SET_COOKIE, HeaderValue::from_static(value));
        }
        assert_eq!(
            refresh_cookie(&headers).as_deref(),
            Some("__Host-refresh_token=xyz")
        );
        let mut cleared = HeaderMap::new();
        cleared.append(
            header::SET_COOKIE,
            HeaderValue::from_static("__Host-refresh_token=; Max-Age=0"),
        );
        assert_eq!(refresh_cookie(&cleared), None);
    }
}
