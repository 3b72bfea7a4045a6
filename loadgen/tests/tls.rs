//! TLS end to end: the reference server with `--tls-cert`/`--tls-key` on
//! `127.0.0.1:0`, the load generator against `https://` on every transport,
//! HTTP/2 by ALPN, and the errors a user meets on the way (untrusted
//! certificate, plain HTTP on the TLS port, a handshake that never comes).

use protocol::Transport;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use testkit::TestServer;
use testkit::load::{run_bounded, small_config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/tls")
        .join(name)
}

async fn tls_server(header_read_timeout: Duration) -> TestServer {
    TestServer::with(server::Config {
        tls: Some(server::tls::TlsFiles {
            cert: testdata("server.pem"),
            key: testdata("server.key"),
        }),
        header_read_timeout,
        ..server::Config::default()
    })
    .await
}

/// A TLS client trusting the test CA, offering `alpn`.
fn connector(alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(testdata("ca.pem")).expect("ca") {
        roots.add(c.expect("cert")).expect("add");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|a| a.to_vec()).collect();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

/// One HTTP/1.1 GET over TLS; the whole answer (the server closes).
async fn https_get(s: &TestServer, path: &str) -> String {
    let tcp = tokio::net::TcpStream::connect(s.addr)
        .await
        .expect("connect");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let mut tls = connector(&[b"http/1.1"])
        .connect(name, tcp)
        .await
        .expect("handshake");
    let req = format!("GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n");
    tls.write_all(req.as_bytes()).await.expect("write");
    let mut out = String::new();
    let _ = tls.read_to_string(&mut out).await;
    out
}

fn metric(text: &str, name: &str) -> i64 {
    testkit::metric(text, name).unwrap_or_else(|| panic!("{name} not in metrics"))
}

testkit::per_transport!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    every_transport_over_tls_loses_nothing
);
async fn every_transport_over_tls_loses_nothing(t: Transport) {
    over_tls(t, false).await;
}

testkit::per_transport!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    every_transport_over_tls_with_http2_loses_nothing
);
async fn every_transport_over_tls_with_http2_loses_nothing(t: Transport) {
    over_tls(t, true).await;
}

/// A small run of `t` against the TLS server (`--http2`: HTTP/2 by ALPN
/// for whatever goes over HTTP): nothing lost, no error, and the HTTP/2
/// connections the server counted.
async fn over_tls(t: Transport, http2: bool) {
    let mut s = tls_server(Duration::from_secs(10)).await;
    let mut cfg = small_config(&s.url, t);
    cfg.tls = loadgen::TlsOptions {
        insecure: false,
        ca_cert: Some(testdata("ca.pem")),
        http2,
        cert_hash: None,
    };
    let r = run_bounded(cfg, Duration::from_secs(60)).await;
    let c = &r.file.transports[0].counts;
    assert!(c.published > 0 && c.delivered == c.expected, "{t}: {c:?}");
    assert_eq!(
        (c.lost, c.errors.values().sum::<u64>()),
        (0, 0),
        "{t}: {c:?}"
    );
    let metrics = https_get(&s, "/metrics").await;
    let h2 = metric(&metrics, "rtbench_server_http2_connections_total");
    match (http2, t) {
        (false, _) => assert_eq!(h2, 0, "{t}: HTTP/2 without --http2"),
        // Every client and publisher connection, plus preflight and stats.
        // Socket.IO clients poll over HTTP/2 too: socketio-polling always,
        // socketio for its handshake and CONNECT before it upgrades (the
        // upgrade itself is HTTP/1.1, on a connection of its own).
        (
            true,
            Transport::ShortPoll
            | Transport::LongPoll
            | Transport::Sse
            | Transport::SocketIo
            | Transport::SocketIoPolling,
        ) => {
            assert!(h2 >= 50, "{t}: only {h2} HTTP/2 connections")
        }
        // A WebSocket upgrade is HTTP/1.1 and WebTransport is HTTP/3: only
        // publishers, preflight and stats speak HTTP/2.
        (true, Transport::Ws | Transport::WebTransport | Transport::WebTransportDatagram) => {
            assert!(
                (1..50).contains(&h2),
                "{t}: {h2} HTTP/2 connections for 50 WebSocket clients"
            )
        }
    }
    s.shutdown().await;
}

