//! The one error type of the crate. Every variant that comes from a file
//! names that file, because a report is usually built from dozens of them and
//! "invalid JSON" alone would leave the reader guessing which.

use std::io;
use std::path::PathBuf;

/// What went wrong while loading, merging or rendering results.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No path was given, or a directory held no result file.
    #[error("no result files: {0}")]
    NoInput(String),
    /// A path given on the command line does not exist.
    #[error("{}: no such file or directory", path.display())]
    NotFound { path: PathBuf },
    /// The file exists but could not be read (permissions, I/O).
    #[error("{}: cannot read: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    /// The file is not JSON, or not the shape of a result file.
    #[error("{}: not a valid result file: {source}", path.display())]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    /// The file was written by an rtbench with another result-file layout.
    #[error(
        "{}: schema_version {found}, but this rtbench reads schema_version {expected}; \
         render it with the rtbench version that wrote it ({writer})",
        path.display()
    )]
    SchemaVersion {
        path: PathBuf,
        found: String,
        expected: u32,
        writer: String,
    },
    /// A base64 HdrHistogram that does not decode, or histograms that cannot be added.
    #[error("{what}: {why}")]
    Histogram { what: String, why: String },
    /// Writing the report (a directory, the HTML, a PNG) failed.
    #[error("{}: cannot write: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    /// `compare` was given runs of different workloads.
    #[error(
        "baseline and current measured different scenarios ({}): a comparison would show the \
         change of scenario, not of the code; compare runs of one scenario, or pass \
         --allow-scenario-mismatch",
        differences.join(", ")
    )]
    ScenarioMismatch { differences: Vec<String> },
    /// `compare` found no transport measured on both sides.
    #[error("nothing to compare: {0}")]
    NothingToCompare(String),
    /// plotters could not draw or encode a chart.
    #[error("chart {name}: {why}")]
    Chart { name: String, why: String },
}

impl Error {
    /// The input was at fault (exit code 2 in the CLI), not the machine or a bug.
    pub fn is_input_error(&self) -> bool {
        matches!(
            self,
            Error::NoInput(_)
                | Error::NotFound { .. }
                | Error::Json { .. }
                | Error::SchemaVersion { .. }
                | Error::Histogram { .. }
                | Error::ScenarioMismatch { .. }
                | Error::NothingToCompare(_)
        )
    }
}
