//! Sign-in with other providers in the store: flows taken once, identities
//! unique per provider and per account, the last way to sign in kept, and
//! the provider recorded on the session.

use portcullis::domain::{Email, SessionId, SignInMethod, UserId, Username};
use portcullis::store::{
    FlowRecord, NewFlow, NewIdentity, NewSession, NewUser, PendingLink, Store, Unlinked,
};
use time::Duration;

use super::{add_user, t0};

conformance!(
    a_flow_is_taken_once_and_never_after_it_ends,
    an_identity_finds_its_account_and_is_linked_once,
    an_account_made_with_a_provider_has_its_identity_session_and_no_password,
    the_last_way_to_sign_in_is_not_unlinked,
    a_pending_link_is_taken_once,
);

fn flow(link_user: Option<UserId>) -> FlowRecord {
    FlowRecord {
        provider: "test".into(),
        state: "state".into(),
        nonce: "nonce".into(),
        pkce_verifier: "verifier".into(),
        next: "/account".into(),
        link_user,
        expires_at: t0() + Duration::minutes(10),
    }
}

async fn a_flow_is_taken_once_and_never_after_it_ends(store: &Store) {
    let user = add_user(store, "ada").await;
    let stored = flow(Some(user.id));
    let new = NewFlow {
        flow_hash: &[1; 32],
        flow: &stored,
        now: t0(),
    };
    store.insert_flow(new).await.expect("stored");
    let taken = store
        .take_flow(&[1; 32], t0())
        .await
        .expect("read")
        .expect("found");
    assert_eq!(taken.state, "state");
    assert_eq!(taken.pkce_verifier, "verifier");
    assert_eq!(taken.link_user, Some(user.id));
    assert_eq!(taken.expires_at, stored.expires_at);
    assert!(
        store
            .take_flow(&[1; 32], t0())
            .await
            .expect("read")
            .is_none(),
        "used"
    );

    let late = flow(None);
    store
        .insert_flow(NewFlow {
            flow_hash: &[2; 32],
            flow: &late,
            now: t0(),
        })
        .await
        .expect("stored");
    let after = t0() + Duration::minutes(11);
    assert!(
        store
            .take_flow(&[2; 32], after)
            .await
            .expect("read")
            .is_none(),
        "ended"
    );
    assert!(
        store
            .take_flow(&[3; 32], t0())
            .await
            .expect("read")
            .is_none(),
        "unknown"
    );
}

fn identity(provider: &'static str, subject: &'static str, user: UserId) -> NewIdentity<'static> {
    NewIdentity {
        provider,
        subject,
        user_id: user,
        email: Some("ada@example.com"),
        now: t0(),
    }
}

async fn an_identity_finds_its_account_and_is_linked_once(store: &Store) {
    let ada = add_user(store, "ada").await;
    let bob = add_user(store, "bob").await;
    assert!(
        store
            .insert_identity(identity("test", "s1", ada.id))
            .await
            .expect("linked")
    );
    let found = store
        .user_by_identity("test", "s1")
        .await
        .expect("read")
        .expect("found");
    assert_eq!(found.id, ada.id);
    assert!(
        store
            .user_by_identity("test", "s2")
            .await
            .expect("read")
            .is_none()
    );
    assert!(
        store
            .user_by_identity("other", "s1")
            .await
            .expect("read")
            .is_none()
    );
    // The same identity for another account, or a second of the same
    // provider for this one: refused.
    assert!(
        !store
            .insert_identity(identity("test", "s1", bob.id))
            .await
            .expect("ran")
    );
    assert!(
        !store
            .insert_identity(identity("test", "s9", ada.id))
            .await
            .expect("ran")
    );
    assert!(
        store
            .insert_identity(identity("other", "s1", ada.id))
            .await
            .expect("linked")
    );
    let list = store.identities_of(ada.id).await.expect("read");
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].email.as_deref(), Some("ada@example.com"));
}

