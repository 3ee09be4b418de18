//! Passkeys in the store: a credential belongs to one account, a counter
//! never goes back, renames and deletes only touch the owner's, a ceremony
//! is taken once and not after it expires.

use portcullis::domain::{Email, UserId, Username};
use portcullis::store::{
    CeremonyRecord, NewIdentity, NewUser, PasskeyDeletion, PasskeyRecord, Store, Unlinked,
};
use time::Duration;

use super::{add_user, t0};

conformance!(
    a_credential_is_registered_to_one_account_only,
    the_counter_only_moves_forward_and_records_the_use,
    renaming_and_deleting_touch_only_the_owners_passkey,
    a_passkey_is_a_way_to_sign_in_and_the_last_one_stays,
    removing_a_users_passkeys_takes_their_ceremonies_too,
    a_ceremony_is_taken_once_for_its_purpose_until_it_expires,
);

fn passkey(user: UserId, id: &str, credential: &[u8]) -> PasskeyRecord {
    PasskeyRecord {
        id: id.to_owned(),
        user_id: user,
        credential_id: credential.to_vec(),
        passkey: format!("{{\"id\":\"{id}\"}}"),
        sign_count: 0,
        name: "Laptop".into(),
        created_at: t0(),
        last_used_at: None,
    }
}

async fn a_credential_is_registered_to_one_account_only(store: &Store) {
    let ada = add_user(store, "ada").await;
    let bob = add_user(store, "bob").await;
    assert!(
        store
            .insert_passkey(&passkey(ada.id, "p1", b"cred"))
            .await
            .expect("insert")
    );
    assert!(
        !store
            .insert_passkey(&passkey(bob.id, "p2", b"cred"))
            .await
            .expect("insert")
    );
    assert!(
        !store
            .insert_passkey(&passkey(ada.id, "p3", b"cred"))
            .await
            .expect("insert")
    );
    let found = store
        .passkey_by_credential(b"cred")
        .await
        .expect("read")
        .expect("found");
    assert_eq!(found.id, "p1");
    assert_eq!(found.user_id, ada.id);
    assert_eq!(found.created_at, t0());
    assert_eq!(found.last_used_at, None);
    assert!(store.passkeys(bob.id).await.expect("read").is_empty());
    assert!(
        store
            .passkey_by_credential(b"other")
            .await
            .expect("read")
            .is_none()
    );
}

async fn the_counter_only_moves_forward_and_records_the_use(store: &Store) {
    let ada = add_user(store, "ada").await;
    store
        .insert_passkey(&passkey(ada.id, "p1", b"c1"))
        .await
        .expect("insert");
    let later = t0() + Duration::minutes(1);
    assert!(
        store
            .passkey_used("p1", "{\"v\":2}", 2, later)
            .await
            .expect("use")
    );
    // The same counter again, or a lower one: a replay or a clone.
    assert!(
        !store
            .passkey_used("p1", "{\"v\":3}", 2, later)
            .await
            .expect("use")
    );
    assert!(
        !store
            .passkey_used("p1", "{\"v\":3}", 1, later)
            .await
            .expect("use")
    );
    let stored = &store.passkeys(ada.id).await.expect("read")[0];
    assert_eq!(stored.sign_count, 2);
    assert_eq!(stored.passkey, "{\"v\":2}");
    assert_eq!(stored.last_used_at, Some(later));
    // Authenticators without a counter always send 0, which stays 0.
    store
        .insert_passkey(&passkey(ada.id, "p2", b"c2"))
        .await
        .expect("insert");
    assert!(store.passkey_used("p2", "{}", 0, later).await.expect("use"));
    assert!(store.passkey_used("p2", "{}", 0, later).await.expect("use"));
    assert!(
        !store
            .passkey_used("gone", "{}", 5, later)
            .await
            .expect("use")
    );
}

async fn renaming_and_deleting_touch_only_the_owners_passkey(store: &Store) {
    let ada = add_user(store, "ada").await;
    let bob = add_user(store, "bob").await;
    store
        .insert_passkey(&passkey(ada.id, "p1", b"c1"))
        .await
        .expect("insert");
    assert!(
        !store
            .rename_passkey(bob.id, "p1", "Mine")
            .await
            .expect("rename")
    );
    assert_eq!(
        store
            .delete_passkey(bob.id, "p1", t0())
            .await
            .expect("delete"),
        PasskeyDeletion::NotFound
    );
    assert!(
        store
            .rename_passkey(ada.id, "p1", "Phone")
            .await
            .expect("rename")
    );
    assert_eq!(store.passkeys(ada.id).await.expect("read")[0].name, "Phone");
    assert_eq!(
        store
            .delete_passkey(ada.id, "p1", t0())
            .await
            .expect("delete"),
        PasskeyDeletion::Deleted
    );
    assert_eq!(
        store
            .delete_passkey(ada.id, "p1", t0())
            .await
            .expect("delete"),
        PasskeyDeletion::NotFound
    );
    assert!(store.passkeys(ada.id).await.expect("read").is_empty());
}

