//! Reading result files from paths given on the command line: files,
//! directories of `*.json` files (repeats, load workers), and for `compare` a
//! bench output folder (its `results/`). `report` and `compare` share this
//! loader, so a file fails the same way in both. Each file is checked here,
//! where its path is still known, so every later error can be traced to a
//! file: the schema version first (so a file from a newer rtbench says so
//! instead of failing on some renamed field), then the shape, then every
//! histogram decodes.

use crate::Error;
use crate::hist;
use protocol::results::{ResultFile, SCHEMA_VERSION};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Reads every result file named by `paths`.
///
/// A directory contributes each `*.json` file directly in it (sorted by name)
/// that looks like a result file (a JSON object with `schema_version`), so a
/// run directory that also holds e.g. a `summary.json` can be passed as is. A
/// file named explicitly must be a result file. The order of the output is
/// the order of the paths.
pub fn load_results(paths: &[PathBuf]) -> Result<Vec<ResultFile>, Error> {
    if paths.is_empty() {
        return Err(Error::NoInput("give result files or directories".into()));
    }
    let mut out = Vec::new();
    for path in paths {
        out.extend(load_path(path, Folder::Flat)?);
    }
    Ok(out)
}

/// Where a directory's result files are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Folder {
    /// `*.json` directly in it: a folder of repeats or of load workers.
    Flat,
    /// Also `results/*.json`, where `bench` writes them: a bench output folder.
    BenchOutput,
}

impl Folder {
    /// The directories searched, in order.
    fn dirs(self, path: &Path) -> Vec<PathBuf> {
        let mut dirs = vec![path.to_path_buf()];
        let results = path.join("results");
        if self == Folder::BenchOutput && results.is_dir() {
            dirs.push(results);
        }
        dirs
    }

    /// What a directory without result files lacks, after its path.
    fn empty(self) -> &'static str {
        match self {
            Folder::Flat => "holds no *.json result file",
            Folder::BenchOutput => {
                "holds no result file (*.json, or results/*.json as bench writes them)"
            }
        }
    }
}

/// Reads a result file, or the result files of a directory (see [`Folder`]);
/// a directory without any is an error.
pub(crate) fn load_path(path: &Path, folder: Folder) -> Result<Vec<ResultFile>, Error> {
    let meta = fs::metadata(path).map_err(|e| io_error(path, e))?;
    if !meta.is_dir() {
        return Ok(load_file(path, false)?.into_iter().collect());
    }
    let mut out = Vec::new();
    for dir in folder.dirs(path) {
        for file in json_files_in(&dir)? {
            out.extend(load_file(&file, true)?);
        }
    }
    if out.is_empty() {
        return Err(Error::NoInput(format!(
            "{} {}",
            path.display(),
            folder.empty()
        )));
    }
    Ok(out)
}

/// Reads one result file. With `lenient`, a JSON document that is not a
/// result file at all (no `schema_version`) is skipped, not an error.
pub fn load_file(path: &Path, lenient: bool) -> Result<Option<ResultFile>, Error> {
    let text = fs::read_to_string(path).map_err(|e| io_error(path, e))?;
    let json = |source| Error::Json {
        path: path.to_path_buf(),
        source,
    };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(json)?;
    let Some(version) = value.get("schema_version") else {
        if lenient {
            return Ok(None);
        }
        return Err(json(serde::de::Error::custom(
            "no schema_version: this is not an rtbench result file",
        )));
    };
    if version.as_u64() != Some(u64::from(SCHEMA_VERSION)) {
        return Err(Error::SchemaVersion {
            path: path.to_path_buf(),
            found: version.to_string(),
            expected: SCHEMA_VERSION,
            writer: value
                .get("rtbench_version")
                .and_then(|v| v.as_str())
                .map_or_else(|| "unknown version".to_string(), |v| format!("rtbench {v}")),
        });
    }
    let mut result: ResultFile = serde_json::from_value(value).map_err(json)?;
    // Files from before target profiles were all made with rtbench's own
    // protocol: the built-in profile.
    result
        .scenario
        .profile
        .get_or_insert_with(|| "rtbench".to_string());
    for t in &mut result.transports {
        let transport = t.transport;
        for (name, b64, summary) in [
            ("latency_histogram", &t.latency_histogram, &mut t.latency),
            (
                "publish_latency_histogram",
                &t.publish_latency_histogram,
                &mut t.publish_latency,
            ),
            (
                "connect_time_histogram",
                &t.connect_time_histogram,
                &mut t.connect_time,
            ),
        ] {
            let h = hist::decode(b64).map_err(|why| Error::Histogram {
                what: format!("{}: {transport} {name}", path.display()),
                why,
            })?;
            // Files from before p95 was stored: the histogram has it.
            if summary.p95_us == 0 && !h.is_empty() {
                summary.p95_us = h.value_at_quantile(0.95);
            }
        }
    }
    Ok(Some(result))
}

fn json_files_in(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let entries = fs::read_dir(dir).map_err(|e| io_error(dir, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| io_error(dir, e))?.path();
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
            && path.is_file()
        {
            files.push(path);
        }
    }
    // read_dir's order is the file system's; a report must not depend on it.
    files.sort();
    Ok(files)
}

fn io_error(path: &Path, e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::NotFound {
        Error::NotFound {
            path: path.to_path_buf(),
        }
    } else {
        Error::Read {
            path: path.to_path_buf(),
            source: e,
        }
    }
}
