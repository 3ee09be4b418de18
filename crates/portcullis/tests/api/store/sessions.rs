//! Sessions, refresh-token rotation and revocation.

use portcullis::domain::{SessionId, UserId};
use portcullis::store::{RevokeReason, Rotation, Store};
use time::Duration;
use tokio::task::JoinSet;

use super::{add_session, add_session_at, add_user, t0};

conformance!(
    a_session_and_its_first_refresh_token_are_found,
    a_rotation_advances_a_session_exactly_once_from_a_generation,
    of_concurrent_rotations_from_one_generation_exactly_one_wins,
    a_revoked_session_cannot_rotate,
    revoking_a_session_takes_its_owner_and_happens_once,
    revoking_a_users_sessions_spares_the_excepted_one_and_other_users,
    live_sessions_leave_out_revoked_idle_and_ended_ones,
    live_sessions_are_listed_newest_first,
    purging_deletes_ended_sessions_with_their_tokens,
);

fn rotation(session_id: SessionId, from_generation: i64, tag: u8) -> Rotation<'static> {
    // Leaked so the borrowed arrays outlive spawned tasks; a few bytes per test.
    Rotation {
        session_id,
        from_generation,
        token_hash: Box::leak(Box::new([tag; 32])),
        successor_seal: Box::leak(Box::new([tag ^ 0xff; 32])),
        now: t0() + Duration::seconds(i64::from(tag)),
    }
}

async fn a_session_and_its_first_refresh_token_are_found(store: &Store) {
    let ada = add_user(store, "ada").await;
    let id = add_session(store, &ada, 1).await;
    let s = store.session(id).await.expect("query").expect("found");
    assert_eq!((s.id, s.user_id, s.generation), (id, ada.id, 0));
    assert_eq!((s.created_at, s.refreshed_at), (t0(), t0()));
    assert_eq!(s.expires_at, t0() + Duration::days(1));
    assert!(s.successor_seal.is_none() && s.revoked_at.is_none());
    assert_eq!(s.user_agent.as_deref(), Some("test-agent"));
    assert_eq!(s.client_addr.as_deref(), Some("127.0.0.1"));
    let token = store
        .refresh_token(&[1; 32])
        .await
        .expect("query")
        .expect("found");
    assert_eq!((token.session_id, token.generation), (id, 0));
    assert!(
        store
            .refresh_token(&[2; 32])
            .await
            .expect("query")
            .is_none()
    );
    assert!(
        store
            .session(SessionId::random())
            .await
            .expect("query")
            .is_none()
    );
}

async fn a_rotation_advances_a_session_exactly_once_from_a_generation(store: &Store) {
    let ada = add_user(store, "ada").await;
    let id = add_session(store, &ada, 1).await;
    assert!(store.rotate(rotation(id, 0, 2)).await.expect("rotate"));
    assert!(
        !store.rotate(rotation(id, 0, 3)).await.expect("rotate"),
        "generation 0 is gone"
    );
    let s = store.session(id).await.expect("query").expect("found");
    assert_eq!(s.generation, 1);
    assert_eq!(s.refreshed_at, t0() + Duration::seconds(2));
    assert_eq!(s.successor_seal.as_deref(), Some(&[2 ^ 0xff; 32][..]));
    let token = store
        .refresh_token(&[2; 32])
        .await
        .expect("query")
        .expect("found");
    assert_eq!((token.session_id, token.generation), (id, 1));
    assert!(
        store
            .refresh_token(&[3; 32])
            .await
            .expect("query")
            .is_none()
    );
    // The old token stays known, so that its reuse is recognised.
    let old = store
        .refresh_token(&[1; 32])
        .await
        .expect("query")
        .expect("kept");
    assert_eq!(old.generation, 0);
    assert!(store.rotate(rotation(id, 1, 4)).await.expect("rotate"));
}

