//! Second factors in the store: an enrolment replaced until confirmed, each
//! TOTP step accepted once, recovery codes and waiting sign-ins used once,
//! and what a session records of how it began.

use portcullis::domain::{SessionId, SignInMethod};
use portcullis::store::{NewSession, PendingRecord, Store};
use time::Duration;

use super::{add_session, add_user, t0};

conformance!(
    an_enrolment_is_replaced_until_confirmed_and_then_kept,
    a_time_step_is_accepted_once_and_no_earlier_one_after_it,
    confirming_stores_the_recovery_codes_each_usable_once,
    removing_the_factors_takes_codes_and_waiting_sign_ins_too,
    a_waiting_sign_in_is_found_until_it_expires_and_taken_once,
    a_session_keeps_how_it_began_and_when_it_was_proved_again,
);

async fn an_enrolment_is_replaced_until_confirmed_and_then_kept(store: &Store) {
    let ada = add_user(store, "ada").await;
    assert!(store.totp(ada.id).await.expect("read").is_none());
    assert!(
        store
            .begin_totp(ada.id, b"first", t0())
            .await
            .expect("begin")
    );
    assert!(
        store
            .begin_totp(ada.id, b"second", t0())
            .await
            .expect("begin")
    );
    let record = store.totp(ada.id).await.expect("read").expect("stored");
    assert_eq!(record.sealed_secret, b"second");
    assert_eq!(record.confirmed_at, None);
    assert!(
        store
            .accept_totp_step(ada.id, 7, Some(&[]), t0())
            .await
            .expect("confirm")
    );
    let record = store.totp(ada.id).await.expect("read").expect("stored");
    assert_eq!(record.confirmed_at, Some(t0()));
    assert!(
        !store
            .begin_totp(ada.id, b"third", t0())
            .await
            .expect("begin")
    );
    assert_eq!(
        store
            .totp(ada.id)
            .await
            .expect("read")
            .expect("kept")
            .sealed_secret,
        b"second"
    );
}

async fn a_time_step_is_accepted_once_and_no_earlier_one_after_it(store: &Store) {
    let ada = add_user(store, "ada").await;
    store.begin_totp(ada.id, b"s", t0()).await.expect("begin");
    // Not confirmed: no sign-in step counts yet.
    assert!(
        !store
            .accept_totp_step(ada.id, 10, None, t0())
            .await
            .expect("step")
    );
    assert!(
        store
            .accept_totp_step(ada.id, 10, Some(&[]), t0())
            .await
            .expect("confirm")
    );
    assert!(
        !store
            .accept_totp_step(ada.id, 10, Some(&[]), t0())
            .await
            .expect("confirmed")
    );
    assert!(
        !store
            .accept_totp_step(ada.id, 10, None, t0())
            .await
            .expect("replay")
    );
    assert!(
        !store
            .accept_totp_step(ada.id, 9, None, t0())
            .await
            .expect("earlier")
    );
    assert!(
        store
            .accept_totp_step(ada.id, 11, None, t0())
            .await
            .expect("later")
    );
    let bob = add_user(store, "bob").await;
    assert!(
        !store
            .accept_totp_step(bob.id, 12, None, t0())
            .await
            .expect("none")
    );
}

async fn confirming_stores_the_recovery_codes_each_usable_once(store: &Store) {
    let ada = add_user(store, "ada").await;
    let bob = add_user(store, "bob").await;
    assert!(
        !store
            .replace_recovery_codes(ada.id, &[[1; 32]], t0())
            .await
            .expect("no factor")
    );
    store.begin_totp(ada.id, b"s", t0()).await.expect("begin");
    store
        .accept_totp_step(ada.id, 1, Some(&[[1; 32], [2; 32]]), t0())
        .await
        .expect("confirm");
    assert_eq!(store.recovery_codes_left(ada.id).await.expect("count"), 2);
    assert!(
        !store
            .use_recovery_code(bob.id, &[1; 32])
            .await
            .expect("not bob's")
    );
    assert!(
        store
            .use_recovery_code(ada.id, &[1; 32])
            .await
            .expect("use")
    );
    assert!(
        !store
            .use_recovery_code(ada.id, &[1; 32])
            .await
            .expect("used")
    );
    assert!(
        store
            .replace_recovery_codes(ada.id, &[[3; 32]], t0())
            .await
            .expect("replace")
    );
    assert!(
        !store
            .use_recovery_code(ada.id, &[2; 32])
            .await
            .expect("replaced")
    );
    assert_eq!(store.recovery_codes_left(ada.id).await.expect("count"), 1);
}