async fn an_account_made_with_a_provider_has_its_identity_session_and_no_password(store: &Store) {
    let id = UserId::random();
    let session = SessionId::random();
    let username = Username::parse("newbie").expect("valid");
    let email = Email::parse("newbie@example.com").expect("valid");
    let created = store
        .insert_user_with_identity(
            NewUser {
                id,
                username: &username,
                email: &email,
                password_hash: "",
                now: t0(),
            },
            true,
            identity("test", "s1", id),
            NewSession {
                id: session,
                user_id: id,
                now: t0(),
                expires_at: t0() + Duration::days(1),
                token_hash: &[5; 32],
                user_agent: None,
                client_addr: None,
                method: &SignInMethod::federated("test", &[], false),
            },
        )
        .await
        .expect("created")
        .expect("new identity");
    assert!(created.password_hash.is_empty());
    assert!(created.email_verified);
    let stored = store.session(session).await.expect("read").expect("found");
    assert_eq!(stored.method.idp(), Some("test"));
    // The same identity again (a second first sign-in at once): no account.
    let other = UserId::random();
    let username = Username::parse("newbie2").expect("valid");
    let email = Email::parse("newbie2@example.com").expect("valid");
    let again = store
        .insert_user_with_identity(
            NewUser {
                id: other,
                username: &username,
                email: &email,
                password_hash: "",
                now: t0(),
            },
            true,
            identity("test", "s1", other),
            NewSession {
                id: SessionId::random(),
                user_id: other,
                now: t0(),
                expires_at: t0() + Duration::days(1),
                token_hash: &[6; 32],
                user_agent: None,
                client_addr: None,
                method: &SignInMethod::federated("test", &[], false),
            },
        )
        .await
        .expect("ran");
    assert!(again.is_none());
    assert!(
        store.user_by_id(other).await.expect("read").is_none(),
        "rolled back"
    );
}

async fn the_last_way_to_sign_in_is_not_unlinked(store: &Store) {
    let id = UserId::random();
    let username = Username::parse("solo").expect("valid");
    let email = Email::parse("solo@example.com").expect("valid");
    store
        .insert_user_with_identity(
            NewUser {
                id,
                username: &username,
                email: &email,
                password_hash: "",
                now: t0(),
            },
            false,
            identity("test", "s1", id),
            NewSession {
                id: SessionId::random(),
                user_id: id,
                now: t0(),
                expires_at: t0() + Duration::days(1),
                token_hash: &[7; 32],
                user_agent: None,
                client_addr: None,
                method: &SignInMethod::federated("test", &[], false),
            },
        )
        .await
        .expect("created");
    assert_eq!(
        store.delete_identity(id, "test", t0()).await.expect("ran"),
        Unlinked::LastMethod
    );
    assert!(
        store
            .user_by_identity("test", "s1")
            .await
            .expect("read")
            .is_some(),
        "kept"
    );
    assert!(
        store
            .insert_identity(identity("other", "s2", id))
            .await
            .expect("linked")
    );
    assert_eq!(
        store.delete_identity(id, "test", t0()).await.expect("ran"),
        Unlinked::Done
    );
    assert_eq!(
        store.delete_identity(id, "test", t0()).await.expect("ran"),
        Unlinked::NotLinked
    );
    assert_eq!(
        store.delete_identity(id, "other", t0()).await.expect("ran"),
        Unlinked::LastMethod
    );
    // With a password, the last identity may go.
    let ada = add_user(store, "ada").await;
    assert!(
        store
            .insert_identity(identity("test", "s3", ada.id))
            .await
            .expect("linked")
    );
    assert_eq!(
        store
            .delete_identity(ada.id, "test", t0())
            .await
            .expect("ran"),
        Unlinked::Done
    );
}

async fn a_pending_link_is_taken_once(store: &Store) {
    let ada = add_user(store, "ada").await;
    let link = PendingLink {
        provider: "test".into(),
        subject: "s1".into(),
        user_id: ada.id,
        email: "ada@example.com".into(),
        expires_at: t0() + Duration::minutes(10),
    };
    store
        .insert_pending_link(&[1; 32], &link, t0())
        .await
        .expect("stored");
    let taken = store
        .take_pending_link(&[1; 32], t0())
        .await
        .expect("read")
        .expect("found");
    assert_eq!(taken.user_id, ada.id);
    assert_eq!(taken.subject, "s1");
    assert!(
        store
            .take_pending_link(&[1; 32], t0())
            .await
            .expect("read")
            .is_none()
    );
    store
        .insert_pending_link(&[2; 32], &link, t0())
        .await
        .expect("stored");
    let late = t0() + Duration::minutes(11);
    assert!(
        store
            .take_pending_link(&[2; 32], late)
            .await
            .expect("read")
            .is_none()
    );
}