/// An account made at a provider has no password: its identity and its
/// passkeys are its ways in, and the last of them is neither unlinked nor
/// deleted.
async fn a_passkey_is_a_way_to_sign_in_and_the_last_one_stays(store: &Store) {
    let id = UserId::random();
    store
        .insert_user(
            NewUser {
                id,
                username: &Username::parse("solo").expect("valid"),
                email: &Email::parse("solo@example.com").expect("valid"),
                password_hash: "",
                now: t0(),
            },
            None,
        )
        .await
        .expect("inserted");
    let identity = NewIdentity {
        provider: "test",
        subject: "s1",
        user_id: id,
        email: Some("solo@example.com"),
        now: t0(),
    };
    assert!(store.insert_identity(identity).await.expect("linked"));
    store
        .insert_passkey(&passkey(id, "p1", b"c1"))
        .await
        .expect("insert");
    store
        .insert_passkey(&passkey(id, "p2", b"c2"))
        .await
        .expect("insert");
    // The passkeys are left: the identity may go.
    assert_eq!(
        store.delete_identity(id, "test", t0()).await.expect("ran"),
        Unlinked::Done
    );
    assert_eq!(
        store.delete_passkey(id, "p1", t0()).await.expect("ran"),
        PasskeyDeletion::Deleted
    );
    assert_eq!(
        store.delete_passkey(id, "p2", t0()).await.expect("ran"),
        PasskeyDeletion::LastMethod
    );
    assert_eq!(store.passkeys(id).await.expect("read").len(), 1, "kept");
    // An identity again: then the passkey may go, and the identity stays.
    assert!(
        store
            .insert_identity(NewIdentity {
                subject: "s2",
                ..identity
            })
            .await
            .expect("linked")
    );
    assert_eq!(
        store.delete_passkey(id, "p2", t0()).await.expect("ran"),
        PasskeyDeletion::Deleted
    );
    assert_eq!(
        store.delete_identity(id, "test", t0()).await.expect("ran"),
        Unlinked::LastMethod
    );
}

fn ceremony(user: Option<UserId>, purpose: &str) -> CeremonyRecord {
    CeremonyRecord {
        purpose: purpose.into(),
        user_id: user,
        state: "{\"challenge\":1}".into(),
    }
}

async fn removing_a_users_passkeys_takes_their_ceremonies_too(store: &Store) {
    let ada = add_user(store, "ada").await;
    let bob = add_user(store, "bob").await;
    store
        .insert_passkey(&passkey(ada.id, "p1", b"c1"))
        .await
        .expect("insert");
    store
        .insert_passkey(&passkey(ada.id, "p2", b"c2"))
        .await
        .expect("insert");
    store
        .insert_passkey(&passkey(bob.id, "p3", b"c3"))
        .await
        .expect("insert");
    let until = t0() + Duration::minutes(5);
    store
        .insert_ceremony(&[1; 32], &ceremony(Some(ada.id), "register"), until)
        .await
        .expect("insert");
    assert_eq!(store.remove_passkeys(ada.id).await.expect("remove"), 2);
    assert!(store.passkeys(ada.id).await.expect("read").is_empty());
    assert_eq!(store.passkeys(bob.id).await.expect("read").len(), 1);
    assert!(
        store
            .take_ceremony(&[1; 32], "register", t0())
            .await
            .expect("take")
            .is_none()
    );
}

async fn a_ceremony_is_taken_once_for_its_purpose_until_it_expires(store: &Store) {
    let ada = add_user(store, "ada").await;
    let until = t0() + Duration::minutes(5);
    store
        .insert_ceremony(&[1; 32], &ceremony(None, "sign_in"), until)
        .await
        .expect("insert");
    assert!(
        store
            .take_ceremony(&[1; 32], "register", t0())
            .await
            .expect("take")
            .is_none()
    );
    let taken = store
        .take_ceremony(&[1; 32], "sign_in", t0())
        .await
        .expect("take")
        .expect("there");
    assert_eq!(taken.user_id, None);
    assert_eq!(taken.state, "{\"challenge\":1}");
    assert!(
        store
            .take_ceremony(&[1; 32], "sign_in", t0())
            .await
            .expect("take")
            .is_none()
    );
    // Begun again under the same id: the new state replaces the old.
    store
        .insert_ceremony(&[2; 32], &ceremony(Some(ada.id), "register"), until)
        .await
        .expect("insert");
    let mut newer = ceremony(Some(ada.id), "register");
    newer.state = "{\"challenge\":2}".into();
    store
        .insert_ceremony(&[2; 32], &newer, until)
        .await
        .expect("insert");
    let taken = store
        .take_ceremony(&[2; 32], "register", t0())
        .await
        .expect("take")
        .expect("there");
    assert_eq!(taken.state, "{\"challenge\":2}");
    assert_eq!(taken.user_id, Some(ada.id));
    // Expired: not taken, and purged.
    store
        .insert_ceremony(&[3; 32], &ceremony(None, "sign_in"), until)
        .await
        .expect("insert");
    assert!(
        store
            .take_ceremony(&[3; 32], "sign_in", until)
            .await
            .expect("take")
            .is_none()
    );
    assert_eq!(
        store
            .purge_ceremonies(until + Duration::seconds(1))
            .await
            .expect("purge"),
        1
    );
}
