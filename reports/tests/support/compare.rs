//! What the `compare` tests share: the committed repeat sets
//! (`tests/fixtures/compare/`) and scratch space. Each test file uses part.
#![allow(dead_code)]

use protocol::results::ResultFile;
use reports::compare::{CompareOptions, CompareReport, Row, compare, load_side};
use std::path::{Path, PathBuf};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compare")
}

pub fn side(name: &str) -> Vec<ResultFile> {
    load_side(&fixtures().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

pub fn run(baseline: &str, current: &str) -> CompareReport {
    compare(&side(baseline), &side(current), &CompareOptions::default()).expect("compare")
}

pub fn row<'a>(r: &'a CompareReport, transport: &str, metric: &str) -> &'a Row {
    r.rows
        .iter()
        .find(|x| x.transport == transport && x.metric == metric)
        .unwrap_or_else(|| panic!("no row {transport} {metric}"))
}

/// A scratch directory for inputs the committed fixtures must not hold.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rtbench-compare-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("dir");
    for e in std::fs::read_dir(from).expect("read dir").flatten() {
        std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
    }
}
