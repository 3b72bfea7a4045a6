//! The hub's rooms: numbering, history windows, the live feed, presence.

use super::*;
use axum::extract::ws::Utf8Bytes;

fn hub(history: usize) -> Hub {
    let cfg = crate::Config {
        history,
        ..crate::Config::default()
    };
    Hub::new(&cfg, Arc::new(Metrics::default()))
}

fn text(room: &Room, t: &str) -> u64 {
    room.publish(
        Kind::Message,
        Draft {
            user: Some("u"),
            text: Some(t),
            ..Draft::default()
        },
    )
    .0
}

#[test]
fn wire_matches_protocol_message() {
    let h = hub(8);
    let r = h.room("lobby");
    r.publish(
        Kind::Message,
        Draft {
            user: Some("a\"<b>"),
            text: Some("hi\nthere"),
            sent_us: Some(5),
            publisher: Some("p1"),
            seq: Some(9),
            users: None,
        },
    );
    let b = r.read(Start::Since(0));
    let d = &b.messages[0];
    let m: protocol::Message = serde_json::from_str(&d.json).expect("valid message");
    assert_eq!(m.id, "1");
    assert_eq!(m.user.as_deref(), Some("a\"<b>"));
    assert_eq!(m.seq, Some(9));
    assert_eq!(m.publisher.as_deref(), Some("p1"));
}

#[test]
fn cursors_and_gaps() {
    let h = hub(4);
    let r = h.room("x");
    for i in 0..6 {
        text(&r, &i.to_string());
    }
    // Kept: 3,4,5,6.
    let b = r.read(Start::Since(4));
    assert_eq!(b.messages.iter().map(|d| d.id).collect::<Vec<_>>(), [5, 6]);
    assert!(!b.gap);
    assert_eq!(b.cursor, 6);
    let b = r.read(Start::Since(2));
    assert_eq!(b.messages.len(), 4);
    assert!(!b.gap, "2 is the last evicted id: nothing after it is lost");
    let b = r.read(Start::Since(1));
    assert!(b.gap);
    let b = r.read(Start::Since(6));
    assert!(b.messages.is_empty() && !b.gap);
    let b = r.read(Start::Since(99));
    assert!(b.gap);
    assert_eq!(b.messages.len(), 4);
    let b = r.read(Start::Recent(2));
    assert_eq!(b.messages.iter().map(|d| d.id).collect::<Vec<_>>(), [5, 6]);
    assert!(r.read(Start::Recent(0)).messages.is_empty());
}

#[test]
fn subscribe_sees_each_message_once() {
    let h = hub(16);
    let r = h.room("x");
    text(&r, "a");
    let mut sub = r.subscribe(Start::Since(0));
    text(&r, "b");
    assert_eq!(sub.backlog.messages.len(), 1);
    let live = sub.rx.try_recv().expect("live message");
    assert_eq!(live.id, 2);
    assert!(sub.rx.try_recv().is_err());
}

#[test]
fn external_messages_commit_once_in_id_order() {
    let h = hub(16);
    let r = h.room("x");
    let d = |id: u64| {
        let json = format!("{{\"id\":\"{id}\"}}");
        Delivery::new(id, Kind::Message, Utf8Bytes::from(json))
    };
    let mut sub = r.subscribe(Start::Since(0));
    r.commit_external(vec![d(5), d(6)]);
    r.commit_external(vec![d(6), d(7)]);
    let ids: Vec<u64> = r
        .read(Start::Since(0))
        .messages
        .iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(ids, [5, 6, 7], "6 is not committed twice");
    assert_eq!(r.last_id(), 7);
    assert_eq!(sub.rx.try_recv().map(|d| d.id).ok(), Some(5));
    // A local publish continues after the broker's numbering.
    assert_eq!(text(&r, "next"), 8);
}

#[test]
fn presence_join_leave_with_grace() {
    let cfg = crate::Config {
        presence_timeout: Duration::ZERO,
        ..crate::Config::default()
    };
    let h = Hub::new(&cfg, Arc::new(Metrics::default()));
    let r = h.room("x");
    let g1 = r.join("alice");
    let g2 = r.join("alice");
    r.touch("bob", Duration::from_secs(60));
    assert_eq!(r.users(), ["alice", "bob"]);
    drop(g1);
    h.reap();
    assert_eq!(r.users(), ["alice", "bob"], "one connection still open");
    drop(g2);
    h.reap();
    assert_eq!(r.users(), ["bob"]);
    let kinds: Vec<Kind> = r
        .read(Start::Since(0))
        .messages
        .iter()
        .map(|d| d.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            Kind::System,
            Kind::Presence,
            Kind::System,
            Kind::Presence,
            Kind::System,
            Kind::Presence
        ]
    );
    // A joiner gets the user list even with no chat history.
    let b = r.read(Start::Recent(10));
    assert_eq!(b.messages.last().map(|d| d.kind), Some(Kind::Presence));
}
