//! Starting and ending links: nothing is left behind however the process ends, and
//! missing privileges give the typed error. Child processes are this test binary
//! re-run on its ignored `helper` test, told what to do by an environment variable.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use netem::{Link, NetemError};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use common::*;

const HELPER_ENV: &str = "NETEM_TEST_HELPER";

/// Run only as a child of the tests below.
#[test]
#[ignore = "helper: the lifecycle tests run it in a child process"]
fn helper() {
    match std::env::var(HELPER_ENV).as_deref() {
        Ok("hold") => {
            let link = start("rtt=10ms,loss=1%");
            let inode = |ns: &netem::Netns| ns.inode().expect("inode");
            println!("READY {} {}", inode(link.client()), inode(link.server()));
            std::thread::sleep(Duration::from_secs(60));
        }
        Ok("start") => match Link::start(&spec("rtt=10ms")) {
            Ok(link) => {
                let (server, client) = (
                    link.server()
                        .run(|| std::net::UdpSocket::bind((link.server_addr(), 0))),
                    link.client()
                        .run(|| std::net::UdpSocket::bind((link.client_addr(), 0))),
                );
                let (server, client) = (
                    server.expect("enter").expect("bind"),
                    client.expect("enter").expect("bind"),
                );
                client
                    .send_to(b"hi", server.local_addr().expect("addr"))
                    .expect("send");
                server
                    .set_read_timeout(Some(Duration::from_secs(2)))
                    .expect("timeout");
                let mut buf = [0u8; 4];
                let got = server.recv(&mut buf).is_ok();
                println!("RESULT started, datagram through the link: {got}");
            }
            Err(e @ NetemError::NotPermitted { .. }) => println!("RESULT NotPermitted: {e}"),
            Err(e) => println!("RESULT other error: {e:?}"),
        },
        _ => {}
    }
}

fn helper_command(exe: &Path, mode: &str) -> Command {
    let mut command = Command::new(exe);
    command
        .args([
            "--exact",
            "helper",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HELPER_ENV, mode);
    command
}

/// The link names in the root namespace and the named namespaces.
fn host_network() -> (BTreeSet<String>, String) {
    let links = Command::new("ip")
        .args(["-o", "link"])
        .output()
        .expect("ip -o link");
    let names = String::from_utf8_lossy(&links.stdout)
        .lines()
        .filter_map(|line| {
            line.split(": ")
                .nth(1)
                .map(|name| name.split('@').next().unwrap_or(name).to_owned())
        })
        .collect();
    let netns = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    (names, String::from_utf8_lossy(&netns.stdout).into_owned())
}

/// Whether any process still refers to the network namespace `inode`: as a thread's
/// namespace or through an open descriptor (which is how the link holds them).
fn namespace_in_use(inode: u64) -> bool {
    let wanted = format!("net:[{inode}]");
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    for proc in procs.flatten() {
        let dir = proc.path();
        let mut links: Vec<PathBuf> = vec![dir.join("ns/net")];
        for sub in ["fd", "task"] {
            for entry in std::fs::read_dir(dir.join(sub))
                .into_iter()
                .flatten()
                .flatten()
            {
                links.push(if sub == "task" {
                    entry.path().join("ns/net")
                } else {
                    entry.path()
                });
            }
        }
        if links.iter().any(|link| {
            std::fs::read_link(link).is_ok_and(|target| target.as_os_str() == wanted.as_str())
        }) {
            return true;
        }
    }
    false
}

fn assert_nothing_left(before: &(BTreeSet<String>, String), inodes: &[u64]) {
    let after = host_network();
    assert_eq!(
        &after, before,
        "the host's links or named namespaces changed"
    );
    assert!(
        !after.0.iter().any(|name| name.starts_with("rtb")),
        "{:?}",
        after.0
    );
    for inode in inodes {
        assert!(
            !namespace_in_use(*inode),
            "namespace {inode} is still referenced"
        );
    }
}

fn spawn_holder() -> (Child, Vec<u64>) {
    let exe = std::env::current_exe().expect("test binary");
    let mut child = helper_command(&exe, "hold")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn helper");
    let stdout = child.stdout.take().expect("stdout");
    // libtest may print "test helper ... " on the same line first.
    let ready = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.find("READY").map(|at| line[at..].to_owned()))
        .expect("the helper reports READY");
    let inodes: Vec<u64> = ready
        .split_whitespace()
        .skip(1)
        .map(|n| n.parse().expect("inode"))
        .collect();
    assert_eq!(inodes.len(), 2);
    (child, inodes)
}

fn ends_with_signal(signal: Signal) {
    let before = host_network();
    let (mut child, inodes) = spawn_holder();
    for inode in &inodes {
        assert!(
            namespace_in_use(*inode),
            "the live link's namespace {inode} is visible"
        );
    }
    kill(Pid::from_raw(child.id() as i32), signal).expect("signal");
    let status = child.wait().expect("wait");
    assert!(!status.success());
    assert_nothing_left(&before, &inodes);
}

#[test]
fn nothing_is_left_after_sigkill() {
    ends_with_signal(Signal::SIGKILL);
}

#[test]
fn nothing_is_left_after_sigint() {
    ends_with_signal(Signal::SIGINT);
}

#[test]
fn nothing_is_left_after_drop() {
    let before = host_network();
    let link = start("rtt=5ms,idle-timeout=1s");
    let inodes = [
        link.client().inode().expect("inode"),
        link.server().inode().expect("inode"),
    ];
    assert_ne!(inodes[0], inodes[1]);
    for inode in inodes {
        assert!(namespace_in_use(inode));
    }
    drop(link);
    assert_nothing_left(&before, &inodes);
}

/// A copy of this test binary that an unprivileged user may run.
fn world_executable_copy() -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("netem-privileges-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
    let exe = dir.join("lifecycle-test");
    std::fs::copy(std::env::current_exe().expect("test binary"), &exe).expect("copy");
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    (dir, exe)
}

fn result_line(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    stdout
        .lines()
        .find_map(|line| line.find("RESULT").map(|at| line[at..].to_owned()))
        .unwrap_or_else(|| panic!("no RESULT line: {stdout} {stderr}"))
}

#[test]
fn an_unprivileged_user_gets_the_typed_error_and_how_to_fix_it() {
    let (dir, exe) = world_executable_copy();
    let mut command = Command::new("setpriv");
    command
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&exe);
    command
        .args(helper_command(&exe, "start").get_args())
        .env(HELPER_ENV, "start");
    let output = command
        .output()
        .expect("setpriv (util-linux) is needed for this test");
    let _ = std::fs::remove_dir_all(&dir);
    let line = result_line(&output);
    assert!(line.starts_with("RESULT NotPermitted"), "{line}");
    assert!(
        line.contains("CAP_NET_ADMIN") && line.contains("run as root"),
        "{line}"
    );
}

#[test]
fn a_user_namespace_is_enough() {
    // `unshare -rn`: root inside a new user namespace (and a network namespace it
    // owns, which threads return to after entering a side), no privilege outside.
    let exe = std::env::current_exe().expect("test binary");
    let mut command = Command::new("unshare");
    command
        .arg("-rn")
        .arg(&exe)
        .args(helper_command(&exe, "start").get_args())
        .env(HELPER_ENV, "start");
    let output = command
        .output()
        .expect("unshare (util-linux) is needed for this test");
    assert_eq!(
        result_line(&output),
        "RESULT started, datagram through the link: true"
    );
}
