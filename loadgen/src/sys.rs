//! What the process and the machine say about themselves: the open-files
//! limit (raised to what the scenario needs), own CPU time and RSS from
//! `/proc/self` (both read by `protocol::sys`, shared with the server), and
//! the machine description for the result file.

use protocol::results::Machine;
use std::time::{SystemTime, UNIX_EPOCH};

/// Raise the soft `RLIMIT_NOFILE` towards `want` (never above the hard
/// limit). Returns the soft limit now in force.
pub use protocol::sys::raise_nofile_limit;
use protocol::sys::{cpu_seconds_of, rss_bytes_of};

/// Hands freed heap pages back to the OS (glibc keeps them otherwise), so
/// an RSS baseline taken after an earlier run in the same process (`rtbench
/// bench` runs every transport in one process) is not inflated by memory the
/// allocator kept, which would make the next run's growth per client look
/// near zero.
#[allow(unsafe_code)]
pub fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; no pointers change.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// User + system CPU seconds of this process.
pub fn cpu_seconds() -> f64 {
    cpu_seconds_of("self").unwrap_or(0.0)
}

/// (current RSS, peak RSS) of this process in bytes.
pub fn rss_bytes() -> (u64, u64) {
    rss_bytes_of("self").unwrap_or((0, 0))
}

/// A local server process's CPU and RSS (`--server-pid`), shaped as the
/// stats rtbench's own server reports; `None` if /proc cannot tell.
pub fn process_stats(pid: u32) -> Option<protocol::stats::ServerStats> {
    let proc = pid.to_string();
    let cpu_seconds = cpu_seconds_of(&proc)?;
    let (rss_bytes, _) = rss_bytes_of(&proc)?;
    let comm = read_trim(&format!("/proc/{pid}/comm")).unwrap_or_default();
    Some(protocol::stats::ServerStats {
        version: format!("pid {pid} ({comm})"),
        cpu_seconds,
        rss_bytes,
        ..Default::default()
    })
}

fn read_trim(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// Describe this machine.
pub fn machine() -> Machine {
    let pretty = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        });
    let os = match pretty {
        Some(p) => format!("{} ({p})", std::env::consts::OS),
        None => std::env::consts::OS.to_string(),
    };
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_string())
    });
    Machine {
        cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        os,
        kernel: read_trim("/proc/sys/kernel/osrelease").unwrap_or_default(),
        hostname: read_trim("/proc/sys/kernel/hostname").unwrap_or_default(),
        cpu_model,
    }
}

/// RFC 3339 UTC timestamp (`2026-11-29T06:31:00Z`) of a UNIX time.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil-from-days (Howard Hinnant's algorithm), proleptic Gregorian.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_764_400_000);
        assert_eq!(rfc3339(t), "2025-11-29T07:06:40Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn process_figures() {
        let (rss, peak) = rss_bytes();
        assert!(rss > 0 && peak >= rss);
        assert!(cpu_seconds() >= 0.0);
        assert!(raise_nofile_limit(64).expect("getrlimit") >= 64);
        assert!(machine().cores >= 1);
        let me = process_stats(std::process::id()).expect("own pid");
        assert!(me.rss_bytes > 0 && me.version.starts_with("pid "));
        assert!(process_stats(u32::MAX).is_none());
    }
}
