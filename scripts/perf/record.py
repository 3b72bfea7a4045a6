#!/usr/bin/env python3
"""Turns rtbench result files (and a few measured numbers) into one JSON
record per row of issue 9's table under bench/runs/<date>-<host>/, and
prints the row: figure, target, anchor. `table` prints every record of a
run directory as the README's Performance table (markdown).

    record.py fanout  DIR ROW TRANSPORT RESULT.json...
    record.py longpoll DIR RESULT.json...
    record.py idle    DIR ROW RESULT.json SERVER_RSS_BEFORE SERVER_RSS_PEAK
    record.py latency DIR RESULT.json
    record.py wrk     DIR WRK_RPS LOADGEN_RESULT.json CONNECTIONS
    record.py scale   DIR MERGED.json WORKERS_DIR
    record.py table   DIR
"""
import json
import os
import sys
import time

ROWS = {
    "fanout-ws": ("WS deliveries per server CPU-second (1 room, 1,000 subscribers, 100 B)", ">= 250,000",
                  "Centrifugo ~12.5k/core; Phoenix ~50k/core", 250_000, "max"),
    "fanout-sse": ("SSE deliveries per server CPU-second (1 room, 1,000 subscribers, 100 B)", ">= 150,000",
                   "Go SSE server ~100k/s on one core", 150_000, "max"),
    "long-poll": ("long-poll responses per server CPU-second (1,000 clients)", ">= 30,000",
                  "wrk-class HTTP servers", 30_000, "max"),
    "idle-ws": ("concurrent idle WS clients held by one server process; RSS per connection", ">= 19,000; <= 10 KiB each side",
                "gobwas-style Go ~8 KB/conn; Centrifugo ~30 KB/conn", 19_000, "max"),
    "idle-sse": ("concurrent idle SSE clients held by one server process; RSS per connection", ">= 19,000; <= 10 KiB each side",
                 "k6 1-5 MB per VU", 19_000, "max"),
    "latency-10k": ("p99 delivery latency, 10,000 WS subscribers, 10 rooms, 10 msg/s per room (ms)", "<= 10 ms",
                    "-", 10.0, "min"),
    "wrk-ratio": ("loadgen short-poll requests/s / wrk's (same endpoint, same connections)", ">= 1.0",
                  "wrk", 1.0, "max"),
    "100k": ("concurrent WS clients in one run on this box (6 instances on Redis, 6 load processes)", ">= 100,000",
             "-", 100_000, "max"),
    "loadgen-cost": ("loadgen CPU per delivery / server CPU per delivery (WS)", "<= 1.0",
                     "a loadgen that saturates first measures itself", 1.0, "min"),
}


def load(path):
    with open(path) as f:
        return json.load(f)


def write(d, row, figure, details, unit="", met=None, shown=None):
    title, target, anchor, goal, better = ROWS[row]
    if met is None:
        met = figure >= goal if better == "max" else figure <= goal
    rec = {
        "row": row,
        "title": title,
        "figure": round(figure, 3),
        "unit": unit,
        "shown": shown,
        "target": target,
        "met": met,
        "anchor": anchor,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": os.environ.get("PERF_COMMAND", ""),
        "details": details,
    }
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"{row}.json"), "w") as f:
        json.dump(rec, f, indent=2)
        f.write("\n")
    mark = "met" if met else "MISSED"
    print(f"{row:13} {figure:>12,.2f} {unit:12} target {target:11} {mark:6}  anchor: {anchor}")


def run_summary(path):
    r = load(path)
    t = r["transports"][0]
    s = t.get("server") or {}
    lg = t.get("loadgen") or {}
    return {
        "file": path,
        "rate": r["scenario"].get("rate_per_sec"),
        "clients": r["scenario"].get("clients"),
        "delivered": t["counts"]["delivered"],
        "lost": t["counts"]["lost"],
        "requests": t["counts"]["requests"],
        "server_deliveries": s.get("deliveries"),
        "server_cpu_s": s.get("cpu_seconds"),
        "server_connections": s.get("connections"),
        "loadgen_cpu_s": lg.get("cpu_seconds"),
        "loadgen_per_client_rss_bytes": lg.get("per_client_rss_bytes"),
        "p50_ms": t["latency"]["p50_us"] / 1000,
        "p99_ms": t["latency"]["p99_us"] / 1000,
        "window_s": r["scenario"].get("duration_secs"),
    }


def fanout(d, row, files):
    runs = [run_summary(p) for p in files]
    for x in runs:
        x["deliveries_per_server_cpu_s"] = (x["server_deliveries"] or 0) / x["server_cpu_s"] if x["server_cpu_s"] else 0
        x["loadgen_over_server_cpu_per_delivery"] = (
            (x["loadgen_cpu_s"] / x["delivered"]) / (x["server_cpu_s"] / x["server_deliveries"])
            if x["delivered"] and x["server_deliveries"] and x["server_cpu_s"] else None)
        print(f"  rate {x['rate']:>6} msg/s: {x['deliveries_per_server_cpu_s']:>10,.0f} deliveries/server-CPU-s, "
              f"p50 {x['p50_ms']:.2f} ms, p99 {x['p99_ms']:.2f} ms, lost {x['lost']}, "
              f"loadgen/server CPU per delivery {x['loadgen_over_server_cpu_per_delivery'] or float('nan'):.2f}")
    ok = [x for x in runs if x["lost"] == 0] or runs
    best = max(ok, key=lambda x: x["deliveries_per_server_cpu_s"])
    write(d, row, best["deliveries_per_server_cpu_s"], {"best": best, "runs": runs}, "/CPU-s")
    # Steady-state costs: the highest rate at which the box is not
    # saturated (p99 under 100 ms); past it both sides queue.
    steady = [x for x in ok if x["p99_ms"] < 100 and x["loadgen_over_server_cpu_per_delivery"]]
    if row == "fanout-ws" and steady:
        run = max(steady, key=lambda x: x["rate"])
        write(d, "loadgen-cost", run["loadgen_over_server_cpu_per_delivery"],
              {"run": run, "note": "the highest fanout-ws rate with p99 < 100 ms (not saturated)"}, "ratio")


