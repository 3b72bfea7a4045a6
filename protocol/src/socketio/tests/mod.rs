//! Tests of the Socket.IO codec: each layer's cases (`engine_cases`,
//! `packet_cases`), random round trips (`props`), and below, the bytes a real Socket.IO
//! 4.8 server (npm `socket.io`, `tests/socketio/chat-server.mjs`) exchanged
//! with a client, captured once and kept verbatim.

mod engine_cases;
mod packet_cases;
mod props;

use super::engine::{self, DEFAULT_MAX_PAYLOAD, Fit, Handshake, PayloadBuilder, WsFrame};
use super::packet::{self as sio, Namespace};
use super::{EnginePacket, SioPacket};
use serde_json::value::RawValue;

/// Decodes a long-polling body down to Socket.IO packets (`None` for
/// Engine.IO packets that carry none).
fn sio_packets(body: &str) -> Vec<Option<SioPacket<'_>>> {
    engine::decode_payload(body.as_bytes(), DEFAULT_MAX_PAYLOAD)
        .expect("payload")
        .map(|p| match p.expect("engine packet") {
            EnginePacket::Message(m) => Some(SioPacket::decode(m).expect("socket.io packet")),
            _ => None,
        })
        .collect()
}

fn event_of<'a>(p: &'a Option<SioPacket<'_>>) -> (&'a str, Option<u64>, Vec<&'a str>) {
    match p {
        Some(SioPacket::Event {
            event, id, args, ..
        }) => (event.as_ref(), *id, args.iter().map(|a| a.get()).collect()),
        other => panic!("not an event: {other:?}"),
    }
}

#[test]
fn the_real_handshake_decodes() {
    // `GET /socket.io/?EIO=4&transport=polling`, 200, `text/plain; charset=UTF-8`.
    let body = r#"0{"sid":"3k2eAjBkrb0vvBA1AAAA","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
    assert_eq!(body.len(), 118);
    let packets: Vec<_> = engine::decode_payload(body.as_bytes(), DEFAULT_MAX_PAYLOAD)
        .expect("payload")
        .collect::<Result<_, _>>()
        .expect("packets");
    let expected = Handshake {
        sid: "3k2eAjBkrb0vvBA1AAAA".into(),
        upgrades: vec!["websocket".into()],
        ping_interval: engine::DEFAULT_PING_INTERVAL_MS,
        ping_timeout: engine::DEFAULT_PING_TIMEOUT_MS,
        max_payload: DEFAULT_MAX_PAYLOAD as u64,
    };
    assert_eq!(packets, [EnginePacket::Open(expected.clone())]);
    assert_eq!(EnginePacket::Open(expected).encode(), body);
}

#[test]
fn a_real_polling_session_decodes() {
    // The server's CONNECT answer carries the Socket.IO id (not the Engine.IO sid).
    let p = sio_packets(r#"40{"sid":"xCY36KL6NDtREUVjAAAA"}"#);
    assert!(
        matches!(&p[..], [Some(SioPacket::Connect { nsp, data: Some(d) })]
        if nsp.is_root() && d.get() == r#"{"sid":"xCY36KL6NDtREUVjAAAA"}"#)
    );
    // An event and the ACK of the client's `join` (ack id 1), in one body.
    let p = sio_packets(
        "42[\"user list\",{\"room\":\"r1\",\"users\":[\"alice\"]}]\u{1e}431[{\"room\":\"r1\",\"users\":[\"alice\"]}]",
    );
    assert_eq!(
        event_of(&p[0]),
        (
            "user list",
            None,
            vec![r#"{"room":"r1","users":["alice"]}"#]
        )
    );
    assert!(matches!(&p[1], Some(SioPacket::Ack { id: 1, args, .. })
        if args.len() == 1 && args[0].get() == r#"{"room":"r1","users":["alice"]}"#));
    // A CONNECT to an unknown namespace.
    let p = sio_packets(r#"44/nope,{"message":"Invalid namespace"}"#);
    assert!(
        matches!(&p[..], [Some(SioPacket::ConnectError { nsp, data })]
        if nsp.as_str() == "/nope" && data.get() == r#"{"message":"Invalid namespace"}"#)
    );
    // After a packet it could not parse, the server ends the session:
    // a noop for the pending GET, then close.
    let mut records = engine::decode_payload(b"6\x1e1", DEFAULT_MAX_PAYLOAD).expect("payload");
    assert!(matches!(records.next(), Some(Ok(EnginePacket::Noop))));
    assert!(matches!(records.next(), Some(Ok(EnginePacket::Close))));
    assert!(records.next().is_none());
}

#[test]
fn a_real_upgrade_and_websocket_exchange_decode() {
    let frame = |t| WsFrame::Text(t).decode().expect("frame");
    assert_eq!(frame("3probe"), EnginePacket::Pong(engine::PROBE));
    let EnginePacket::Message(m) =
        frame("42[\"chat message\",{\"text\":\"hé €\",\"n\":1,\"id\":1}]")
    else {
        panic!("not a message")
    };
    let p = Some(SioPacket::decode(m).expect("event"));
    assert_eq!(
        event_of(&p),
        (
            "chat message",
            None,
            vec![r#"{"text":"hé €","n":1,"id":1}"#]
        )
    );
    let EnginePacket::Message(m) = frame(r#"432[{"id":1}]"#) else {
        panic!("not a message")
    };
    assert!(matches!(
        SioPacket::decode(m),
        Ok(SioPacket::Ack { id: 2, .. })
    ));
}

#[test]
fn our_encoders_write_what_the_real_client_sent() {
    // The client's POST bodies and frames in the captured session.
    let auth = RawValue::from_string(r#"{"user":"alice"}"#.into()).expect("json");
    let connect = SioPacket::Connect {
        nsp: Namespace::ROOT,
        data: Some(&*auth),
    };
    assert_eq!(connect.encode_message(), r#"40{"user":"alice"}"#);
    let room = RawValue::from_string(r#""r1""#.into()).expect("json");
    let join = SioPacket::Event {
        nsp: Namespace::ROOT,
        id: Some(1),
        event: "join".into(),
        args: vec![&*room],
    };
    let typing = SioPacket::Event {
        nsp: Namespace::ROOT,
        id: None,
        event: "typing".into(),
        args: vec![],
    };
    let mut body = PayloadBuilder::new(DEFAULT_MAX_PAYLOAD);
    assert_eq!(
        body.push_encoded(&join.encode_message()).expect("fits"),
        Fit::Added
    );
    assert_eq!(
        body.push(&EnginePacket::Message(&typing.encode()))
            .expect("fits"),
        Fit::Added
    );
    assert_eq!(body.finish(), "421[\"join\",\"r1\"]\u{1e}42[\"typing\"]");
    assert_eq!(EnginePacket::Ping(engine::PROBE).encode(), "2probe");
    assert_eq!(EnginePacket::Upgrade.encode(), "5");
    assert_eq!(
        sio::event_message(Namespace::ROOT, "join", r#""r2""#),
        r#"42["join","r2"]"#
    );
    assert_eq!(
        SioPacket::Disconnect {
            nsp: Namespace::ROOT
        }
        .encode_message(),
        "41"
    );
}
