use super::*;

#[test]
fn validation() {
    let mut c = Config::new("http://127.0.0.1:1", Transport::Ws).expect("config");
    assert_eq!(c.validate(), Ok(()));
    c.rooms = 200;
    assert_eq!(c.validate().map_err(|e| e.flag()), Err("--rooms"));
    c.rooms = 1;
    c.clients = 60_000;
    assert_eq!(c.validate().map_err(|e| e.flag()), Err("--source-ips"));
    c.source_ips = crate::parse::source_ips("127.0.0.1-127.0.0.4").expect("ips");
    assert_eq!(c.validate(), Ok(()));
}

/// WebTransport is TLS whatever the target's scheme; a pin is checked
/// before anything connects.
#[test]
fn webtransport_trust_flags() {
    let mut c = Config::new("http://127.0.0.1:1", Transport::Ws).expect("config");
    c.tls.cert_hash = Some("ab".repeat(32));
    assert_eq!(c.validate().map_err(|e| e.flag()), Err("--cert-hash"));
    c.transport = Transport::WebTransport;
    assert_eq!(c.validate(), Ok(()));
    c.tls.cert_hash = Some("abc".into());
    assert_eq!(c.validate().map_err(|e| e.flag()), Err("--cert-hash"));
    c.tls.cert_hash = None;
    c.tls.insecure = true;
    assert_eq!(c.validate(), Ok(()));
}

#[test]
fn a_network_run_must_cross_the_link() {
    let mut c = Config::new("http://127.0.0.1:1", Transport::Ws).expect("config");
    c.network = Some("lte".parse().expect("preset"));
    let e = c.validate().expect_err("loopback with a network");
    assert_eq!(e.flag(), "--target");
    assert!(
        e.to_string().contains("--server-cmd"),
        "says what to do: {e}"
    );
    c.targets = vec![Target::parse("http://198.18.0.2:8080").expect("link")];
    assert_eq!(c.validate(), Ok(()));
    c.source_ips = crate::parse::source_ips("127.0.0.1-127.0.0.2").expect("ips");
    let e = c.validate().expect_err("source addresses on the link");
    assert_eq!(e.flag(), "--source-ips");
    assert!(e.to_string().contains("not supported yet"), "{e}");
}
