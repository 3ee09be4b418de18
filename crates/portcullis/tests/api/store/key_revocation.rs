//! Revoking a signing key: deleted at once, and replaced when it signed.

use portcullis::auth::keys::{generate, generate_signing_from};
use portcullis::store::changes::{Change, HeartbeatChannel};
use portcullis::store::{KeyRecord, KeyRevocation, Store};
use time::{Duration, OffsetDateTime};
use tokio::task::JoinSet;

use super::t0;
use crate::databases::TestDb;

conformance!(
    revoking_the_only_key_deletes_it_and_puts_a_new_one_in_service_at_once,
    revoking_a_retired_key_deletes_it_and_leaves_the_signer_alone,
    revoking_the_signer_while_the_next_key_is_scheduled_drops_both,
    revoking_the_scheduled_key_retires_the_signer_in_favour_of_a_new_one,
    an_unknown_kid_is_said_to_be_unknown_and_nothing_changes,
    concurrent_revocations_of_the_signer_leave_exactly_one_key_signing,
);

fn kids(keys: &[KeyRecord]) -> Vec<&str> {
    keys.iter().map(|k| k.kid.as_str()).collect()
}

/// The keys that sign at `now`, or will: neither retired nor retiring.
fn unretired(keys: &[KeyRecord], now: OffsetDateTime) -> Vec<&str> {
    keys.iter()
        .filter(|k| k.retired_at.is_none_or(|r| r > now))
        .map(|k| k.kid.as_str())
        .collect()
}

async fn revoke(store: &Store, kid: &str, now: OffsetDateTime) -> (KeyRevocation, KeyRecord) {
    let replacement = generate(now).expect("key");
    let done = store
        .revoke_key(kid, &replacement, now, now + Duration::minutes(20))
        .await
        .expect("revoke");
    (done, replacement)
}

async fn revoking_the_only_key_deletes_it_and_puts_a_new_one_in_service_at_once(store: &Store) {
    let only = generate(t0()).expect("key");
    store.insert_first_key(&only).await.expect("insert");
    let now = t0() + Duration::hours(1);
    let (done, replacement) = revoke(store, &only.kid, now).await;
    assert_eq!(done, KeyRevocation::Revoked { replaced: true });
    let keys = store.signing_keys(now).await.expect("query");
    assert_eq!(kids(&keys), [replacement.kid.as_str()]);
    assert_eq!(keys[0].signs_from, now, "signs at once");
    assert!(keys[0].retired_at.is_none());
}

async fn revoking_a_retired_key_deletes_it_and_leaves_the_signer_alone(store: &Store) {
    let old = generate(t0()).expect("key");
    store.insert_first_key(&old).await.expect("insert");
    let rotated = t0() + Duration::hours(1);
    let new = generate(rotated).expect("key");
    store
        .rotate_keys(&new, rotated + Duration::minutes(20))
        .await
        .expect("rotate");
    let now = rotated + Duration::minutes(1);
    let (done, _) = revoke(store, &old.kid, now).await;
    assert_eq!(done, KeyRevocation::Revoked { replaced: false });
    let keys = store.signing_keys(now).await.expect("query");
    assert_eq!(kids(&keys), [new.kid.as_str()]);
    assert!(keys[0].retired_at.is_none());
}

/// The first key signing from `t0()`, and the next one published at `t0()`
/// + 1 h to sign 15 minutes later, as a scheduled rotation leaves them.
async fn signer_and_scheduled(store: &Store) -> (KeyRecord, KeyRecord, OffsetDateTime) {
    let signer = generate(t0()).expect("key");
    store.insert_first_key(&signer).await.expect("insert");
    let published = t0() + Duration::hours(1);
    let next = generate_signing_from(published, published + Duration::minutes(15)).expect("key");
    store
        .rotate_keys(&next, published + Duration::minutes(40))
        .await
        .expect("rotate");
    (signer, next, published + Duration::minutes(5))
}

async fn revoking_the_signer_while_the_next_key_is_scheduled_drops_both(store: &Store) {
    let (signer, _next, now) = signer_and_scheduled(store).await;
    let (done, replacement) = revoke(store, &signer.kid, now).await;
    assert_eq!(done, KeyRevocation::Revoked { replaced: true });
    // The scheduled key never signed anything: it goes too, so that the
    // replacement is the one key left to sign, whatever the clocks say.
    let keys = store.signing_keys(now).await.expect("query");
    assert_eq!(kids(&keys), [replacement.kid.as_str()]);
}

async fn revoking_the_scheduled_key_retires_the_signer_in_favour_of_a_new_one(store: &Store) {
    let (signer, next, now) = signer_and_scheduled(store).await;
    let (done, replacement) = revoke(store, &next.kid, now).await;
    assert_eq!(done, KeyRevocation::Revoked { replaced: true });
    let keys = store.signing_keys(now).await.expect("query");
    assert_eq!(kids(&keys), [signer.kid.as_str(), replacement.kid.as_str()]);
    // The old signer stops now and verifies its tokens until the deadline.
    assert_eq!(keys[0].retired_at, Some(now));
    assert_eq!(keys[0].verify_until, Some(now + Duration::minutes(20)));
    assert_eq!(unretired(&keys, now), [replacement.kid.as_str()]);
}

async fn an_unknown_kid_is_said_to_be_unknown_and_nothing_changes(store: &Store) {
    let only = generate(t0()).expect("key");
    store.insert_first_key(&only).await.expect("insert");
    let (done, _) = revoke(store, "no-such-kid", t0()).await;
    assert_eq!(done, KeyRevocation::Unknown);
    let keys = store.signing_keys(t0()).await.expect("query");
    assert_eq!(kids(&keys), [only.kid.as_str()]);
    assert!(keys[0].retired_at.is_none());
}

async fn concurrent_revocations_of_the_signer_leave_exactly_one_key_signing(store: &Store) {
    let only = generate(t0()).expect("key");
    store.insert_first_key(&only).await.expect("insert");
    let now = t0() + Duration::hours(1);
    let mut revokers = JoinSet::new();
    for _ in 0..6 {
        let (store, kid) = (store.clone(), only.kid.clone());
        revokers.spawn(async move { revoke(&store, &kid, now).await.0 });
    }
    let mut revoked = 0;
    while let Some(done) = revokers.join_next().await {
        match done.expect("task") {
            KeyRevocation::Revoked { replaced } => {
                assert!(replaced);
                revoked += 1;
            }
            KeyRevocation::Unknown => {}
        }
    }
    assert_eq!(revoked, 1, "one revocation, the others find no key");
    let keys = store.signing_keys(now).await.expect("query");
    assert_eq!(keys.len(), 1);
    assert_eq!(unretired(&keys, now).len(), 1);
}

#[tokio::test]
async fn a_revocation_is_announced_to_every_instance() {
    let db = TestDb::postgres().await;
    let store = db.store().await;
    let only = generate(t0()).expect("key");
    store.insert_first_key(&only).await.expect("insert");
    let mut feed = store
        .subscribe(HeartbeatChannel::random())
        .await
        .expect("subscribe");
    revoke(&store, &only.kid, t0()).await;
    let change = tokio::time::timeout(std::time::Duration::from_secs(10), feed.next())
        .await
        .expect("announced in time")
        .expect("feed");
    assert_eq!(change, Change::KeysChanged);
}
