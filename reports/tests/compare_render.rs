//! The four renderings of `compare` (terminal table, Markdown for a PR
//! comment, JUnit XML, JSON for scripts) on the committed repeat sets.

#[path = "support/compare.rs"]
mod support;

use reports::compare::{Verdict, print_table, to_json, to_junit, to_markdown};
use support::run;

#[test]
fn terminal_table() {
    let r = run("baseline", "regressed");
    let mut buf = Vec::new();
    print_table(&r, &mut buf).expect("print");
    let text = String::from_utf8(buf).expect("utf8");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("rtbench compare: REGRESSION"),
        "{text}"
    );
    let header = lines
        .iter()
        .position(|l| l.starts_with("transport"))
        .expect("header");
    for col in ["metric", "baseline", "current", "change", "gate", "verdict"] {
        assert!(lines[header].contains(col), "{text}");
    }
    let p99 = lines
        .iter()
        .find(|l| l.starts_with("ws") && l.contains("latency.p99"))
        .expect("row");
    assert!(p99.ends_with("REGRESSION"), "{p99}");
    assert!(p99.contains(" ms ["), "median [min–max]: {p99}");
    // Aligned: the verdict column starts at the same place on every row.
    let at = lines[header].find("verdict").expect("verdict column");
    for l in &lines[header + 1..header + 17] {
        let prefix: String = l
            .chars()
            .take(lines[header][..at].chars().count())
            .collect();
        assert!(prefix.ends_with("  "), "{l:?}");
    }
}

#[test]
fn markdown_is_a_pr_comment() {
    let md = to_markdown(&run("baseline", "regressed"));
    let first = md.lines().next().expect("header");
    assert!(
        first.starts_with("### ❌ rtbench compare: REGRESSION"),
        "{first}"
    );
    assert!(
        md.contains("| transport | metric | baseline | current | change | gate | verdict |"),
        "{md}"
    );
    let p99 = md
        .lines()
        .find(|l| l.starts_with("| ws | `latency.p99`"))
        .expect("row");
    assert!(p99.ends_with("| ❌ regression |"), "{p99}");
    assert!(md.contains("| ✅ pass |"));
    assert!(md.contains("Mann–Whitney"));
    // Every table row has the same number of cells.
    let cells: Vec<usize> = md
        .lines()
        .filter(|l| l.starts_with('|'))
        .map(|l| l.replace("\\|", "").matches('|').count())
        .collect();
    assert!(
        cells.len() == 18 && cells.iter().all(|&n| n == 8),
        "{cells:?}"
    );

    let md = to_markdown(&run("baseline", "noisy"));
    assert!(md.starts_with("### ✅ rtbench compare: pass"), "{md}");
    assert!(md.contains("⚠️ within noise"));
    let mut r = run("baseline", "lossy");
    r.current.label = Some("pr|42 <b>".into());
    let md = to_markdown(&r);
    assert!(md.contains("pr\\|42 &lt;b&gt;"), "escaped: {md}");
    assert!(md.contains("- ⚠️ sse is only in the baseline"), "{md}");
}

/// Checks that tags nest and close, attributes are quoted, and no raw `&`
/// or `<` is left in text: well-formed enough for a JUnit reader.
fn assert_well_formed(xml: &str) -> Vec<String> {
    let body = xml
        .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
        .expect("declaration");
    let mut stack: Vec<String> = Vec::new();
    let mut opened = Vec::new();
    let mut rest = body;
    while let Some(lt) = rest.find('<') {
        let text = &rest[..lt];
        assert!(!text.contains('>'), "raw > in text: {text}");
        for (i, _) in text.match_indices('&') {
            let ent = &text[i..];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                    .iter()
                    .any(|e| ent.starts_with(e)),
                "raw &: {text}"
            );
        }
        let gt = rest[lt..].find('>').expect("tag closes") + lt;
        let tag = &rest[lt + 1..gt];
        assert!(!tag.contains('<'), "< inside a tag: {tag}");
        assert_eq!(tag.matches('"').count() % 2, 0, "unbalanced quotes: {tag}");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "closing {name}");
        } else {
            let name = tag.split([' ', '/']).next().expect("name").to_string();
            opened.push(name.clone());
            if !tag.ends_with('/') {
                stack.push(name);
            }
        }
        rest = &rest[gt + 1..];
    }
    assert!(rest.trim().is_empty());
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    opened
}

#[test]
fn junit_has_one_testcase_per_gate_and_fails_only_regressions() {
    let r = run("baseline", "regressed");
    let xml = to_junit(&r);
    let tags = assert_well_formed(&xml);
    assert_eq!(tags.iter().filter(|t| *t == "testsuite").count(), 1);
    assert!(
        xml.contains("<testsuite name=\"rtbench compare\" tests=\"16\" failures=\"2\""),
        "{xml}"
    );
    assert_eq!(
        tags.iter().filter(|t| *t == "testcase").count(),
        r.rows.len()
    );
    assert_eq!(tags.iter().filter(|t| *t == "failure").count(), 2);
    assert!(
        xml.contains("<testcase classname=\"ws\" name=\"latency.p99 +25%\""),
        "{xml}"
    );
    let failing = xml
        .split("<testcase")
        .filter(|c| c.contains("<failure"))
        .count();
    assert_eq!(failing, r.with_verdict(Verdict::Regression).count());

    let xml = to_junit(&run("baseline", "same"));
    assert_well_formed(&xml);
    assert!(!xml.contains("<failure"));

    // File-borne text is escaped.
    let mut r = run("baseline", "noisy");
    r.rows[0].transport = "a<b&\"c'".into();
    r.notes.push("x]]>y & z".into());
    let xml = to_junit(&r);
    assert_well_formed(&xml);
    assert!(
        xml.contains("classname=\"a&lt;b&amp;&quot;c&apos;\""),
        "{xml}"
    );
    assert!(
        xml.contains("<system-out>within noise: "),
        "noise is reported, not failed"
    );
}

#[test]
fn json_for_scripts() {
    let r = run("baseline", "regressed");
    let v = to_json(&r);
    assert_eq!(v["verdict"], "regression");
    assert_eq!(v["rows"].as_array().map(Vec::len), Some(16));
    let p99 = v["rows"]
        .as_array()
        .and_then(|rows| {
            rows.iter()
                .find(|x| x["transport"] == "ws" && x["metric"] == "latency.p99")
        })
        .expect("row");
    assert_eq!(p99["verdict"], "regression");
    assert_eq!(p99["method"], "spread");
    assert_eq!(p99["unit"], "us");
    assert_eq!(p99["baseline"]["runs"], 3);
    assert!(p99["change"].as_f64().is_some_and(|c| c > 0.35));
    assert_eq!(v["baseline"]["files"], 6);
    assert_eq!(to_json(&run("baseline", "same"))["verdict"], "pass");
}
