//! Signing keys.

use portcullis::auth::keys::generate;
use portcullis::store::Store;
use secrecy::ExposeSecret;
use time::Duration;
use tokio::task::JoinSet;

use super::t0;

conformance!(
    the_first_key_is_stored_once_and_read_back_whole,
    of_instances_starting_together_exactly_one_creates_the_first_key,
    a_rotation_retires_the_old_key_which_is_published_until_its_deadline,
    concurrent_rotations_leave_exactly_one_key_signing,
    of_instances_rotating_on_schedule_at_once_exactly_one_rotates,
    with_no_key_at_all_a_scheduled_rotation_is_due,
    pool_status_reports_the_pool,
);

async fn the_first_key_is_stored_once_and_read_back_whole(store: &Store) {
    let first = generate(t0()).expect("key");
    assert!(store.insert_first_key(&first).await.expect("insert"));
    let second = generate(t0()).expect("key");
    assert!(!store.insert_first_key(&second).await.expect("insert"));
    let keys = store.signing_keys(t0()).await.expect("query");
    assert_eq!(keys.len(), 1);
    let stored = &keys[0];
    assert_eq!(stored.kid, first.kid);
    assert_eq!(stored.algorithm, "EdDSA");
    assert_eq!(
        stored.private_key.expose_secret(),
        first.private_key.expose_secret()
    );
    assert_eq!(stored.public_key, first.public_key);
    assert_eq!((stored.created_at, stored.signs_from), (t0(), t0()));
    assert!(stored.retired_at.is_none() && stored.verify_until.is_none());
}

async fn of_instances_starting_together_exactly_one_creates_the_first_key(store: &Store) {
    let mut starters = JoinSet::new();
    for _ in 0..8 {
        let store = store.clone();
        starters.spawn(async move {
            let key = generate(t0()).expect("key");
            store.insert_first_key(&key).await
        });
    }
    let mut created = 0;
    while let Some(joined) = starters.join_next().await {
        created += usize::from(joined.expect("task").expect("no starter errors"));
    }
    assert_eq!(created, 1);
    assert_eq!(store.signing_keys(t0()).await.expect("query").len(), 1);
}

async fn a_rotation_retires_the_old_key_which_is_published_until_its_deadline(store: &Store) {
    let old = generate(t0()).expect("key");
    store.insert_first_key(&old).await.expect("insert");
    let later = t0() + Duration::hours(1);
    let new = generate(later).expect("key");
    let verify_until = later + Duration::minutes(20);
    store.rotate_keys(&new, verify_until).await.expect("rotate");
    let keys = store.signing_keys(later).await.expect("query");
    let kids: Vec<_> = keys.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(
        kids,
        [old.kid.as_str(), new.kid.as_str()],
        "ordered by signs_from"
    );
    assert_eq!(keys[0].retired_at, Some(later));
    assert_eq!(keys[0].verify_until, Some(verify_until));
    assert!(keys[1].retired_at.is_none());
    let after = store.signing_keys(verify_until).await.expect("query");
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].kid, new.kid);
}

async fn concurrent_rotations_leave_exactly_one_key_signing(store: &Store) {
    store
        .insert_first_key(&generate(t0()).expect("key"))
        .await
        .expect("insert");
    let mut rotators = JoinSet::new();
    for i in 1..=6 {
        let store = store.clone();
        rotators.spawn(async move {
            let at = t0() + Duration::seconds(i);
            let key = generate(at).expect("key");
            store.rotate_keys(&key, at + Duration::minutes(20)).await
        });
    }
    while let Some(joined) = rotators.join_next().await {
        joined.expect("task").expect("no rotation errors");
    }
    let keys = store.signing_keys(t0()).await.expect("query");
    assert_eq!(keys.len(), 7);
    let signing = keys.iter().filter(|k| k.retired_at.is_none()).count();
    assert_eq!(signing, 1, "exactly one unretired key");
}

async fn of_instances_rotating_on_schedule_at_once_exactly_one_rotates(store: &Store) {
    store
        .insert_first_key(&generate(t0()).expect("key"))
        .await
        .expect("insert");
    let due_before = t0() + Duration::days(30);
    let at = due_before + Duration::minutes(1);
    let mut rotators = JoinSet::new();
    for _ in 0..6 {
        let store = store.clone();
        rotators.spawn(async move {
            let key = generate(at).expect("key");
            store
                .rotate_keys_if_due(&key, at + Duration::minutes(20), due_before)
                .await
        });
    }
    let mut rotated = 0;
    while let Some(joined) = rotators.join_next().await {
        rotated += usize::from(joined.expect("task").expect("no rotation errors"));
    }
    assert_eq!(rotated, 1);
    // Not due again until the new key is itself old.
    let key = generate(at).expect("key");
    let again = store
        .rotate_keys_if_due(&key, at + Duration::minutes(20), due_before)
        .await
        .expect("query");
    assert!(!again);
}

async fn with_no_key_at_all_a_scheduled_rotation_is_due(store: &Store) {
    let key = generate(t0()).expect("key");
    let rotated = store
        .rotate_keys_if_due(&key, t0() + Duration::minutes(20), t0())
        .await
        .expect("rotate");
    assert!(rotated);
    let keys = store.signing_keys(t0()).await.expect("query");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].kid, key.kid);
    assert!(keys[0].retired_at.is_none());
}

async fn pool_status_reports_the_pool(store: &Store) {
    store.ping().await.expect("ping");
    let status = store.pool_status().await.expect("status");
    assert!(status.max >= 1 && status.size <= status.max && status.idle <= status.size);
}
