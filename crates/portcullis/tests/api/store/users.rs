//! Users and sign-in throttling.

use portcullis::domain::{Email, LoginName, SessionId, UserId, Username};
use portcullis::store::{NewSession, NewUser, Store, StoreError, Unique};

use super::{add_session, add_user, add_user_at, t0};

conformance!(
    a_user_is_found_by_name_address_and_id_regardless_of_case,
    a_taken_username_or_address_is_a_conflict_naming_the_field,
    disabling_and_rehashing_change_only_that_user,
    login_failures_count_up_then_start_over_or_clear,
    the_database_answers_a_ping,
    a_closed_store_answers_nothing_more,
    users_are_listed_oldest_first,
    a_registration_stores_the_user_and_first_session_together_or_neither,
    sessions_valid_after_only_moves_forward_and_disabling_sets_it,
    throttle_rows_past_their_memory_are_purged,
    a_server_secret_is_made_once_and_shared,
);

async fn a_user_is_found_by_name_address_and_id_regardless_of_case(store: &Store) {
    let ada = add_user(store, "Ada").await;
    assert_eq!(ada.username, "Ada");
    assert_eq!(ada.created_at, t0(), "times round-trip to the millisecond");
    assert!(!ada.disabled);
    for login in ["ada", "ADA", "ada@example.com", "Ada@Example.COM"] {
        let found = store
            .user_by_login(&LoginName::new(login))
            .await
            .expect("query")
            .unwrap_or_else(|| panic!("{login} finds the user"));
        assert_eq!(found.id, ada.id);
    }
    let by_id = store
        .user_by_id(ada.id)
        .await
        .expect("query")
        .expect("found");
    assert_eq!(by_id.email, "Ada@example.com", "kept as registered");
    assert!(
        store
            .user_by_id(UserId::random())
            .await
            .expect("query")
            .is_none()
    );
    assert!(
        store
            .user_by_login(&LoginName::new("nobody"))
            .await
            .expect("query")
            .is_none()
    );
    let grace = add_user(store, "grace").await;
    let ids: Vec<_> = store
        .list_users()
        .await
        .expect("list")
        .iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&ada.id) && ids.contains(&grace.id));
}

async fn a_taken_username_or_address_is_a_conflict_naming_the_field(store: &Store) {
    add_user(store, "ada").await;
    let mut clash = add_user_result(store, "ADA", "other@example.com").await;
    assert!(
        matches!(clash, Err(StoreError::Conflict(Unique::Username))),
        "{clash:?}"
    );
    clash = add_user_result(store, "other", "ADA@example.com").await;
    assert!(
        matches!(clash, Err(StoreError::Conflict(Unique::Email))),
        "{clash:?}"
    );
    assert_eq!(store.list_users().await.expect("list").len(), 1);
}

async fn add_user_result(
    store: &Store,
    name: &str,
    email: &str,
) -> Result<portcullis::store::UserRecord, StoreError> {
    use portcullis::domain::{Email, Username};
    store
        .insert_user(
            portcullis::store::NewUser {
                id: UserId::random(),
                username: &Username::parse(name).expect("valid username"),
                email: &Email::parse(email).expect("valid email"),
                password_hash: "hash",
                now: t0(),
            },
            None,
        )
        .await
}

async fn disabling_and_rehashing_change_only_that_user(store: &Store) {
    let ada = add_user(store, "ada").await;
    let grace = add_user(store, "grace").await;
    assert!(
        store
            .set_user_disabled(ada.id, true, t0())
            .await
            .expect("update")
    );
    store
        .set_password_hash(ada.id, "new-hash", t0())
        .await
        .expect("update");
    let ada = store
        .user_by_id(ada.id)
        .await
        .expect("query")
        .expect("found");
    assert!(ada.disabled);
    assert_eq!(ada.password_hash, "new-hash");
    let grace = store
        .user_by_id(grace.id)
        .await
        .expect("query")
        .expect("found");
    assert!(!grace.disabled);
    assert_ne!(grace.password_hash, "new-hash");
    assert!(
        store
            .set_user_disabled(ada.id, false, t0())
            .await
            .expect("update")
    );
    assert!(
        !store
            .user_by_id(ada.id)
            .await
            .expect("query")
            .expect("found")
            .disabled
    );
    assert!(
        !store
            .set_user_disabled(UserId::random(), true, t0())
            .await
            .expect("update"),
        "no such user"
    );
}

