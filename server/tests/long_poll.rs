//! Long polls are held until news arrives or the wait ends.

use protocol::PollResponse;
use std::time::Duration;
use testkit::TestServer;

#[tokio::test]
async fn held_until_a_publish_then_answered() {
    let srv = TestServer::start().await;
    let url = format!("{}/api/rooms/lp/messages?since=0&wait=10", srv.url);
    let http = srv.http.clone();
    let poll =
        tokio::spawn(async move { http.get(url).send().await?.json::<PollResponse>().await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!poll.is_finished(), "a long poll with nothing new is held");
    srv.publish("lp", "u", "wake").await;
    let r = tokio::time::timeout(testkit::SOON, poll)
        .await
        .expect("answered after the publish")
        .expect("task")
        .expect("poll");
    assert_eq!(r.messages.len(), 1);
    assert_eq!(r.messages[0].text.as_deref(), Some("wake"));
    assert_eq!(r.cursor, "1");
}

/// Paused time: the 30 s wait elapses without 30 s of wall clock.
#[tokio::test(start_paused = true)]
async fn answered_empty_when_the_wait_ends() {
    let srv = TestServer::start().await;
    let start = tokio::time::Instant::now();
    let r = srv.poll("lp", "since=0&wait=30").await;
    assert!(r.messages.is_empty());
    assert_eq!(r.cursor, "0");
    assert!(
        start.elapsed() >= Duration::from_secs(30),
        "held for the whole wait"
    );
}

#[tokio::test]
async fn wait_is_capped_by_the_server() {
    let srv = TestServer::with(server::Config {
        long_poll_max_wait: Duration::from_millis(200),
        ..server::Config::default()
    })
    .await;
    let r = tokio::time::timeout(
        testkit::SOON,
        srv.http
            .get(format!("{}/api/rooms/lp/messages?wait=3600", srv.url))
            .send(),
    )
    .await
    .expect("answered at the server's cap, not after an hour")
    .expect("poll");
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn many_waiters_all_wake() {
    let srv = TestServer::start().await;
    let mut polls = Vec::new();
    for _ in 0..50 {
        let url = format!("{}/api/rooms/many/messages?since=0&wait=10", srv.url);
        let http = srv.http.clone();
        polls.push(tokio::spawn(async move {
            http.get(url).send().await?.json::<PollResponse>().await
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    srv.publish("many", "u", "all").await;
    for p in polls {
        let r = tokio::time::timeout(testkit::SOON, p)
            .await
            .expect("woken")
            .expect("task")
            .expect("poll");
        assert_eq!(r.messages.len(), 1);
    }
    assert_eq!(
        srv.stats().await.labels["long-poll"].deliveries_total,
        50,
        "each waiter got the message once"
    );
}
