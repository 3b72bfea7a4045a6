//! The kit's subscriber reads SSE as the load generator does: CRLF line
//! ends, `data:` spread over several lines, events split across chunks.

use axum::body::Body;
use axum::routing::get;
use testkit::{End, Subscriber, serve_router, texts};

/// One message in two `data:` lines, a gap notice, a second message in one
/// line, then a lag notice: CRLF throughout, sent a few bytes at a time.
const STREAM: &str = "retry: 1000\r\n\r\n: ping\r\n\r\n\
    event: gap\r\ndata: {\"cursor\":\"0\"}\r\n\r\n\
    id: 1\r\ndata: {\"id\":\"1\",\"room\":\"r\",\"kind\":\"message\",\r\n\
    data: \"ts_us\":1,\"text\":\"two\\nlines\"}\r\n\r\n\
    id: 2\r\ndata: {\"id\":\"2\",\"room\":\"r\",\"kind\":\"message\",\"ts_us\":2,\"text\":\"b\"}\r\n\r\n\
    event: lagged\r\ndata: {\"cursor\":\"2\"}\r\n\r\n";

#[tokio::test]
async fn sse_with_crlf_and_multi_line_data() {
    let app = axum::Router::new().route(
        "/events",
        get(|| async {
            let chunks: Vec<Result<String, std::io::Error>> = STREAM
                .as_bytes()
                .chunks(7)
                .map(|c| Ok(String::from_utf8_lossy(c).into_owned()))
                .collect();
            (
                [("content-type", "text/event-stream")],
                Body::from_stream(futures_util::stream::iter(chunks)),
            )
        }),
    );
    let url = serve_router(app).await;
    let resp = reqwest::get(format!("{url}/events"))
        .await
        .expect("request");
    let mut sub = Subscriber::sse(resp);
    let got = sub.recv_n(2).await;
    assert_eq!(texts(&got), ["two\nlines", "b"]);
    assert_eq!(got[0].msg.id, "1");
    assert!(sub.gap(), "the gap event was seen");
    assert_eq!(sub.cursor().as_deref(), Some("2"), "the last id");
    assert_eq!(sub.end().await, End::Lagged("2".into()));
}
