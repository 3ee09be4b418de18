//! Per-client-address rate limits (GCRA, with `governor`), in memory on each
//! instance.
//!
//! The per-account throttle in [`super::throttle`] stops guessing at one
//! account; these stop one address from spraying many accounts, flooding
//! registrations or hammering refresh. Sign-in is limited twice: all attempts
//! (a flood cap), and failures (a spray tries one common password on many
//! accounts and fails almost every time, whereas an office behind one NAT
//! signs in successfully). The limits are per instance: behind a load
//! balancer spreading one address over `n` instances, an address gets up to
//! `n` times the configured rate, which the per-account limit — shared through
//! the database — does not allow.
//!
//! A client is an IPv4 address, or an IPv6 network of the configured prefix
//! length (`address_ipv6_prefix`, a /64 by default): one home connection or
//! one cloud VM is given a whole /64, and could otherwise take a fresh
//! budget from each of its addresses. An IPv4-mapped IPv6 address
//! (`::ffff:192.0.2.7`) is its IPv4 address.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::Duration;

use governor::clock::{Clock as GovernorClock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::clock::{SharedClock, unix_millis};
use crate::config::{AddressRates, Rate};

/// Governor's clock, read from the injected one so that tests can move it.
#[derive(Clone)]
struct InjectedClock(SharedClock);

impl GovernorClock for InjectedClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        let millis = u64::try_from(unix_millis(self.0.now())).unwrap_or(0);
        Nanos::from(millis.saturating_mul(1_000_000))
    }
}

type Limiter =
    RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, InjectedClock, NoOpMiddleware<Nanos>>;

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Sign-in attempts or failures.
    SignIn,
    /// Registrations.
    Registration,
    /// Refreshes.
    Refresh,
    /// Requests to the e-mail routes.
    Email,
}

/// The per-address limiters of one instance.
pub struct AddressLimits {
    clock: InjectedClock,
    /// The leading bits of an IPv6 address that make one client.
    ipv6_prefix: u8,
    login_attempts: Option<Limiter>,
    login_failures: Option<Limiter>,
    /// Addresses whose failure budget is spent, until when (clock nanos);
    /// governor cannot look at a budget without spending from it.
    blocked: Mutex<HashMap<IpAddr, Nanos>>,
    registrations: Option<Limiter>,
    refreshes: Option<Limiter>,
    email_requests: Option<Limiter>,
}

impl AddressLimits {
    /// Limiters for the given rates on the given clock, telling IPv6
    /// clients apart by their first `ipv6_prefix` bits (1 to 128).
    pub fn new(rates: AddressRates, ipv6_prefix: u8, clock: SharedClock) -> Self {
        let clock = InjectedClock(clock);
        let limiter = |rate: Option<Rate>| {
            let rate = rate?;
            let quota = Quota::with_period(rate.per / rate.count.get())?.allow_burst(rate.count);
            Some(RateLimiter::new(
                quota,
                DefaultKeyedStateStore::default(),
                clock.clone(),
            ))
        };
        Self {
            login_attempts: limiter(rates.login_attempts),
            login_failures: limiter(rates.login_failures),
            blocked: Mutex::new(HashMap::new()),
            registrations: limiter(rates.registrations),
            refreshes: limiter(rates.refreshes),
            email_requests: limiter(rates.email_requests),
            clock,
            ipv6_prefix: ipv6_prefix.clamp(1, 128),
        }
    }

