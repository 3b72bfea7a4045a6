//! The OS facts the server and the load generator both read (feature
//! `sys`, Linux): the descriptor limit, a process's CPU time and resident
//! memory from /proc, and a polite stop for a child process. One copy, so
//! both report CPU seconds in the same unit.

use std::io;

/// Raises the soft `RLIMIT_NOFILE` towards `want` (one socket per client
/// needs thousands of descriptors), never above the hard limit, which an
/// unprivileged process cannot raise: `u64::MAX` asks for the hard limit.
/// Returns the soft limit now in force.
#[allow(unsafe_code, clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
pub fn raise_nofile_limit(want: u64) -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own and pass by pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let target = want.min(lim.rlim_max as u64);
    if (lim.rlim_cur as u64) < target {
        lim.rlim_cur = target as libc::rlim_t;
        // SAFETY: setrlimit only reads the struct.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(lim.rlim_cur as u64)
}

/// Asks process `pid` to shut down gracefully (SIGTERM). A process that is
/// already gone is not an error: there is nothing left to stop.
#[allow(unsafe_code)]
pub fn terminate(pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill only sends a signal; no memory is shared.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
}

/// Clock ticks per second: the unit of the times in /proc/PID/stat.
#[allow(unsafe_code)]
fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a system constant; no memory is shared.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    ticks.max(1) as f64
}

/// User + system CPU seconds of `/proc/<pid>` (`"self"` or a number);
/// `None` if /proc cannot tell.
pub fn cpu_seconds_of(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces: fields restart after
    // the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r)?;
    let mut fields = rest.split_whitespace();
    // `rest` starts at field 3 (state): utime and stime, fields 14 and 15,
    // are its 12th and 13th.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / clock_ticks())
}

/// (current, peak) resident bytes of `/proc/<pid>` (`"self"` or a number);
/// `None` if /proc cannot tell.
pub fn rss_bytes_of(pid: &str) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    Some((field("VmRSS:"), field("VmHWM:")))
}

/// Asks for `bytes` of kernel buffer each way on a socket (the kernel caps
/// it at `net.core.rmem_max`/`wmem_max`). One UDP socket carries every
/// WebTransport session on each side (the server's listener, the load
/// generator's shared client socket): with the default ~200 KiB, a burst to
/// thousands of sessions overflows it, and a datagram lost there would be
/// counted against the transport.
#[allow(unsafe_code)]
pub fn set_socket_buffers(socket: &impl std::os::fd::AsRawFd, bytes: usize) -> std::io::Result<()> {
    let fd = socket.as_raw_fd();
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    for opt in [libc::SO_RCVBUF, libc::SO_SNDBUF] {
        // SAFETY: `fd` is an open socket borrowed for the call; the option
        // value is a c_int on the stack, its size passed with it.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                opt,
                (&raw const value).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_figures() {
        let (rss, peak) = rss_bytes_of("self").expect("own status");
        assert!(rss > 0 && peak >= rss);
        // CPU time grows while this thread spins (bounded wait).
        let before = cpu_seconds_of("self").expect("own stat");
        let start = std::time::Instant::now();
        let mut cpu = before;
        while cpu <= before && start.elapsed() < std::time::Duration::from_secs(10) {
            for _ in 0..1_000_000 {
                std::hint::black_box(start);
            }
            cpu = cpu_seconds_of("self").expect("own stat");
        }
        assert!(cpu > before && cpu < 1e6, "{before} -> {cpu}");
        let me = std::process::id().to_string();
        assert!(cpu_seconds_of(&me).is_some());
        assert!(cpu_seconds_of(&u32::MAX.to_string()).is_none());
        assert!(rss_bytes_of(&u32::MAX.to_string()).is_none());
        assert!(raise_nofile_limit(64).expect("getrlimit") >= 64);
        // A pid that cannot exist: nothing to stop, no panic.
        terminate(u32::MAX);
    }
}
