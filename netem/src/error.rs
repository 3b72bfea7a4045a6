use std::io;

/// Why a link could not start. Every message says how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum NetemError {
    /// Checked before anything is created.
    #[error(
        "network emulation needs CAP_NET_ADMIN to create network namespaces and TUN devices ({what} was refused): \
         run as root, or inside `unshare -rn` with /dev/net/tun readable and writable by that user"
    )]
    NotPermitted { what: &'static str },
    #[error(
        "/dev/net/tun is missing: load the tun module (`modprobe tun`), or in a container pass the device in \
         (e.g. `--device /dev/net/tun`)"
    )]
    NoTun,
    #[error(
        "the `ip` command (iproute2) was not found in PATH, /usr/sbin or /sbin: install iproute2 \
         (e.g. `apt-get install iproute2`)"
    )]
    NoIp,
    #[error("`ip -batch` failed in the {side} namespace: {stderr}")]
    IpFailed { side: &'static str, stderr: String },
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        #[source]
        source: io::Error,
    },
}

impl NetemError {
    pub(crate) fn io(what: &'static str) -> impl FnOnce(io::Error) -> NetemError {
        move |source| NetemError::Io { what, source }
    }
}
