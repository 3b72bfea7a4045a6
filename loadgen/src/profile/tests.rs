use super::*;

fn err(text: &str) -> ProfileError {
    Profile::parse(text, "p.toml").expect_err("must be refused")
}

const MINIMAL: &str = r#"
[publish]
url = "/pub/{room}"
body = "{payload}"

[sse]
url = "/sub/{room}"
"#;

#[test]
fn builtin_defines_every_transport() {
    let p = Profile::builtin();
    assert_eq!(p.name, "rtbench");
    assert_eq!(p.transports(), Transport::ALL.to_vec());
    assert!(p.socketio.is_some());
    assert!(p.publishes_over_ws());
    let ws = p.sub(Transport::Ws).expect("ws");
    assert_eq!(ws.ws().lag_close, Some(4000));
    assert_eq!(
        ws.cursors,
        [CursorRule {
            from: CursorFrom::Message(Pointer::parse("/id").expect("p")),
            to: CursorTo::Query("since".into()),
        }]
    );
    let sse = p.sub(Transport::Sse).expect("sse");
    assert!(
        sse.measures_event("") && sse.measures_event("message") && !sse.measures_event("lagged")
    );
}

#[test]
fn minimal_profile_and_defaults() {
    let p = Profile::parse(MINIMAL, "dir/mine.toml").expect("valid");
    assert_eq!(p.name, "mine");
    assert_eq!(p.transports(), [Transport::Sse]);
    let h = p.publish.http.as_ref().expect("http");
    assert_eq!(h.method, hyper::Method::POST);
    assert!(h.accepted(202) && !h.accepted(302));
    assert!(!p.publishes_over_ws());
    assert!(p.sub(Transport::Sse).expect("sse").ws().echo);
    // A section's echo defaults to true where it means something: [ws].
    let ws = Profile::parse(&MINIMAL.replace("[sse]", "[ws]"), "w.toml").expect("valid");
    assert!(ws.sub(Transport::Ws).expect("ws").ws().echo);
}

#[test]
fn errors_name_field_and_line() {
    let e = err(&MINIMAL.replace("/sub/{room}", "/sub/{channel}"));
    assert_eq!((e.line, e.field.as_str()), (Some(7), "[sse] url"));
    assert!(e.why.contains("unknown placeholder {channel}"), "{e}");
    assert!(e.to_string().starts_with("p.toml:7: [sse] url: "), "{e}");

    let e = err("[sse]\nurl = \"/s\"\n");
    assert_eq!(e.field, "[publish]");
    assert!(e.why.contains("missing"), "{e}");

    let e = err("[publish]\nurl = \"/p\"\nbody = \"{payload}\"\n[sse\nurl = 1\n");
    assert_eq!((e.line, e.field.as_str()), (Some(4), "TOML"));

    let e = err(&format!("{MINIMAL}unknown_key = 1\n"));
    assert_eq!(e.field, "TOML");
    assert!(e.why.contains("unknown_key"), "{e}");

    let e = err(&MINIMAL.replace("body = \"{payload}\"", "body = \"hello\""));
    assert_eq!((e.line, e.field.as_str()), (Some(4), "[publish] body"));

    let e = err(&MINIMAL.replace("url = \"/pub/{room}\"", "url = \"http://x/pub\""));
    assert_eq!((e.line, e.field.as_str()), (Some(3), "[publish] url"));

    let e = err(&format!("{MINIMAL}empty_status = [304]\n"));
    assert_eq!((e.line, e.field.as_str()), (Some(8), "[sse] empty_status"));

    let e = err(&format!(
        "{MINIMAL}cursor = [{{ from = \"header:etag\", to = \"query:x\" }}]\n"
    ));
    assert_eq!(e.field, "[sse] cursor");
    assert!(e.why.contains("sse-id"), "{e}");

    let e = err(&format!(
        "{MINIMAL}cursor = [{{ from = \"sse-id\", to = \"query:a=b\" }}]\n"
    ));
    assert!(e.why.contains("query:NAME"), "{e}");

    let e = err(&MINIMAL.replace("[sse]", "[publish2]"));
    assert_eq!(e.field, "TOML");

    let e = err("[publish]\nframe = \"{payload}\"\n[sse]\nurl = \"/s\"\n");
    assert_eq!((e.line, e.field.as_str()), (Some(2), "[publish] frame"));

    let e = err("[publish]\nurl = \"/p\"\nbody = \"{payload}\"\n");
    assert_eq!(e.field, "transports");

    let e = err(&format!(
        "{MINIMAL}headers = {{ \"bad header\" = \"x\" }}\n"
    ));
    assert_eq!(e.line, Some(8));
}

