//! Prometheus metrics: what the service counts and how `/metrics` renders it.
//!
//! Every [`Metrics`] owns its own recorder instead of installing one
//! process-wide. The `metrics` crate's macros normally report to a global
//! recorder, which can be set only once per process: the first server of a
//! test binary would win and every other server would count into its
//! registry, or nowhere. So each application builds a [`PrometheusRecorder`]
//! and records through [`metrics::with_local_recorder`], which points the
//! macros at that recorder for the duration of one synchronous call. Nothing
//! is awaited inside, so the thread-local scope can never leak into another
//! task. Several servers in one process — the integration tests — each see
//! exactly their own counts, and the production binary behaves the same.
//!
//! Label values are a small closed set (outcomes, reasons, matched routes,
//! status codes): never a raw path, user name or address, which would make
//! the number of series unbounded.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use metrics::{
    Counter, Gauge, Histogram, Unit, counter, describe_counter, describe_gauge, describe_histogram,
    gauge, histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};

/// Latency buckets, in seconds: from a cached token check (well under a
/// millisecond) to an argon2 sign-in under load or a slow upstream.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How a sign-in ended, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInOutcome {
    /// Credentials accepted, session started.
    Ok,
    /// Unknown account, wrong password or disabled account.
    Failed,
    /// Refused by the per-account back-off (429).
    Throttled,
    /// The password was right; the sign-in waits for a second factor.
    SecondFactor,
    /// Not decided: hashing at capacity or the database failed (503).
    Unavailable,
}

impl SignInOutcome {
    fn as_str(self) -> &'static str {
        match self {
            SignInOutcome::Ok => "ok",
            SignInOutcome::Failed => "failed",
            SignInOutcome::Throttled => "throttled",
            SignInOutcome::SecondFactor => "second_factor",
            SignInOutcome::Unavailable => "unavailable",
        }
    }
}

/// How busy the database's connection pool is, for
/// [`Metrics::record_pool`]. Its own type rather than the store's, so that
/// the metrics depend on nothing else in the crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    /// Connections open.
    pub size: u32,
    /// Of those, connections not in use.
    pub idle: u32,
    /// The most the pool may open.
    pub max: u32,
}

/// How a request forwarded to the upstream ended, for
/// [`Metrics::upstream`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamOutcome {
    /// The upstream answered, with this status.
    Answered(StatusCode),
    /// It could not be reached, or the connection broke (502).
    Unavailable,
    /// It did not answer in time (504).
    Timeout,
}

/// Why a tunnel (an upgraded connection, a WebSocket) closed, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelEnd {
    /// The browser or the upstream closed it, or the connection broke.
    Closed,
    /// Its session was revoked.
    Revoked,
    /// Its access token ran out without a live session behind it.
    Expired,
}

impl TunnelEnd {
    fn as_str(self) -> &'static str {
        match self {
            TunnelEnd::Closed => "closed",
            TunnelEnd::Revoked => "revoked",
            TunnelEnd::Expired => "expired",
        }
    }
}

/// One open tunnel, counted in `portcullis_tunnels_open` for as long as it
/// lives: dropped however the tunnel's task ends, the count goes down.
#[must_use = "the tunnel is counted only while this lives"]
pub struct OpenTunnel(Gauge);

impl Drop for OpenTunnel {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// The metrics of one running application. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    /// The handles of the per-request series, looked up rather than
    /// registered on every request: building and hashing a labelled key in
    /// the registry cost each request several allocations. The key sets are
    /// small and closed (methods, matched routes, statuses).
    requests: Arc<RwLock<RequestSeriesByLabels>>,
    upstream: Arc<RwLock<HashMap<u16, Histogram>>>,
}

