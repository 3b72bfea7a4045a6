//! The few OS calls the server needs: descriptor limit and process cost.
//! Process figures come from /proc so `/api/stats` needs no extra crate.
#![allow(unsafe_code)]

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (one socket per client
/// needs thousands of descriptors). Returns the new soft limit.
pub fn raise_nofile_limit() -> std::io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own and pass by pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: setrlimit only reads the struct.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(lim.rlim_cur)
}

/// Asks process `pid` to shut down gracefully (SIGTERM). A process that is
/// already gone is not an error: there is nothing left to stop.
pub fn terminate(pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill only sends a signal; no memory is shared.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
}

/// CPU seconds (user + system) and resident bytes of this process.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessCost {
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
}

/// Reads this process's cost; zeros where /proc is unavailable.
pub fn process_cost() -> ProcessCost {
    process_cost_of("self")
}

/// Reads the cost of process `pid` (`"self"` or a number) from /proc.
pub fn process_cost_of(pid: &str) -> ProcessCost {
    // SAFETY: sysconf has no memory effects.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let cpu_seconds = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // The command name may contain spaces: fields start after the last ')'.
            let rest = &s[s.rfind(')')? + 1..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            // utime and stime are fields 14 and 15 of stat, 12 and 13 after ')'.
            let ut: f64 = f.get(11)?.parse().ok()?;
            let st: f64 = f.get(12)?.parse().ok()?;
            Some((ut + st) / ticks)
        })
        .unwrap_or(0.0);
    let rss_bytes = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
            let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kb * 1024)
        })
        .unwrap_or(0);
    ProcessCost {
        cpu_seconds,
        rss_bytes,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_own_cost() {
        let c = super::process_cost();
        assert!(c.rss_bytes > 0);
        assert!(c.cpu_seconds >= 0.0);
        assert!(super::raise_nofile_limit().is_ok());
    }
}
