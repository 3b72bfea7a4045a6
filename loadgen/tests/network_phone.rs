//! What a phone's network does to long-lived connections and to its
//! battery: a NAT that forgets idle flows (the middlebox) against server
//! heartbeats and the client's dead-stream bound, and the radio energy of
//! polling against a quiet WebSocket. Each test makes its own link; needs root.

use loadgen::results::TransportResult;
use protocol::Transport;
use std::time::Duration;
use testkit::load::{only, run_bounded as run};
use testkit::net::{Net, timing_lock};

fn heartbeat(every: Duration) -> server::Config {
    server::Config {
        heartbeat: every,
        ..server::Config::default()
    }
}

/// The middlebox forgets flows idle for 3 s; each room hears a message every
/// 4.5 s (one publisher, every 1.5 s, over 3 rooms, so the publisher's own
/// connection stays busy). A WebSocket whose server pings every second stays
/// up; one whose server pings every 10 s is cut silently, noticed within
/// the client's 4 s stream timeout, and resumes from its cursor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_keep_streams_through_a_nat_and_dead_ones_resume() {
    let _lock = timing_lock();
    let mut net = Net::start("rtt=20ms,idle-timeout=3s");
    let kept_url = net.server(heartbeat(Duration::from_secs(1)));
    let cut_url = net.server(heartbeat(Duration::from_secs(10)));
    let config = |url: &str| {
        let mut c = net.config(url, Transport::Ws);
        c.clients = 6;
        c.rooms = 3;
        c.rate_per_sec = 1.0 / 1.5;
        c.duration = Duration::from_secs(15);
        c.drain = Duration::from_secs(15);
        c.stream_timeout = Duration::from_secs(4);
        c
    };
    let limit = Duration::from_secs(60);
    let (kept, cut) = tokio::join!(run(config(&kept_url), limit), run(config(&cut_url), limit));
    let (kept, cut) = (only(&kept), only(&cut));
    for (name, t) in [("1 s heartbeat", kept), ("10 s heartbeat", cut)] {
        eprintln!(
            "{name}: delivered {} of {}, lost {}, reconnects {}, errors {:?}",
            t.counts.delivered,
            t.counts.expected,
            t.counts.lost,
            t.counts.reconnects,
            t.counts.errors
        );
        assert_eq!(t.counts.lost, 0, "{name}: {:?}", t.counts);
        assert_eq!(t.counts.publish_errors, 0, "{name}: {:?}", t.counts);
        assert!(t.counts.expected >= 6 * 3, "{name}: {:?}", t.counts);
    }
    assert_eq!(kept.counts.reconnects, 0, "{:?}", kept.counts);
    assert!(cut.counts.reconnects >= 1, "{:?}", cut.counts);
    assert!(
        cut.counts.errors.get("timeout").copied().unwrap_or(0) >= 1,
        "the client noticed the silence: {:?}",
        cut.counts.errors
    );
    assert!(net.link.stats().down.dropped_middlebox > 0);
}

fn lte_joules(t: &TransportResult) -> f64 {
    t.radio
        .as_ref()
        .expect("radio figures")
        .lte
        .joules_per_client_hour
}

fn lte_on(t: &TransportResult) -> f64 {
    t.radio
        .as_ref()
        .expect("radio figures")
        .lte
        .radio_on_fraction
}

/// A phone's LTE radio stays on for 11.6 s after any traffic (Huang et al.,
/// MobiSys 2012). Polling every second never lets it rest. A WebSocket with
/// one message per 30 s rests between bursts — little with a 15 s heartbeat
/// (each ping costs a full tail: on ~80–90% of the time), a lot with a 45 s
/// one (on ~40%).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_keeps_the_radio_on_and_a_quiet_websocket_lets_it_rest() {
    let _lock = timing_lock();
    let mut net = Net::start("lte");
    let poll_url = net.server(server::Config::default());
    let ws15_url = net.server(heartbeat(Duration::from_secs(15)));
    let ws45_url = net.server(heartbeat(Duration::from_secs(45)));
    let config = |url: &str, transport| {
        let mut c = net.config(url, transport);
        c.clients = 10;
        c.rate_per_sec = 1.0 / 30.0;
        c.duration = Duration::from_secs(30);
        c.drain = Duration::from_secs(3);
        c
    };
    let limit = Duration::from_secs(90);
    let (poll, ws15, ws45) = tokio::join!(
        run(config(&poll_url, Transport::ShortPoll), limit),
        run(config(&ws15_url, Transport::Ws), limit),
        run(config(&ws45_url, Transport::Ws), limit),
    );
    let (poll, ws15, ws45) = (only(&poll), only(&ws15), only(&ws45));
    for (name, t) in [
        ("short poll 1 s", poll),
        ("ws, 15 s heartbeat", ws15),
        ("ws, 45 s heartbeat", ws45),
    ] {
        eprintln!(
            "{name}: LTE {:?}, UMTS {:?}",
            t.radio.as_ref().map(|r| &r.lte),
            t.radio.as_ref().map(|r| &r.umts)
        );
        assert_eq!(t.counts.lost, 0, "{name}: {:?}", t.counts);
    }
    assert!(
        lte_on(poll) >= 0.97,
        "polling every second: {}",
        lte_on(poll)
    );
    // Connected-state power for the whole hour, at least (long DRX, 1.08 W).
    assert!(lte_joules(poll) > 3500.0, "{}", lte_joules(poll));
    assert!(lte_on(ws15) < 0.95, "{}", lte_on(ws15));
    assert!(lte_joules(ws15) < 0.95 * lte_joules(poll));
    assert!(lte_on(ws45) < 0.6, "{}", lte_on(ws45));
    assert!(lte_joules(ws45) < 0.6 * lte_joules(poll));
}
