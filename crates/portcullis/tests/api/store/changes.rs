//! Notifications (PostgreSQL only): what the triggers announce, exactly once
//! and in commit order, and that SQLite says plainly it has none.

use std::time::Duration;

use portcullis::auth::keys::generate;
use portcullis::store::changes::{Change, ChangeFeed, HeartbeatChannel};
use portcullis::store::{RevokeReason, Rotation, StoreError};

use super::{add_session, add_user, t0};
use crate::databases::TestDb;

/// The next change; a feed that stays silent this long is a failure, not a hang.
async fn next(feed: &mut ChangeFeed) -> Change {
    tokio::time::timeout(Duration::from_secs(10), feed.next())
        .await
        .expect("a notification arrives")
        .expect("the feed is alive")
}

#[tokio::test]
async fn committed_revocations_are_announced_once_each_in_commit_order() {
    let db = TestDb::postgres().await;
    let store = db.store().await;
    let channel = HeartbeatChannel::random();
    let mut feed = store.subscribe(channel.clone()).await.expect("subscribe");
    let ada = add_user(&store, "ada").await;
    let (one, two, three) = (
        add_session(&store, &ada, 1).await,
        add_session(&store, &ada, 2).await,
        add_session(&store, &ada, 3).await,
    );
    let token = [9; 32];
    let seal = [8; 32];
    let rotation = Rotation {
        session_id: two,
        from_generation: 0,
        token_hash: &token,
        successor_seal: &seal,
        now: t0(),
    };
    assert!(store.rotate(rotation).await.expect("rotate"));
    let at = t0() + time::Duration::seconds(1);
    store
        .revoke_session(one, None, RevokeReason::Logout, at)
        .await
        .expect("revoke");
    // Already revoked: no second announcement.
    store
        .revoke_session(one, None, RevokeReason::Logout, at)
        .await
        .expect("revoke");
    let later = at + time::Duration::seconds(1);
    let mut rest = store
        .revoke_user_sessions(ada.id, None, RevokeReason::LogoutAll, later)
        .await
        .expect("revoke");
    rest.sort();
    store.send_heartbeat(&channel, 42).await.expect("heartbeat");

    assert_eq!(next(&mut feed).await, Change::Revoked(one, at));
    let mut announced = vec![];
    for _ in 0..2 {
        match next(&mut feed).await {
            Change::Revoked(id, when) if when == later => announced.push(id),
            other => panic!("unexpected {other:?}"),
        }
    }
    announced.sort();
    let mut expected = vec![two, three];
    expected.sort();
    assert_eq!((announced, rest), (expected.clone(), expected));
    // The heartbeat comes last: nothing else (the rotation, the repeated
    // revocation) was announced in between.
    assert_eq!(next(&mut feed).await, Change::Heartbeat(42));
}

#[tokio::test]
async fn key_changes_are_announced() {
    let db = TestDb::postgres().await;
    let store = db.store().await;
    assert!(store.pushes_changes());
    let mut feed = store
        .subscribe(HeartbeatChannel::random())
        .await
        .expect("subscribe");
    store
        .insert_first_key(&generate(t0()).expect("key"))
        .await
        .expect("insert");
    assert_eq!(next(&mut feed).await, Change::KeysChanged);
    let new = generate(t0()).expect("key");
    store
        .rotate_keys(&new, t0() + time::Duration::minutes(20))
        .await
        .expect("rotate");
    assert_eq!(next(&mut feed).await, Change::KeysChanged);
}

#[tokio::test]
async fn a_heartbeat_returns_only_to_the_feed_that_owns_its_channel() {
    let db = TestDb::postgres().await;
    let store = db.store().await;
    let (mine, theirs) = (HeartbeatChannel::random(), HeartbeatChannel::random());
    assert_ne!(mine, theirs);
    let mut my_feed = store.subscribe(mine.clone()).await.expect("subscribe");
    let mut their_feed = store.subscribe(theirs.clone()).await.expect("subscribe");
    store.send_heartbeat(&mine, 1).await.expect("heartbeat");
    store.send_heartbeat(&theirs, 2).await.expect("heartbeat");
    assert_eq!(next(&mut my_feed).await, Change::Heartbeat(1));
    assert_eq!(next(&mut their_feed).await, Change::Heartbeat(2));
}

#[tokio::test]
async fn sqlite_has_no_feed_and_says_so() {
    let db = TestDb::sqlite();
    let store = db.store().await;
    assert!(!store.pushes_changes());
    let channel = HeartbeatChannel::random();
    let refused = store.send_heartbeat(&channel, 1).await;
    assert!(matches!(refused, Err(StoreError::Unsupported(_))));
    let refused = store.subscribe(channel).await;
    assert!(matches!(refused, Err(StoreError::Unsupported(_))));
}