async fn of_concurrent_rotations_from_one_generation_exactly_one_wins(store: &Store) {
    let ada = add_user(store, "ada").await;
    let id = add_session(store, &ada, 1).await;
    let mut racers = JoinSet::new();
    for tag in 10..26u8 {
        let store = store.clone();
        racers.spawn(async move { (tag, store.rotate(rotation(id, 0, tag)).await) });
    }
    let mut winners = Vec::new();
    while let Some(joined) = racers.join_next().await {
        let (tag, won) = joined.expect("task");
        if won.expect("no racer errors") {
            winners.push(tag);
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let s = store.session(id).await.expect("query").expect("found");
    assert_eq!(s.generation, 1);
    for tag in 10..26u8 {
        let issued = store.refresh_token(&[tag; 32]).await.expect("query");
        assert_eq!(issued.is_some(), tag == winners[0], "token {tag}");
    }
}

async fn a_revoked_session_cannot_rotate(store: &Store) {
    let ada = add_user(store, "ada").await;
    let id = add_session(store, &ada, 1).await;
    assert!(
        store
            .revoke_session(id, None, RevokeReason::Logout, t0())
            .await
            .expect("revoke")
    );
    assert!(!store.rotate(rotation(id, 0, 2)).await.expect("rotate"));
    assert_eq!(
        store
            .session(id)
            .await
            .expect("query")
            .expect("found")
            .generation,
        0
    );
}

async fn revoking_a_session_takes_its_owner_and_happens_once(store: &Store) {
    let ada = add_user(store, "ada").await;
    let id = add_session(store, &ada, 1).await;
    store.rotate(rotation(id, 0, 2)).await.expect("rotate");
    let at = t0() + Duration::minutes(1);
    let reason = RevokeReason::SignedOutRemotely;
    assert!(
        !store
            .revoke_session(id, Some(UserId::random()), reason, at)
            .await
            .expect("revoke"),
        "somebody else's session"
    );
    assert!(
        store
            .revoke_session(id, Some(ada.id), reason, at)
            .await
            .expect("revoke")
    );
    assert!(
        !store
            .revoke_session(id, None, reason, at)
            .await
            .expect("revoke")
    );
    let s = store.session(id).await.expect("query").expect("found");
    assert_eq!(s.revoked_at, Some(at));
    assert!(
        s.successor_seal.is_none(),
        "the grace window closes with the session"
    );
    assert_eq!(
        store.revoked_since(at).await.expect("query"),
        vec![(id, at)]
    );
    let later = at + Duration::milliseconds(1);
    assert!(store.revoked_since(later).await.expect("query").is_empty());
    assert!(
        !store
            .revoke_session(SessionId::random(), None, reason, at)
            .await
            .expect("revoke")
    );
}

async fn revoking_a_users_sessions_spares_the_excepted_one_and_other_users(store: &Store) {
    let ada = add_user(store, "ada").await;
    let grace = add_user(store, "grace").await;
    let (a1, a2, a3) = (
        add_session(store, &ada, 1).await,
        add_session(store, &ada, 2).await,
        add_session(store, &ada, 3).await,
    );
    let g1 = add_session(store, &grace, 4).await;
    let mut revoked = store
        .revoke_user_sessions(ada.id, Some(a2), RevokeReason::PasswordChanged, t0())
        .await
        .expect("revoke");
    revoked.sort();
    let mut expected = vec![a1, a3];
    expected.sort();
    assert_eq!(revoked, expected);
    let live = |id| async move {
        store
            .session(id)
            .await
            .expect("query")
            .expect("found")
            .revoked_at
            .is_none()
    };
    assert!(live(a2).await && live(g1).await);
    let rest = store
        .revoke_user_sessions(ada.id, None, RevokeReason::LogoutAll, t0())
        .await
        .expect("revoke");
    assert_eq!(
        rest,
        vec![a2],
        "already revoked sessions are not counted again"
    );
    assert!(live(g1).await);
}

async fn live_sessions_leave_out_revoked_idle_and_ended_ones(store: &Store) {
    let ada = add_user(store, "ada").await;
    let (older, revoked, rotated) = (
        add_session(store, &ada, 1).await,
        add_session(store, &ada, 2).await,
        add_session(store, &ada, 3).await,
    );
    store
        .revoke_session(revoked, None, RevokeReason::Logout, t0())
        .await
        .expect("revoke");
    store.rotate(rotation(rotated, 0, 9)).await.expect("rotate");
    let now = t0() + Duration::seconds(5);
    let live: Vec<_> = store
        .live_sessions(ada.id, now, t0() - Duration::hours(1))
        .await
        .expect("query")
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(live.len(), 2);
    assert!(live.contains(&older) && live.contains(&rotated));
    // Idle since before `refreshed_after`: only the rotated one is left.
    let idle: Vec<_> = store
        .live_sessions(ada.id, now, t0())
        .await
        .expect("query")
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(idle, vec![rotated]);
    let ended = store
        .live_sessions(ada.id, t0() + Duration::days(2), t0() - Duration::hours(1))
        .await
        .expect("query");
    assert!(ended.is_empty());
}

async fn live_sessions_are_listed_newest_first(store: &Store) {
    let ada = add_user(store, "ada").await;
    // Started oldest last, so that the order of insertion cannot pass for
    // the order of age.
    let newest = add_session_at(store, &ada, 1, t0() + Duration::seconds(2)).await;
    let middle = add_session_at(store, &ada, 2, t0() + Duration::seconds(1)).await;
    let oldest = add_session_at(store, &ada, 3, t0()).await;
    let listed: Vec<_> = store
        .live_sessions(
            ada.id,
            t0() + Duration::seconds(5),
            t0() - Duration::hours(1),
        )
        .await
        .expect("query")
        .iter()
        .map(|s| (s.id, s.created_at))
        .collect();
    assert_eq!(
        listed,
        [
            (newest, t0() + Duration::seconds(2)),
            (middle, t0() + Duration::seconds(1)),
            (oldest, t0())
        ]
    );
}

async fn purging_deletes_ended_sessions_with_their_tokens(store: &Store) {
    let ada = add_user(store, "ada").await;
    let id = add_session(store, &ada, 1).await;
    store.rotate(rotation(id, 0, 2)).await.expect("rotate");
    assert_eq!(store.purge_sessions(t0()).await.expect("purge"), 0);
    let after_end = t0() + Duration::days(1) + Duration::milliseconds(1);
    assert_eq!(store.purge_sessions(after_end).await.expect("purge"), 1);
    assert!(store.session(id).await.expect("query").is_none());
    assert!(
        store
            .refresh_token(&[1; 32])
            .await
            .expect("query")
            .is_none()
    );
    assert!(
        store
            .refresh_token(&[2; 32])
            .await
            .expect("query")
            .is_none()
    );
}
