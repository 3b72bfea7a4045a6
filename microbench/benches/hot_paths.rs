//! The per-message work of a run, one step at a time: what the server does
//! once per message (encode for every transport, fan out to subscribers)
//! and what the load generator does once per delivery (find the marker,
//! record the latency). Instruction-level figures that do not depend on
//! sockets; `scripts/perf.sh` measures the whole path.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use protocol::Kind;
use server::hub::{Draft, Hub, Start};
use std::hint::black_box;
use std::sync::Arc;

fn hub() -> Hub {
    let config = server::Config {
        subscriber_queue: 4096,
        ..server::Config::default()
    };
    Hub::new(&config, Arc::new(server::metrics::Metrics::default()))
}

/// One 100-byte message as the load generator publishes it.
fn payload() -> String {
    loadgen::marker::Stamp {
        run: 0xdead_beef,
        publisher: 3,
        seq: 12_345,
        sent_us: 1_795_954_505_510_745,
    }
    .payload(100)
}

/// One chat message from publisher p3.
fn draft(text: &str) -> Draft<'_> {
    Draft {
        user: Some("p3"),
        text: Some(text),
        ..Draft::default()
    }
}

fn publish(c: &mut Criterion) {
    let text = payload();
    let mut g = c.benchmark_group("hub");
    // Encoding: one message serialized once into its JSON, SSE and WebSocket forms.
    let h = hub();
    let room = h.room("encode");
    g.throughput(Throughput::Elements(1));
    g.bench_function("publish_and_encode", |b| {
        b.iter(|| room.publish(Kind::Message, draft(black_box(&text))))
    });
    // Fan-out: one publish and every subscriber taking it off its queue.
    for subscribers in [1usize, 100, 1000] {
        let h = hub();
        let room = h.room("fanout");
        let mut subs: Vec<_> = (0..subscribers)
            .map(|_| room.subscribe(Start::Since(0)).rx)
            .collect();
        g.throughput(Throughput::Elements(subscribers as u64));
        g.bench_with_input(
            BenchmarkId::new("fanout", subscribers),
            &subscribers,
            |b, _| {
                b.iter(|| {
                    room.publish(Kind::Message, draft(&text));
                    for rx in &mut subs {
                        black_box(rx.try_recv().ok());
                    }
                })
            },
        );
    }
    g.finish();
}

fn marker(c: &mut Criterion) {
    let h = hub();
    let room = h.room("m");
    let text = payload();
    room.publish(Kind::Message, draft(&text));
    // The WebSocket frame a subscriber receives.
    let frame = room.read(Start::Since(0)).messages[0].json.clone();
    let mut g = c.benchmark_group("loadgen");
    g.throughput(Throughput::Bytes(frame.len() as u64));
    g.bench_function("marker_find_first", |b| {
        b.iter(|| loadgen::marker::find_first(black_box(&frame)))
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("marker_payload_100B", |b| {
        let s = loadgen::marker::Stamp {
            run: 1,
            publisher: 2,
            seq: 3,
            sent_us: 4,
        };
        b.iter(|| black_box(&s).payload(100))
    });
    // Latency recording: the histogram every delivery lands in (µs, 3
    // significant digits, auto-resizing, as the load generator keeps it).
    let mut hist = hdrhistogram::Histogram::<u64>::new(3).expect("precision");
    let mut v = 1u64;
    g.bench_function("histogram_record", |b| {
        b.iter(|| {
            v = v.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            black_box(hist.record(black_box(1 + (v >> 40) % 50_000)).is_ok());
        })
    });
    g.finish();
}

criterion_group!(benches, publish, marker);
criterion_main!(benches);