/// Method and status of a request series; its route is the inner key.
type RequestLabels = (&'static str, u16);
/// A request series' count and latency.
type RequestSeries = (Counter, Histogram);
/// Every request series: by method and status, then by route.
type RequestSeriesByLabels = HashMap<RequestLabels, HashMap<Box<str>, RequestSeries>>;

/// `upstream`'s keys for the outcomes without a status.
const UPSTREAM_UNAVAILABLE: u16 = 0;
const UPSTREAM_TIMEOUT: u16 = 1;

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric described.
    pub fn new() -> Self {
        let builder = PrometheusBuilder::new();
        // Durations are histograms with fixed buckets, which Prometheus can
        // aggregate across instances; summaries could not be.
        let builder = builder
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            .unwrap_or_else(|_| unreachable!("the bucket list is a non-empty constant"));
        let metrics = Self {
            recorder: Arc::new(builder.build_recorder()),
            requests: Arc::default(),
            upstream: Arc::default(),
        };
        metrics.with(describe);
        metrics
    }

    /// Runs `f` with this registry as the recorder of the `metrics` macros.
    fn with<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(self.recorder.as_ref(), f)
    }

    /// The Prometheus text exposition of everything counted so far.
    pub fn render(&self) -> String {
        self.recorder.handle().render()
    }

    /// Drains histogram samples into their buckets; run periodically so that
    /// memory stays bounded when nobody scrapes.
    pub fn upkeep(&self) {
        self.recorder.handle().run_upkeep();
    }

    /// One HTTP request answered. `route` is the matched route template
    /// (`/api/auth/sessions/{id}`), never the raw path.
    pub fn http_request(&self, method: &Method, route: &str, status: StatusCode, took: Duration) {
        let labels = (method_label(method), status.as_u16());
        if let Some((count, latency)) = read(&self.requests)
            .get(&labels)
            .and_then(|routes| routes.get(route))
        {
            count.increment(1);
            latency.record(took);
            return;
        }
        let (count, latency) = self.with(|| {
            let labels = [
                ("method", labels.0.to_owned()),
                ("route", route.to_owned()),
                ("status", status.as_str().to_owned()),
            ];
            (
                counter!("portcullis_http_requests_total", &labels),
                histogram!("portcullis_http_request_duration_seconds", &labels),
            )
        });
        count.increment(1);
        latency.record(took);
        write(&self.requests)
            .entry(labels)
            .or_default()
            .insert(route.into(), (count, latency));
    }

    /// One sign-in attempt decided.
    pub fn sign_in(&self, outcome: SignInOutcome) {
        self.with(|| {
            counter!("portcullis_sign_ins_total", "outcome" => outcome.as_str()).increment(1);
        });
    }

    /// One refresh decided: `rotated`, `grace`, a denial reason
    /// (`reuse_detected`, `revoked`, `idle_timeout` …) or `error`.
    pub fn refresh(&self, outcome: &'static str) {
        self.with(|| {
            counter!("portcullis_refreshes_total", "outcome" => outcome).increment(1);
        });
    }

    /// `count` sessions revoked for `reason` (its stored spelling, e.g.
    /// `logout`: a small closed set).
    pub fn revocations(&self, reason: &'static str, count: u64) {
        if count == 0 {
            return;
        }
        self.with(|| {
            counter!("portcullis_revocations_total", "reason" => reason).increment(count);
        });
    }

    /// One row written to the mail outbox, by kind (`password_reset` …).
    pub fn mail_queued(&self, kind: &'static str) {
        self.with(|| counter!("portcullis_mail_queued_total", "kind" => kind).increment(1));
    }

    /// One row of the mail outbox dealt with: `sent`, `dropped` (nothing to
    /// send, e.g. a reset asked for an address no account has), `deferred`
    /// (failed, to be retried) or `abandoned`.
    pub fn mail_delivery(&self, kind: &str, outcome: &'static str) {
        let kind = kind.to_owned();
        self.with(|| {
            counter!("portcullis_mail_deliveries_total", "kind" => kind, "outcome" => outcome)
                .increment(1)
        });
    }

    /// One request forwarded to the upstream API: call it once per proxied
    /// request with the time from sending to response headers (or failure).
    pub fn upstream(&self, took: Duration, outcome: UpstreamOutcome) {
        let key = match outcome {
            UpstreamOutcome::Answered(status) => status.as_u16(),
            UpstreamOutcome::Unavailable => UPSTREAM_UNAVAILABLE,
            UpstreamOutcome::Timeout => UPSTREAM_TIMEOUT,
        };
        if let Some(latency) = read(&self.upstream).get(&key) {
            latency.record(took);
        } else {
            let label = match outcome {
                UpstreamOutcome::Answered(status) => status.as_str().to_owned(),
                UpstreamOutcome::Unavailable => "unavailable".to_owned(),
                UpstreamOutcome::Timeout => "timeout".to_owned(),
            };
            let latency = self.with(
                || histogram!("portcullis_upstream_request_duration_seconds", "outcome" => label),
            );
            latency.record(took);
            write(&self.upstream).insert(key, latency);
        }
        let error = match outcome {
            UpstreamOutcome::Answered(_) => return,
            UpstreamOutcome::Unavailable => "unavailable",
            UpstreamOutcome::Timeout => "timeout",
        };
        self.with(|| counter!("portcullis_upstream_errors_total", "kind" => error).increment(1));
    }

    /// A tunnel has opened; it counts as open until the value returned is
    /// dropped.
    pub fn tunnel_opened(&self) -> OpenTunnel {
        let open = self.with(|| gauge!("portcullis_tunnels_open"));
        open.increment(1.0);
        OpenTunnel(open)
    }

    /// A tunnel has closed, for this reason.
    pub fn tunnel_closed(&self, end: TunnelEnd) {
        self.with(|| {
            counter!("portcullis_tunnels_closed_total", "reason" => end.as_str()).increment(1);
        });
    }

    /// The argon2 queue's depth, read at scrape time rather than tracked on
    /// every change.
    pub fn record_hash_queue(&self, in_flight: usize) {
        self.with(|| {
            gauge!("portcullis_password_hashes_in_flight").set(in_flight as f64);
        });
    }

    /// The connection pool's use, read at scrape time.
    pub fn record_pool(&self, pool: PoolUse) {
        self.with(|| {
            gauge!("portcullis_db_pool_connections", "state" => "idle").set(f64::from(pool.idle));
            gauge!("portcullis_db_pool_connections", "state" => "in_use")
                .set(f64::from(pool.size.saturating_sub(pool.idle)));
            gauge!("portcullis_db_pool_max_connections").set(f64::from(pool.max));
        });
    }
}

