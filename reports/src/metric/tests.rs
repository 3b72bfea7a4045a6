use super::*;

#[test]
fn names_are_unique_and_aliases_resolve() {
    for (i, m) in METRICS.iter().enumerate() {
        assert!(METRICS[..i].iter().all(|o| o.name != m.name), "{}", m.name);
    }
    for (alias, full) in ALIASES {
        assert_eq!(lookup(alias).map(|m| m.name), Some(*full));
    }
    assert_eq!(lookup("P99").map(|m| m.name), Some("latency.p99"));
    assert!(lookup("latency.p42").is_none());
    for (k6, ours) in [
        ("p(95)", "latency.p95"),
        ("P(99)", "latency.p99"),
        ("p(50)", "latency.p50"),
        ("p(99.9)", "latency.p999"),
        ("latency.p(95)", "latency.p95"),
        ("latency.p(99.9)", "latency.p999"),
        ("connect_time.p(95)", "connect_time.p95"),
    ] {
        assert_eq!(lookup(k6).map(|m| m.name), Some(ours), "{k6}");
    }
    assert!(lookup("p(42)").is_none());
    for line in names_help().lines() {
        assert!(line.chars().count() <= 100, "{line}");
    }
}

#[test]
fn units() {
    let p = |k: Kind, s: &str| k.parse_value(s);
    assert_eq!(p(Kind::Latency, "25ms"), Ok(25_000.0));
    assert_eq!(p(Kind::Latency, "25"), Ok(25_000.0));
    assert_eq!(p(Kind::Latency, "500us"), Ok(500.0));
    assert_eq!(p(Kind::Latency, "500 µs"), Ok(500.0));
    assert_eq!(p(Kind::Latency, "1.5s"), Ok(1_500_000.0));
    assert_eq!(p(Kind::Ratio, "5%"), Ok(0.05));
    assert_eq!(p(Kind::Ratio, "0.5"), Ok(0.5));
    assert!(p(Kind::Ratio, "50").is_err());
    assert_eq!(p(Kind::Bytes, "1.5KiB"), Ok(1536.0));
    assert_eq!(p(Kind::Bytes, "2k"), Ok(2048.0));
    assert_eq!(p(Kind::Bytes, "900B"), Ok(900.0));
    assert_eq!(p(Kind::Count, "1k"), Ok(1000.0));
    assert_eq!(p(Kind::Seconds, "10ms"), Ok(0.01));
    assert_eq!(p(Kind::Rate, "1.2k/s"), Ok(1200.0));
    assert!(p(Kind::Count, "5ms").is_err());
    assert!(p(Kind::Latency, "fast").is_err());
    assert!(p(Kind::Latency, "-1ms").is_err());
    assert_eq!(Kind::Latency.show(1500.0), "1.50 ms");
    assert_eq!(Kind::Latency.show_delta(-250.0), "-0.250 ms");
    assert_eq!(Kind::Ratio.show_delta(0.05), "+5 pp");
    assert_eq!(p(Kind::Energy, "1.5kJ"), Ok(1500.0));
    assert_eq!(p(Kind::Energy, "900"), Ok(900.0));
    assert_eq!(p(Kind::Energy, "900J"), Ok(900.0));
    assert!(p(Kind::Energy, "900W").is_err());
    assert_eq!(Kind::Energy.show(4210.0), "4.21 kJ");
    assert_eq!(Kind::Energy.show(912.0), "912 J");
}
