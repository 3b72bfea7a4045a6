//! The few OS calls the server needs: descriptor limit, process cost, and
//! stopping a child server. The one implementation is `protocol::sys`
//! (shared with the load generator).

pub use protocol::sys::terminate;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (one socket per client
/// needs thousands of descriptors). Returns the new soft limit.
pub fn raise_nofile_limit() -> std::io::Result<u64> {
    protocol::sys::raise_nofile_limit(u64::MAX)
}

/// CPU seconds (user + system) and resident bytes of this process.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessCost {
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
}

/// Reads this process's cost; zeros where /proc is unavailable.
pub fn process_cost() -> ProcessCost {
    ProcessCost {
        cpu_seconds: protocol::sys::cpu_seconds_of("self").unwrap_or(0.0),
        rss_bytes: protocol::sys::rss_bytes_of("self").map_or(0, |(rss, _)| rss),
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
