//! The numbers agree with the network's physics, publisher and subscribers
//! both behind the emulated link (as phones), or the publisher on the
//! server's side (a backend): what the link controls (its
//! round trip, its loss) shows up in the measurements as theory says, with
//! tolerances for what the machine adds (CPU: parsing, scheduling, a few ms
//! on a loaded machine). Each test makes its own link; needs root.

use protocol::Transport;
use std::time::Duration;
use testkit::TestServer;
use testkit::load::{check_result_file, only, run_bounded as run};
use testkit::net::{Net, isolated_messages, ms, timing_lock};

/// An isolated message: published up the link (R/2), pushed down (R/2).
/// Below one RTT is impossible; above it only by what the CPU adds.
async fn one_rtt_after_due(transport: Transport) {
    let _lock = timing_lock();
    let mut net = Net::start("rtt=100ms");
    let url = net.server(server::Config::default());
    let before = net.link.stats();
    let mut results = run(net.config(&url, transport), Duration::from_secs(60)).await;
    assert!(
        results.file.link.is_none(),
        "the runner leaves the link to its owner"
    );
    results.file.link = Some(loadgen::link_result(&before, &net.link.stats()));
    check_result_file(&results.file);
    assert_eq!(results.file.scenario.network.as_deref(), Some("rtt=100ms"));
    let t = only(&results);
    assert!(t.radio.is_some(), "each subscriber is a phone");
    let p50 = ms(t.latency.p50_us);
    eprintln!(
        "{transport} over rtt=100ms: p50 {p50} ms, p99 {} ms, n={}",
        ms(t.latency.p99_us),
        t.latency.count
    );
    assert_eq!(t.counts.lost, 0, "{:?}", t.counts);
    assert!(t.latency.count >= 30, "{:?}", t.latency);
    assert!(
        (100.0..=140.0).contains(&p50),
        "{transport}: median {p50} ms"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_delivers_one_rtt_after_due() {
    one_rtt_after_due(Transport::LongPoll).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_delivers_one_rtt_after_due() {
    one_rtt_after_due(Transport::Sse).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_delivers_one_rtt_after_due() {
    one_rtt_after_due(Transport::Ws).await;
}

/// Publishers on the link's server side (a backend in the data centre):
/// the publish reaches the server without crossing the link (the server's
/// address is local there), and only the push down to the phone crosses
/// it: R/2 = 50 ms of a 100 ms round trip. Below 50 ms is impossible; a
/// median near 100 ms would mean the publish still crossed the link; the
/// band's top (90 ms) leaves what a busy machine's CPU adds, as the 40 ms
/// above one RTT of the tests above.
async fn half_rtt_from_the_server_side(transport: Transport) {
    let _lock = timing_lock();
    let mut net = Net::start("rtt=100ms");
    let url = net.server(server::Config::default());
    let mut cfg = net.config(&url, transport);
    cfg.publishers_at = protocol::results::PublishersAt::Server;
    let results = run(cfg, Duration::from_secs(60)).await;
    check_result_file(&results.file);
    let side = results.file.scenario.publishers_at;
    assert_eq!(side, Some(protocol::results::PublishersAt::Server));
    let t = only(&results);
    let p50 = ms(t.latency.p50_us);
    eprintln!(
        "{transport} over rtt=100ms, publishers at the server: p50 {p50} ms, p99 {} ms, n={}",
        ms(t.latency.p99_us),
        t.latency.count
    );
    assert_eq!(t.counts.lost, 0, "{:?}", t.counts);
    assert!(t.latency.count >= 30, "{:?}", t.latency);
    assert!((50.0..=90.0).contains(&p50), "{transport}: median {p50} ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_from_server_side_publishers_takes_half_the_rtt() {
    half_rtt_from_the_server_side(Transport::Ws).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_from_server_side_publishers_takes_half_the_rtt() {
    half_rtt_from_the_server_side(Transport::Sse).await;
}

/// A quiet publisher whose idle connection the server closes between
/// publishes (its keep-alive timeout) reconnects in the meantime, so its
/// messages still arrive one RTT after due, not two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_publisher_pays_no_handshake_per_message() {
    let _lock = timing_lock();
    let mut net = Net::start("rtt=100ms");
    let url = net.server(server::Config {
        header_read_timeout: Duration::from_secs(1),
        ..server::Config::default()
    });
    let mut cfg = net.config(&url, Transport::Ws);
    cfg.rate_per_sec = 0.4;
    cfg.duration = Duration::from_secs(8);
    let results = run(cfg, Duration::from_secs(60)).await;
    let t = only(&results);
    let (p50, publish) = (ms(t.latency.p50_us), ms(t.publish_latency.p50_us));
    eprintln!("ws, a publish every 2.5 s, keep-alive 1 s: p50 {p50} ms, publish p50 {publish} ms");
    assert_eq!(t.counts.lost, 0, "{:?}", t.counts);
    assert!((100.0..=140.0).contains(&p50), "median {p50} ms");
    assert!(publish < 150.0, "one round trip per publish: {publish} ms");
}

/// Short polling at interval T over round trip R: the publish takes R/2,
/// the next poll reaches the server after T/2 on average, the answer takes
/// R/2: mean T/2 + R.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_poll_mean_is_half_the_interval_plus_the_rtt() {
    let _lock = timing_lock();
    let mut net = Net::start("rtt=200ms");
    let url = net.server(server::Config::default());
    let mut cfg = net.config(&url, Transport::ShortPoll);
    // Messages every 100 ms cover the poll interval evenly, so whatever the
    // clients' poll phases, the mean wait is T/2 (with a few messages per
    // interval it would depend on where the phases fell).
    cfg.clients = 50;
    cfg.rate_per_sec = 10.0;
    cfg.duration = Duration::from_secs(8);
    cfg.warmup = Duration::from_secs(2);
    let results = run(cfg, Duration::from_secs(60)).await;
    let t = only(&results);
    let mean = t.latency.mean_us / 1000.0;
    eprintln!(
        "short poll T=1s over rtt=200ms: mean {mean} ms (theory 700), {} requests/s (theory 50)",
        t.rates.requests_per_sec
    );
    assert_eq!(t.counts.lost, 0, "{:?}", t.counts);
    assert!(
        (mean - 700.0).abs() <= 70.0,
        "mean {mean} ms, theory 700 ms"
    );
    assert!((t.rates.requests_per_sec - 50.0).abs() <= 2.5);
}

/// The same push run with and without a 100 ms link, at once (so the
/// machine's load weighs on both alike): the medians differ by the link's
/// round trip.
async fn rtt_shows_up(transport: Transport) {
    let _lock = timing_lock();
    let mut net = Net::start("rtt=100ms");
    let far = net.server(server::Config::default());
    let near = TestServer::start().await;
    let mut over_link = net.config(&far, transport);
    let mut direct = isolated_messages(&near.url, transport);
    for c in [&mut over_link, &mut direct] {
        c.clients = 20;
        c.rate_per_sec = 5.0;
    }
    let limit = Duration::from_secs(60);
    let (a, b) = tokio::join!(run(direct, limit), run(over_link, limit));
    let (direct, linked) = (only(&a).latency.p50_us, only(&b).latency.p50_us);
    let rise = ms(linked) - ms(direct);
    eprintln!(
        "{transport}: median {} ms direct, {} ms over rtt=100ms: rise {rise} ms",
        ms(direct),
        ms(linked)
    );
    assert_eq!(only(&b).counts.lost, 0);
    assert!((rise - 100.0).abs() <= 6.0, "{transport}: rise {rise} ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_latency_rises_by_the_rtt() {
    rtt_shows_up(Transport::Ws).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_latency_rises_by_the_rtt() {
    rtt_shows_up(Transport::Sse).await;
}

/// Under loss every transport still delivers everything (TCP retransmits,
/// cursors resume), and the push transports show the price: a delivery
/// whose packet was lost waits for its retransmission, which a timer (TLP
/// ≥ 2 SRTT, RTO ≥ 200 ms) or duplicate acknowledgements (back at least
/// one RTT later) trigger — at least one RTT late. At 2% loss per packet
/// and direction, more than 2% of deliveries pay it, so p99 lies in that
/// tail; the median does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_loss_nothing_is_lost_and_push_pays_retransmissions() {
    let _lock = timing_lock();
    let mut net = Net::start("rtt=100ms,loss=2%");
    let url = net.server(server::Config::default());
    for transport in [
        Transport::Ws,
        Transport::Sse,
        Transport::LongPoll,
        Transport::ShortPoll,
    ] {
        let mut cfg = net.config(&url, transport);
        cfg.clients = 20;
        cfg.rate_per_sec = 10.0;
        cfg.duration = Duration::from_secs(8);
        cfg.drain = Duration::from_secs(15);
        let results = run(cfg, Duration::from_secs(90)).await;
        let t = only(&results);
        let (p50, p99) = (ms(t.latency.p50_us), ms(t.latency.p99_us));
        eprintln!(
            "{transport} over rtt=100ms,loss=2%: p50 {p50} ms, p99 {p99} ms, delivered {} of {}, reconnects {}",
            t.counts.delivered, t.counts.expected, t.counts.reconnects
        );
        assert_eq!(t.counts.lost, 0, "{transport}: {:?}", t.counts);
        assert_eq!(t.counts.publish_errors, 0, "{transport}: {:?}", t.counts);
        if matches!(transport, Transport::Ws | Transport::Sse) {
            assert!(
                p99 - p50 >= 100.0,
                "{transport}: p50 {p50} ms, p99 {p99} ms"
            );
        }
    }
    let stats = net.link.stats();
    assert!(
        stats.down.dropped_loss > 0 && stats.up.dropped_loss > 0,
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webtransport_delivers_one_rtt_after_due() {
    one_rtt_after_due(Transport::WebTransport).await;
}

/// Each WebTransport client is one phone on a link of its own, as TCP
/// clients are: 20 clients taking ~25 kbit/s each through a per-flow
/// 100 kbit/s downlink deliver everything promptly. Sharing one UDP flow
/// they would need 500 kbit/s of it, and queue for seconds or drop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_webtransport_client_has_a_link_of_its_own() {
    let _lock = timing_lock();
    let mut net = Net::start("rtt=40ms,down=100kbit");
    let url = net.server(server::Config::default());
    let mut cfg = net.config(&url, Transport::WebTransport);
    cfg.clients = 20;
    cfg.rate_per_sec = 10.0;
    cfg.duration = Duration::from_secs(5);
    let results = run(cfg, Duration::from_secs(60)).await;
    let t = only(&results);
    let p99 = ms(t.latency.p99_us);
    eprintln!("webtransport, 20 clients behind 100 kbit/s each: p99 {p99} ms");
    assert_eq!(
        (t.counts.lost, t.counts.delivered),
        (0, t.counts.expected),
        "{:?}",
        t.counts
    );
    // (A handshake's certificate burst may overflow a queue once; QUIC
    // resends it.)
    assert!(p99 < 1_000.0, "p99 {p99} ms: clients share a link");
}
