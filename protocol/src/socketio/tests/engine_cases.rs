use crate::socketio::engine::*;

fn decode(t: &str) -> Packet<'_> {
    Packet::decode(t).unwrap_or_else(|e| panic!("{t:?}: {e}"))
}

fn handshake() -> Handshake {
    Handshake {
        sid: "lv_VI97HAXpY6yYWAAAC".into(),
        upgrades: vec!["websocket".into()],
        ping_interval: DEFAULT_PING_INTERVAL_MS,
        ping_timeout: 5000,
        max_payload: DEFAULT_MAX_PAYLOAD as u64,
    }
}

#[test]
fn open_carries_the_handshake_of_the_spec_sample_session() {
    let wire = r#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":5000,"maxPayload":1000000}"#;
    assert_eq!(decode(wire), Packet::Open(handshake()));
    assert_eq!(Packet::Open(handshake()).encode(), wire);
    // The hand-written JSON is what serde writes too.
    let serde = serde_json::to_string(&handshake()).expect("json");
    assert_eq!(format!("0{serde}"), wire);
}

#[test]
fn handshake_fields_are_escaped_and_unknown_fields_ignored() {
    let h = Handshake {
        sid: "a\"b\\c\u{1e}".into(),
        upgrades: vec![],
        ping_interval: 1,
        ping_timeout: 2,
        max_payload: 3,
    };
    let wire = Packet::Open(h.clone()).encode();
    assert_eq!(
        wire,
        r#"0{"sid":"a\"b\\c\u001e","upgrades":[],"pingInterval":1,"pingTimeout":2,"maxPayload":3}"#
    );
    assert_eq!(decode(&wire), Packet::Open(h));
    let extra =
        r#"0{"sid":"x","upgrades":[],"pingInterval":1,"pingTimeout":2,"maxPayload":3,"new":true}"#;
    assert!(matches!(decode(extra), Packet::Open(h) if h.sid == "x"));
}

#[test]
fn every_packet_type_round_trips() {
    let cases = [
        ("1", Packet::Close),
        ("2", Packet::Ping("")),
        ("3", Packet::Pong("")),
        ("2probe", Packet::Ping(PROBE)),
        ("3probe", Packet::Pong(PROBE)),
        ("4hello", Packet::Message("hello")),
        ("4", Packet::Message("")),
        ("4€ é", Packet::Message("€ é")),
        ("5", Packet::Upgrade),
        ("6", Packet::Noop),
    ];
    for (wire, packet) in cases {
        assert_eq!(decode(wire), packet, "{wire:?}");
        assert_eq!(packet.encode(), wire);
        assert_eq!(WsFrame::Text(wire).decode().expect("text frame"), packet);
    }
}

#[test]
fn malformed_packets_have_their_own_errors() {
    assert!(matches!(Packet::decode(""), Err(EngineError::Empty)));
    assert!(matches!(
        Packet::decode("7"),
        Err(EngineError::UnknownType('7'))
    ));
    assert!(matches!(
        Packet::decode("é4"),
        Err(EngineError::UnknownType('é'))
    ));
    assert!(matches!(
        Packet::decode("bAQIDBA=="),
        Err(EngineError::BinaryNotSupported)
    ));
    assert!(matches!(
        WsFrame::Binary(&[1, 2, 3, 4]).decode(),
        Err(EngineError::BinaryNotSupported)
    ));
    for (wire, kind) in [
        ("1x", PacketType::Close),
        ("5probe", PacketType::Upgrade),
        ("6 ", PacketType::Noop),
    ] {
        assert!(
            matches!(Packet::decode(wire), Err(EngineError::UnexpectedData(k)) if k == kind),
            "{wire:?}"
        );
    }
    for wire in ["0", "0{", "0[]", r#"0{"sid":"x"}"#] {
        assert!(
            matches!(Packet::decode(wire), Err(EngineError::BadHandshake(_))),
            "{wire:?}"
        );
    }
}

