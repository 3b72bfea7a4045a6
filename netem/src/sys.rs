//! The system calls neither std nor nix wraps safely: the TUNSETIFF ioctl that
//! turns an open `/dev/net/tun` descriptor into a named TUN device, and
//! `sched_setscheduler` for the forwarding threads.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// `struct ifreq` as TUNSETIFF reads it: the interface name, then a union whose
/// first 2 bytes are the flags. 40 bytes, the size of `struct ifreq` on 64-bit
/// Linux (32 on 32-bit: the kernel never reads past its own size).
#[repr(C)]
struct IfReqFlags {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _rest_of_union: [u8; 22],
}

/// Makes `tun` (an open `/dev/net/tun`) the TUN device `name`: layer 3 packets, no
/// packet-information header.
pub(crate) fn attach_tun(tun: &File, name: &str) -> io::Result<()> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "interface name too long",
        ));
    }
    let mut request = IfReqFlags {
        name: [0; libc::IFNAMSIZ],
        flags: (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short,
        _rest_of_union: [0; 22],
    };
    request.name[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: the descriptor belongs to `tun`, which outlives the call. TUNSETIFF
    // reads and may write back one `struct ifreq`; `request` is a live, writable,
    // NUL-terminated value of at least that size with the same layout for the
    // fields the kernel uses, and nothing else aliases it during the call.
    let rc = unsafe { libc::ioctl(tun.as_raw_fd(), libc::TUNSETIFF, &raw mut request) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Puts the calling thread in the lowest real-time class (SCHED_FIFO, priority 1),
/// so that it runs before ordinary threads when it wakes. Needs CAP_SYS_NICE (or an
/// RLIMIT_RTPRIO allowance); the kernel's real-time throttling still leaves other
/// threads a share of every core.
pub(crate) fn make_realtime() -> io::Result<()> {
    let param = libc::sched_param { sched_priority: 1 };
    // SAFETY: pid 0 is the calling thread; `param` is a valid sched_param that
    // lives until the call returns and is only read by it.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &raw const param) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
