use super::*;

fn parse(text: &str) -> NetworkSpec {
    text.parse().expect(text)
}

fn err(text: &str) -> SpecError {
    text.parse::<NetworkSpec>().expect_err(text)
}

#[test]
fn keys_parse_into_fields() {
    let spec = parse("rtt=80ms,jitter=10ms,loss=1%,down=12mbit,up=5mbit");
    assert_eq!(spec.rtt, Duration::from_millis(80));
    assert_eq!(spec.jitter, Duration::from_millis(10));
    assert_eq!(spec.loss_percent, 1.0);
    assert_eq!(spec.down, Some(Rate(12_000_000)));
    assert_eq!(spec.up, Some(Rate(5_000_000)));
    assert_eq!(spec.preset(), None);
    let spec = parse("loss=5%,burst=4,queue=64kb,idle-timeout=60s,reorder,down=1mbit");
    assert_eq!(spec.burst, Some(4.0));
    assert_eq!(spec.queue, Some(QueueLimit::Bytes(64_000)));
    assert_eq!(spec.idle_timeout, Some(Duration::from_secs(60)));
    assert!(spec.reorder);
    assert_eq!(
        parse("down=1mbit,queue=100ms").queue,
        Some(QueueLimit::Time(Duration::from_millis(100)))
    );
}

#[test]
fn display_round_trips() {
    for text in [
        "none",
        "rtt=80ms,jitter=10ms,loss=1%,down=12mbit,up=5mbit",
        "rtt=1ms500us,loss=0.25%,burst=2.5,down=500kbit,queue=100kB,idle-timeout=1m,reorder",
        "lte",
        "lte,loss=2%",
        "lte,rtt=0s,down=none,reorder",
        "satellite,jitter=5ms",
        "up=1gbit,queue=20ms",
    ] {
        let spec = parse(text);
        assert_eq!(spec.to_string(), text, "canonical form of {text}");
        assert_eq!(parse(&spec.to_string()), spec);
    }
    // Non-canonical input prints canonically and still round-trips.
    assert_eq!(
        err("up=5mbit,lte"),
        SpecError::PresetNotFirst { name: "lte".into() }
    );
    assert_eq!(
        parse(" down=1.5mbit , rtt=0.08s").to_string(),
        "rtt=80ms,down=1500kbit"
    );
    // Durations print as everywhere in rtbench (`1m30s`, `1ms500us`).
    let spec = parse("rtt=1500us,idle-timeout=60s,down=1mbit,queue=1500ms");
    assert_eq!(
        spec.to_string(),
        "rtt=1ms500us,down=1mbit,queue=1s500ms,idle-timeout=1m"
    );
    assert_eq!(parse(&spec.to_string()), spec);
}

#[test]
fn presets_take_overrides() {
    let spec = parse("lte,loss=2%");
    assert_eq!(spec.preset(), Some("lte"));
    assert_eq!(spec.loss_percent, 2.0);
    assert_eq!(spec.rtt, Duration::from_millis(60));
    assert_eq!(spec.down, Some(Rate(9_000_000)));
    // An override equal to the preset's own value disappears from the canonical form.
    assert_eq!(parse("lte,rtt=60ms").to_string(), "lte");
}

#[test]
fn serde_uses_the_string_form() {
    let spec = parse("lte,loss=2%");
    let json = serde_json::to_string(&spec).expect("serialize");
    assert_eq!(json, "\"lte,loss=2%\"");
    let back: NetworkSpec = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, spec);
    let bad = serde_json::from_str::<NetworkSpec>("\"rtt=fast\"").expect_err("bad spec");
    assert!(bad.to_string().contains("rtt=fast"), "{bad}");
}

#[test]
fn errors_name_the_key_and_the_accepted_forms() {
    let e = err("rtt=80");
    assert!(matches!(e, SpecError::BadValue { key: "rtt", .. }), "{e:?}");
    assert!(e.to_string().contains("`80ms`"), "{e}");
    assert!(err("loss=1").to_string().contains("`1%`"));
    assert!(err("down=12mbps").to_string().contains("`12mbit`"));
    assert!(err("down=1mbit,queue=lots").to_string().contains("`64kB`"));
    assert!(err("loss=1%,burst=0.5").to_string().contains("at least 1"));
    let e = err("latency=5ms");
    assert!(e.to_string().contains("the keys are rtt, jitter"), "{e}");
    let e = err("5g");
    assert!(
        e.to_string().contains("lte") && e.to_string().contains("satellite"),
        "{e}"
    );
    assert_eq!(err("rtt=1ms,rtt=2ms"), SpecError::Duplicate { key: "rtt" });
    assert!(matches!(err(""), SpecError::Empty { .. }));
    assert!(matches!(err("burst=3"), SpecError::Inconsistent(_)));
    assert!(matches!(err("queue=64kb"), SpecError::Inconsistent(_)));
    assert!(matches!(
        err("loss=60%,burst=1"),
        SpecError::Inconsistent(_)
    ));
    assert!(matches!(err("idle-timeout=0s"), SpecError::BadValue { .. }));
}

#[test]
fn directions_split_the_rtt_and_take_their_own_rate() {
    let spec = parse("rtt=81ns,down=10mbit,up=2mbit,loss=1%");
    let up = spec.direction(Direction::Up);
    let down = spec.direction(Direction::Down);
    assert_eq!(up.delay + down.delay, Duration::from_nanos(81));
    assert_eq!(up.rate, Some(Rate(2_000_000)));
    assert_eq!(down.rate, Some(Rate(10_000_000)));
    assert!((up.loss - 0.01).abs() < 1e-12);
    // Default queue: 100 ms at the rate (the RTT is shorter).
    assert_eq!(down.queue_bytes, Some(125_000));
    assert_eq!(
        parse("rtt=400ms,down=1mbit")
            .direction(Direction::Down)
            .queue_bytes,
        Some(50_000)
    );
    assert_eq!(
        parse("down=1mbit,queue=10kB")
            .direction(Direction::Down)
            .queue_bytes,
        Some(10_000)
    );
    assert_eq!(
        parse("down=1mbit").direction(Direction::Up).queue_bytes,
        None
    );
    assert!(parse("none").is_transparent());
    assert!(!parse("rtt=1ms").is_transparent());
}

#[test]
fn gilbert_elliott_keeps_the_long_run_loss_rate() {
    let (p, r) = gilbert_elliott(0.05, Some(4.0)).expect("bursty");
    assert!((r - 0.25).abs() < 1e-12);
    assert!((p / (p + r) - 0.05).abs() < 1e-12);
    assert_eq!(gilbert_elliott(0.05, None), None);
}
