//! `--inject-latency` delays every message on every transport, precisely
//! and in order, while publishes are still answered at once.

use protocol::Transport;
use std::time::{Duration, Instant};
use testkit::{SubOpts, Subscriber, TestServer, texts};

#[tokio::test]
async fn every_transport_sees_messages_only_after_the_delay() {
    let delay = Duration::from_millis(150);
    let srv = TestServer::with(server::Config {
        inject_latency: delay,
        ..server::Config::default()
    })
    .await;
    let mut subs = Vec::new();
    for t in Transport::ALL {
        subs.push((t, Subscriber::open(t, &srv, "d", SubOpts::live()).await));
    }
    let t0 = Instant::now();
    srv.publish("d", "u", "late").await;
    assert!(
        t0.elapsed() < delay,
        "the publish itself is answered at once"
    );
    let poll = srv.poll("d", "since=0").await;
    assert!(poll.messages.is_empty(), "not visible before the delay");
    for (t, sub) in &mut subs {
        let got = sub.recv_n(1).await;
        assert_eq!(texts(&got), ["late"], "{t}");
        assert!(
            t0.elapsed() >= delay,
            "{t} received it after {:?}",
            t0.elapsed()
        );
    }
}

#[tokio::test]
async fn jitter_keeps_order() {
    let srv = TestServer::with(server::Config {
        inject_latency: Duration::from_millis(5),
        inject_jitter: Duration::from_millis(30),
        ..server::Config::default()
    })
    .await;
    let mut sub = Subscriber::open(Transport::Ws, &srv, "j", SubOpts::live()).await;
    for i in 0..40 {
        srv.publish("j", "u", &i.to_string()).await;
    }
    let got = sub.recv_n(40).await;
    let want: Vec<String> = (0..40).map(|i| i.to_string()).collect();
    assert_eq!(texts(&got), want);
}
