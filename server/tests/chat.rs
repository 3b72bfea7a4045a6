//! Chat semantics across transports: presence, typing, history, leave.

use protocol::{Kind, Transport};
use std::time::Duration;
use testkit::{Got, SubOpts, Subscriber, TestServer};

/// Reads until a message matching `pred` arrives.
async fn until(sub: &mut Subscriber, what: &str, pred: impl Fn(&Got) -> bool) -> Got {
    tokio::time::timeout(testkit::SOON, async {
        loop {
            let batch = sub.next_batch().await.expect("stream open");
            if let Some(g) = batch.into_iter().find(&pred) {
                return g;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("never saw {what}"))
}

fn presence_is(g: &Got, users: &[&str]) -> bool {
    g.msg.kind == Kind::Presence
        && g.msg.users.as_deref()
            == Some(&users.iter().map(|u| u.to_string()).collect::<Vec<_>>()[..])
}

#[tokio::test]
async fn presence_typing_and_history_across_transports() {
    let srv = TestServer::with(server::Config {
        presence_timeout: Duration::from_millis(100),
        ..server::Config::default()
    })
    .await;
    let alice_opts = SubOpts {
        since: None,
        history: None,
        user: Some("alice"),
    };
    let mut alice = Subscriber::open(Transport::Ws, &srv, "chat", alice_opts).await;
    let bob_opts = SubOpts {
        since: None,
        history: None,
        user: Some("bob"),
    };
    let mut bob = Subscriber::open(Transport::ShortPoll, &srv, "chat", bob_opts).await;

    // Each sees both in the user list, and the join announcements.
    until(&mut alice, "presence alice+bob on ws", |g| {
        presence_is(g, &["alice", "bob"])
    })
    .await;
    until(&mut bob, "bob's join on poll", |g| {
        g.msg.kind == Kind::System && g.msg.text.as_deref() == Some("bob joined")
    })
    .await;

    // Typing: HTTP for the poller, a frame for the WebSocket.
    let r = srv
        .http
        .post(format!("{}/api/rooms/chat/typing", srv.url))
        .json(&serde_json::json!({"user": "bob"}))
        .send()
        .await
        .expect("typing");
    assert_eq!(r.status(), 204);
    until(&mut alice, "bob typing", |g| {
        g.msg.kind == Kind::Typing && g.msg.user.as_deref() == Some("bob")
    })
    .await;
    alice.ws_send(r#"{"type":"typing"}"#).await;
    until(&mut bob, "alice typing", |g| {
        g.msg.kind == Kind::Typing && g.msg.user.as_deref() == Some("alice")
    })
    .await;

    // Messages both ways: WebSocket publish frame, HTTP publish.
    alice
        .ws_send(r#"{"type":"message","user":"alice","text":"hello bob"}"#)
        .await;
    until(&mut bob, "alice's message", |g| {
        g.msg.text.as_deref() == Some("hello bob")
    })
    .await;
    srv.publish("chat", "bob", "hi alice").await;
    until(&mut alice, "bob's message", |g| {
        g.msg.text.as_deref() == Some("hi alice")
    })
    .await;

    // A late joiner on SSE gets history (chat and system, not typing) and the user list.
    let carol_opts = SubOpts {
        since: None,
        history: Some(10),
        user: None,
    };
    let mut carol = Subscriber::open(Transport::Sse, &srv, "chat", carol_opts).await;
    let mut history = Vec::new();
    while !history
        .iter()
        .any(|g: &Got| g.msg.text.as_deref() == Some("hi alice"))
    {
        history.extend(carol.recv_n(1).await);
    }
    assert!(
        history.iter().all(|g| g.msg.kind != Kind::Typing),
        "no stale typing in history"
    );
    assert!(
        history
            .iter()
            .any(|g| g.msg.text.as_deref() == Some("hello bob"))
    );
    assert!(history.iter().any(|g| presence_is(g, &["alice", "bob"])));
    assert!(
        !history.iter().any(|g| g
            .msg
            .users
            .as_ref()
            .is_some_and(|u| u.iter().any(|n| n == "carol"))),
        "observers are not listed"
    );

    // Alice leaves: after the grace period everyone is told.
    alice.ws_close().await;
    drop(alice);
    until(&mut carol, "alice left", |g| {
        g.msg.kind == Kind::System && g.msg.text.as_deref() == Some("alice left")
    })
    .await;
    until(&mut carol, "presence bob only", |g| {
        presence_is(g, &["bob"])
    })
    .await;
}

#[tokio::test]
async fn reconnect_within_grace_is_not_a_leave() {
    let srv = TestServer::with(server::Config {
        presence_timeout: Duration::from_secs(3),
        ..server::Config::default()
    })
    .await;
    let o = || SubOpts {
        since: None,
        history: Some(0),
        user: Some("dave"),
    };
    let first = Subscriber::open(Transport::Sse, &srv, "g", o()).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(first);
    let _again = Subscriber::open(Transport::Ws, &srv, "g", o()).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let r = srv.poll("g", "since=0").await;
    let systems: Vec<_> = r
        .messages
        .iter()
        .filter(|m| m.kind == Kind::System)
        .filter_map(|m| m.text.clone())
        .collect();
    assert_eq!(
        systems,
        ["dave joined"],
        "one join, no leave/rejoin flicker"
    );
}