/// Standard methods by name; anything else as `other`, since a client may
/// send any token as a method.
/// A lock's content, even if a thread panicked while holding it: the maps
/// only ever gain complete entries, so they are never left half-changed.
fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn describe() {
    describe_counter!(
        "portcullis_http_requests_total",
        "HTTP requests answered, by method, matched route and status"
    );
    describe_histogram!(
        "portcullis_http_request_duration_seconds",
        Unit::Seconds,
        "Time from request to response headers, by method, matched route and status"
    );
    describe_counter!(
        "portcullis_sign_ins_total",
        "Sign-in attempts by outcome: ok, failed, throttled, unavailable"
    );
    describe_counter!(
        "portcullis_refreshes_total",
        "Refresh-token uses by outcome: rotated, grace, or the denial reason"
    );
    describe_counter!(
        "portcullis_revocations_total",
        "Sessions revoked, by reason"
    );
    describe_counter!(
        "portcullis_mail_queued_total",
        "Mail written to the outbox, by kind"
    );
    describe_counter!(
        "portcullis_mail_deliveries_total",
        "Outbox rows dealt with, by kind and outcome: sent, dropped, deferred, abandoned"
    );
    describe_histogram!(
        "portcullis_upstream_request_duration_seconds",
        Unit::Seconds,
        "Time the upstream API took to answer a forwarded request, by status or failure"
    );
    describe_counter!(
        "portcullis_upstream_errors_total",
        "Forwarded requests that got no answer: unavailable or timeout"
    );
    describe_gauge!(
        "portcullis_tunnels_open",
        "Upgraded connections (WebSockets) being tunnelled to the upstream or the frontend"
    );
    describe_counter!(
        "portcullis_tunnels_closed_total",
        "Tunnels closed, by reason: closed (by either end), revoked (their session was), \
         expired (their token ran out without a live session)"
    );
    describe_gauge!(
        "portcullis_password_hashes_in_flight",
        "argon2 hashes running or queued for a slot"
    );
    describe_gauge!(
        "portcullis_db_pool_connections",
        "Database connections open, idle or in use"
    );
    describe_gauge!(
        "portcullis_db_pool_max_connections",
        "The most database connections the pool may open"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_registries_in_one_process_count_separately() {
        let (a, b) = (Metrics::new(), Metrics::new());
        a.sign_in(SignInOutcome::Ok);
        a.sign_in(SignInOutcome::Ok);
        b.sign_in(SignInOutcome::Throttled);
        assert!(
            a.render()
                .contains(r#"portcullis_sign_ins_total{outcome="ok"} 2"#)
        );
        assert!(!a.render().contains(r#"outcome="throttled""#));
        assert!(
            b.render()
                .contains(r#"portcullis_sign_ins_total{outcome="throttled"} 1"#)
        );
    }

    #[test]
    fn open_tunnels_are_counted_until_dropped() {
        let m = Metrics::new();
        let (a, b) = (m.tunnel_opened(), m.tunnel_opened());
        assert!(m.render().contains("portcullis_tunnels_open 2"));
        drop(a);
        m.tunnel_closed(TunnelEnd::Revoked);
        let text = m.render();
        assert!(text.contains("portcullis_tunnels_open 1"), "{text}");
        assert!(text.contains(r#"portcullis_tunnels_closed_total{reason="revoked"} 1"#));
        drop(b);
        assert!(m.render().contains("portcullis_tunnels_open 0"));
    }

    #[test]
    fn latencies_are_histograms_with_buckets() {
        let m = Metrics::new();
        m.upstream(Duration::from_millis(30), UpstreamOutcome::Timeout);
        let text = m.render();
        assert!(
            text.contains(
                r#"portcullis_upstream_request_duration_seconds_bucket{outcome="timeout",le="0.05"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"portcullis_upstream_errors_total{kind="timeout"} 1"#));
    }
}
