//! Random packets from a seeded generator: whatever is encoded decodes back
//! to the same packet and re-encodes to the same bytes, at both layers; and
//! no mangled input makes a decoder panic.

use crate::rng::SplitMix64;
use crate::socketio::engine::{self, Fit, Handshake, PayloadBuilder, WsFrame};
use crate::socketio::packet::{self as sio, Namespace};
use crate::socketio::{EnginePacket, SioPacket};
use serde_json::Value;
use serde_json::value::RawValue;

/// Characters that stress the framing: JSON escapes, the separator and
/// other control characters, the comma and slash of namespaces, brackets,
/// multi-byte UTF-8.
const PALETTE: &[char] = &[
    'a', 'Z', '0', '9', ' ', '"', '\\', '/', ',', '[', '{', '\n', '\t', '\u{1}', '\u{1e}',
    '\u{7f}', 'é', '€', '😀', '\u{2028}',
];

struct Gen(SplitMix64);

impl Gen {
    fn below(&mut self, n: u64) -> u64 {
        self.0.below_or_eq(n - 1)
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len() as u64) as usize]
    }

    fn text(&mut self, max_len: u64) -> String {
        (0..self.below(max_len + 1))
            .map(|_| self.pick(PALETTE))
            .collect()
    }

    fn namespace(&mut self) -> String {
        if self.0.chance(0.5) {
            return "/".into();
        }
        let len = 1 + self.below(6);
        let name: String = (0..len)
            .map(|_| self.pick(&['a', 'z', '0', '-', '_', '/', 'é']))
            .collect();
        format!("/{name}")
    }

    fn json(&mut self, depth: u32) -> Value {
        let kinds = if depth == 0 { 4 } else { 6 };
        match self.below(kinds) {
            0 => Value::Null,
            1 => Value::Bool(self.0.chance(0.5)),
            2 if self.0.chance(0.5) => Value::from(self.0.next_u64() as i64),
            2 => Value::from(self.0.next_f64() * 1e6),
            3 => Value::String(self.text(8)),
            4 => (0..self.below(4)).map(|_| self.json(depth - 1)).collect(),
            _ => self.object(depth - 1),
        }
    }

    fn object(&mut self, depth: u32) -> Value {
        Value::Object(
            (0..self.below(4))
                .map(|_| (self.text(5), self.json(depth)))
                .collect(),
        )
    }
}

fn raw(v: &Value) -> Box<RawValue> {
    serde_json::value::to_raw_value(v).expect("serializable")
}

/// An owned packet to borrow a [`SioPacket`] from.
#[derive(Debug)]
enum Spec {
    Connect(String, Option<Box<RawValue>>),
    Disconnect(String),
    Event(String, Option<u64>, String, Vec<Box<RawValue>>),
    Ack(String, u64, Vec<Box<RawValue>>),
    ConnectError(String, Box<RawValue>),
}

impl Spec {
    fn random(g: &mut Gen) -> Spec {
        let nsp = g.namespace();
        let id = |g: &mut Gen| {
            if g.0.chance(0.5) {
                g.0.next_u64()
            } else {
                g.below(100)
            }
        };
        let args = |g: &mut Gen| (0..g.below(4)).map(|_| raw(&g.json(2))).collect();
        match g.below(5) {
            0 => Spec::Connect(nsp, g.0.chance(0.5).then(|| raw(&g.object(2)))),
            1 => Spec::Disconnect(nsp),
            2 => {
                let id = g.0.chance(0.5).then(|| id(g));
                Spec::Event(nsp, id, g.text(10), args(g))
            }
            3 => Spec::Ack(nsp, id(g), args(g)),
            _ if g.0.chance(0.5) => Spec::ConnectError(nsp, raw(&g.object(1))),
            _ => Spec::ConnectError(nsp, raw(&Value::String(g.text(10)))),
        }
    }

    fn packet(&self) -> SioPacket<'_> {
        fn n(s: &str) -> Namespace<'_> {
            Namespace::new(s).expect("generated namespaces are valid")
        }
        fn refs(v: &[Box<RawValue>]) -> Vec<&RawValue> {
            v.iter().map(|b| &**b).collect()
        }
        match self {
            Spec::Connect(s, d) => SioPacket::Connect {
                nsp: n(s),
                data: d.as_deref(),
            },
            Spec::Disconnect(s) => SioPacket::Disconnect { nsp: n(s) },
            Spec::Event(s, id, e, a) => SioPacket::Event {
                nsp: n(s),
                id: *id,
                event: e.as_str().into(),
                args: refs(a),
            },
            Spec::Ack(s, id, a) => SioPacket::Ack {
                nsp: n(s),
                id: *id,
                args: refs(a),
            },
            Spec::ConnectError(s, d) => SioPacket::ConnectError { nsp: n(s), data: d },
        }
    }
}

