#!/usr/bin/env python3
"""Tables for scripts/perf/flame.sh: a server's CPU per delivery split by
where perf found it (folded stacks from inferno-collapse-perf --all, whose
kernel frames end in _[k]).

  flame.py header TRANSPORT SECONDS SCENARIO
  flame.py table SERVER FOLDED RESULT.json SVG
"""
import datetime
import json
import os
import re
import sys

SYSCALL = re.compile(r"^(?:__x64_sys|__ia32_sys|__se_sys|__do_sys)_(\w+?)_\[k\]$")
# Where a system call's own entry frame was inlined away, its body's.
BODIES = {"do_writev": "writev", "ksys_write": "write", "__sys_sendto": "sendto",
          "__sys_sendmsg": "sendmsg", "do_readv": "readv", "ksys_read": "read",
          "__sys_recvfrom": "recvfrom", "do_epoll_wait": "epoll_wait", "do_futex": "futex"}

# The kernel's share by system call: on loopback a write carries the
# segment through the receiver's TCP stack too, in the writer's time.
SYSCALLS = [
    (("write", "writev", "sendto", "sendmsg", "pwrite64"), "kernel: send: syscall, TCP, copy, loopback"),
    (("read", "readv", "recvfrom", "recvmsg"), "kernel: receive"),
    (("epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl"), "kernel: epoll"),
    (("futex",), "kernel: futex (threads waking each other)"),
]

# User-space frames, nearest the leaf first wins. Patterns look at a
# frame's own path, not its generic arguments (every frame of a task names
# the task's future type).
USER = [
    (re.compile(r"^_*(mem(cpy|move|set)|malloc|free|cfree|realloc|calloc|int_malloc|int_free|"
                r"rust_alloc|rust_dealloc|rust_realloc)|^<?alloc::(alloc|raw_vec)"),
     "user: allocation and copies"),
    (re.compile(r"^<?(tokio_)?tungstenite"), "user: WebSocket framing (tungstenite)"),
    (re.compile(r"^<?tokio::sync::broadcast"), "user: the room's broadcast channel"),
    # The server's own crates, and the futures its session code inlines
    # into: axum's upgrade closure, a tracked task's poll.
    (re.compile(r"^<?(rtbench_|server::|protocol::|serde)|^poll<server::|"
                r"^axum::extract::ws::WebSocketUpgrade<F>::on_upgrade::\{\{closure|"
                r"^<tokio_util::task::task_tracker::TrackedFuture<F> as"),
     "user: rtbench's own code (with the task futures it inlines into)"),
    (re.compile(r"^<?(hyper|http_body|axum)"), "user: HTTP (hyper, axum)"),
    (re.compile(r"^<?(tokio|mio)::"), "user: tokio runtime (scheduler, I/O driver, timers)"),
]

RECEIVER = "kernel: send: the receiver's TCP receive (softirq, on loopback)"
RECEIVE_FRAMES = {"tcp_v4_rcv_[k]", "tcp_v6_rcv_[k]", "process_backlog_[k]", "__netif_receive_skb_[k]"}

ORDER = [SYSCALLS[0][1], RECEIVER] + [c for _, c in SYSCALLS[1:]] + ["kernel: other system calls", "kernel: interrupts, faults, scheduler"] + \
    [c for _, c in USER] + ["user: other"]


def category(frames):
    kernel = [f for f in frames if f.endswith("_[k]")]
    if kernel:
        for f in kernel:
            m = SYSCALL.match(f)
            name = m.group(1) if m else BODIES.get(f[:-len("_[k]")])
            if name:
                for names, cat in SYSCALLS:
                    if name in names:
                        if cat == SYSCALLS[0][1] and RECEIVE_FRAMES.intersection(kernel):
                            return RECEIVER
                        return cat
                return "kernel: other system calls"
        return "kernel: interrupts, faults, scheduler"
    for f in reversed(frames):
        for pat, cat in USER:
            if pat.search(f):
                return cat
    return "user: other"


def split(folded):
    counts, total = {}, 0
    with open(folded) as f:
        for line in f:
            stack, _, n = line.rstrip("\n").rpartition(" ")
            if not stack or not n.isdigit():
                continue
            cat = category(stack.split(";")[1:])
            counts[cat] = counts.get(cat, 0) + int(n)
            total += int(n)
    return counts, total


def header(transport, seconds, scenario):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cmd = os.environ.get("PERF_COMMAND", "scripts/perf.sh flame")
    print(f"# Where a server's CPU goes: {transport}, {scenario}\n")
    print(f"`{cmd}`, {now}, {os.cpu_count()} cores. perf samples the server process "
          f"(cpu-clock, 997 Hz, DWARF call graphs) for {seconds} s in the middle of a measured "
          "`rtbench load` run; the shares divide that run's server CPU per delivery (from /proc). "
          "A sample counts as kernel when any frame of its stack is, by the system call it is in.\n")


def table(server, folded, result, svg):
    counts, total = split(folded)
    t = json.load(open(result))["transports"][0]
    cost = t.get("server") or {}
    delivered = cost.get("deliveries") or t["counts"]["delivered"]
    cpu = cost.get("cpu_seconds")
    us = cpu / delivered * 1e6 if cpu and delivered else None
    print(f"## {server}\n")
    lat = t["latency"]
    print(f"{delivered:,} deliveries, server CPU {us:.2f} µs per delivery, p50 {lat['p50_us'] / 1000:.2f} ms, "
          f"p99 {lat['p99_us'] / 1000:.2f} ms, lost {t['counts']['lost']:,}; {total / 1e9:.2f} s of CPU sampled; "
          f"flame graph `{os.path.basename(svg)}`.\n" if us is not None else
          f"{delivered:,} deliveries (no server CPU figure); {total / 1e9:.2f} s of CPU sampled.\n")
    print("| where | share of CPU | µs per delivery |")
    print("|---|---|---|")
    for sums in (("kernel: ", "kernel, all"), ("user: ", "user space, all")):
        part = sum(v for k, v in counts.items() if k.startswith(sums[0]))
        for cat in (c for c in ORDER if c.startswith(sums[0]) and counts.get(c)):
            print(row(cat, counts[cat], total, us))
        print(row(f"**{sums[1]}**", part, total, us))
    print()


def row(name, n, total, us):
    share = n / total if total else 0
    per = f"{share * us:.2f}" if us is not None else "—"
    return f"| {name} | {share:.1%} | {per} |"


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "header":
        header(*sys.argv[2:])
    elif len(sys.argv) == 6 and sys.argv[1] == "table":
        table(*sys.argv[2:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