async fn removing_the_factors_takes_codes_and_waiting_sign_ins_too(store: &Store) {
    let ada = add_user(store, "ada").await;
    assert!(!store.remove_second_factors(ada.id).await.expect("none"));
    store.begin_totp(ada.id, b"s", t0()).await.expect("begin");
    store
        .accept_totp_step(ada.id, 1, Some(&[[1; 32]]), t0())
        .await
        .expect("confirm");
    let pending = PendingRecord {
        user_id: ada.id,
        created_at: t0(),
        password_digest: [4; 32],
        method: SignInMethod::Password,
    };
    store
        .insert_mfa_pending(&[9; 32], pending, t0() + Duration::minutes(5))
        .await
        .expect("pending");
    assert!(store.remove_second_factors(ada.id).await.expect("removed"));
    assert!(store.totp(ada.id).await.expect("read").is_none());
    assert_eq!(store.recovery_codes_left(ada.id).await.expect("count"), 0);
    assert!(
        store
            .mfa_pending(&[9; 32], t0())
            .await
            .expect("read")
            .is_none()
    );
}

async fn a_waiting_sign_in_is_found_until_it_expires_and_taken_once(store: &Store) {
    let ada = add_user(store, "ada").await;
    let pending = PendingRecord {
        user_id: ada.id,
        created_at: t0(),
        password_digest: [4; 32],
        method: SignInMethod::Password,
    };
    let ends = t0() + Duration::minutes(5);
    store
        .insert_mfa_pending(&[1; 32], pending.clone(), ends)
        .await
        .expect("insert");
    // A sign-in at a provider waits with what the provider proved.
    let federated = SignInMethod::federated("corp", &["hwk".into()], false);
    let at_provider = PendingRecord {
        method: federated.clone(),
        ..pending
    };
    store
        .insert_mfa_pending(&[2; 32], at_provider, ends)
        .await
        .expect("insert");
    let other = store
        .mfa_pending(&[2; 32], t0())
        .await
        .expect("read")
        .expect("found");
    assert_eq!(other.method, federated);
    let found = store
        .mfa_pending(&[1; 32], t0())
        .await
        .expect("read")
        .expect("found");
    assert_eq!(found.user_id, ada.id);
    assert_eq!(found.created_at, t0());
    assert_eq!(found.password_digest, [4; 32]);
    assert!(
        store
            .mfa_pending(&[1; 32], ends)
            .await
            .expect("read")
            .is_none()
    );
    assert!(
        store
            .mfa_pending(&[3; 32], t0())
            .await
            .expect("read")
            .is_none()
    );
    assert!(store.take_mfa_pending(&[1; 32]).await.expect("take"));
    assert!(!store.take_mfa_pending(&[1; 32]).await.expect("taken"));
    assert_eq!(
        store
            .purge_mfa_pending(ends + Duration::seconds(1))
            .await
            .expect("purge"),
        1
    );
    assert!(!store.take_mfa_pending(&[2; 32]).await.expect("purged"));
}

async fn a_session_keeps_how_it_began_and_when_it_was_proved_again(store: &Store) {
    let ada = add_user(store, "ada").await;
    let plain = add_session(store, &ada, 1).await;
    let id = SessionId::random();
    store
        .insert_session(NewSession {
            id,
            user_id: ada.id,
            now: t0(),
            expires_at: t0() + Duration::days(1),
            token_hash: &[2; 32],
            user_agent: None,
            client_addr: None,
            method: &SignInMethod::PasswordAndOtp,
        })
        .await
        .expect("insert");
    let stored = store.session(id).await.expect("read").expect("found");
    assert_eq!(stored.method, SignInMethod::PasswordAndOtp);
    assert_eq!(stored.reauthenticated_at, None);
    assert_eq!(stored.authenticated_at(), t0());
    let plain = store.session(plain).await.expect("read").expect("found");
    assert_eq!(plain.method, SignInMethod::Password);
    let later = t0() + Duration::minutes(30);
    assert!(store.reauthenticated(id, later).await.expect("update"));
    let stored = store.session(id).await.expect("read").expect("found");
    assert_eq!(stored.authenticated_at(), later);
    assert!(
        !store
            .reauthenticated(SessionId::random(), later)
            .await
            .expect("none")
    );
}
