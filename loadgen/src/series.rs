//! `--output-series FILE`: the per-second series of one or more runs as a
//! table for spreadsheets and plotting tools, CSV (`.csv`) or one JSON
//! object per line (`.ndjson`, `.jsonl`). Each row names its run (the
//! result file's place among the runs written, 0 for `rtbench load`) and
//! transport, so `bench`'s transports share one file.

use crate::config::ConfigError;
use crate::output::{OutputError, write_atomic};
use protocol::results::{ResultFile, SecondSample};
use std::fmt::Write as _;
use std::path::Path;

/// The file's layout, chosen by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesFormat {
    Csv,
    Ndjson,
}

impl SeriesFormat {
    /// `.csv` or `.ndjson`/`.jsonl`; anything else is refused before the run.
    pub fn from_path(path: &Path) -> Result<SeriesFormat, ConfigError> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("csv") => Ok(SeriesFormat::Csv),
            Some("ndjson" | "jsonl") => Ok(SeriesFormat::Ndjson),
            _ => Err(ConfigError::Invalid {
                flag: "--output-series",
                why: format!(
                    "{}: the extension says the format, .csv (CSV) or .ndjson/.jsonl (one JSON object per line)",
                    path.display()
                ),
            }),
        }
    }
}

/// The CSV columns, in order (also the NDJSON keys).
pub const COLUMNS: [&str; 15] = [
    "run",
    "transport",
    "t_secs",
    "phase",
    "connected",
    "published",
    "deliveries",
    "requests",
    "empty",
    "errors",
    "down_bytes",
    "up_bytes",
    "p50_us",
    "p99_us",
    "stage",
];

/// Write every second of every transport of `files` to `path`, atomically.
pub fn write_series(path: &Path, files: &[ResultFile]) -> Result<(), OutputError> {
    let format = SeriesFormat::from_path(path).map_err(|e| OutputError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()),
    })?;
    let mut text = String::new();
    if format == SeriesFormat::Csv {
        text.push_str(&COLUMNS.join(","));
        text.push('\n');
    }
    for (run, file) in files.iter().enumerate() {
        for t in &file.transports {
            let stage_of = stage_lookup(file, t);
            for s in &t.series {
                let row = Row {
                    run,
                    transport: t.transport.as_str(),
                    s,
                    stage: stage_of(s.t_secs),
                };
                match format {
                    SeriesFormat::Csv => row.csv(&mut text),
                    SeriesFormat::Ndjson => row.ndjson(&mut text)?,
                }
            }
        }
    }
    write_atomic(path, text.as_bytes())
}

/// Which stage (0-based) a second of a staged run's window belongs to, by
/// its middle; `None` outside the window or in a steady run.
fn stage_lookup<'a>(
    file: &'a ResultFile,
    t: &'a protocol::results::TransportResult,
) -> impl Fn(u64) -> Option<usize> + 'a {
    // The window starts where the ramp-up and warm-up seconds end.
    let first = t
        .series
        .iter()
        .find(|s| s.phase == Some(protocol::results::Phase::Measure))
        .map(|s| s.t_secs);
    move |sec| {
        let first = first?;
        if t.stages.is_empty() || file.scenario.stages.is_none() || sec < first {
            return None;
        }
        let at = (sec - first) as f64 + 0.5;
        t.stages
            .iter()
            .position(|st| at >= st.start_secs && at < st.start_secs + st.duration_secs)
    }
}

struct Row<'a> {
    run: usize,
    transport: &'a str,
    s: &'a SecondSample,
    stage: Option<usize>,
}

impl Row<'_> {
    fn csv(&self, out: &mut String) {
        let s = self.s;
        let opt = |v: Option<u64>| v.map_or(String::new(), |v| v.to_string());
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            self.run,
            self.transport,
            s.t_secs,
            s.phase.map_or("", |p| p.as_str()),
            s.connected,
            s.published,
            s.deliveries,
            s.requests,
            s.empty,
            s.errors,
            s.down_bytes,
            s.up_bytes,
            opt(s.p50_us),
            opt(s.p99_us),
            self.stage.map_or(String::new(), |i| i.to_string()),
        );
    }

    fn ndjson(&self, out: &mut String) -> Result<(), serde_json::Error> {
        let mut v = serde_json::to_value(self.s)?;
        if let Some(m) = v.as_object_mut() {
            m.insert("run".into(), self.run.into());
            m.insert("transport".into(), self.transport.into());
            m.insert("stage".into(), self.stage.into());
        }
        out.push_str(&serde_json::to_string(&v)?);
        out.push('\n');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extension_picks_the_format() {
        let f = |p: &str| SeriesFormat::from_path(Path::new(p));
        assert_eq!(f("a/s.csv"), Ok(SeriesFormat::Csv));
        assert_eq!(f("s.CSV"), Ok(SeriesFormat::Csv));
        assert_eq!(f("s.ndjson"), Ok(SeriesFormat::Ndjson));
        assert_eq!(f("s.jsonl"), Ok(SeriesFormat::Ndjson));
        for bad in ["s.json", "s", "s.txt"] {
            let e = f(bad).expect_err(bad);
            assert_eq!(e.flag(), "--output-series");
            assert!(e.to_string().contains(".csv"), "{e}");
        }
    }
}