#[tokio::test]
async fn insecure_accepts_the_self_signed_server_and_plain_trust_refuses_it() {
    let mut s = tls_server(Duration::from_secs(10)).await;
    let mut cfg = small_config(&s.url, Transport::Ws);
    cfg.duration = Duration::from_secs(1);
    let e = loadgen::run(cfg.clone(), CancellationToken::new())
        .await
        .expect_err("untrusted certificate");
    let msg = e.to_string();
    assert!(
        msg.contains("TLS handshake failed")
            && msg.contains("--ca-cert")
            && msg.contains("--insecure"),
        "{msg}"
    );
    assert_eq!(e.kind(), "bad_target");
    cfg.tls.insecure = true;
    let r = run_bounded(cfg, Duration::from_secs(30)).await;
    let c = &r.file.transports[0].counts;
    assert!(c.delivered > 0 && c.lost == 0, "{c:?}");
    s.shutdown().await;
}

#[tokio::test]
async fn tls_settings_that_cannot_work_are_refused_before_connecting() {
    let mut cfg = small_config("http://127.0.0.1:9", Transport::Sse);
    cfg.tls.http2 = true;
    let e = cfg.validate().expect_err("h2 over plain http").to_string();
    assert!(e.contains("--http2") && e.contains("https://"), "{e}");
    let mut cfg = small_config("http://127.0.0.1:9", Transport::Sse);
    cfg.tls.insecure = true;
    let e = cfg
        .validate()
        .expect_err("insecure without https")
        .to_string();
    assert!(e.contains("--insecure"), "{e}");
    let mut cfg = small_config("https://127.0.0.1:9", Transport::Sse);
    cfg.tls.ca_cert = Some(testdata("server.key"));
    let e = loadgen::run(cfg, CancellationToken::new())
        .await
        .expect_err("a key is no CA")
        .to_string();
    assert!(e.contains("--ca-cert") && e.contains("server.key"), "{e}");
}

#[tokio::test]
async fn alpn_offers_http2_and_http1() {
    let mut s = tls_server(Duration::from_secs(10)).await;
    for (offer, want) in [
        (&[b"h2".as_slice(), b"http/1.1"][..], b"h2".as_slice()),
        (&[b"http/1.1".as_slice()][..], b"http/1.1".as_slice()),
    ] {
        let tcp = tokio::net::TcpStream::connect(s.addr)
            .await
            .expect("connect");
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let tls = connector(offer)
            .connect(name, tcp)
            .await
            .expect("handshake");
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(want));
    }
    s.shutdown().await;
}

#[tokio::test]
async fn plain_http_on_the_tls_port_is_told_to_use_https() {
    let mut s = tls_server(Duration::from_secs(10)).await;
    let mut tcp = tokio::net::TcpStream::connect(s.addr)
        .await
        .expect("connect");
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("write");
    let mut out = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_string(&mut out)).await;
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    assert!(
        out.contains("tls_required") && out.contains("https://"),
        "{out}"
    );
    // The load generator passes the server's reason on.
    let cfg = small_config(
        &format!("http://127.0.0.1:{}", s.addr.port()),
        Transport::Ws,
    );
    let e = loadgen::run(cfg, CancellationToken::new())
        .await
        .expect_err("plain http")
        .to_string();
    assert!(e.contains("use https://"), "{e}");
    s.shutdown().await;
}

#[tokio::test]
async fn a_handshake_that_never_comes_is_cut_off_and_counted() {
    let mut s = tls_server(Duration::from_millis(500)).await;
    let mut silent = tokio::net::TcpStream::connect(s.addr)
        .await
        .expect("connect");
    let mut buf = [0u8; 16];
    let r = tokio::time::timeout(Duration::from_secs(5), silent.read(&mut buf))
        .await
        .expect("closed within the header-read timeout");
    assert!(matches!(r, Ok(0) | Err(_)), "{r:?}");
    let metrics = https_get(&s, "/metrics").await;
    assert!(metric(&metrics, "rtbench_server_tls_handshake_failures_total") >= 1);
    // The server still serves.
    assert!(https_get(&s, "/healthz").await.starts_with("HTTP/1.1 200"));
    s.shutdown().await;
}
