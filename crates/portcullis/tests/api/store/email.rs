//! The mail outbox, mailed-link tokens and request counters.

use portcullis::domain::{LoginName, UserId};
use portcullis::store::{
    EmailTokenRecord, NewEmailToken, NewMail, Reset, Store, StoreError, TokenPurpose, Unique,
    Verified,
};
use time::Duration;

use super::{add_session, add_user, t0};

conformance!(
    mail_is_claimed_by_one_sender_at_a_time_until_its_lease_runs_out,
    a_notice_goes_to_the_address_the_account_has_when_it_is_written,
    only_the_latest_live_token_of_a_purpose_is_found,
    a_reset_token_works_once_and_ends_every_session_and_failure_count,
    a_verification_marks_only_the_address_it_was_sent_to,
    an_address_change_takes_effect_once_and_collides_like_a_registration,
    requests_are_counted_in_fixed_windows,
    a_session_and_the_notice_of_its_sign_in_are_stored_together,
);

fn mail(kind: &'static str, to: &str, at: time::OffsetDateTime) -> NewMail {
    NewMail {
        id: uuid::Uuid::new_v4().to_string(),
        kind,
        user_id: None,
        recipient: Some(to.to_owned()),
        payload: "{}".to_owned(),
        now: at,
    }
}

async fn mail_is_claimed_by_one_sender_at_a_time_until_its_lease_runs_out(store: &Store) {
    let first = mail("password_reset", "a@example.com", t0());
    let second = mail(
        "password_reset",
        "b@example.com",
        t0() + Duration::seconds(1),
    );
    store.enqueue_mail(&second).await.expect("queued");
    store.enqueue_mail(&first).await.expect("queued");
    let lease = t0() + Duration::minutes(5);
    let now = t0() + Duration::seconds(2);
    let a = store
        .claim_mail(now, lease, "a")
        .await
        .expect("claim")
        .expect("due");
    assert_eq!(a.id, first.id, "the oldest first");
    assert_eq!((a.attempts, a.recipient.as_str()), (1, "a@example.com"));
    let b = store
        .claim_mail(now, lease, "b")
        .await
        .expect("claim")
        .expect("due");
    assert_eq!(b.id, second.id, "a claimed row is passed over");
    assert!(
        store
            .claim_mail(now, lease, "c")
            .await
            .expect("claim")
            .is_none()
    );

    // A failed attempt waits; a sender whose claim is gone touches nothing.
    let later = t0() + Duration::minutes(1);
    assert!(
        store
            .retry_mail(&a.id, "a", later, "refused")
            .await
            .expect("retry")
    );
    assert!(
        !store
            .retry_mail(&a.id, "a", later, "again")
            .await
            .expect("retry")
    );
    assert!(
        store
            .claim_mail(now, lease, "c")
            .await
            .expect("claim")
            .is_none()
    );
    let again = store
        .claim_mail(later, later + Duration::minutes(5), "d")
        .await
        .expect("claim")
        .expect("due again");
    assert_eq!((again.id.as_str(), again.attempts), (first.id.as_str(), 2));
    assert_eq!(again.last_error.as_deref(), Some("refused"));

    // B's sender went quiet: after its lease, the row is another's.
    let stolen = store
        .claim_mail(lease, lease + Duration::minutes(5), "e")
        .await
        .expect("claim")
        .expect("lease over");
    assert_eq!(stolen.id, second.id);
    assert!(!store.finish_mail(&second.id, "b").await.expect("finish"));
    assert!(store.finish_mail(&second.id, "e").await.expect("finish"));
    assert!(store.finish_mail(&first.id, "d").await.expect("finish"));
    assert!(store.pending_mail().await.expect("outbox").is_empty());
}

async fn a_notice_goes_to_the_address_the_account_has_when_it_is_written(store: &Store) {
    let ada = add_user(store, "ada").await;
    let notice = NewMail {
        user_id: Some(ada.id),
        recipient: None,
        ..mail("password_changed", "", t0())
    };
    store
        .change_password_hash(ada.id, "new-hash", t0(), Some(&notice))
        .await
        .expect("changed");
    let ghost = NewMail {
        user_id: Some(UserId::random()),
        recipient: None,
        ..mail("password_changed", "", t0())
    };
    store.enqueue_mail(&ghost).await.expect("nothing to write");
    let pending = store.pending_mail().await.expect("outbox");
    assert_eq!(
        pending.len(),
        1,
        "no row for an account that does not exist"
    );
    assert_eq!(pending[0].recipient, "ada@example.com");
    assert_eq!(pending[0].user_id, Some(ada.id));
    let stored = store
        .user_by_id(ada.id)
        .await
        .expect("query")
        .expect("user");
    assert_eq!(stored.password_hash, "new-hash");
}

