//! Room for `max_connections`: each connection is a file descriptor, and a
//! process often starts with a soft limit of 1024 (a shell's `ulimit -n`),
//! far below the cap. Past the limit, accepting fails and the cap means
//! nothing, so the soft limit is raised towards the hard one at start, as Go
//! programs do; when even the hard limit is too low, a warning says so.

/// Descriptors needed besides the clients': the listener, the database
/// pool, upstream connections, the log.
const HEADROOM: u64 = 256;

/// Raises the soft open-file limit to fit `max_connections`, as far as the
/// hard limit allows, and warns when it cannot.
#[cfg(target_os = "linux")]
pub(super) fn raise_limit_for(max_connections: usize) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

    let wanted = u64::try_from(max_connections)
        .unwrap_or(u64::MAX)
        .saturating_add(HEADROOM);
    let limit = getrlimit(Resource::Nofile);
    // `None` is unlimited.
    let current = limit.current.unwrap_or(u64::MAX);
    if current >= wanted {
        return;
    }
    let target = wanted.min(limit.maximum.unwrap_or(u64::MAX));
    let raised = target > current
        && setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(target),
                maximum: limit.maximum,
            },
        )
        .is_ok();
    let now = if raised { target } else { current };
    if now < wanted {
        tracing::warn!(
            max_connections,
            open_files = now,
            "the open-file limit is too low for max_connections: connections beyond it \
             cannot be accepted; raise it (LimitNOFILE=, ulimit -n) or lower max_connections"
        );
    }
}

/// Elsewhere the limit is left as it is.
#[cfg(not(target_os = "linux"))]
pub(super) fn raise_limit_for(_max_connections: usize) {}