async fn login_failures_count_up_then_start_over_or_clear(store: &Store) {
    let minute = time::Duration::minutes(1);
    assert!(store.login_failures("ada").await.expect("query").is_none());
    for expected in 1..=3 {
        let n = store
            .record_login_failure("ada", t0(), t0() - minute)
            .await
            .expect("record");
        assert_eq!(n, expected);
    }
    assert_eq!(
        store.login_failures("ada").await.expect("query"),
        Some((3, t0()))
    );
    // The last failure is older than `forget_before`: the count starts over.
    let later = t0() + time::Duration::hours(2);
    let n = store
        .record_login_failure("ada", later, later - minute)
        .await
        .expect("record");
    assert_eq!(n, 1);
    assert_eq!(
        store.login_failures("ada").await.expect("query"),
        Some((1, later))
    );
    assert!(
        store
            .login_failures("grace")
            .await
            .expect("query")
            .is_none()
    );
    store.clear_login_failures("ada").await.expect("clear");
    assert!(store.login_failures("ada").await.expect("query").is_none());
}

async fn the_database_answers_a_ping(store: &Store) {
    store.ping().await.expect("ping");
}

async fn a_closed_store_answers_nothing_more(store: &Store) {
    store.close().await;
    let refused = store.ping().await;
    assert!(
        matches!(refused, Err(StoreError::Database(_))),
        "{refused:?}"
    );
    let refused = store.list_users().await;
    assert!(
        matches!(refused, Err(StoreError::Database(_))),
        "{refused:?}"
    );
}

async fn users_are_listed_oldest_first(store: &Store) {
    // Registered newest first, so that the order of insertion cannot pass
    // for the order of age.
    let hour = time::Duration::hours(1);
    let newest = add_user_at(store, "hopper", t0() + hour).await;
    let oldest = add_user_at(store, "ada", t0() - hour).await;
    let middle = add_user_at(store, "grace", t0()).await;
    let listed: Vec<_> = store
        .list_users()
        .await
        .expect("list")
        .iter()
        .map(|u| (u.id, u.created_at))
        .collect();
    assert_eq!(
        listed,
        [
            (oldest.id, t0() - hour),
            (middle.id, t0()),
            (newest.id, t0() + hour)
        ]
    );
}

async fn a_registration_stores_the_user_and_first_session_together_or_neither(store: &Store) {
    let (username, email) = (
        Username::parse("ada").expect("valid"),
        Email::parse("ada@example.com").expect("valid"),
    );
    let register = |id: UserId, session: SessionId, token: u8| {
        let (username, email) = (&username, &email);
        async move {
            store
                .insert_user_with_session(
                    NewUser {
                        id,
                        username,
                        email,
                        password_hash: "hash",
                        now: t0(),
                    },
                    NewSession {
                        id: session,
                        user_id: id,
                        now: t0(),
                        expires_at: t0() + time::Duration::days(1),
                        token_hash: &[token; 32],
                        user_agent: None,
                        client_addr: None,
                        method: &portcullis::domain::SignInMethod::Password,
                    },
                    None,
                )
                .await
        }
    };
    let (ada, first) = (UserId::random(), SessionId::random());
    let user = register(ada, first, 1).await.expect("registered");
    assert_eq!((user.id, user.username.as_str()), (ada, "ada"));
    let session = store.session(first).await.expect("query").expect("stored");
    assert_eq!(session.user_id, ada);
    let token = store.refresh_token(&[1; 32]).await.expect("query");
    assert_eq!(token.map(|t| t.session_id), Some(first));

    // The user part fails (both name and address are taken; which one a
    // backend reports first is its own business): no session either.
    let lost = SessionId::random();
    let clash = register(UserId::random(), lost, 2).await;
    assert!(matches!(clash, Err(StoreError::Conflict(_))), "{clash:?}");
    assert!(store.session(lost).await.expect("query").is_none());
    assert!(
        store
            .refresh_token(&[2; 32])
            .await
            .expect("query")
            .is_none()
    );

    // The session part fails (its token hash is taken): no user either.
    let grace = add_user(store, "grace").await;
    add_session(store, &grace, 3).await;
    let other = UserId::random();
    let failed = store
        .insert_user_with_session(
            NewUser {
                id: other,
                username: &Username::parse("hopper").expect("valid"),
                email: &Email::parse("hopper@example.com").expect("valid"),
                password_hash: "hash",
                now: t0(),
            },
            NewSession {
                id: SessionId::random(),
                user_id: other,
                now: t0(),
                expires_at: t0() + time::Duration::days(1),
                token_hash: &[3; 32],
                user_agent: None,
                client_addr: None,
                method: &portcullis::domain::SignInMethod::Password,
            },
            None,
        )
        .await;
    assert!(matches!(failed, Err(StoreError::Database(_))), "{failed:?}");
    assert!(store.user_by_id(other).await.expect("query").is_none());
    assert!(
        store
            .user_by_login(&LoginName::new("hopper"))
            .await
            .expect("query")
            .is_none()
    );
}