def longpoll(d, files):
    runs = [run_summary(p) for p in files]
    for x in runs:
        x["responses_per_server_cpu_s"] = x["requests"] / x["server_cpu_s"] if x["server_cpu_s"] else 0
        print(f"  rate {x['rate']:>6} msg/s: {x['responses_per_server_cpu_s']:>10,.0f} responses/server-CPU-s, "
              f"p50 {x['p50_ms']:.2f} ms, lost {x['lost']}")
    ok = [x for x in runs if x["lost"] == 0] or runs
    best = max(ok, key=lambda x: x["responses_per_server_cpu_s"])
    write(d, "long-poll", best["responses_per_server_cpu_s"], {"best": best, "runs": runs}, "/CPU-s")


def idle(d, row, path, rss_before, rss_peak):
    x = run_summary(path)
    conns = x["server_connections"] or x["clients"]
    x["server_rss_before_bytes"] = int(rss_before)
    x["server_rss_peak_bytes"] = int(rss_peak)
    x["server_rss_per_connection_bytes"] = (int(rss_peak) - int(rss_before)) / conns if conns else None
    print(f"  {conns:,} connections held; server RSS {int(rss_before)/2**20:.1f} -> {int(rss_peak)/2**20:.1f} MiB "
          f"= {x['server_rss_per_connection_bytes']/1024:.2f} KiB/conn (target <= 10); "
          f"loadgen {x['loadgen_per_client_rss_bytes']/1024:.2f} KiB/client (target <= 10); lost {x['lost']}")
    srv, lg = x["server_rss_per_connection_bytes"] / 1024, x["loadgen_per_client_rss_bytes"] / 1024
    write(d, row, conns, x, "connections", met=conns >= 19_000 and srv <= 10 and lg <= 10,
          shown=f"{conns:,} connections; server {srv:.1f} KiB, loadgen {lg:.1f} KiB")


def latency(d, path):
    x = run_summary(path)
    print(f"  p50 {x['p50_ms']:.2f} ms, p99 {x['p99_ms']:.2f} ms, delivered {x['delivered']:,}, lost {x['lost']}")
    write(d, "latency-10k", x["p99_ms"], x, "ms")


def wrk(d, wrk_rps, path, conns):
    x = run_summary(path)
    window = x["window_s"] or 10
    ours = x["requests"] / window
    ratio = ours / float(wrk_rps)
    x.update({"wrk_requests_per_s": float(wrk_rps), "loadgen_requests_per_s": ours, "connections": int(conns)})
    print(f"  wrk {float(wrk_rps):,.0f} req/s, rtbench {ours:,.0f} req/s on {conns} connections")
    write(d, "wrk-ratio", ratio, x, "ratio")


def scale(d, path, workers_dir):
    x = run_summary(path)
    connected = 0
    for name in sorted(os.listdir(workers_dir)):
        if name.endswith(".json"):
            for t in load(os.path.join(workers_dir, name))["transports"]:
                connected += sum(s["connected"] for s in t.get("targets", []))
    x["connected_at_end"] = connected
    print(f"  {connected:,} clients connected at the end of the window; delivered {x['delivered']:,}, "
          f"lost {x['lost']}, p50 {x['p50_ms']:.2f} ms, p99 {x['p99_ms']:.2f} ms")
    write(d, "100k", connected, x, "connections", met=connected >= 100_000 and x["lost"] == 0)


def table(d):
    recs = []
    for name in sorted(os.listdir(d)):
        if name.endswith(".json"):
            recs.append(load(os.path.join(d, name)))
    # Rows with tables of their own (peers.json: scripts/perf/peers.py table).
    recs = [r for r in recs if r.get("row") in ROWS]
    order = list(ROWS)
    recs.sort(key=lambda r: order.index(r["row"]) if r["row"] in order else 99)
    print("| figure | measured | target | anchor |")
    print("|---|---|---|---|")
    for r in recs:
        fig = f"{r['figure']:,.2f}" if r["figure"] < 100 else f"{r['figure']:,.0f}"
        shown = r.get("shown") or f"**{fig}** {r['unit']}"
        mark = "" if r["met"] else " (missed)"
        print(f"| {r['title']} | {shown}{mark} | {r['target']} | {r['anchor']} |")


def main():
    cmd, d, *rest = sys.argv[1:]
    if cmd == "fanout":
        fanout(d, rest[0], rest[2:])
    elif cmd == "longpoll":
        longpoll(d, rest)
    elif cmd == "idle":
        idle(d, rest[0], rest[1], rest[2], rest[3])
    elif cmd == "latency":
        latency(d, rest[0])
    elif cmd == "wrk":
        wrk(d, rest[0], rest[1], rest[2])
    elif cmd == "scale":
        scale(d, rest[0], rest[1])
    elif cmd == "table":
        table(d)
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
