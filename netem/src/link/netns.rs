//! Entering one side of the link. A socket stays in the namespace it was created
//! in, whichever thread uses it later, and a child process starts in the namespace
//! of the thread that spawns it: so switching the current thread in for the
//! duration of a `socket()`/`bind()`/`spawn()` is all a caller needs.

use std::fs::File;
use std::io;
use std::net::Ipv4Addr;
use std::os::unix::fs::MetadataExt;
use std::process::{Child, Command};
use std::sync::Arc;

use nix::sched::{CloneFlags, setns};

/// One side of a [`crate::Link`]. Cloning is cheap; a clone keeps the namespace
/// itself alive (not the link's devices) until it is dropped.
#[derive(Debug, Clone)]
pub struct Netns {
    fd: Arc<File>,
    name: &'static str,
    addr: Ipv4Addr,
}

/// Switches the thread back to where it was when dropped, also when the closure panics.
struct Return {
    home: Option<File>,
}

impl Drop for Return {
    fn drop(&mut self) {
        if let Some(home) = self.home.take()
            && setns(&home, CloneFlags::CLONE_NEWNET).is_err()
        {
            // Code after this point would silently run in the emulated network.
            eprintln!("netem: cannot return the thread to its network namespace");
            std::process::abort();
        }
    }
}

impl Netns {
    pub(crate) fn new(fd: File, name: &'static str, addr: Ipv4Addr) -> Self {
        Netns {
            fd: Arc::new(fd),
            name,
            addr,
        }
    }

    /// "client" or "server".
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The namespace's inode number (as in `/proc/PID/ns/net -> net:[INODE]`), to
    /// tell namespaces apart in diagnostics.
    pub fn inode(&self) -> io::Result<u64> {
        Ok(self.fd.metadata()?.ino())
    }

    /// This side's address on the link.
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// Runs `f` on the current thread inside this namespace, then switches back.
    /// Sockets (std or tokio) created by `f` live in this namespace for good.
    /// Keep `f` synchronous: on an async runtime, do not `.await` inside it.
    ///
    /// Errors if the thread cannot enter. [`crate::Link::start`] checked that threads
    /// can come back; if that ever fails here the process aborts rather than let the
    /// thread go on in the emulated network.
    pub fn run<T>(&self, f: impl FnOnce() -> T) -> io::Result<T> {
        let home = File::open("/proc/thread-self/ns/net")?;
        setns(&*self.fd, CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
        let back = Return { home: Some(home) };
        let value = f();
        drop(back);
        Ok(value)
    }

    /// Spawns `command` inside this namespace (its network is this side of the link).
    pub fn spawn(&self, command: &mut Command) -> io::Result<Child> {
        self.run(|| command.spawn())?
    }
}
