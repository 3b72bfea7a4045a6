//! A partition between the clients and the server heals without loss: the
//! link is cut for 10 s while publishers on the server's side keep
//! publishing; every subscriber notices the silence within its heartbeat
//! bound, reconnects once the link is back and resumes from its cursor, so
//! the messages published during the cut arrive after the heal. WebSocket,
//! SSE and Socket.IO: the transports whose clients bound a silence (long
//! polling's bound is its wait plus the request timeout, longer than the
//! cut). Each test makes its own link; needs root.
//!
//! Times come from the run's own per-second series (`connected` at the end
//! of each second, deliveries and publishes per second): the cut and the
//! heal are made right after the sampler closes a second (watched through
//! [`LiveMetrics::last_second`]), so both fall on a second's boundary and a
//! time read off the series is an upper bound, at most a second over.

use loadgen::live::LiveMetrics;
use loadgen::results::{Phase, PublishersAt, SecondSample};
use protocol::Transport;
use std::time::{Duration, Instant};
use testkit::load::{check_result_file, only, run_bounded as run};
use testkit::net::{Net, timing_lock};

const HEARTBEAT: Duration = Duration::from_secs(1);
const STREAM_TIMEOUT: Duration = Duration::from_secs(3);
/// Seconds of the series the link stays cut.
const CUT_SECS: u64 = 10;
const CLIENTS: u64 = 8;

/// The series seconds after which the link was cut and healed.
struct Cut {
    at: u64,
    healed: u64,
}

/// The sampler's next second after `after` (or any, with `None`) that
/// `ok` accepts; panics past the deadline.
async fn second(
    live: &LiveMetrics,
    after: Option<u64>,
    ok: impl Fn(&SecondSample) -> bool,
) -> SecondSample {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(s) = live.last_second()
            && after.is_none_or(|t| s.t_secs > t)
            && ok(&s)
        {
            return s;
        }
        assert!(Instant::now() < deadline, "the run's series stalled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Once every client is connected and messages flow in the measured
/// window, cut the link at the next second's start for [`CUT_SECS`].
async fn cut_while_publishing(live: &LiveMetrics, link: &netem::Link) -> Cut {
    let flowing = second(live, None, |s| {
        s.phase == Some(Phase::Measure) && s.deliveries > 0 && s.connected == CLIENTS
    })
    .await;
    let at = second(live, Some(flowing.t_secs), |_| true).await.t_secs;
    link.set_partition(true);
    let healed = second(live, Some(at + CUT_SECS - 1), |_| true).await.t_secs;
    link.set_partition(false);
    Cut { at, healed }
}

/// The first second after `from` whose sample `ok` accepts.
fn first_after(series: &[SecondSample], from: u64, ok: impl Fn(&SecondSample) -> bool) -> u64 {
    series
        .iter()
        .find(|s| s.t_secs > from && ok(s))
        .map(|s| s.t_secs)
        .unwrap_or_else(|| panic!("no such second after {from}: {series:#?}"))
}

fn sum(
    series: &[SecondSample],
    secs: std::ops::RangeInclusive<u64>,
    f: fn(&SecondSample) -> u64,
) -> u64 {
    series
        .iter()
        .filter(|s| secs.contains(&s.t_secs))
        .map(f)
        .sum()
}

async fn heals_without_loss(transport: Transport) {
    let _lock = timing_lock();
    let mut net = Net::start("rtt=40ms");
    // Socket.IO's bound is the server's: silent for pingInterval +
    // pingTimeout, the same 3 s.
    let url = net.server(server::Config {
        heartbeat: HEARTBEAT,
        socketio_ping_interval: HEARTBEAT,
        socketio_ping_timeout: STREAM_TIMEOUT - HEARTBEAT,
        ..server::Config::default()
    });
    let live = LiveMetrics::bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
    let mut cfg = net.config(&url, transport);
    cfg.publishers_at = PublishersAt::Server;
    cfg.stream_timeout = STREAM_TIMEOUT;
    cfg.clients = CLIENTS;
    cfg.rate_per_sec = 5.0;
    cfg.duration = Duration::from_secs(24);
    cfg.metrics = Some(live.clone());
    let (results, cut) = tokio::join!(
        run(cfg, Duration::from_secs(90)),
        cut_while_publishing(&live, &net.link)
    );
    check_result_file(&results.file);
    let t = only(&results);
    let series = &t.series;
    // Every subscriber noticed: none connected at some point of the cut.
    let detected = first_after(series, cut.at, |s| s.connected == 0);
    let reconnected = first_after(series, cut.healed, |s| s.connected == CLIENTS);
    let (detect, recover) = (detected - cut.at, reconnected - cut.healed);
    // Whole seconds of the cut: the cut itself may come a little after
    // second `cut.at` closed (a busy machine wakes the watcher late), so
    // second `cut.at + 1` may hold publishes and deliveries from before it.
    let in_cut = sum(series, cut.at + 2..=cut.healed, |s| s.published);
    let after_heal = sum(series, cut.healed + 1..=u64::MAX, |s| s.deliveries);
    let c = &t.counts;
    eprintln!(
        "{transport}, a {CUT_SECS} s partition (heartbeat {HEARTBEAT:?}, stream timeout \
         {STREAM_TIMEOUT:?}): acknowledged {}, expected {}, delivered {}, lost {}, \
         published in the cut's whole seconds {in_cut}, reconnects {}, detection ≤ {detect} s (max over \
         clients), heal to all reconnected ≤ {recover} s",
        c.published, c.expected, c.delivered, c.lost, c.reconnects
    );
    assert_eq!(c.lost, 0, "{c:?}");
    assert_eq!(c.delivered, c.expected, "{c:?}");
    assert_eq!(
        c.gaps, 0,
        "the cursors were still in the server's history: {c:?}"
    );
    assert!(
        c.reconnects >= CLIENTS,
        "every subscriber reconnected: {c:?}"
    );
    assert!(in_cut > 0, "publishing went on during the cut");
    // Nothing crossed the cut link...
    let during = sum(series, cut.at + 2..=cut.healed, |s| s.deliveries);
    assert_eq!(during, 0, "deliveries while the link was cut");
    // ...so what was published then reached every subscriber after the heal.
    assert!(
        after_heal >= in_cut * CLIENTS,
        "{after_heal} after the heal"
    );
    // Silence for the stream timeout, noticed within a quarter of it more;
    // a second for the series' resolution and one for a busy machine.
    let bound = STREAM_TIMEOUT.mul_f64(1.25) + Duration::from_secs(2);
    assert!(
        Duration::from_secs(detect) <= bound,
        "detection ≤ {detect} s"
    );
    // A client may have just sent a SYN into the cut: its connect times out
    // (5 s), then one backoff (5 s at most); plus resolution and margin.
    assert!(recover <= 13, "all reconnected {recover} s after the heal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_heals_a_partition_without_loss() {
    heals_without_loss(Transport::Ws).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_heals_a_partition_without_loss() {
    heals_without_loss(Transport::Sse).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socketio_heals_a_partition_without_loss() {
    heals_without_loss(Transport::SocketIo).await;
}