    /// The client `addr` belongs to: an IPv4 address, or the IPv6 network of
    /// the configured prefix that holds it.
    pub fn client(&self, addr: IpAddr) -> IpAddr {
        match addr {
            IpAddr::V4(_) => addr,
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let mask = u128::MAX << (128 - u32::from(self.ipv6_prefix));
                    IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & mask))
                }
            },
        }
    }

    /// Spends one event of `limit` for `addr`; `Err` holds the wait.
    pub fn check(&self, limit: Limit, addr: Option<IpAddr>) -> Result<(), Duration> {
        let Some(addr) = addr.map(|a| self.client(a)) else {
            return Ok(());
        };
        if limit == Limit::SignIn {
            let now = self.clock.now();
            let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
            match blocked.get(&addr) {
                Some(until) if *until > now => return Err(until.duration_since(now).into()),
                Some(_) => {
                    blocked.remove(&addr);
                }
                None => {}
            }
        }
        let limiter = match limit {
            Limit::SignIn => &self.login_attempts,
            Limit::Registration => &self.registrations,
            Limit::Refresh => &self.refreshes,
            Limit::Email => &self.email_requests,
        };
        self.spend(limiter.as_ref(), addr)
    }

    /// Records a failed sign-in from `addr`; once its failure budget is spent
    /// the address is refused sign-ins until the budget refills by one.
    pub fn sign_in_failed(&self, addr: Option<IpAddr>) {
        let Some(addr) = addr.map(|a| self.client(a)) else {
            return;
        };
        if let Err(wait) = self.spend(self.login_failures.as_ref(), addr) {
            let until = self.clock.now() + Nanos::from(wait);
            let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
            blocked.insert(addr, until);
        }
    }

    /// Forgets addresses whose state is back to fresh, bounding memory.
    pub fn forget_idle(&self) {
        for limiter in [
            &self.login_attempts,
            &self.login_failures,
            &self.registrations,
            &self.refreshes,
            &self.email_requests,
        ]
        .into_iter()
        .flatten()
        {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        let now = self.clock.now();
        let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        blocked.retain(|_, until| *until > now);
    }

    fn spend(&self, limiter: Option<&Limiter>, addr: IpAddr) -> Result<(), Duration> {
        match limiter {
            Some(limiter) => limiter
                .check_key(&addr)
                .map_err(|not_until| not_until.wait_time_from(self.clock.now())),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use time::OffsetDateTime;

    use super::*;
    use crate::clock::ManualClock;

    fn limits(rates: AddressRates) -> (AddressLimits, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(
            OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("in range"),
        ));
        (AddressLimits::new(rates, 64, clock.clone()), clock)
    }

    fn rate(text: &str) -> Option<Rate> {
        Some(crate::config::parse_setting(text).expect("valid rate"))
    }

    const A: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)));
    const B: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2)));

    #[test]
    fn a_burst_is_allowed_then_the_rate_refills_per_address() {
        let (l, clock) = limits(AddressRates {
            registrations: rate("3/3m"),
            ..AddressRates::default()
        });
        for _ in 0..3 {
            assert_eq!(l.check(Limit::Registration, A), Ok(()));
        }
        let wait = l.check(Limit::Registration, A).expect_err("burst spent");
        assert_eq!(wait, Duration::from_secs(60));
        assert_eq!(
            l.check(Limit::Registration, B),
            Ok(()),
            "other addresses are unaffected"
        );
        clock.advance(Duration::from_secs(60));
        assert_eq!(l.check(Limit::Registration, A), Ok(()));
    }

    #[test]
    fn failures_block_sign_ins_from_the_address_but_successes_cost_nothing_extra() {
        let (l, clock) = limits(AddressRates {
            login_failures: rate("2/10m"),
            ..AddressRates::default()
        });
        for _ in 0..2 {
            assert_eq!(l.check(Limit::SignIn, A), Ok(()));
            l.sign_in_failed(A);
        }
        assert_eq!(
            l.check(Limit::SignIn, A),
            Ok(()),
            "the budget is spent, not exceeded"
        );
        l.sign_in_failed(A);
        assert!(l.check(Limit::SignIn, A).is_err());
        assert_eq!(l.check(Limit::SignIn, B), Ok(()));
        clock.advance(Duration::from_secs(300));
        assert_eq!(l.check(Limit::SignIn, A), Ok(()));
    }

    #[test]
    fn an_ipv6_client_is_its_network_and_a_mapped_address_is_ipv4() {
        let (l, _) = limits(AddressRates::default());
        let client = |text: &str| l.client(text.parse().expect("address"));
        assert_eq!(client("2001:db8:1:2:3:4:5:6"), client("2001:db8:1:2::"));
        assert_ne!(client("2001:db8:1:2::"), client("2001:db8:1:3::"));
        assert_eq!(client("::ffff:192.0.2.7"), client("192.0.2.7"));
        assert_ne!(client("192.0.2.7"), client("192.0.2.8"));
        let exact = AddressLimits::new(AddressRates::default(), 128, l.clock.0.clone());
        let one: IpAddr = "2001:db8::1".parse().expect("address");
        assert_eq!(exact.client(one), one);
        let wide = AddressLimits::new(AddressRates::default(), 1, l.clock.0.clone());
        assert_eq!(wide.client(one), "::".parse::<IpAddr>().expect("address"));
    }

    #[test]
    fn failures_from_one_ipv6_network_share_a_budget() {
        let (l, _) = limits(AddressRates {
            login_failures: rate("2/10m"),
            ..AddressRates::default()
        });
        for host in 1..=3 {
            let addr = format!("2001:db8:7:7::{host}").parse().ok();
            l.sign_in_failed(addr);
        }
        assert!(
            l.check(Limit::SignIn, "2001:db8:7:7::99".parse().ok())
                .is_err()
        );
        assert_eq!(
            l.check(Limit::SignIn, "2001:db8:7:8::1".parse().ok()),
            Ok(())
        );
    }

    #[test]
    fn a_disabled_limit_and_an_unknown_address_never_refuse() {
        let (l, _) = limits(AddressRates {
            refreshes: None,
            ..AddressRates::default()
        });
        for _ in 0..10_000 {
            assert_eq!(l.check(Limit::Refresh, A), Ok(()));
        }
        for _ in 0..1_000 {
            assert_eq!(l.check(Limit::SignIn, None), Ok(()));
        }
    }
}