#[test]
fn matchers_prefilter_and_compare() {
    let p = Profile::builtin();
    let ws = p.sub(Transport::Ws).expect("ws");
    let gap = ws.ws().gap.as_ref().expect("gap");
    assert!(gap.matches(br#"{"type":"gap","cursor":"3"}"#));
    assert!(!gap.matches(br#"{"type":"message","text":"gap"}"#));
    assert!(!gap.matches(b"not json at all"));
    let poll_gap = p
        .sub(Transport::LongPoll)
        .and_then(|s| s.poll().gap.as_ref())
        .expect("gap");
    assert!(poll_gap.matches(br#"{"messages":[],"cursor":"1","gap":true}"#));
    assert!(!poll_gap.matches(br#"{"messages":[],"cursor":"1","gap":false}"#));
}

/// `message_if` as a string or as a table is one matcher; it belongs to
/// `[ws]` only, and a bad one names its line.
#[test]
fn message_if_selects_ws_frames() {
    let ws = "[publish]\nframe = \"{payload}\"\n[ws]\nurl = \"/ws/{room}\"\n";
    for form in [
        r#"message_if = "/type == \"message\"""#,
        r#"message_if = { pointer = "/type", equals = "message" }"#,
    ] {
        let p = Profile::parse(&format!("{ws}{form}\n"), "p.toml").expect(form);
        let sub = p.sub(Transport::Ws).expect("ws");
        let m = sub.ws().message_if.as_ref().expect("message_if");
        assert!(m.matches(br#"{"type":"message","text":"hi"}"#), "{form}");
        assert!(
            !m.matches(br#"{"type":"userList","users":["message"]}"#),
            "{form}"
        );
    }
    let p = Profile::parse(&format!("{ws}message_if = \"/ok\"\n"), "p.toml").expect("truthy");
    let sub = p.sub(Transport::Ws).expect("ws");
    let m = sub.ws().message_if.as_ref().expect("message_if");
    assert!(m.matches(br#"{"ok":true}"#) && !m.matches(br#"{"ok":false}"#));
    let e = err(&format!("{ws}message_if = \"/type == message\"\n"));
    assert_eq!(e.line, Some(5), "{e}");
    assert!(e.why.contains("double quotes"), "{e}");
    let e = err(&format!("{ws}message_if = 'type == \"x\"'\n"));
    assert_eq!(
        (e.line, e.field.as_str()),
        (Some(5), "[ws] message_if"),
        "{e}"
    );
    let e = err(&format!("{MINIMAL}message_if = \"/type\"\n"));
    assert!(e.why.contains("does not apply to sse"), "{e}");
}

#[test]
fn load_by_name_or_path() {
    assert_eq!(
        Profile::load("rtbench").map(|p| p.source_name),
        Ok("built-in".into())
    );
    let e = Profile::load("/nonexistent/x.toml").expect_err("missing file");
    assert_eq!(e.field, "file");
    let dir = std::env::temp_dir().join(format!("rtb-prof-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("srv.toml");
    std::fs::write(&path, MINIMAL).expect("write");
    let p = Profile::load(&path.display().to_string()).expect("load");
    assert_eq!(p.name, "srv");
    let _ = std::fs::remove_dir_all(dir);
}

/// Every profile shipped in `profiles/` parses.
#[test]
fn shipped_profiles_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("profiles/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            Profile::load(&path.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 1);
}

const SIO: &str = r#"
[socketio]
auth = '{"user":"{client}"}'
emit = [{ event = "join", args = '["{room}"]', ack = true }]
events = ["chat message"]
publish_event = "chat message"
publish_args = '[{"text":"{payload}"}]'
publish_id = "/0/id"
"#;

#[test]
fn socketio_section_serves_both_transports() {
    let p = Profile::parse(SIO, "chat.toml").expect("valid");
    assert_eq!(
        p.transports(),
        [Transport::SocketIo, Transport::SocketIoPolling]
    );
    assert_eq!(
        p.default_publish_via(),
        protocol::results::PublishVia::SocketIo
    );
    let s = p.socketio.as_ref().expect("section");
    assert_eq!(
        (s.path.as_str(), s.namespace.as_str()),
        ("/socket.io/", "/")
    );
    assert_eq!(s.message, ArgPointer::parse("/0").expect("ptr"));
    assert!(s.emits[0].ack && s.echo);
    let vars = Vars {
        room: "r1",
        client: "c3",
        ..Vars::default()
    };
    let sub = p.sub(Transport::SocketIoPolling).expect("sub");
    assert_eq!(sub.url.render(&vars), "/socket.io/?EIO=4&transport=polling");
    assert_eq!(s.emits[0].args.render(&vars), r#"["r1"]"#);
    // The built-in profile: rtbench's endpoint (docs/socketio.md).
    let b = Profile::builtin();
    let sub = b.sub(Transport::SocketIo).expect("socketio");
    assert_eq!(
        sub.url.render(&vars),
        "/socket.io/?EIO=4&transport=polling&room=r1"
    );
    let bs = b.socketio.as_ref().expect("section");
    assert_eq!(bs.lag_event.as_deref(), Some("lagged"));
    assert_eq!(
        bs.lag_cursor,
        Some(ArgPointer::parse("/0/cursor").expect("p"))
    );
}

#[test]
fn socketio_errors_name_field_and_line() {
    let e = err(&SIO.replace("/0/id", "id"));
    assert_eq!(
        (e.line, e.field.as_str()),
        (Some(8), "[socketio] publish_id")
    );
    assert!(e.why.contains("argument index"), "{e}");
    let e = err(&SIO.replace(r#"'[{"text":"{payload}"}]'"#, r#"'[{"text":"x"}]'"#));
    assert_eq!(e.field, "[socketio] publish_args");
    assert!(e.why.contains("{payload}"), "{e}");
    let e = err(&SIO.replace(r#"'["{room}"]'"#, r#"'"{room}"'"#));
    assert_eq!(
        (e.line, e.field.as_str()),
        (Some(4), "[socketio] emit args")
    );
    assert!(e.why.contains("JSON array"), "{e}");
    let e = err(&SIO.replace(r#"'{"user":"{client}"}'"#, r#"'{"user":"{pub}"}'"#));
    assert_eq!((e.line, e.field.as_str()), (Some(3), "[socketio] auth"));
    let e = err(&format!("{SIO}namespace = \"chat\"\n"));
    assert_eq!(
        (e.line, e.field.as_str()),
        (Some(9), "[socketio] namespace")
    );
    let e = err(&format!("{SIO}path = \"socket.io\"\n"));
    assert_eq!(e.field, "[socketio] path");
    let e = err(&format!("{SIO}query = \"room={{channel}}\"\n"));
    assert_eq!((e.line, e.field.as_str()), (Some(9), "[socketio] query"));
    let e = err(&format!(
        "{SIO}cursor = [{{ from = \"sse-id\", to = \"query:since\" }}]\n"
    ));
    assert_eq!((e.line, e.field.as_str()), (Some(9), "[socketio] cursor"));
    let e = err(&SIO.replace("publish_event = \"chat message\"\n", ""));
    assert_eq!(e.field, "[socketio] publish_event");
    let e = err(&format!("{SIO}lag_close = 4000\n"));
    assert_eq!(e.field, "TOML");
    // Without a way to publish at all.
    let e = err("[socketio]\nevents = [\"m\"]\n");
    assert_eq!(e.field, "[publish]");
}

#[test]
fn webtransport_section_serves_its_modes() {
    let p = Profile::builtin();
    let stream = p
        .sub(Transport::WebTransport)
        .and_then(Sub::wt)
        .expect("wt");
    let dgram = p
        .sub(Transport::WebTransportDatagram)
        .and_then(Sub::wt)
        .expect("wt datagram");
    assert_eq!(stream.mode, protocol::webtransport::Mode::Stream);
    assert_eq!(dgram.mode, protocol::webtransport::Mode::Datagram);
    assert_eq!(stream.framing, Framing::Newline);
    assert_eq!(stream.lag_close, Some(protocol::webtransport::CLOSE_LAGGED));
    assert!(
        stream
            .lag
            .as_ref()
            .is_some_and(|m| m.matches(br#"{"type":"lagged","cursor":"4"}"#))
    );
    assert!(p.webtransport_publish().is_some());
    let only_stream = r#"
[publish]
url = "/pub/{room}"
body = "{payload}"

[webtransport]
url = "/wt/{room}"
framing = "length"
"#;
    let q = Profile::parse(only_stream, "p.toml").expect("valid");
    assert_eq!(q.transports(), vec![Transport::WebTransport]);
    let wt = q
        .sub(Transport::WebTransport)
        .and_then(Sub::wt)
        .expect("wt");
    assert_eq!(wt.framing, Framing::Length);
    assert!(wt.mode_query.is_none() && wt.publish.is_none());
}

#[test]
fn webtransport_errors_name_field_and_line() {
    let base =
        "[publish]\nurl = \"/p\"\nbody = \"{payload}\"\n[webtransport]\nurl = \"/wt/{room}\"\n";
    let e = err(&format!("{base}framing = \"cbor\"\n"));
    assert_eq!(
        (e.field.as_str(), e.line),
        ("[webtransport] framing", Some(6))
    );
    let e = err(&format!("{base}modes = [\"stream\", \"carrier-pigeon\"]\n"));
    assert_eq!(e.field, "[webtransport] modes");
    let e = err(&format!("{base}publish_frame = '{{\"text\":\"hi\"}}'\n"));
    assert_eq!(e.field, "[webtransport] publish_frame");
    let e = err("[webtransport]\nmodes = [\"stream\"]\n");
    assert_eq!(e.field, "[webtransport] url");
}

#[test]
fn a_webtransport_only_profile_publishes_over_it() {
    let text = r#"
[webtransport]
url = "/wt/{room}"
publish_frame = '{"text":"{payload}"}'
publish_id = "/id"
"#;
    let p = Profile::parse(text, "p.toml").expect("valid");
    assert_eq!(
        p.default_publish_via(),
        protocol::results::PublishVia::WebTransport
    );
}
