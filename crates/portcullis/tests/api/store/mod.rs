//! The store conformance suite: every test body runs against SQLite and
//! against PostgreSQL (each in a database of its own), so that the two
//! backends cannot drift apart.

/// Declares `sqlite::<test>` and `postgres::<test>` for each named test body,
/// an `async fn(&Store)` in the invoking module.
macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    let db = crate::databases::TestDb::sqlite();
                    super::$test(&db.store().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    let db = crate::databases::TestDb::postgres().await;
                    super::$test(&db.store().await).await;
                }
            )*
        }
    };
}

mod audit;
mod changes;
mod email;
mod identities;
mod key_revocation;
mod keys;
mod mfa;
mod passkeys;
mod sessions;
mod users;

use portcullis::domain::{Email, SessionId, UserId, Username};
use portcullis::store::{NewSession, NewUser, Store, UserRecord};
use time::OffsetDateTime;

/// A fixed, millisecond-precise time: what goes in must come out exactly.
pub fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("in range")
        + time::Duration::milliseconds(123)
}

pub async fn add_user(store: &Store, name: &str) -> UserRecord {
    add_user_at(store, name, t0()).await
}

/// Registers `name` (address `name@example.com`) at `now`.
pub async fn add_user_at(store: &Store, name: &str, now: OffsetDateTime) -> UserRecord {
    store
        .insert_user(
            NewUser {
                id: UserId::random(),
                username: &Username::parse(name).expect("valid username"),
                email: &Email::parse(&format!("{name}@example.com")).expect("valid email"),
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
                now,
            },
            None,
        )
        .await
        .expect("user inserted")
}

/// Starts a session for `user` at `t0()`, lasting a day, whose first refresh
/// token hashes to `[tag; 32]`.
pub async fn add_session(store: &Store, user: &UserRecord, tag: u8) -> SessionId {
    add_session_at(store, user, tag, t0()).await
}

/// Like [`add_session`], started at `now`.
pub async fn add_session_at(
    store: &Store,
    user: &UserRecord,
    tag: u8,
    now: OffsetDateTime,
) -> SessionId {
    let id = SessionId::random();
    store
        .insert_session(NewSession {
            id,
            user_id: user.id,
            now,
            expires_at: now + time::Duration::days(1),
            token_hash: &[tag; 32],
            user_agent: Some("test-agent"),
            client_addr: Some("127.0.0.1"),
            method: &portcullis::domain::SignInMethod::Password,
        })
        .await
        .expect("session inserted");
    id
}
