//! Creating one side of the link: an anonymous network namespace with a TUN device,
//! an address, loopback up and a route to the other side.
//!
//! A namespace made with `unshare(CLONE_NEWNET)` in a short-lived thread is never
//! bind-mounted (nothing like `ip netns add`): it lives as long as a descriptor or
//! socket refers to it, so it vanishes with the process however the process ends.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::errno::Errno;
use nix::sched::{CloneFlags, setns, unshare};

use crate::NetemError;
use crate::sys::attach_tun;

const TUN_PATH: &str = "/dev/net/tun";
pub(crate) const MTU: usize = 1500;

/// One end of the link, before its forwarding threads start.
pub(crate) struct SideConfig {
    pub(crate) label: &'static str,
    pub(crate) device: &'static str,
    pub(crate) local: Ipv4Addr,
    pub(crate) peer: Ipv4Addr,
}

pub(crate) struct Side {
    /// `/proc/thread-self/ns/net` of the namespace: keeps it alive, lets threads enter it.
    pub(crate) ns: File,
    pub(crate) tun: File,
}

/// Per-namespace kernel settings copied from the caller's namespace, so that a
/// server or client moved into the link sees the host's limits, not the defaults
/// of a fresh namespace.
const COPIED_SYSCTLS: [&str; 3] = [
    "/proc/sys/net/core/somaxconn",
    "/proc/sys/net/ipv4/ip_local_port_range",
    "/proc/sys/net/ipv4/tcp_max_syn_backlog",
];

pub(crate) fn host_sysctls() -> Vec<(&'static str, String)> {
    COPIED_SYSCTLS
        .iter()
        .filter_map(|path| Some((*path, std::fs::read_to_string(path).ok()?)))
        .collect()
}

/// Finds iproute2's `ip`; the link cannot be configured without it.
pub(crate) fn find_ip() -> Result<PathBuf, NetemError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join("ip"))
        .find(|candidate| candidate.is_file())
        .ok_or(NetemError::NoIp)
}

pub(crate) fn check_tun() -> Result<(), NetemError> {
    match std::fs::metadata(TUN_PATH) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(NetemError::NoTun),
        Err(e) => Err(NetemError::Io {
            what: "checking /dev/net/tun",
            source: e,
        }),
    }
}

fn refused(what: &'static str, e: io::Error) -> NetemError {
    match e.raw_os_error().map(Errno::from_raw) {
        Some(Errno::EPERM | Errno::EACCES) => NetemError::NotPermitted { what },
        Some(Errno::ENOENT | Errno::ENODEV) if what == "opening /dev/net/tun" => NetemError::NoTun,
        _ => NetemError::Io { what, source: e },
    }
}

/// Creates the side in a fresh thread (the namespace switch is per thread, and this
/// thread ends right after, so no other code ever runs inside by accident).
pub(crate) fn create_side(
    ip: &Path,
    config: SideConfig,
    sysctls: &[(&'static str, String)],
) -> Result<Side, NetemError> {
    let ip = ip.to_owned();
    let sysctls = sysctls.to_vec();
    std::thread::Builder::new()
        .name(format!("netem-setup-{}", config.label))
        .spawn(move || build_side(&ip, &config, &sysctls))
        .map_err(NetemError::io("starting the setup thread"))?
        .join()
        .unwrap_or_else(|_| {
            Err(NetemError::Io {
                what: "setting up a namespace",
                source: io::Error::other("the setup thread panicked"),
            })
        })
}

fn build_side(
    ip: &Path,
    config: &SideConfig,
    sysctls: &[(&'static str, String)],
) -> Result<Side, NetemError> {
    unshare(CloneFlags::CLONE_NEWNET).map_err(|e| refused("unshare(CLONE_NEWNET)", e.into()))?;
    let ns = File::open("/proc/thread-self/ns/net")
        .map_err(NetemError::io("opening the new namespace"))?;
    // Best effort: no IPv6 chatter (router solicitations) on the link, and the
    // host's limits. A kernel without IPv6 or a read-only /proc/sys is no error.
    for path in [
        "/proc/sys/net/ipv6/conf/all/disable_ipv6",
        "/proc/sys/net/ipv6/conf/default/disable_ipv6",
    ] {
        let _ = std::fs::write(path, "1");
    }
    for (path, value) in sysctls {
        let _ = std::fs::write(path, value);
    }
    let tun = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(TUN_PATH)
        .map_err(|e| refused("opening /dev/net/tun", e))?;
    attach_tun(&tun, config.device).map_err(|e| refused("creating a TUN device (TUNSETIFF)", e))?;
    let commands = format!(
        "link set dev lo up\n\
         link set dev {dev} mtu {MTU} txqueuelen 1000 up\n\
         addr add {local}/32 peer {peer}/32 dev {dev}\n",
        dev = config.device,
        local = config.local,
        peer = config.peer,
    );
    run_ip(ip, config.label, &commands)?;
    Ok(Side { ns, tun })
}

/// Runs `ip -batch -` in the calling thread's namespace (a child starts in the
/// namespace of the thread that spawns it).
fn run_ip(ip: &Path, side: &'static str, commands: &str) -> Result<(), NetemError> {
    let mut child = Command::new(ip)
        .args(["-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(NetemError::io("running ip"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(commands.as_bytes())
            .map_err(NetemError::io("writing to ip"))?;
    }
    let output = child
        .wait_with_output()
        .map_err(NetemError::io("waiting for ip"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        return Err(NetemError::IpFailed { side, stderr });
    }
    Ok(())
}

/// Callers enter the sides with `setns` and must be able to come back: that needs
/// CAP_SYS_ADMIN over the caller's own namespace too, which a user namespace
/// without its own network namespace (`unshare -r` rather than `unshare -rn`) lacks.
/// Tried on a throwaway thread, so a failure strands no thread that matters.
pub(crate) fn check_round_trip(side: &File) -> Result<(), NetemError> {
    let side = side
        .try_clone()
        .map_err(NetemError::io("duplicating a namespace descriptor"))?;
    std::thread::spawn(move || -> Result<(), NetemError> {
        let home = File::open("/proc/thread-self/ns/net")
            .map_err(NetemError::io("opening the current namespace"))?;
        setns(&side, CloneFlags::CLONE_NEWNET)
            .map_err(|e| refused("entering the link's namespace (setns)", e.into()))?;
        setns(&home, CloneFlags::CLONE_NEWNET).map_err(|e| {
            refused(
                "returning from the link's namespace to the caller's (setns)",
                e.into(),
            )
        })
    })
    .join()
    .unwrap_or_else(|_| {
        Err(NetemError::Io {
            what: "checking namespace switches",
            source: io::Error::other("the check thread panicked"),
        })
    })
}
