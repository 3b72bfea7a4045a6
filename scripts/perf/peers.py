#!/usr/bin/env python3
"""The `peers` row of scripts/perf.sh: rtbench's server beside peer servers
(Nchan, a Node `ws` server, the npm socket.io server), same scenarios, same
load client, each cell repeated. Every figure is the median of the repeats
with the spread [min-max]: the runs are interleaved because the VM drifts,
so the spread says how far one run can be trusted.

    peers.py brief  RESULT.json            one run's figures on one line
    peers.py record RECORD.json RUNS.tsv   aggregate, write the record, print the table
    peers.py table  RECORD.json            print a record's table again

RUNS.tsv (written by scripts/perf/peers.sh): rep, scenario, transport,
server, status (ok | failed | n/a), result file, reason.
"""
import json
import os
import statistics
import sys
import time

SERVERS = {
    "rtbench": "rtbench server",
    "rtbench-base": "rtbench server, base build",
    "nchan": "Nchan (nginx, 1 worker)",
    "node-ws": "Node http + ws",
    "socketio": "Node socket.io",
}
# The figures of a cell, in table order: key, column title, format.
FIGURES = [
    ("cpu_ms_per_1k", "server CPU ms / 1k deliveries", "{:.2f}"),
    ("p50_ms", "p50 ms", "{:.2f}"),
    ("p99_ms", "p99 ms", "{:.2f}"),
    ("rss_kib_per_conn", "server RSS KiB / conn", "{:.1f}"),
    ("cpu_percent", "server CPU %", "{:.0f}"),
    ("lost", "lost", "{:,.0f}"),
    ("errors", "errors", "{:,.0f}"),
]


def load(path):
    with open(path) as f:
        return json.load(f)


def summary(path):
    """One run's figures; the server's CPU and RSS come from /proc (--server-pid)."""
    r = load(path)
    t = r["transports"][0]
    s = t.get("server") or {}
    c = t["counts"]
    delivered = s.get("deliveries") or c["delivered"]
    cpu = s.get("cpu_seconds")
    rss = s.get("rss_per_connection_bytes")
    return {
        "file": path,
        "partial": r.get("partial", False),
        "clients": r["scenario"].get("clients"),
        "connect_per_s": r["scenario"].get("ramp_up_per_sec"),
        "publish_via": r["scenario"].get("publish_via"),
        "connected": s.get("connections"),
        "delivered": delivered,
        "published": c["published"],
        "server_cpu_s": cpu,
        "cpu_ms_per_1k": cpu / delivered * 1e6 if cpu is not None and delivered else None,
        "cpu_percent": s.get("cpu_percent"),
        "p50_ms": t["latency"]["p50_us"] / 1000,
        "p99_ms": t["latency"]["p99_us"] / 1000,
        "rss_kib_per_conn": rss / 1024 if rss is not None else None,
        "lost": c["lost"],
        "errors": sum(c.get("errors", {}).values()) + c.get("publish_errors", 0),
        "reconnects": c.get("reconnects", 0),
        "foreign": c.get("foreign", 0),
        "warnings": r.get("warnings", []),
    }


def fmt(v, spec):
    return "—" if v is None else spec.format(v)


def brief(path):
    x = summary(path)
    print(f"{x['delivered']:,} delivered, CPU {fmt(x['cpu_ms_per_1k'], '{:.2f}')} ms/1k "
          f"({fmt(x['cpu_percent'], '{:.0f}')}%), p50 {x['p50_ms']:.2f} ms, p99 {x['p99_ms']:.2f} ms, "
          f"RSS {fmt(x['rss_kib_per_conn'], '{:.1f}')} KiB/conn, lost {x['lost']:,}, errors {x['errors']:,}"
          + (" (partial run)" if x["partial"] else ""))


def spread(values):
    """{median, min, max} of the known values; None when none is known."""
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def scenario_of(path):
    s = load(path)["scenario"]
    keys = ("clients", "rooms", "publishers", "rate_per_sec", "size_bytes", "duration_secs")
    return {k: s.get(k) for k in keys if k in s}


def read_runs(tsv):
    cells = {}
    with open(tsv) as f:
        for line in f:
            rep, scen, tr, server, status, path, reason = line.rstrip("\n").split("\t")
            cell = cells.setdefault((scen, tr, server), {
                "scenario": scen, "transport": tr, "server": server, "status": status,
                "reason": None, "runs": [], "failures": []})
            if status == "n/a":
                cell["reason"] = reason
            elif status == "ok":
                cell["runs"].append(dict(summary(path), rep=int(rep)))
            else:
                cell["failures"].append({"rep": int(rep), "reason": reason})
    return cells