async fn sessions_valid_after_only_moves_forward_and_disabling_sets_it(store: &Store) {
    let ada = add_user(store, "ada").await;
    let grace = add_user(store, "grace").await;
    assert_eq!(ada.sessions_valid_after, time::OffsetDateTime::UNIX_EPOCH);
    let valid_after = |id| async move {
        store
            .user_by_id(id)
            .await
            .expect("query")
            .expect("found")
            .sessions_valid_after
    };
    let later = t0() + time::Duration::minutes(5);
    store
        .set_sessions_valid_after(ada.id, later, None)
        .await
        .expect("update");
    assert_eq!(valid_after(ada.id).await, later, "to the millisecond");
    store
        .set_sessions_valid_after(ada.id, t0(), None)
        .await
        .expect("update");
    assert_eq!(valid_after(ada.id).await, later, "never back");
    let spared = portcullis::domain::SessionId::random();
    store
        .set_sessions_valid_after(ada.id, later + time::Duration::seconds(1), Some(spared))
        .await
        .expect("update");
    let ada_now = store
        .user_by_id(ada.id)
        .await
        .expect("query")
        .expect("found");
    assert_eq!(ada_now.sessions_valid_after_spares, Some(spared));
    store
        .set_sessions_valid_after(UserId::random(), later, None)
        .await
        .expect("no such user is no error");

    // Disabling ends the sessions begun before it; re-enabling changes nothing.
    let disabled_at = t0() + time::Duration::hours(1);
    assert!(
        store
            .set_user_disabled(grace.id, true, disabled_at)
            .await
            .expect("update")
    );
    assert_eq!(valid_after(grace.id).await, disabled_at);
    assert!(
        store
            .set_user_disabled(grace.id, false, disabled_at + time::Duration::hours(1))
            .await
            .expect("update")
    );
    assert_eq!(valid_after(grace.id).await, disabled_at);
    assert!(
        store
            .set_user_disabled(ada.id, true, t0())
            .await
            .expect("update")
    );
    let ada_now = store
        .user_by_id(ada.id)
        .await
        .expect("query")
        .expect("found");
    assert_eq!(
        ada_now.sessions_valid_after,
        later + time::Duration::seconds(1),
        "never back, either"
    );
    assert_eq!(
        ada_now.sessions_valid_after_spares, None,
        "a disable spares no session"
    );
}

async fn throttle_rows_past_their_memory_are_purged(store: &Store) {
    let hour = time::Duration::hours(1);
    for (key, at) in [("old", t0() - hour * 3), ("recent", t0())] {
        store
            .record_login_failure(key, at, at - hour)
            .await
            .expect("record");
    }
    let purged = store
        .purge_login_failures(t0() - hour)
        .await
        .expect("purge");
    assert_eq!(purged, 1);
    assert!(store.login_failures("old").await.expect("query").is_none());
    assert_eq!(
        store.login_failures("recent").await.expect("query"),
        Some((1, t0()))
    );
}

async fn a_server_secret_is_made_once_and_shared(store: &Store) {
    let first = store
        .server_secret("device", &[1; 32], t0())
        .await
        .expect("stored");
    let second = store
        .server_secret("device", &[2; 32], t0())
        .await
        .expect("read");
    use secrecy::ExposeSecret;
    assert_eq!(first.expose_secret(), &[1; 32]);
    assert_eq!(second.expose_secret(), &[1; 32], "the first one stays");
    let other = store
        .server_secret("other", &[3; 16], t0())
        .await
        .expect("stored");
    assert_eq!(other.expose_secret(), &[3; 16]);
}
