//! Measures server memory per idle push connection: opens N idle WebSocket
//! or SSE connections to a running `rtbench server` and prints the change
//! in its RSS (from `/api/stats`).
//!
//! ```text
//! cargo run --release -p rtbench-server --example idle_conns -- http://127.0.0.1:3000 ws 1000
//! ```

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

async fn rss(http: &reqwest::Client, url: &str) -> Result<u64, Box<dyn std::error::Error>> {
    let s: protocol::stats::ServerStats = http
        .get(format!("{url}/api/stats"))
        .send()
        .await?
        .json()
        .await?;
    Ok(s.rss_bytes)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (url, kind, n) = match args.as_slice() {
        [_, url, kind, n] => (url.clone(), kind.clone(), n.parse::<usize>()?),
        _ => return Err("usage: idle_conns URL ws|sse N".into()),
    };
    server::sys::raise_nofile_limit()?;
    let addr = url.trim_start_matches("http://").to_string();
    let http = reqwest::Client::new();
    // Warm the room and the allocator with a few connections first.
    let mut keep_ws = Vec::new();
    let mut keep_tcp = Vec::new();
    let open = async |kind: &str,
                      keep_ws: &mut Vec<_>,
                      keep_tcp: &mut Vec<_>|
           -> Result<(), Box<dyn std::error::Error>> {
        let mut s = TcpStream::connect(&addr).await?;
        if kind == "ws" {
            let cfg = WebSocketConfig::default()
                .read_buffer_size(4096)
                .write_buffer_size(0);
            let (ws, _) = tokio_tungstenite::client_async_with_config(
                format!("ws://{addr}/api/rooms/idle/ws?history=0"),
                s,
                Some(cfg),
            )
            .await?;
            keep_ws.push(ws);
        } else {
            s.write_all(
                format!("GET /api/rooms/idle/events?history=0 HTTP/1.1\r\nHost: {addr}\r\n\r\n")
                    .as_bytes(),
            )
            .await?;
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf).await?;
            keep_tcp.push(s);
        }
        Ok(())
    };
    for _ in 0..20 {
        open(&kind, &mut keep_ws, &mut keep_tcp).await?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss(&http, &url).await?;
    for _ in 0..n {
        open(&kind, &mut keep_ws, &mut keep_tcp).await?;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss(&http, &url).await?;
    let per = (after.saturating_sub(before)) as f64 / n as f64;
    println!(
        "{kind}: {n} idle connections: server RSS {:.1} MiB -> {:.1} MiB, {:.2} KiB per connection",
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        per / 1024.0
    );
    Ok(())
}