#[test]
fn random_socket_io_packets_round_trip() {
    let mut g = Gen(SplitMix64::new(0x5010));
    for _ in 0..3000 {
        let spec = Spec::random(&mut g);
        let packet = spec.packet();
        let wire = packet.encode();
        let back = SioPacket::decode(&wire).unwrap_or_else(|e| panic!("{wire:?}: {e}"));
        assert_eq!(back, packet, "{wire:?}");
        assert_eq!(back.encode(), wire);
        // The raw arguments are the same JSON values, not just similar text.
        if let (SioPacket::Event { args, .. }, Spec::Event(.., sent)) = (&back, &spec) {
            for (a, s) in args.iter().zip(sent) {
                let (a, s): (Value, Value) = (
                    serde_json::from_str(a.get()).expect("json"),
                    serde_json::from_str(s.get()).expect("json"),
                );
                assert_eq!(a, s);
            }
        }
        // The fan-out encoder agrees with the general one.
        if let Spec::Event(nsp, None, event, args) = &spec
            && args.len() == 1
        {
            let nsp = Namespace::new(nsp).expect("valid");
            assert_eq!(
                sio::event_message(nsp, event, args[0].get()),
                packet.encode_message()
            );
        }
    }
}

fn random_engine_packet<'a>(g: &mut Gen, messages: &'a [String]) -> EnginePacket<'a> {
    match g.below(7) {
        0 => EnginePacket::Open(Handshake {
            sid: g.text(20),
            upgrades: (0..g.below(3)).map(|_| g.text(9)).collect(),
            ping_interval: g.0.next_u64(),
            ping_timeout: g.below(100_000),
            max_payload: g.0.next_u64(),
        }),
        1 => EnginePacket::Close,
        2 => EnginePacket::Ping(g.pick(&["", engine::PROBE])),
        3 => EnginePacket::Pong(g.pick(&["", engine::PROBE])),
        4 => EnginePacket::Upgrade,
        5 => EnginePacket::Noop,
        _ => EnginePacket::Message(&messages[g.below(messages.len() as u64) as usize]),
    }
}

#[test]
fn random_payloads_round_trip() {
    let mut g = Gen(SplitMix64::new(0xE10));
    for _ in 0..500 {
        let messages: Vec<String> = (0..4)
            .map(|_| Spec::random(&mut g).packet().encode())
            .collect();
        let packets: Vec<_> = (0..1 + g.below(6))
            .map(|_| random_engine_packet(&mut g, &messages))
            .collect();
        let mut body = PayloadBuilder::new(usize::MAX);
        for p in &packets {
            assert_eq!(body.push(p).expect("fits"), Fit::Added);
            let frame = p.encode();
            assert_eq!(&WsFrame::Text(&frame).decode().expect("frame"), p);
        }
        let body = body.finish();
        let back: Vec<_> = engine::decode_payload(body.as_bytes(), body.len())
            .expect("payload")
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{body:?}: {e}"));
        assert_eq!(back, packets);
        // One byte less than the body is refused.
        assert!(matches!(
            engine::decode_payload(body.as_bytes(), body.len() - 1),
            Err(engine::EngineError::PayloadTooLarge { .. })
        ));
    }
}

#[test]
fn mangled_input_never_panics_and_what_decodes_is_stable() {
    let mut g = Gen(SplitMix64::new(0xBAD));
    let mut decoded = 0;
    for _ in 0..400 {
        let wire = format!("4{}", Spec::random(&mut g).packet().encode());
        let mut variants: Vec<String> = wire
            .char_indices()
            .map(|(i, _)| wire[..i].to_string())
            .collect();
        for _ in 0..8 {
            let mut chars: Vec<char> = wire.chars().collect();
            let at = g.below(chars.len() as u64) as usize;
            chars[at] = g.pick(PALETTE);
            variants.push(chars.into_iter().collect());
        }
        for v in &variants {
            if let Ok(EnginePacket::Message(m)) = EnginePacket::decode(v)
                && let Ok(p) = SioPacket::decode(m)
            {
                decoded += 1;
                let again = p.encode();
                assert_eq!(SioPacket::decode(&again).ok(), Some(p), "{v:?}");
            }
            let _ = engine::decode_payload(v.as_bytes(), 64).map(|r| r.count());
        }
    }
    assert!(
        decoded > 400,
        "the mangling left some valid packets to check"
    );
}
