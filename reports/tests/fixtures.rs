//! The committed fixtures are what `rtbench load` and `bench` write: every
//! file validates against the committed JSON Schema
//! (`protocol/results.schema.json`), and each latency summary is the summary
//! of the histogram stored next to it. If the schema changes, regenerate them:
//! `cargo run -p rtbench-reports --example gen_fixtures -- reports/tests/fixtures`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use std::path::{Path, PathBuf};

fn all_fixtures(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("fixtures dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            all_fixtures(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

#[test]
fn fixtures_match_the_schema_and_their_histograms() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("../protocol/results.schema.json"))
            .expect("schema file"),
    )
    .expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let mut files = Vec::new();
    all_fixtures(&root.join("tests/fixtures"), &mut files);
    assert!(files.len() >= 9, "fixtures missing: {files:?}");
    for path in &files {
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("JSON");
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{} does not match the schema:\n{}",
            path.display(),
            errors.join("\n")
        );
        for t in doc["transports"].as_array().expect("transports") {
            let b64 = t["latency_histogram"].as_str().expect("histogram string");
            let bytes = STANDARD.decode(b64).expect("base64");
            let h: Histogram<u64> = Deserializer::new()
                .deserialize(&mut bytes.as_slice())
                .expect("V2");
            assert_eq!(t["latency"]["count"], h.len(), "{}", path.display());
            assert_eq!(
                t["latency"]["p99_us"],
                h.value_at_quantile(0.99),
                "{}",
                path.display()
            );
            assert_eq!(t["latency"]["max_us"], h.max(), "{}", path.display());
        }
    }
}
