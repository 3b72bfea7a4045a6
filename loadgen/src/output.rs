//! Writing the result file: checked before the run (an unwritable path
//! should fail in a second, not after a ten-minute run) and written
//! atomically (temp file + rename), so a reader never sees half a file.

use protocol::results::ResultFile;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why the result file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("cannot write results to {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write results to {path}: it is a directory")]
    IsDir { path: PathBuf },
    #[error("cannot serialize results: {0}")]
    Json(#[from] serde_json::Error),
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "results.json".into());
    path.with_file_name(format!(".{name}.tmp{}", std::process::id()))
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Fail early when `path` cannot be written: creates and removes the temp
/// file that [`write_results`] would use.
pub fn check_output_writable(path: &Path) -> Result<(), OutputError> {
    if path.is_dir() {
        return Err(OutputError::IsDir {
            path: path.to_path_buf(),
        });
    }
    let tmp = temp_path(path);
    std::fs::File::create(&tmp).map_err(io_err(path))?;
    std::fs::remove_file(&tmp).map_err(io_err(path))?;
    Ok(())
}

/// Write `file` as pretty JSON to `path`, atomically.
pub fn write_results(path: &Path, file: &ResultFile) -> Result<(), OutputError> {
    if path.is_dir() {
        return Err(OutputError::IsDir {
            path: path.to_path_buf(),
        });
    }
    let mut json = serde_json::to_vec_pretty(file)?;
    json.push(b'\n');
    write_atomic(path, &json)
}

/// Write `bytes` to `path` through a temp file and a rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    let tmp = temp_path(path);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_err(path)(e)
    })
}

/// How a command prints its result on stdout (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people; `table`, its older name, still works.
    #[value(alias = "table")]
    Text,
    /// For scripts: one JSON document.
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwritable_paths_fail_early() {
        let dir = std::env::temp_dir();
        assert!(matches!(
            check_output_writable(&dir),
            Err(OutputError::IsDir { .. })
        ));
        let missing = dir.join("rtbench-no-such-dir-xyz").join("r.json");
        assert!(matches!(
            check_output_writable(&missing),
            Err(OutputError::Io { .. })
        ));
        let ok = dir.join(format!("rtbench-out-{}.json", std::process::id()));
        assert!(check_output_writable(&ok).is_ok());
        assert!(!ok.exists());
    }
}