fn token<'a>(
    hash: &'a [u8; 32],
    user: UserId,
    purpose: TokenPurpose,
    email: &'a str,
) -> NewEmailToken<'a> {
    NewEmailToken {
        token_hash: hash,
        user_id: user,
        purpose,
        email,
        now: t0(),
        expires_at: t0() + Duration::minutes(30),
    }
}

async fn only_the_latest_live_token_of_a_purpose_is_found(store: &Store) {
    let ada = add_user(store, "ada").await;
    let reset = TokenPurpose::PasswordReset;
    for hash in [[1; 32], [2; 32]] {
        store
            .replace_email_token(&token(&hash, ada.id, reset, "ada@example.com"))
            .await
            .expect("stored");
    }
    store
        .replace_email_token(&token(
            &[3; 32],
            ada.id,
            TokenPurpose::VerifyEmail,
            "ada@example.com",
        ))
        .await
        .expect("stored");
    let now = t0() + Duration::minutes(1);
    assert!(
        store
            .email_token(&[1; 32], now)
            .await
            .expect("query")
            .is_none(),
        "superseded"
    );
    let found = store.email_token(&[2; 32], now).await.expect("query");
    assert_eq!(
        found,
        Some(EmailTokenRecord {
            user_id: ada.id,
            purpose: reset,
            email: "ada@example.com".to_owned(),
        })
    );
    assert!(
        store
            .email_token(&[3; 32], now)
            .await
            .expect("query")
            .is_some(),
        "another purpose"
    );
    let expired = t0() + Duration::minutes(30);
    assert!(
        store
            .email_token(&[2; 32], expired)
            .await
            .expect("query")
            .is_none()
    );
    assert_eq!(
        store
            .purge_email_state(expired, t0())
            .await
            .expect("purged"),
        2
    );
}

async fn a_reset_token_works_once_and_ends_every_session_and_failure_count(store: &Store) {
    let ada = add_user(store, "ada").await;
    let sessions = [
        add_session(store, &ada, 1).await,
        add_session(store, &ada, 2).await,
    ];
    // A password change earlier spared its own session: a reset spares none.
    store
        .set_sessions_valid_after(ada.id, t0(), Some(sessions[0]))
        .await
        .expect("set");
    let forgotten = [
        format!("account:{}", ada.id),
        "device:ada-laptop".to_owned(),
    ];
    let kept = format!("account:{}", UserId::random());
    for key in forgotten.iter().chain([&kept]) {
        store
            .record_login_failure(key, t0(), t0())
            .await
            .expect("counted");
    }
    store
        .replace_email_token(&token(
            &[9; 32],
            ada.id,
            TokenPurpose::PasswordReset,
            "ada@example.com",
        ))
        .await
        .expect("stored");
    let notice = NewMail {
        user_id: Some(ada.id),
        recipient: None,
        ..mail("password_was_reset", "", t0())
    };
    let reset = Reset {
        token_hash: &[9; 32],
        user_id: ada.id,
        password_hash: "reset-hash",
        now: t0() + Duration::minutes(1),
        notice: Some(&notice),
        throttle_keys: &forgotten,
    };
    let mut revoked = store
        .reset_password(&reset)
        .await
        .expect("reset")
        .expect("live token");
    revoked.sort_by_key(|s| s.to_string());
    let mut expected = sessions.to_vec();
    expected.sort_by_key(|s| s.to_string());
    assert_eq!(revoked, expected);
    let user = store
        .user_by_id(ada.id)
        .await
        .expect("query")
        .expect("user");
    assert_eq!(user.password_hash, "reset-hash");
    assert!(
        user.email_verified,
        "the link went to the account's address"
    );
    assert_eq!(
        user.sessions_valid_after, reset.now,
        "a session a racing sign-in stores later is void too"
    );
    assert_eq!(user.sessions_valid_after_spares, None);
    for key in &forgotten {
        assert!(
            store.login_failures(key).await.expect("query").is_none(),
            "{key}"
        );
    }
    assert!(
        store.login_failures(&kept).await.expect("query").is_some(),
        "another account's count stays"
    );
    assert_eq!(store.pending_mail().await.expect("outbox").len(), 1);
    assert!(
        store.reset_password(&reset).await.expect("query").is_none(),
        "used"
    );
}

async fn a_verification_marks_only_the_address_it_was_sent_to(store: &Store) {
    let ada = add_user(store, "ada").await;
    let now = t0() + Duration::minutes(1);
    let stale = EmailTokenRecord {
        user_id: ada.id,
        purpose: TokenPurpose::VerifyEmail,
        email: "old@example.com".to_owned(),
    };
    store
        .replace_email_token(&token(&[4; 32], ada.id, stale.purpose, &stale.email))
        .await
        .expect("stored");
    let used = Verified {
        token_hash: &[4; 32],
        token: &stale,
        now,
        notice: None,
    };
    assert!(
        !store.confirm_email(&used).await.expect("query"),
        "not the account's address"
    );
    let current = EmailTokenRecord {
        email: "ADA@example.com".to_owned(),
        ..stale
    };
    store
        .replace_email_token(&token(&[5; 32], ada.id, current.purpose, &current.email))
        .await
        .expect("stored");
    let used = Verified {
        token_hash: &[5; 32],
        token: &current,
        now,
        notice: None,
    };
    assert!(store.confirm_email(&used).await.expect("verified"));
    assert!(!store.confirm_email(&used).await.expect("query"), "once");
    assert!(
        store
            .user_by_id(ada.id)
            .await
            .expect("query")
            .expect("user")
            .email_verified
    );
}

