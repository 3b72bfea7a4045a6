//! Rates that the gates judge must not jump when nothing changed. Short
//! polling is the hard case: counted by receive time, its deliveries per
//! second over a few seconds depended on how many polls fell inside the
//! window (a third up or down at 200 ms polls and a 3 s window). Counted by
//! publish time (messages whose intended send time is in the window,
//! delivered by the end of the drain, per second of window) it is the
//! published rate times the subscribers whenever nothing is lost.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn short_poll_deliveries_per_sec_is_exact_when_nothing_is_lost() {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rates-short-poll");
    let _ = std::fs::remove_dir_all(&out);
    let o = Command::new(env!("CARGO_BIN_EXE_rtbench"))
        .args([
            "bench",
            "--transports",
            "short-poll",
            "--poll-interval",
            "200ms",
            "--clients",
            "20",
            "--rate",
            "20",
            "--duration",
            "3s",
            "--warmup",
            "500ms",
            "--drain",
            "1s",
            "--seed",
            "3",
            "--repeat",
            "2",
            "--quiet",
            "--out",
        ])
        .arg(&out)
        .output()
        .expect("run rtbench");
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let mut seen = 0;
    for entry in std::fs::read_dir(out.join("results")).expect("results") {
        let path = entry.expect("entry").path();
        let file: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        let t = &file["transports"][0];
        let counts = &t["counts"];
        assert_eq!(counts["lost"], 0, "{}", path.display());
        let published = counts["published"].as_f64().expect("published");
        assert_eq!(published, 60.0, "20 msg/s over 3 s: {}", path.display());
        // 60 messages × 20 subscribers over the 3 s window.
        assert_eq!(
            t["rates"]["deliveries_per_sec"].as_f64(),
            Some(400.0),
            "{}",
            path.display()
        );
        seen += 1;
    }
    assert_eq!(seen, 2, "two repeats");
}
