//! Any address is a target: a run against another loopback address and
//! against IPv6 loopback, whose summary names the address it reached. Host
//! names are covered by parsing (`target.rs`) and never looked up here.

use protocol::Transport;
use std::time::Duration;
use testkit::TestServer;
use testkit::load::{run_bounded, small_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_against_127_0_0_2_and_ipv6_loopback_name_the_address() {
    for bind in ["127.0.0.2:0", "[::1]:0"] {
        let mut server =
            TestServer::at(bind.parse().expect("addr"), server::Config::default()).await;
        let url = format!("http://{}", server.addr);
        let mut cfg = small_config(&url, Transport::Ws);
        cfg.clients = 5;
        cfg.duration = Duration::from_secs(1);
        let results = run_bounded(cfg, Duration::from_secs(30)).await;
        server.shutdown().await;
        let file = &results.file;
        let c = &file.transports[0].counts;
        assert!(c.published > 0, "{bind}: {c:?}");
        assert_eq!(c.delivered, c.expected, "{bind}: {c:?}");
        assert_eq!(file.target, url);
        assert_eq!(file.target_addrs, [server.addr.to_string()]);
        let mut summary = Vec::new();
        loadgen::print_summary(file, &mut summary).expect("summary");
        let summary = String::from_utf8(summary).expect("utf-8");
        let header = format!("rtbench load -> {url} ({})", server.addr);
        assert!(summary.contains(&header), "{header} in\n{summary}");
    }
}