async fn an_address_change_takes_effect_once_and_collides_like_a_registration(store: &Store) {
    let ada = add_user(store, "ada").await;
    add_user(store, "bob").await;
    let now = t0() + Duration::minutes(1);
    let notice = NewMail {
        user_id: Some(ada.id),
        recipient: None,
        ..mail("email_changed", "", t0())
    };
    let taken = EmailTokenRecord {
        user_id: ada.id,
        purpose: TokenPurpose::ChangeEmail,
        email: "Bob@example.com".to_owned(),
    };
    store
        .replace_email_token(&token(&[6; 32], ada.id, taken.purpose, &taken.email))
        .await
        .expect("stored");
    let clash = store
        .confirm_email(&Verified {
            token_hash: &[6; 32],
            token: &taken,
            now,
            notice: Some(&notice),
        })
        .await;
    assert!(
        matches!(clash, Err(StoreError::Conflict(Unique::Email))),
        "{clash:?}"
    );
    assert!(
        store.pending_mail().await.expect("outbox").is_empty(),
        "rolled back whole"
    );

    let free = EmailTokenRecord {
        email: "Ada@New.example".to_owned(),
        ..taken
    };
    store
        .replace_email_token(&token(&[7; 32], ada.id, free.purpose, &free.email))
        .await
        .expect("stored");
    store
        .replace_email_token(&token(
            &[8; 32],
            ada.id,
            TokenPurpose::PasswordReset,
            "ada@example.com",
        ))
        .await
        .expect("stored");
    let change = Verified {
        token_hash: &[7; 32],
        token: &free,
        now,
        notice: Some(&notice),
    };
    assert!(store.confirm_email(&change).await.expect("changed"));
    let user = store
        .user_by_login(&LoginName::new("ada@new.example"))
        .await
        .expect("query")
        .expect("found by the new address");
    assert_eq!(
        (user.id, user.email.as_str(), user.email_verified),
        (ada.id, "Ada@New.example", true)
    );
    let pending = store.pending_mail().await.expect("outbox");
    assert_eq!(
        pending[0].recipient, "ada@example.com",
        "the notice goes to the old address"
    );
    assert!(
        store
            .email_token(&[8; 32], now)
            .await
            .expect("query")
            .is_none(),
        "links sent to the old address die"
    );
    assert!(!store.confirm_email(&change).await.expect("query"), "once");
}

async fn requests_are_counted_in_fixed_windows(store: &Store) {
    let hour = Duration::hours(1);
    for n in 1..=3 {
        let at = t0() + Duration::minutes(n);
        let (count, start) = store
            .count_request("forgot:x", at, at - hour)
            .await
            .expect("counted");
        assert_eq!((count, start), (n, t0() + Duration::minutes(1)));
    }
    let (other, _) = store
        .count_request("forgot:y", t0(), t0() - hour)
        .await
        .expect("counted");
    assert_eq!(other, 1);
    let next = t0() + Duration::minutes(61);
    let (count, start) = store
        .count_request("forgot:x", next, next - hour)
        .await
        .expect("counted");
    assert_eq!((count, start), (1, next), "a new window");
}

async fn a_session_and_the_notice_of_its_sign_in_are_stored_together(store: &Store) {
    let ada = add_user(store, "ada").await;
    add_session(store, &ada, 1).await;
    let session = |hash: &'static [u8; 32]| portcullis::store::NewSession {
        id: portcullis::domain::SessionId::random(),
        user_id: ada.id,
        now: t0(),
        expires_at: t0() + Duration::days(1),
        token_hash: hash,
        user_agent: Some("Firefox"),
        client_addr: None,
        method: &portcullis::domain::SignInMethod::Password,
    };
    let notice = || NewMail {
        user_id: Some(ada.id),
        recipient: None,
        ..mail("new_device", "", t0())
    };
    store
        .insert_session_with_mail(session(&[2; 32]), &notice())
        .await
        .expect("inserted");
    assert_eq!(store.pending_mail().await.expect("outbox").len(), 1);
    // A session that cannot be stored (its token's hash is taken) queues
    // nothing either.
    store
        .insert_session_with_mail(session(&[1; 32]), &notice())
        .await
        .expect_err("duplicate token hash");
    assert_eq!(store.pending_mail().await.expect("outbox").len(), 1);
}
