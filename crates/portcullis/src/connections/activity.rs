//! What one connection is doing, as its watchdog needs to know it: whether a
//! request is in progress, since when it has been idle, whether the next
//! request has begun to arrive, and over which protocol it speaks.
//!
//! Everything is an atomic updated where it happens — by the service when a
//! request starts, by the response body when it is dropped, by the socket
//! when bytes arrive while idle — so the hot path pays a few uncontended
//! atomic operations and no allocation; the watchdog reads them only when its
//! timer fires, and decides with [`Activity::deadline`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use axum::http::Version;
use tokio::time::Instant;

use crate::config::ConnectionLimits;

/// `reading_since` when no byte has arrived since the connection went idle.
const NOT_READING: u64 = u64::MAX;

/// The protocol of a connection, known from its first request.
const UNKNOWN: u8 = 0;
const HTTP1: u8 = 1;
const HTTP2: u8 = 2;

/// One connection's activity. Times are milliseconds since `born`.
#[derive(Debug)]
pub(super) struct Activity {
    /// When the connection was ready for HTTP (after any TLS handshake).
    born: Instant,
    /// Requests whose responses have not been sent whole.
    in_flight: AtomicU32,
    /// When `in_flight` last fell to zero.
    idle_since: AtomicU64,
    /// When the first byte arrived after `idle_since`: on HTTP/1 that is the
    /// next request beginning, and its head must follow within the
    /// header-read timeout.
    reading_since: AtomicU64,
    /// [`UNKNOWN`] until the first request, then [`HTTP1`] or [`HTTP2`].
    protocol: AtomicU8,
}

/// What the watchdog should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Close the connection: it has used up its time.
    Close,
    /// Look again at this time.
    WaitUntil(Instant),
}

impl Activity {
    /// A connection ready for its first request.
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            born: Instant::now(),
            in_flight: AtomicU32::new(0),
            idle_since: AtomicU64::new(0),
            reading_since: AtomicU64::new(NOT_READING),
            protocol: AtomicU8::new(UNKNOWN),
        })
    }

    fn millis(&self) -> u64 {
        u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    fn at(&self, millis: u64) -> Instant {
        self.born + Duration::from_millis(millis)
    }

    /// A request has arrived whole (its head, at least); the returned guard
    /// ends it when dropped with its response body.
    pub(super) fn begin(self: &Arc<Self>, version: Version) -> InFlight {
        self.in_flight.fetch_add(1, Relaxed);
        if self.protocol.load(Relaxed) == UNKNOWN {
            let protocol = if version == Version::HTTP_2 {
                HTTP2
            } else {
                HTTP1
            };
            self.protocol.store(protocol, Relaxed);
        }
        InFlight(self.clone())
    }

    /// Bytes arrived from the client.
    pub(super) fn read(&self) {
        if self.in_flight.load(Relaxed) == 0 && self.reading_since.load(Relaxed) == NOT_READING {
            self.reading_since.store(self.millis(), Relaxed);
        }
    }

    /// Whether the connection has run out of time at `now`, and if not, when
    /// to look again.
    ///
    /// - With a request in progress, nothing is due: the handler (and the
    ///   upstream timeout) bound it.
    /// - Before its first request, a connection has the header-read timeout
    ///   to deliver a whole head, however it trickles it in.
    /// - Between requests, an HTTP/1 connection may wait the keep-alive
    ///   timeout for the next request's first byte; from that byte on, the
    ///   head must be whole within the header-read timeout (a slowloris
    ///   sending one byte at a time gains nothing).
    /// - Between requests, an HTTP/2 connection is closed after the
    ///   keep-alive timeout without an open stream. Its frames (pings, window
    ///   updates) do not count as a request beginning.
    ///
    /// It never says to wait longer than the shorter timeout: a change (a
    /// request ending, a byte arriving) can bring the deadline no closer than
    /// that, so looking again that often is never late.
    pub(super) fn deadline(&self, limits: &ConnectionLimits, now: Instant) -> Verdict {
        let header = limits.header_read_timeout;
        let next_look = now + Self::look_interval(limits);
        if self.in_flight.load(Relaxed) > 0 {
            return Verdict::WaitUntil(next_look);
        }
        let deadline = match self.protocol.load(Relaxed) {
            UNKNOWN => self.born + header,
            HTTP1 => match self.reading_since.load(Relaxed) {
                NOT_READING => self.at(self.idle_since.load(Relaxed)) + limits.keep_alive_timeout,
                since => self.at(since) + header,
            },
            _ => self.at(self.idle_since.load(Relaxed)) + limits.keep_alive_timeout,
        };
        if now >= deadline {
            Verdict::Close
        } else {
            Verdict::WaitUntil(deadline.min(next_look))
        }
    }

    /// The longest the watchdog may go without looking.
    pub(super) fn look_interval(limits: &ConnectionLimits) -> Duration {
        limits.header_read_timeout.min(limits.keep_alive_timeout)
    }
}

