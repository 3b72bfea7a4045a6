//! The flags load-testing users bring from k6 and oha: short flags, `-o`
//! and `--format json` on every command that prints a result, and the old
//! spellings (`--out`, `--json`, `--format table`) still working.

use std::process::Output;
use testkit::child::stderr;

fn rtbench(args: &[&str]) -> Output {
    testkit::rtbench!().run(args)
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is one JSON document ({e}):\n{}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}

#[test]
fn short_flags_and_json_on_load_report_and_compare() {
    let server = testkit::rtbench!().server(&[], None);
    let dir = std::env::temp_dir().join(format!("rtbench-flags-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("r.json");
    let file = file.to_str().expect("utf-8 path");
    let o = rtbench(&[
        "load",
        "--target",
        &server.url,
        "--transport",
        "ws",
        "-c",
        "4",
        "-d",
        "1s",
        "-r",
        "600/m",
        "--warmup",
        "200ms",
        "--ramp-up",
        "1s",
        "--quiet",
        "-o",
        file,
        "--format",
        "json",
        "--threshold",
        "ws.errors==0",
    ]);
    let check = rtbench(&[
        "profile",
        "check",
        "rtbench",
        "--target",
        &server.url,
        "--transports",
        "ws",
        "--format",
        "json",
        "--quiet",
    ]);
    drop(server);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(check.status.success(), "{}", stderr(&check));
    let check = json(&check);
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(check["transports"][0]["transport"], "ws", "{check}");
    assert!(
        check["transports"][0]["trace"].is_null(),
        "--quiet: no trace"
    );
    // The summary is the figures `report --format json` gives for the file;
    // the threshold's verdict goes to stderr so stdout stays one document.
    let load = json(&o);
    assert!(stderr(&o).contains("ws.errors==0"), "{}", stderr(&o));
    let group = &load["groups"][0];
    assert_eq!(group["scenario"]["clients"], 4, "{group}");
    assert_eq!(group["scenario"]["ramp_up_per_sec"], 4.0, "{group}");
    assert_eq!(group["transports"][0]["transport"], "ws", "{group}");
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(file).expect("-o wrote the file")).expect("json");
    assert_eq!(
        written["scenario"]["rate_per_sec"], 10.0,
        "600/m is 10 per second"
    );

    let out = dir.join("report").display().to_string();
    let report = rtbench(&["report", file, "-o", &out, "--format", "json"]);
    assert!(report.status.success(), "{}", stderr(&report));
    assert_eq!(
        json(&report)["groups"],
        load["groups"],
        "load's JSON = report's"
    );
    let old = rtbench(&["report", file, "--out", &out, "--format", "table"]);
    assert!(old.status.success(), "old spellings: {}", stderr(&old));

    let cmp = dir.join("compare.json").display().to_string();
    let new = rtbench(&["compare", file, file, "--format", "json", "-o", &cmp]);
    let old = rtbench(&["compare", file, file, "--json"]);
    assert!(new.status.success(), "{}", stderr(&new));
    assert_eq!(json(&new), json(&old), "--json is --format json");
    assert_eq!(
        std::fs::read(&cmp).expect("-o"),
        new.stdout,
        "-o holds the same"
    );
    let both = rtbench(&["compare", file, file, "--json", "--format", "text"]);
    assert_eq!(both.status.code(), Some(2), "{}", stderr(&both));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn short_flags_do_not_clash_with_help_and_version() {
    for cmd in ["load", "bench", "report", "compare"] {
        let o = rtbench(&[cmd, "-h"]);
        assert!(o.status.success(), "{cmd} -h: {}", stderr(&o));
        let help = String::from_utf8_lossy(&o.stdout);
        assert!(help.contains("-o, --output"), "{cmd}: {help}");
        assert!(help.contains("--format"), "{cmd}: {help}");
    }
    let o = rtbench(&["-V"]);
    assert!(o.status.success(), "{}", stderr(&o));
}
