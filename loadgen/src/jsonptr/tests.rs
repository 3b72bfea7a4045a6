use super::*;
use crate::rng::SplitMix64;

fn s(ptr: &str, json: &str) -> Option<String> {
    Pointer::parse(ptr)
        .expect("pointer")
        .find_str(json.as_bytes())
        .expect("json")
        .map(Cow::into_owned)
}

#[test]
fn resolves_paths() {
    let doc = r#"{"a":{"b/c":[1,{"id":"x\"y"}],"n":7,"t":true},"cursor":"42","z":null}"#;
    assert_eq!(s("/cursor", doc), Some("42".into()));
    assert_eq!(s("/a/n", doc), Some("7".into()));
    assert_eq!(s("/a/t", doc), Some("true".into()));
    assert_eq!(s("/a/b~1c/1/id", doc), Some("x\"y".into()));
    assert_eq!(s("/a/b~1c/0", doc), Some("1".into()));
    assert_eq!(s("/a/b~1c/5", doc), None);
    assert_eq!(s("/a/b~1c/00", doc), None, "no leading zeros in an index");
    assert_eq!(s("/a/b~1c/+1", doc), None);
    assert_eq!(s("/z", doc), None);
    assert_eq!(s("/k", r#"{"k":"first","k":"last"}"#), Some("last".into()));
    assert_eq!(s("/a", doc), None, "containers have no text");
    assert_eq!(s("/missing/deeper", doc), None);
    assert_eq!(s("/cursor/x", doc), None);
    let p = Pointer::parse("").expect("root");
    assert!(p.is_root());
    assert_eq!(p.find(b" [1, 2] ").expect("json"), Some("[1, 2]"));
}

#[test]
fn arrays_and_truth() {
    let doc = br#"{"messages":[{"id":1},"two",3],"gap":true}"#;
    let list = Pointer::parse("/messages")
        .expect("p")
        .find(doc)
        .expect("json")
        .expect("found");
    let items = array_items(list).expect("array");
    assert_eq!(items, [r#"{"id":1}"#, r#""two""#, "3"]);
    assert_eq!(
        array_items(" [ 1 ,\n[ ] , {} ] "),
        Some(vec!["1", "[ ]", "{}"])
    );
    assert_eq!(array_items("[]"), Some(vec![]));
    for not in ["{}", "[1,]", "[1", "", "1", "[1] x"] {
        assert_eq!(array_items(not), None, "{not}");
    }
    let gap = Pointer::parse("/gap").expect("p").find(doc).expect("json");
    assert!(gap.is_some_and(truthy));
}

#[test]
fn errors() {
    assert!(Pointer::parse("messages").is_err());
    let p = Pointer::parse("/a").expect("p");
    assert!(p.find(b"{\"a\":").is_err());
    assert!(p.find(b"{} trailing").is_err());
    assert!(p.find(b"not json").is_err());
}

#[test]
fn scalar_text_borrows_plain_strings_only() {
    assert!(matches!(scalar_text(r#""42""#), Some(Cow::Borrowed("42"))));
    assert!(matches!(scalar_text(r#""""#), Some(Cow::Borrowed(""))));
    assert_eq!(scalar_text(r#""4\u0032""#).as_deref(), Some("42"));
    assert_eq!(scalar_text(r#""a\"b""#).as_deref(), Some("a\"b"));
    for none in [
        r#"""#,
        "\"a\u{1}\"",
        r#""a"b""#,
        r#""\q""#,
        "null",
        "{}",
        "[1]",
    ] {
        assert_eq!(scalar_text(none), None, "{none:?}");
    }
    assert_eq!(scalar_text("-1.5e3").as_deref(), Some("-1.5e3"));
}

/// `find` gives serde_json's answer, or its error, for `doc`; `fast`
/// says whether the scanner must have answered it itself.
fn agree(ptr: &str, doc: &[u8], fast: bool) {
    let p = Pointer::parse(ptr).expect("pointer");
    let mine = p.find(doc);
    let theirs = p.find_serde(doc);
    let show = String::from_utf8_lossy(doc);
    match (&mine, &theirs) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{ptr} in {show}"),
        (Err(_), Err(_)) => {}
        _ => panic!("{ptr} in {show}: fast {mine:?}, serde_json {theirs:?}"),
    }
    assert_eq!(
        scan::find(doc, &p.segments).is_ok(),
        fast,
        "{ptr} in {show}: did the scanner answer?"
    );
}

#[test]
fn scanner_answers_the_common_shapes() {
    let msg = r#"{"id":"123","room":"r1","kind":"message","user":"p0","text":"rtb1:67617465:0:21:99:xxxx","ts_us":1700000000000000,"sent_us":99}"#;
    for (ptr, doc) in [
        ("/id", msg),
        ("/type", msg),
        ("/text", msg),
        ("/ts_us", msg),
        // Fields in another order, the wanted one last.
        ("/id", r#"{"text":"a","n":-0.5e+3,"id":7}"#),
        // Nested objects with the same key: only the top level counts.
        ("/id", r#"{"d":{"id":"inner"},"id":"outer"}"#),
        ("/id", r#"{"d":{"id":"inner"}}"#),
        ("/d/id", r#"{"d":{"id":"inner"},"id":"outer"}"#),
        // Escaped quotes, backslashes and \u in values it skips.
        (
            "/id",
            r#"{"t":"say \"hi\" \\ \/ \b\f\n\r\t \u00e9\uD800","id":"9"}"#,
        ),
        ("/id", r#"{"t":"a\"","id":"\"x"}"#),
        // Repeated keys: the last wins.
        ("/id", r#"{"id":"1","id":"2"}"#),
        ("/id", r#"{"id":"1","id":{"x":1}}"#),
        ("/a/b", r#"{"a":{"b":1},"a":{"c":2}}"#),
        // Missing fields, other types, arrays.
        ("/id", "{}"),
        ("/id", r#"{"ids":1,"i":2}"#),
        ("/id", "[1,2]"),
        ("/id", "\"text\""),
        ("/id", "true"),
        ("/id", "null"),
        ("/id", r#"{"id":null}"#),
        ("/id", r#"{"id":[1,{"a":[]}]}"#),
        ("/0/id", r#"[{"id":1},{"id":2}]"#),
        ("/1", r#"[{"id":1},{"id":2}]"#),
        ("/2", "[1,2]"),
        ("/01", "[1,2]"),
        ("/-", "[1,2]"),
        ("/", r#"{"":5}"#),
        ("", " \t\r\n{\"a\" : [ 1 , 2 ] } \n"),
        // Text beyond ASCII in a valid document.
        ("/id", "{\"t\":\"h\u{e9}llo \u{1f600}\",\"id\":\"\u{e9}\"}"),
    ] {
        agree(ptr, doc.as_bytes(), true);
    }
}

#[test]
fn scanner_gives_up_where_serde_json_decides() {
    let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
    let deep_obj = format!("{}{}", r#"{"a":"#.repeat(70), "}".repeat(70));
    for (ptr, doc) in [
        // Not JSON, or broken JSON.
        ("/id", &b"hello"[..]),
        ("/id", b""),
        ("/id", b"   "),
        ("/id", b"{"),
        ("/id", br#"{"id":1,}"#),
        ("/id", br#"{"id":1"#),
        ("/id", br#"{"id" 1}"#),
        ("/id", br#"{id:1}"#),
        ("/id", br#"{"a":[1,]}"#),
        ("/id", br#"{"id":01}"#),
        ("/id", br#"{"id":1.}"#),
        ("/id", br#"{"id":1e}"#),
        ("/id", br#"{"id":-}"#),
        ("/id", br#"{"id":.5}"#),
        ("/id", br#"{"id":tru}"#),
        ("/id", br#"{"id":1} x"#),
        ("/id", br#"{"id":1}{}"#),
        ("/id", b"{\"id\":\"a\x01b\"}"),
        ("/id", b"{\"t\":\"a\tb\",\"id\":1}"),
        ("/id", br#"{"t":"\q","id":1}"#),
        ("/id", br#"{"t":"\u12","id":1}"#),
        ("/id", br#"{"t":"\u12G4","id":1}"#),
        ("/id", b"{\"t\":\"\xff\",\"id\":\"1\"}"),
        ("/id", b"{\"t\":\"\xc3\",\"id\":\"1\"}"),
        ("/id", b"\xef\xbb\xbf{\"id\":1}"),
        ("/id", b"{\"id\":\"1\"\xc3\xa9}"),
        // An escaped key on the path: serde_json unescapes it and matches.
        ("/id", br#"{"i\u0064":"x"}"#),
        ("/id", br#"{"\"id":"x","id":"y"}"#),
        // Escapes serde_json checks strictly where it parses a string.
        ("/id/x", br#"{"id":"\uD800"}"#),
        // Numbers on the path: serde_json converts them.
        ("/a/b", br#"{"a":1e999}"#),
        ("/a/b", br#"{"a":1}"#),
        ("/a/0", b"-5"),
        // Deep nesting.
        ("/a", deep.as_bytes()),
        ("/0/0/0", deep.as_bytes()),
        ("/a/a/a", deep_obj.as_bytes()),
    ] {
        agree(ptr, doc, false);
    }
}

/// Every position of a character that needs attention, against every
/// alignment of the eight-byte skipping.
#[test]
fn scanner_finds_specials_at_any_offset() {
    let specials: [&[u8]; 7] = [
        b"\\\"",
        b"\\\\",
        b"\\u0041",
        b"\x01",
        b"\x1f",
        b"\xc3\xa9",
        b"\x7f",
    ];
    for len in 0..20 {
        for at in 0..=len {
            for sp in specials {
                let mut text = vec![b'a'; len];
                text.splice(at..at, sp.iter().copied());
                let mut doc = br#"{"t":""#.to_vec();
                doc.extend_from_slice(&text);
                doc.extend_from_slice(br#"","id":"z"}"#);
                let ok = !matches!(sp, b"\x01" | b"\x1f");
                agree("/id", &doc, ok);
                agree("/t", &doc, ok);
            }
        }
    }
}

/// Random documents and random damage: the fast path and serde_json
/// never disagree.
#[test]
fn scanner_agrees_with_serde_json_on_random_documents() {
    let mut rng = SplitMix64::new(7);
    let ptrs = ["/id", "/a", "/a/b", "/0", "/1/id", "", "/a/0/b"];
    let (mut fast, mut found) = (0, 0);
    for round in 0..4000 {
        let mut doc = Vec::new();
        random_value(&mut rng, 0, &mut doc);
        if round % 2 == 1 {
            damage(&mut rng, &mut doc);
        }
        for ptr in ptrs {
            let p = Pointer::parse(ptr).expect("pointer");
            let (mine, theirs) = (p.find(&doc), p.find_serde(&doc));
            assert_eq!(
                mine.as_ref().ok(),
                theirs.as_ref().ok(),
                "{ptr} in {:?}",
                String::from_utf8_lossy(&doc)
            );
            assert_eq!(mine.is_err(), theirs.is_err());
            fast += usize::from(scan::find(&doc, &p.segments).is_ok());
            found += usize::from(matches!(mine, Ok(Some(_))));
        }
        if let Ok(text) = std::str::from_utf8(&doc) {
            let slow = serde_json::from_str::<Vec<&RawValue>>(text)
                .ok()
                .map(|v| v.into_iter().map(RawValue::get).collect::<Vec<_>>());
            assert_eq!(array_items(text), slow, "{text}");
        }
    }
    // Not vacuous: most documents are the scanner's, many pointers hit.
    assert!(fast > 4000 * ptrs.len() / 3, "scanner answered {fast}");
    assert!(found > 2000, "found {found}");
}

fn random_value(rng: &mut SplitMix64, depth: u32, out: &mut Vec<u8>) {
    const KEYS: [&str; 5] = ["id", "a", "b", "0", "i\\u0064"];
    const SCALARS: [&str; 12] = [
        "1",
        "-0.5e+3",
        "0",
        "true",
        "false",
        "null",
        "\"x\"",
        "\"a\\\"b\"",
        "\"\"",
        "\"\\u00e9\"",
        "\"h\u{e9}\"",
        "12345678901234567890123",
    ];
    let pick = |rng: &mut SplitMix64, n: usize| (rng.next_u64() % n as u64) as usize;
    let ws = |rng: &mut SplitMix64, out: &mut Vec<u8>| {
        if rng.next_u64().is_multiple_of(4) {
            out.extend_from_slice(b" \n");
        }
    };
    ws(rng, out);
    match if depth > 3 { 2 } else { pick(rng, 3) } {
        0 => {
            out.push(b'{');
            for i in 0..pick(rng, 4) {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(format!("\"{}\"", KEYS[pick(rng, KEYS.len())]).as_bytes());
                ws(rng, out);
                out.push(b':');
                random_value(rng, depth + 1, out);
            }
            out.push(b'}');
        }
        1 => {
            out.push(b'[');
            for i in 0..pick(rng, 4) {
                if i > 0 {
                    out.push(b',');
                }
                random_value(rng, depth + 1, out);
            }
            out.push(b']');
        }
        _ => out.extend_from_slice(SCALARS[pick(rng, SCALARS.len())].as_bytes()),
    }
    ws(rng, out);
}

fn damage(rng: &mut SplitMix64, doc: &mut Vec<u8>) {
    const BITS: [&[u8]; 10] = [
        b"\"", b",", b"}", b"]", b"\\", b"\x01", b"\xff", b"e", b"0", b":",
    ];
    let at = (rng.next_u64() % (doc.len() as u64 + 1)) as usize;
    match rng.next_u64() % 3 {
        0 if at < doc.len() => {
            doc.remove(at);
        }
        _ => {
            let bit = BITS[(rng.next_u64() % BITS.len() as u64) as usize];
            doc.splice(at..at, bit.iter().copied());
        }
    }
}
