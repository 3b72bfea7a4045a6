//! The sets of `rtbench compare`'s tests (see the crate docs).

use crate::{Setup, file, stamp, write};
use protocol::Transport;
use std::path::Path;

/// The sets of the `compare` tests (see the module docs).
pub(crate) fn compare_sets(dir: &Path, template: &Setup) {
    const NORMAL: [f64; 3] = [1.02, 0.98, 1.03];
    // (set, first noise seed, start hour, clients, WebSocket slowness per
    // repeat, SSE slowness per repeat, WebSocket loss)
    type Set = (
        &'static str,
        u64,
        u64,
        u64,
        &'static [f64],
        &'static [f64],
        u64,
    );
    let sets: [Set; 7] = [
        (
            "baseline",
            100,
            8,
            100,
            &[1.00, 1.04, 0.97],
            &[1.00, 1.04, 0.97],
            0,
        ),
        ("same", 200, 9, 100, &NORMAL, &NORMAL, 0),
        ("regressed", 300, 10, 100, &[1.40, 1.45, 1.38], &NORMAL, 0),
        ("improved", 400, 11, 100, &[0.70, 0.73, 0.68], &NORMAL, 0),
        ("noisy", 500, 12, 100, &[0.99, 1.35, 1.45], &NORMAL, 0),
        ("other-scenario", 600, 13, 200, &[1.0], &[1.0], 0),
        ("lossy", 700, 14, 100, &[1.0], &[], 3),
    ];
    for (name, noise, hour, clients, ws, sse, lost) in sets {
        let mut at = 0;
        for rep in 0..ws.len().max(sse.len()) {
            for (t, slows) in [(Transport::Sse, sse), (Transport::Ws, ws)] {
                let Some(&slow) = slows.get(rep) else {
                    continue;
                };
                let (created_secs, created) = stamp(hour * 3600, at);
                at += 20;
                let s = Setup {
                    clients,
                    seed: 1,
                    created,
                    created_secs,
                    file: Some("scenarios/ci.toml"),
                    noise_seed: noise + rep as u64 * 10 + t.index() as u64,
                    slow,
                    lost: if t == Transport::Ws { lost } else { 0 },
                    ..template.clone()
                };
                let file_name = if slows.len() > 1 {
                    format!("{name}/{t}-r{}.json", rep + 1)
                } else {
                    format!("{name}/{t}.json")
                };
                let f = file(&s, &[t]);
                write(dir, &file_name, &f);
            }
        }
    }
}
