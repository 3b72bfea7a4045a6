//! Graceful shutdown ends every kind of connection promptly.

use protocol::{PollResponse, Transport};
use std::time::{Duration, Instant};
use testkit::{End, SubOpts, Subscriber, TestServer};

#[tokio::test]
async fn shutdown_answers_closes_and_ends_everything() {
    let mut srv = TestServer::start().await;
    let mut sse = Subscriber::open(Transport::Sse, &srv, "s", SubOpts::live()).await;
    let mut ws = Subscriber::open(Transport::Ws, &srv, "s", SubOpts::live()).await;
    let url = format!("{}/api/rooms/s/messages?since=0&wait=25", srv.url);
    let http = reqwest::Client::new();
    let parked =
        tokio::spawn(async move { http.get(url).send().await?.json::<PollResponse>().await });
    // An idle keep-alive connection must not hold shutdown up either.
    let idle = reqwest::Client::new();
    idle.get(format!("{}/healthz", srv.url))
        .send()
        .await
        .expect("healthz");
    tokio::time::sleep(Duration::from_millis(200)).await;

    let t0 = Instant::now();
    srv.shutdown().await;
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "drained in {:?}",
        t0.elapsed()
    );

    let r = parked
        .await
        .expect("task")
        .expect("parked long poll answered");
    assert!(r.messages.is_empty());
    assert_eq!(
        ws.end().await,
        End::Closed(Some(1001)),
        "WebSocket closed with 1001"
    );
    assert_eq!(sse.end().await, End::Closed(None), "SSE stream ended");
    assert!(
        tokio::net::TcpStream::connect(srv.addr).await.is_err(),
        "no longer accepting"
    );
}