def aggregate(cells):
    for c in cells.values():
        if c["status"] == "n/a":
            continue
        c["status"] = "ok" if c["runs"] else "failed"
        c["figures"] = {k: spread(r[k] for r in c["runs"]) for k, _, _ in FIGURES}
    for c in cells.values():
        base = cells.get((c["scenario"], c["transport"], "rtbench")) or {}
        c["cpu_ratio_vs_rtbench"] = spread(paired_ratios(c.get("runs", []), base.get("runs", [])))


def paired_ratios(runs, base_runs):
    """CPU per delivery over rtbench's in the same repeat: the servers of a
    repeat ran minutes apart, so a ratio within a repeat is not moved by the
    VM's drift between repeats as a ratio of medians would be."""
    base = {r["rep"]: r["cpu_ms_per_1k"] for r in base_runs}
    for r in runs:
        ref = base.get(r["rep"])
        if r["cpu_ms_per_1k"] is not None and ref:
            yield r["cpu_ms_per_1k"] / ref


def cell_text(f, spec):
    if f is None:
        return "—"
    med = spec.format(f["median"])
    if f["min"] == f["max"] or f["n"] == 1:
        return med
    return f"{med} [{spec.format(f['min'])}–{spec.format(f['max'])}]"


def print_table(rec):
    for name, sc in rec["scenarios"].items():
        print(f"Scenario {name}: {sc.get('clients', '?'):,} subscribers, {sc.get('rooms', '?')} room(s), "
              f"{sc.get('publishers', '?')} publisher(s), {sc.get('rate_per_sec', '?')} msg/s in all, "
              f"{sc.get('size_bytes', '?')} B, {sc.get('duration_secs', '?')} s measured")
    print(f"median [min–max] of {rec['repeats']} interleaved runs per cell; "
          "÷ rtbench = CPU per delivery over rtbench's on the same transport in the same repeat "
          "(> 1: rtbench is cheaper)")
    print()
    cols = ["scenario", "transport", "server"] + [t for _, t, _ in FIGURES[:1]] + ["÷ rtbench"] \
        + [t for _, t, _ in FIGURES[1:]]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for c in rec["cells"]:
        head = [c["scenario"], c["transport"], SERVERS.get(c["server"], c["server"])]
        if c["status"] == "n/a":
            rest = [f"n/a: {c['reason']}"] + [""] * (len(cols) - 4)
        elif c["status"] == "failed":
            rest = [f"failed: {c['failures'][0]['reason']}"] + [""] * (len(cols) - 4)
        else:
            figs = [cell_text(c["figures"][k], spec) for k, _, spec in FIGURES]
            ratio = c["cpu_ratio_vs_rtbench"]
            runs = len(c["runs"])
            note = f" ({runs} of {runs + len(c['failures'])} runs)" if c["failures"] else ""
            rest = [figs[0] + note, cell_text(ratio, "{:.2f}")] + figs[1:]
        print("| " + " | ".join(head + rest) + " |")


def record(out, tsv):
    cells = read_runs(tsv)
    aggregate(cells)
    order = {s: i for i, s in enumerate(SERVERS)}
    tr_order = {t: i for i, t in enumerate(["ws", "sse", "long-poll", "socketio"])}
    ordered = sorted(cells.values(), key=lambda c: (c["scenario"], tr_order.get(c["transport"], 9),
                                                    order.get(c["server"], 9)))
    scenarios = {}
    for c in ordered:
        if c["runs"] and c["scenario"] not in scenarios:
            scenarios[c["scenario"]] = scenario_of(c["runs"][0]["file"])
    rec = {
        "row": "peers",
        "title": "rtbench's server beside peer servers: same scenarios, same load client",
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": os.environ.get("PERF_COMMAND", ""),
        "scale": float(os.environ.get("PEERS_SCALE", "1")),
        "repeats": int(os.environ.get("PEERS_REPEATS", "3")),
        "servers": {k: v for k, v in SERVERS.items() if any(c["server"] == k for c in ordered)},
        "scenarios": scenarios,
        "cells": ordered,
    }
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out, "w") as f:
        json.dump(rec, f, indent=2)
        f.write("\n")
    print()
    print_table(rec)
    print(f"\nrecord: {out}")


def main():
    cmd, *rest = sys.argv[1:]
    if cmd == "brief":
        brief(rest[0])
    elif cmd == "record":
        record(rest[0], rest[1])
    elif cmd == "table":
        print_table(load(rest[0]))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
