//! Keeping each instance's revocation set and keys in step with the others.
//!
//! Two paths feed the set. Polling ([`Auth::poll_revocations`], every second,
//! on every backend) is the SQLite path and, on PostgreSQL, a safety net. On
//! PostgreSQL, [`follow_changes`] also listens for notifications: revocations
//! land in the set within milliseconds, key changes (rotations, a revoked
//! key) trigger a reload, and this instance's own heartbeats prove the set
//! current (see [`super::freshness`]). Keys are also reread on a timer
//! ([`Auth::key_reload_interval`]): every second on SQLite, where that is
//! the only path, every 30 seconds on PostgreSQL as a safety net.
//!
//! Only a heartbeat proves freshness on PostgreSQL, not a poll: a poll selects
//! by `revoked_at`, written with the revoking instance's clock, so it is only
//! as good as the clocks agree; commit order, which the heartbeat relies on, is
//! the database's own. (A SQLite file is on one machine, one clock.)
//!
//! A lost listener connection loses notifications without a trace, so every
//! (re)subscription is followed by a reload of the whole revocation horizon
//! before the feed is trusted again; until then heartbeats cannot arrive and
//! the instance goes stale and fails closed.

use std::time::Duration;

use time::OffsetDateTime;
use tokio::time::MissedTickBehavior;

use super::Auth;
use super::freshness::Mark;
use super::keys::KEY_RELOAD_INTERVAL;
use crate::report::Chain;
use crate::store::StoreError;
use crate::store::changes::{Change, ChangeFeed, HeartbeatChannel};

/// How often an instance sends itself a heartbeat: well inside the smallest
/// allowed staleness limit (2 s), so one late heartbeat does not cause 503s.
const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(500);
/// First wait before subscribing again after a failure; doubles up to
/// [`RETRY_MAX`], which bounds how long recovery lags the database's return.
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(2);
/// How often keys are reread without notifications: a key revoked by
/// `portcullis keys revoke` (another process on the same file) must stop
/// verifying within about a second, as a revoked session does.
const POLLED_KEY_RELOAD_INTERVAL: Duration = Duration::from_secs(1);

impl Auth {
    /// Adds revocations made since `since` by anyone (other instances, admin
    /// commands), and forgets what `GET /api/auth/session` remembers of
    /// users written since then. On a backend without notifications a
    /// successful poll also proves the set current as of its start.
    pub async fn poll_revocations(&self, since: OffsetDateTime) -> Result<(), StoreError> {
        let mark = self.freshness.mark();
        self.sync_revocations(since).await?;
        self.sync_user_changes(since).await?;
        if !self.store.pushes_changes() {
            self.freshness.prove(mark);
        }
        Ok(())
    }
}

impl Auth {
    /// How often the keys should be reread from the database: on
    /// PostgreSQL changes are pushed and rereading is a safety net; on
    /// SQLite rereading is how they arrive.
    pub fn key_reload_interval(&self) -> Duration {
        if self.store.pushes_changes() {
            KEY_RELOAD_INTERVAL
        } else {
            POLLED_KEY_RELOAD_INTERVAL
        }
    }
}

/// Follows the database's notifications until the task is dropped; returns at
/// once on a backend that has none.
pub async fn follow_changes(auth: Auth) {
    if !auth.store.pushes_changes() {
        return;
    }
    let channel = HeartbeatChannel::random();
    tokio::join!(
        receive(auth.clone(), channel.clone()),
        send_heartbeats(auth, channel)
    );
}

/// Subscribes, reloads, follows; on any failure starts over.
async fn receive(auth: Auth, channel: HeartbeatChannel) {
    let mut retry = RETRY_MIN;
    let mut lost = false;
    loop {
        let mut feed = match subscribe_and_reload(&auth, &channel).await {
            Ok(feed) => feed,
            Err(e) => {
                tracing::warn!(error = %Chain(&e), stale_for = ?auth.freshness.age(),
                    "cannot follow revocations; signed-in requests fail closed once the set is stale");
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(RETRY_MAX);
                continue;
            }
        };
        retry = RETRY_MIN;
        if lost {
            tracing::info!("following revocations again; set reloaded");
        }
        let e = follow(&auth, &mut feed).await;
        tracing::warn!(error = %Chain(&e), "lost the revocation feed; reconnecting");
        lost = true;
    }
}

/// Listens first, then reloads: whatever was committed before the reload
/// began is in the reload, whatever commits after `LISTEN` will be notified.
async fn subscribe_and_reload(
    auth: &Auth,
    channel: &HeartbeatChannel,
) -> Result<ChangeFeed, StoreError> {
    let feed = auth.store.subscribe(channel.clone()).await?;
    // Changes to users made while no feed was listening are lost: start
    // the remembered answers afresh.
    auth.session_views.forget_all();
    let mark = auth.freshness.mark();
    auth.sync_revocations(auth.clock.now() - auth.revocation_horizon)
        .await?;
    auth.freshness.prove(mark);
    // Keys may have rotated while we were not listening. A failure here is
    // not fatal: the periodic reload and `reload_for_unknown` remain.
    if let Err(e) = auth.keys.reload().await {
        tracing::warn!(error = %Chain(&e), "could not reload signing keys");
    }
    Ok(feed)
}

/// Applies changes until the feed fails or falls silent, and says why.
async fn follow(auth: &Auth, feed: &mut ChangeFeed) -> StoreError {
    // Heartbeats arrive twice a second; a feed this quiet is dead even if
    // its TCP connection has not noticed yet.
    let silence = auth.freshness.limit().max(4 * HEARTBEAT_INTERVAL);
    loop {
        let change = match tokio::time::timeout(silence, feed.next()).await {
            Ok(Ok(change)) => change,
            Ok(Err(e)) => return e,
            Err(_) => return StoreError::Timeout,
        };
        match change {
            Change::Revoked(session, at) => auth.revoked.insert(session, at),
            Change::UserChanged(user) => auth.session_views.forget_user(user),
            Change::Heartbeat(mark) => auth.freshness.prove(Mark::from_millis(mark)),
            Change::KeysChanged => {
                // Off this task, so that a slow reload cannot delay the
                // revocations queued behind it.
                let keys = auth.keys.clone();
                tokio::spawn(async move {
                    if let Err(e) = keys.reload().await {
                        tracing::warn!(error = %Chain(&e), "could not reload signing keys");
                    }
                });
            }
        }
    }
}

/// Sends this instance a heartbeat every [`HEARTBEAT_INTERVAL`], each carrying
/// the mark taken just before it was sent.
async fn send_heartbeats(auth: Auth, channel: HeartbeatChannel) {
    let mut ticker = tokio::time::interval(HEARTBEAT_INTERVAL);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let mark = auth.freshness.mark();
        if let Err(e) = auth.store.send_heartbeat(&channel, mark.as_millis()).await {
            // The receiving side reports the outage; once per second here
            // would only repeat it.
            tracing::debug!(error = %Chain(&e), "heartbeat not sent");
        }
    }
}