#[test]
fn payload_of_the_spec_splits_on_the_record_separator() {
    let body = b"4hello\x1e2\x1e4world";
    let packets: Vec<_> = decode_payload(body, DEFAULT_MAX_PAYLOAD)
        .expect("payload")
        .collect::<Result<_, _>>()
        .expect("packets");
    let expected = [
        Packet::Message("hello"),
        Packet::Ping(""),
        Packet::Message("world"),
    ];
    assert_eq!(packets, expected);
    let encoded = encode_payload(&expected, DEFAULT_MAX_PAYLOAD).expect("fits");
    assert_eq!(encoded.as_bytes(), body);
}

#[test]
fn malformed_payloads() {
    let first_err = |body: &[u8]| {
        decode_payload(body, 100)
            .expect("size and UTF-8 are fine")
            .find_map(Result::err)
    };
    assert!(matches!(first_err(b""), Some(EngineError::Empty)));
    assert!(matches!(first_err(b"4a\x1e"), Some(EngineError::Empty)));
    assert!(matches!(
        first_err(b"4a\x1e\x1e4b"),
        Some(EngineError::Empty)
    ));
    assert!(matches!(
        first_err(b"4hello\x1ebAQIDBA=="),
        Some(EngineError::BinaryNotSupported)
    ));
    assert!(matches!(
        first_err(b"4a\x1e9"),
        Some(EngineError::UnknownType('9'))
    ));
    assert!(first_err(b"4a\x1e4b").is_none());
    assert!(matches!(
        decode_payload(b"4\xff", 100),
        Err(EngineError::NotUtf8)
    ));
    // The limit is on bytes, inclusive, and checked before anything else.
    assert!(decode_payload(b"4abcd", 5).is_ok());
    assert!(matches!(
        decode_payload(b"4abcde\xff", 5),
        Err(EngineError::PayloadTooLarge { len: 7, max: 5 })
    ));
}

#[test]
fn the_builder_fills_a_payload_up_to_max_payload() {
    // "4aaaa" is 5 bytes; two of them with the separator are 11.
    let mut b = PayloadBuilder::new(11);
    assert_eq!(b.push(&Packet::Message("aaaa")).expect("fits"), Fit::Added);
    assert_eq!(b.push_encoded("4bbbb").expect("fits"), Fit::Added);
    assert_eq!(b.as_str(), "4aaaa\x1e4bbbb");
    assert_eq!(b.push(&Packet::Ping("")).expect("full"), Fit::Full);
    assert_eq!(b.len(), 2);
    assert_eq!(b.clone().finish(), "4aaaa\x1e4bbbb");
    // Nothing fits in an empty payload: an error, not `Full`.
    let mut small = PayloadBuilder::new(4);
    assert!(matches!(
        small.push(&Packet::Message("aaaa")),
        Err(EngineError::PayloadTooLarge { len: 5, max: 4 })
    ));
    assert!(small.is_empty() && small.as_str().is_empty());
    assert!(matches!(
        encode_payload(&[Packet::Message("aaaa"), Packet::Message("bb")], 8),
        Err(EngineError::PayloadTooLarge { len: 9, max: 8 })
    ));
}

#[test]
fn the_builder_refuses_what_would_break_the_framing() {
    let mut b = PayloadBuilder::new(100);
    assert_eq!(b.push(&Packet::Noop).expect("fits"), Fit::Added);
    assert!(matches!(
        b.push(&Packet::Message("a\u{1e}2")),
        Err(EngineError::SeparatorInData)
    ));
    assert!(matches!(
        b.push_encoded("4a\u{1e}2"),
        Err(EngineError::SeparatorInData)
    ));
    assert!(matches!(b.push_encoded(""), Err(EngineError::Empty)));
    assert!(matches!(
        b.push_encoded("x"),
        Err(EngineError::UnknownType('x'))
    ));
    assert_eq!(b.as_str(), "6", "refused packets leave no trace");
    assert_eq!(b.len(), 1);
}
