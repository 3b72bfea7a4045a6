use crate::socketio::packet::*;
use serde_json::value::RawValue;
use std::borrow::Cow;

fn decode(t: &str) -> Packet<'_> {
    Packet::decode(t).unwrap_or_else(|e| panic!("{t:?}: {e}"))
}

fn raw(json: &str) -> Box<RawValue> {
    RawValue::from_string(json.to_owned()).expect("valid JSON")
}

fn nsp(name: &str) -> Namespace<'_> {
    Namespace::new(name).expect("valid namespace")
}

fn raw_texts<'a>(args: &[&'a RawValue]) -> Vec<&'a str> {
    args.iter().map(|a| a.get()).collect()
}

/// Decodes `wire`, checks the packet, and that encoding gives `wire` back.
fn round_trip(wire: &str, expected: &Packet<'_>) {
    assert_eq!(&decode(wire), expected, "{wire:?}");
    assert_eq!(expected.encode(), wire);
    assert_eq!(expected.encode_message(), format!("4{wire}"));
}

#[test]
fn the_spec_examples_round_trip() {
    let sid = raw(r#"{"sid":"oSO0OpakMV_3jnilAAAA"}"#);
    let auth = raw(r#"{"token":"123"}"#);
    let refused = raw(r#"{"message":"Not authorized"}"#);
    let (foo, bar) = (raw(r#""foo""#), raw(r#""bar""#));
    let root = Namespace::ROOT;
    let admin = nsp("/admin");
    let event = |nsp, id, name: &'static str| Packet::Event {
        nsp,
        id,
        event: Cow::Borrowed(name),
        args: vec![],
    };
    round_trip(
        "0",
        &Packet::Connect {
            nsp: root,
            data: None,
        },
    );
    round_trip(
        "0/admin,",
        &Packet::Connect {
            nsp: admin,
            data: None,
        },
    );
    round_trip(
        r#"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#,
        &Packet::Connect {
            nsp: admin,
            data: Some(&*sid),
        },
    );
    round_trip(
        r#"0/admin,{"token":"123"}"#,
        &Packet::Connect {
            nsp: admin,
            data: Some(&*auth),
        },
    );
    round_trip(
        r#"4{"message":"Not authorized"}"#,
        &Packet::ConnectError {
            nsp: root,
            data: &refused,
        },
    );
    round_trip(r#"2["foo"]"#, &event(root, None, "foo"));
    round_trip(r#"2/admin,["bar"]"#, &event(admin, None, "bar"));
    round_trip(r#"212["foo"]"#, &event(root, Some(12), "foo"));
    round_trip(
        "312[]",
        &Packet::Ack {
            nsp: root,
            id: 12,
            args: vec![],
        },
    );
    round_trip(
        r#"3/admin,13["bar"]"#,
        &Packet::Ack {
            nsp: admin,
            id: 13,
            args: vec![&*bar],
        },
    );
    round_trip(
        r#"2/admin,13["foo","foo"]"#,
        &Packet::Event {
            nsp: admin,
            id: Some(13),
            event: "foo".into(),
            args: vec![&*foo],
        },
    );
    round_trip("1", &Packet::Disconnect { nsp: root });
    round_trip("1/admin,", &Packet::Disconnect { nsp: admin });
    // A CONNECT_ERROR from a server older than protocol 5: a string.
    let old = raw(r#""Not authorized""#);
    round_trip(
        r#"4"Not authorized""#,
        &Packet::ConnectError {
            nsp: root,
            data: &old,
        },
    );
}

#[test]
fn binary_packets_are_refused() {
    for wire in [
        r#"51-["baz",{"_placeholder":true,"num":0}]"#,
        r#"52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
        r#"61-15["bar",{"_placeholder":true,"num":0}]"#,
    ] {
        assert!(
            matches!(Packet::decode(wire), Err(PacketError::BinaryNotSupported)),
            "{wire:?}"
        );
    }
}

#[test]
fn event_arguments_stay_raw_json() {
    let p = decode(r#"2/chat,7["message",{"a":[1,2]},"x\u00e9",null,3.50]"#);
    let Packet::Event {
        nsp,
        id,
        event,
        args,
    } = p
    else {
        panic!("not an event")
    };
    assert_eq!(
        (nsp.as_str(), id, event.as_ref()),
        ("/chat", Some(7), "message")
    );
    assert!(
        matches!(event, Cow::Borrowed(_)),
        "a plain name is not copied"
    );
    assert_eq!(
        raw_texts(&args),
        [r#"{"a":[1,2]}"#, r#""x\u00e9""#, "null", "3.50"]
    );
    // An escaped name is unescaped; whitespace JSON allows is accepted.
    let p = decode("2 [ \"a\\\"b\\u00e9\" , 1 ] ");
    let Packet::Event { event, args, .. } = p else {
        panic!("not an event")
    };
    assert_eq!((event.as_ref(), raw_texts(&args)), ("a\"bé", vec!["1"]));
    assert_eq!(
        Packet::Event {
            nsp: Namespace::ROOT,
            id: None,
            event,
            args
        }
        .encode(),
        "2[\"a\\\"bé\",1]"
    );
}

#[test]
fn a_namespace_may_end_the_packet_without_its_comma() {
    // Some clients write `1/admin`; nothing else can follow it.
    assert_eq!(decode("1/admin"), Packet::Disconnect { nsp: nsp("/admin") });
    assert_eq!(
        decode("0/admin"),
        Packet::Connect {
            nsp: nsp("/admin"),
            data: None
        }
    );
    // `/,` is the main namespace written out.
    assert_eq!(decode(r#"2/,["a"]"#).namespace(), Namespace::ROOT);
}

#[test]
fn namespaces_are_validated() {
    assert!(Namespace::new("/").is_ok_and(|n| n.is_root()));
    assert_eq!(Namespace::default(), Namespace::ROOT);
    for bad in ["", "chat", "/a,b", "/a\u{1e}", "/a\nb"] {
        assert!(
            matches!(Namespace::new(bad), Err(PacketError::InvalidNamespace)),
            "{bad:?}"
        );
    }
    assert!(matches!(
        Packet::decode("2/a\tb,[\"x\"]"),
        Err(PacketError::InvalidNamespace)
    ));
}

#[test]
fn malformed_packets_have_their_own_errors() {
    use PacketError as E;
    use PacketType as T;
    let err = |wire: &str| match Packet::decode(wire) {
        Err(e) => e,
        Ok(p) => panic!("{wire:?} decoded as {p:?}"),
    };
    assert!(matches!(err(""), E::Empty));
    assert!(matches!(err("7"), E::UnknownType('7')));
    assert!(matches!(err("x[]"), E::UnknownType('x')));
    assert!(matches!(err("2/chat"), E::UnterminatedNamespace));
    assert!(matches!(err(r#"2/chat["a"]"#), E::UnterminatedNamespace));
    assert!(matches!(err("3/chat"), E::UnterminatedNamespace));
    assert!(matches!(err("2"), E::MissingData(T::Event)));
    assert!(matches!(err("2/chat,"), E::MissingData(T::Event)));
    assert!(matches!(err("212"), E::MissingData(T::Event)));
    assert!(matches!(err("31"), E::MissingData(T::Ack)));
    assert!(matches!(err("4"), E::MissingData(T::ConnectError)));
    assert!(matches!(err(r#"2["foo""#), E::BadJson(_)));
    assert!(matches!(err(r#"2["foo"] x"#), E::BadJson(_)));
    assert!(matches!(err(r#"2,["foo"]"#), E::BadJson(_)));
    assert!(matches!(err("0{'a':1}"), E::BadJson(_)));
    let wrong = |e: &E, want: T| matches!(e, E::WrongDataType { packet, .. } if *packet == want);
    assert!(wrong(&err(r#"2{"a":1}"#), T::Event));
    assert!(wrong(&err(r#"2"foo""#), T::Event));
    assert!(wrong(&err(r#"31{"a":1}"#), T::Ack));
    assert!(wrong(&err("0[]"), T::Connect));
    assert!(wrong(&err(r#"0"x""#), T::Connect));
    assert!(wrong(&err("4[]"), T::ConnectError));
    assert!(wrong(&err("4null"), T::ConnectError));
    assert!(matches!(err("2[]"), E::MissingEventName));
    assert!(matches!(err("2[1]"), E::EventNameNotString));
    assert!(matches!(err("2[null,1]"), E::EventNameNotString));
    assert!(matches!(err(r#"3["a"]"#), E::MissingAckId));
    assert!(matches!(err("012"), E::UnexpectedAckId(T::Connect)));
    assert!(matches!(err("1/a,3"), E::UnexpectedAckId(T::Disconnect)));
    assert!(matches!(
        err(r#"43{"message":"x"}"#),
        E::UnexpectedAckId(T::ConnectError)
    ));
    assert!(matches!(err("1{}"), E::UnexpectedData(T::Disconnect)));
    assert!(matches!(err(r#"218446744073709551616["a"]"#), E::BadAckId));
    assert_eq!(
        decode(r#"218446744073709551615["a"]"#),
        Packet::Event {
            nsp: Namespace::ROOT,
            id: Some(u64::MAX),
            event: "a".into(),
            args: vec![]
        }
    );
}

#[test]
fn the_fan_out_encoder_writes_the_payload_verbatim() {
    let payload = r#"{"id":"17","room":"r","text":"h\u00e9 €"}"#;
    let root = event_message(Namespace::ROOT, "message", payload);
    assert_eq!(root, format!(r#"42["message",{payload}]"#));
    assert_eq!(root.len(), root.capacity(), "sized exactly");
    let chat = event_message(nsp("/chat"), "message", payload);
    assert_eq!(chat, format!(r#"42/chat,["message",{payload}]"#));
    // What a receiver decodes from it is the same text.
    let Packet::Event {
        nsp: n,
        event,
        args,
        id,
    } = decode(&chat[1..])
    else {
        panic!("not an event")
    };
    assert_eq!((n.as_str(), event.as_ref(), id), ("/chat", "message", None));
    assert_eq!(raw_texts(&args), [payload]);
    // And it matches the general encoder.
    let arg = raw(payload);
    let general = Packet::Event {
        nsp: nsp("/chat"),
        id: None,
        event: "message".into(),
        args: vec![&*arg],
    };
    assert_eq!(general.encode_message(), chat);
    let mut out = String::from("x");
    encode_event_message(&mut out, Namespace::ROOT, "a\"b", "1");
    assert_eq!(out, r#"x42["a\"b",1]"#);
}