/// A request in progress; dropping it (with the response body that holds
/// it) ends the request.
#[derive(Debug)]
pub(super) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let activity = &self.0;
        if activity.in_flight.fetch_sub(1, Relaxed) == 1 {
            // Idle from now: the next byte starts the next request.
            activity.idle_since.store(activity.millis(), Relaxed);
            activity.reading_since.store(NOT_READING, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ConnectionLimits = ConnectionLimits {
        header_read_timeout: Duration::from_secs(10),
        keep_alive_timeout: Duration::from_secs(60),
        max_connections: 1,
    };

    fn later(activity: &Activity, secs: u64) -> Instant {
        activity.born + Duration::from_secs(secs)
    }

    #[test]
    fn a_new_connection_has_the_header_read_timeout_for_its_first_request() {
        let activity = Activity::new();
        activity.read();
        assert_eq!(
            activity.deadline(&LIMITS, later(&activity, 9)),
            Verdict::WaitUntil(later(&activity, 10))
        );
        assert_eq!(
            activity.deadline(&LIMITS, later(&activity, 10)),
            Verdict::Close
        );
    }

    #[test]
    fn a_request_in_progress_is_never_cut_off() {
        let activity = Activity::new();
        let _request = activity.begin(Version::HTTP_11);
        assert!(matches!(
            activity.deadline(&LIMITS, later(&activity, 3600)),
            Verdict::WaitUntil(_)
        ));
    }

    #[test]
    fn an_idle_http1_connection_waits_for_keep_alive_then_for_the_head_once_it_begins() {
        let activity = Activity::new();
        drop(activity.begin(Version::HTTP_11));
        let idle = activity.idle_since.load(Relaxed);
        let idle_end = activity.at(idle) + LIMITS.keep_alive_timeout;
        assert_eq!(
            activity.deadline(&LIMITS, idle_end - Duration::from_secs(1)),
            Verdict::WaitUntil(idle_end)
        );
        assert_eq!(activity.deadline(&LIMITS, idle_end), Verdict::Close);
        activity.read();
        let reading = activity.at(activity.reading_since.load(Relaxed));
        assert_eq!(
            activity.deadline(&LIMITS, reading),
            Verdict::WaitUntil(reading + LIMITS.header_read_timeout)
        );
        assert_eq!(
            activity.deadline(&LIMITS, reading + LIMITS.header_read_timeout),
            Verdict::Close
        );
    }

    #[test]
    fn an_http2_connection_is_idle_whatever_frames_arrive() {
        let activity = Activity::new();
        drop(activity.begin(Version::HTTP_2));
        activity.read();
        let idle = activity.idle_since.load(Relaxed);
        let idle_end = activity.at(idle) + LIMITS.keep_alive_timeout;
        assert_eq!(
            activity.deadline(&LIMITS, idle_end - Duration::from_secs(1)),
            Verdict::WaitUntil(idle_end)
        );
        assert_eq!(activity.deadline(&LIMITS, idle_end), Verdict::Close);
    }

    #[test]
    fn the_watchdog_never_sleeps_past_the_shorter_timeout() {
        let activity = Activity::new();
        let now = later(&activity, 1);
        assert_eq!(
            activity.deadline(&LIMITS, now),
            Verdict::WaitUntil(activity.born + LIMITS.header_read_timeout)
        );
        drop(activity.begin(Version::HTTP_11));
        assert_eq!(
            activity.deadline(&LIMITS, now),
            Verdict::WaitUntil(now + LIMITS.header_read_timeout)
        );
    }
}
