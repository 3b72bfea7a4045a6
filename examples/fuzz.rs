//! Bounded-time fuzzing of every parser rtbench wrote itself: payload
//! markers, the SSE parser, JSON pointers, target profiles (loadgen), HS256
//! tokens, room names and cursors (server). A tiny mutation fuzzer (no
//! nightly toolchain needed): it starts from valid seeds, flips, inserts,
//! deletes and splices bytes, and runs each target for a fixed time. A
//! panic prints the input (as Rust bytes) and exits 1.
//!
//!   cargo run --release --example fuzz -- 60     # seconds per target
//!   scripts/fuzz.sh 60

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use loadgen::rng::SplitMix64 as Rng;

/// A uniform index below `n` (the fuzzer's only use of randomness).
trait Below {
    fn below(&mut self, n: usize) -> usize;
}

impl Below for Rng {
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], input: &mut Vec<u8>) {
    const INTERESTING: &[&[u8]] = &[
        b"\n",
        b"\r",
        b"\r\n",
        b":",
        b"{",
        b"}",
        b"[",
        b"]",
        b"\"",
        b"\\u0000",
        b"~1",
        b"/",
        b".",
        b"rtb1:",
        b"data: ",
        b"id: ",
        b"\xff",
        b"\0",
        b"9999999999999999999999",
    ];
    for _ in 0..1 + rng.below(4) {
        match rng.below(7) {
            0 if !input.is_empty() => {
                let i = rng.below(input.len());
                input[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(input.len() + 1);
                input.insert(i, rng.next_u64() as u8);
            }
            2 if !input.is_empty() => {
                let i = rng.below(input.len());
                let n = 1 + rng.below(8).min(input.len() - i);
                input.drain(i..(i + n).min(input.len()));
            }
            3 => {
                let s = INTERESTING[rng.below(INTERESTING.len())];
                let i = rng.below(input.len() + 1);
                input.splice(i..i, s.iter().copied());
            }
            4 => {
                let other = &seeds[rng.below(seeds.len())];
                if !other.is_empty() {
                    let a = rng.below(other.len());
                    let b = a + rng.below(other.len() - a + 1);
                    let i = rng.below(input.len() + 1);
                    input.splice(i..i, other[a..b].iter().copied());
                }
            }
            5 if input.len() > 1 => {
                let i = rng.below(input.len());
                let j = rng.below(input.len());
                input.swap(i, j);
            }
            _ => {
                let i = rng.below(input.len() + 1);
                input.splice(i..i, (0..rng.below(16)).map(|_| rng.next_u64() as u8));
            }
        }
    }
    input.truncate(64 * 1024);
}

type Target = (&'static str, fn(&[u8]), Vec<Vec<u8>>);

fn targets() -> Vec<Target> {
    let secret = b"fuzz secret";
    let token = protocol::token::mint(secret, "alice", Some(4_000_000_000));
    vec![
        (
            "marker",
            loadgen::fuzz::marker,
            vec![b"rtb1:00ab12cd:3:17:1234567:xxxx".to_vec(), vec![7; 40]],
        ),
        (
            "sse",
            loadgen::fuzz::sse,
            vec![
                b"retry: 10\n\nid: 1\ndata: {\"a\":1}\n\nevent: lagged\ndata: x\r\n\r\n: ping\n\n"
                    .to_vec(),
            ],
        ),
        (
            "json-pointer",
            loadgen::fuzz::json_pointer,
            vec![
                br#"/messages/0/id
{"messages":[{"id":"4\u0032","n":1.5}],"cursor":"9","gap":true}"#
                    .to_vec(),
                b"/a~1b\n{\"a/b\":[1,2,{\"c\":null}]}".to_vec(),
                br#"/id
{"id":"12","room":"r","kind":"message","text":"rtb1:0a:0:1:2:x\"\u00e9","ts_us":-1.5e+3,"ok":[true,false,null]}"#
                    .to_vec(),
            ],
        ),
        (
            "profile",
            loadgen::fuzz::profile,
            vec![loadgen::profile::BUILTIN_TOML.as_bytes().to_vec()],
        ),
        (
            "token",
            |d: &[u8]| {
                let Ok(s) = std::str::from_utf8(d) else {
                    return;
                };
                let secret = b"fuzz secret";
                if let Ok(c) = protocol::token::verify(secret, s, 1_000) {
                    // Only an untouched token verifies: re-minting gives it back.
                    let again = protocol::token::mint(secret, &c.sub, c.exp);
                    assert_eq!(
                        protocol::token::verify(secret, &again, 1_000).map(|x| x.sub),
                        Ok(c.sub),
                        "{s}"
                    );
                }
            },
            vec![token.into_bytes()],
        ),
        (
            "room-name",
            |d: &[u8]| {
                if let Ok(s) = std::str::from_utf8(d)
                    && protocol::validate_room(s).is_ok()
                {
                    assert!(
                        s.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
                        "{s:?}"
                    );
                }
            },
            vec![b"lobby-1_x".to_vec()],
        ),
        (
            "cursor",
            |d: &[u8]| {
                if let Ok(s) = std::str::from_utf8(d)
                    && let Ok(n) = server::transport::parse_cursor(s)
                {
                    assert_eq!(s.trim().parse::<u64>().ok(), Some(n), "{s:?}");
                }
            },
            vec![b"12345".to_vec(), b"0".to_vec()],
        ),
    ]
}

fn main() {
    let secs: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let only = std::env::args().nth(2);
    std::panic::set_hook(Box::new(|_| {}));
    let mut failed = false;
    for (name, target, seeds) in targets() {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let mut rng = Rng::new(0x5eed ^ name.len() as u64);
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut runs = 0u64;
        let mut corpus = seeds.clone();
        while Instant::now() < deadline {
            for _ in 0..256 {
                let mut input = corpus[rng.below(corpus.len())].clone();
                mutate(&mut rng, &seeds, &mut input);
                if catch_unwind(AssertUnwindSafe(|| target(&input))).is_err() {
                    let _ = std::panic::take_hook();
                    eprintln!("fuzz {name}: FAILED after {runs} runs on input {input:?}");
                    let _ = catch_unwind(AssertUnwindSafe(|| target(&input)));
                    failed = true;
                    break;
                }
                runs += 1;
                // Keep some mutants as seeds for deeper ones.
                if rng.below(64) == 0 && corpus.len() < 512 {
                    corpus.push(input);
                }
            }
            if failed {
                break;
            }
        }
        println!(
            "fuzz {name:<13} {runs:>10} inputs in {secs} s: {}",
            if failed { "FAILED" } else { "no failure" }
        );
        if failed {
            std::process::exit(1);
        }
    }
}
