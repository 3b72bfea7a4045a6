//! The load generator against a server that misbehaves on purpose: it
//! answers garbage, closes mid-frame, stalls forever, answers 500s, or sends
//! without end. Every run must end on schedule with its errors counted by
//! kind and a complete result file; buffers stay bounded.

use protocol::Transport;
use rstest::rstest;
use std::time::{Duration, Instant};
use testkit::load::{check_result_file, small_config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy)]
enum Mode {
    Garbage,
    CloseMidFrame,
    Stall,
    Errors500,
    Endless,
}

/// Read one request head; its path.
async fn read_head(s: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut b = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut b).await.ok()?;
        if n == 0 || buf.len() > 64 * 1024 {
            return None;
        }
        buf.extend_from_slice(&b[..n]);
    }
    let line = String::from_utf8_lossy(&buf).lines().next()?.to_string();
    line.split(' ').nth(1).map(str::to_string)
}

async fn serve(mut s: TcpStream, mode: Mode) {
    while let Some(path) = read_head(&mut s).await {
        if path == "/healthz" {
            if s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .await
                .is_err()
            {
                return;
            }
            continue;
        }
        let _ = match mode {
            Mode::Garbage => {
                s.write_all(b"\x00\xff\xfeNOT HTTP AT ALL\r\n\r\n\x01\x02")
                    .await
            }
            Mode::CloseMidFrame => {
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 500\r\n\r\ndata: {\"id\":\"1\",\"te")
                    .await;
                return;
            }
            Mode::Stall => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return;
            }
            Mode::Errors500 => {
                s.write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\noops!")
                    .await
            }
            Mode::Endless => {
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
                    .await;
                // One event that never ends (no newline), 64 KiB chunks.
                let chunk = format!("10000\r\n{}\r\n", "x".repeat(0x10000));
                let _ = s.write_all(b"6\r\ndata: \r\n").await;
                loop {
                    if s.write_all(chunk.as_bytes()).await.is_err() {
                        return;
                    }
                }
            }
        };
        if matches!(mode, Mode::Garbage) {
            return;
        }
    }
}

async fn start(mode: Mode) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", l.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(serve(s, mode));
        }
    });
    url
}

#[rstest]
#[case::garbage(Mode::Garbage, Transport::LongPoll, "protocol")]
#[case::garbage_ws(Mode::Garbage, Transport::Ws, "protocol")]
#[case::close_mid_frame(Mode::CloseMidFrame, Transport::Sse, "unexpected_close")]
#[case::stall(Mode::Stall, Transport::ShortPoll, "timeout")]
#[case::errors_500(Mode::Errors500, Transport::ShortPoll, "http_status")]
#[case::endless_sse(Mode::Endless, Transport::Sse, "protocol")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misbehaving_server_is_survived(
    #[case] mode: Mode,
    #[case] transport: Transport,
    #[case] kind: &str,
) {
    let url = start(mode).await;
    let mut cfg = small_config(&url, transport);
    cfg.clients = 10;
    cfg.duration = Duration::from_secs(2);
    cfg.warmup = Duration::from_millis(200);
    cfg.drain = Duration::from_secs(1);
    cfg.poll_interval = Duration::from_millis(200);
    let t0 = Instant::now();
    let results = tokio::time::timeout(
        Duration::from_secs(60),
        loadgen::run(cfg, CancellationToken::new()),
    )
    .await
    .expect("the run ends on schedule")
    .expect("results even so");
    // Ramp-up waits at most connect + 10 s for first attempts; then the
    // schedule: warm-up, window, drain.
    assert!(t0.elapsed() < Duration::from_secs(40), "{:?}", t0.elapsed());
    let t = &results.file.transports[0];
    assert!(
        t.counts.errors[kind] > 0,
        "{mode:?}: {:?} {:?}",
        t.counts.errors,
        results.file.warnings
    );
    assert!(!results.is_clean());
    check_result_file(&results.file);
    if matches!(mode, Mode::Endless) {
        // 10 clients fed without end: each SSE parser refuses an event past
        // 4 MiB, so memory stays bounded.
        assert!(
            t.loadgen.rss_peak_bytes < 1 << 30,
            "loadgen peak RSS {} bytes",
            t.loadgen.rss_peak_bytes
        );
    }
}
