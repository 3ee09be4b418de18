//! The audit log.

use portcullis::domain::{SessionId, UserId};
use portcullis::store::{AuditEntry, AuditFilter, Store};
use time::Duration;

use super::t0;

conformance!(
    events_are_read_back_newest_first_and_filtered,
    an_event_without_details_is_read_back_without_them,
    events_past_their_retention_are_purged_but_the_last_thirty_days_never,
);

fn entry(kind: &'static str, user: Option<UserId>, minutes: i64) -> AuditEntry {
    AuditEntry {
        at: t0() + Duration::minutes(minutes),
        kind,
        user_id: user,
        session_id: Some(SessionId::random()),
        client_addr: Some("192.0.2.7".into()),
        user_agent: Some("Agent/1".into()),
        detail: Some("why".into()),
    }
}

async fn events_are_read_back_newest_first_and_filtered(store: &Store) {
    let (ada, bob) = (UserId::random(), UserId::random());
    for (i, (kind, user)) in [
        ("sign_in_ok", Some(ada)),
        ("sign_in_failed", None),
        ("logout_all", Some(bob)),
    ]
    .into_iter()
    .enumerate()
    {
        store
            .append_audit(&entry(kind, user, i as i64))
            .await
            .expect("append");
    }
    let all = store
        .audit_events(&AuditFilter {
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .expect("read");
    let kinds: Vec<&str> = all.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["logout_all", "sign_in_failed", "sign_in_ok"]);
    assert_eq!(all[2].entry.user_id, Some(ada));
    assert_eq!(all[2].entry.client_addr.as_deref(), Some("192.0.2.7"));
    assert_eq!(all[2].entry.at, t0());

    let filtered = store
        .audit_events(&AuditFilter {
            user_id: Some(bob),
            since: Some(t0()),
            until: Some(t0() + Duration::hours(1)),
            limit: 10,
        })
        .await
        .expect("read");
    assert_eq!(filtered.len(), 1);
    assert_eq!(filtered[0].kind, "logout_all");
    let window = store
        .audit_events(&AuditFilter {
            since: Some(t0() + Duration::minutes(1)),
            until: Some(t0() + Duration::minutes(2)),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .expect("read");
    assert_eq!(window.len(), 1);
    let limited = store
        .audit_events(&AuditFilter {
            limit: 1,
            ..AuditFilter::default()
        })
        .await
        .expect("read");
    assert_eq!(limited.len(), 1);
}

async fn an_event_without_details_is_read_back_without_them(store: &Store) {
    let bare = AuditEntry {
        at: t0(),
        kind: "key_rotated",
        user_id: None,
        session_id: None,
        client_addr: None,
        user_agent: None,
        detail: None,
    };
    store.append_audit(&bare).await.expect("append");
    let everyones = AuditFilter {
        limit: 10,
        ..AuditFilter::default()
    };
    let all = store.audit_events(&everyones).await.expect("read");
    assert_eq!(all.len(), 1);
    let event = &all[0].entry;
    assert_eq!((all[0].kind.as_str(), event.at), ("key_rotated", t0()));
    assert!(event.user_id.is_none() && event.session_id.is_none());
    assert!(event.client_addr.is_none() && event.user_agent.is_none() && event.detail.is_none());
    let someones = AuditFilter {
        user_id: Some(UserId::random()),
        ..everyones
    };
    let theirs = store.audit_events(&someones).await.expect("read");
    assert!(theirs.is_empty(), "an event of no user is nobody's");
}

/// The schemas judge an event's age by the database's own clock, so these
/// events are dated by the wall clock, not by `t0()`.
async fn events_past_their_retention_are_purged_but_the_last_thirty_days_never(store: &Store) {
    use portcullis::clock::{Clock, SystemClock};
    let now = SystemClock.now();
    let at = |days: i64| AuditEntry {
        at: now - Duration::days(days),
        ..entry("sign_in_ok", None, 0)
    };
    for days in [400, 40, 10] {
        store.append_audit(&at(days)).await.expect("append");
    }
    let read = || async {
        let events = store
            .audit_events(&AuditFilter {
                limit: 10,
                ..AuditFilter::default()
            })
            .await
            .expect("read");
        events.len()
    };
    let purged = store
        .purge_audit(now - Duration::days(365))
        .await
        .expect("purged");
    assert_eq!((purged, read().await), (1, 2));
    // A retention that reaches into the last 30 days deletes nothing at all.
    let refused = store.purge_audit(now - Duration::days(5)).await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(read().await, 2);
    let purged = store
        .purge_audit(now - Duration::days(35))
        .await
        .expect("purged");
    assert_eq!((purged, read().await), (1, 1));
}
