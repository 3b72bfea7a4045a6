#!/usr/bin/env python3
"""Analysis for scripts/gate-truth.sh: one JSON line per gate run appended
to RECORD (a .jsonl file), and the table of false alarms, catches and
order bias made from them.

    gate_truth.py instr  RECORD KIND LEVEL COMPARE_EXIT INSTRUCTIONS.json BASELINE.json
    gate_truth.py paired RECORD KIND LEVEL COMPARE_EXIT PERF_AB_DIR COMPARE.json
    gate_truth.py cost   INSTRUCTIONS.json TRANSPORT SIDE      # instructions per delivery
    gate_truth.py cpu    PERF_AB_DIR                           # server CPU µs per delivery, per transport
    gate_truth.py p50    PERF_AB_DIR                           # median latency.p50 µs, per transport
    gate_truth.py table  RECORD                                # markdown
"""
import glob
import json
import os
import statistics
import sys



def level_num(level):
    """"+10% CPU" -> 10.0, so levels sort as numbers, not as text."""
    digits = "".join(c for c in level.split("%")[0] if c.isdigit() or c == ".")
    return float(digits or 0)

def load(path):
    with open(path) as f:
        return json.load(f)


def append(record, row):
    with open(record, "a") as f:
        f.write(json.dumps(row, sort_keys=True) + "\n")


def per_delivery(rec, transport, side):
    for e in rec["entries"]:
        if e["transport"] == transport and e["side"] == side:
            return e["instructions"] / e["deliveries"]
    return None


def instr(record, kind, level, code, cur_path, base_path):
    cur, base = load(cur_path), load(base_path)
    rows = []
    for e in cur["entries"]:
        b = per_delivery(base, e["transport"], e["side"])
        c = e["instructions"] / e["deliveries"]
        rows.append({"transport": e["transport"], "side": e["side"],
                     "baseline": b, "current": c,
                     "change": (c / b - 1) if b else None})
    append(record, {"gate": "instructions", "kind": kind, "level": level,
                    "exit": int(code), "rows": rows})


def results(folder):
    """{transport: {round: result}} of one side of a perf-ab run."""
    out = {}
    for path in glob.glob(os.path.join(folder, "*.json")):
        name = os.path.basename(path)[:-5]
        transport, _, r = name.rpartition("-r")
        out.setdefault(transport, {})[int(r)] = load(path)["transports"][0]
    return out


def positions(ab_dir):
    """[(round, transport, position, side)] of the first pass, from order.tsv
    (a confirmation's rows, set "confirm", are other runs)."""
    rows = []
    with open(os.path.join(ab_dir, "order.tsv")) as f:
        next(f)
        for line in f:
            r, t, pos, side, _start, _end, *rest = line.rstrip("\n").split("\t")
            if rest and rest[0] != "first":
                continue
            rows.append((int(r), t, int(pos), side))
    return rows


def lat(result, key):
    v = result["latency"].get(key)
    return float(v) if v else None


def paired(record, kind, level, code, ab_dir, compare_json):
    cmp = load(compare_json)
    regressions = [f'{r["transport"]} {r["metric"]} {r["change_text"]}'
                   for r in cmp["rows"] if r["verdict"] == "regression"]
    sides = {s: results(os.path.join(ab_dir, s)) for s in ("base", "current")}
    bias = {}
    for t in sorted(sides["current"]):
        for key in ("p50_us", "p99_us"):
            first, second, a, b = [], [], [], []
            for r, tt, pos, side in positions(ab_dir):
                if tt != t:
                    continue
                v = lat(sides[side][t][r], key)
                if v is None:
                    continue
                (first if pos == 1 else second).append(v)
                (a if side == "base" else b).append(v)
            if first and second and a and b:
                bias[f"{t} {key[:-3]}"] = {
                    "second_vs_first": statistics.median(second) / statistics.median(first) - 1,
                    "current_vs_base": statistics.median(b) / statistics.median(a) - 1,
                }
    changes = {}
    for r in cmp["rows"]:
        if r["metric"] in ("latency.p50", "latency.p99") and r.get("change") is not None:
            changes[f'{r["transport"]} {r["metric"]}'] = {"change": r["change"], "verdict": r["verdict"]}
    append(record, {"gate": "paired", "kind": kind, "level": level, "exit": int(code),
                    "regressions": regressions, "bias": bias, "changes": changes})


def cpu(ab_dir):
    """Median server CPU µs per delivery per transport, over both sides."""
    out = {}
    for side in ("base", "current"):
        for t, runs in results(os.path.join(ab_dir, side)).items():
            for res in runs.values():
                s = res.get("server") or {}
                if s.get("deliveries"):
                    out.setdefault(t, []).append(s["cpu_seconds"] / s["deliveries"] * 1e6)
    for t, v in sorted(out.items()):
        print(f"{t} {statistics.median(v):.3f}")


def p50(ab_dir):
    out = {}
    for side in ("base", "current"):
        for t, runs in results(os.path.join(ab_dir, side)).items():
            for res in runs.values():
                out.setdefault(t, []).append(res["latency"]["p50_us"])
    for t, v in sorted(out.items()):
        print(f"{t} {statistics.median(v):.0f}")


def pct(x):
    return "–" if x is None else f"{x * 100:+.2f}%"


def table(record):
    rows = [json.loads(l) for l in open(record) if l.strip()]
    out = []
    ins_aa = [r for r in rows if r["gate"] == "instructions" and r["kind"] == "aa"]
    if ins_aa:
        spread = {}
        for r in ins_aa:
            for x in r["rows"]:
                spread.setdefault(f'{x["transport"]} {x["side"]}', []).append(x["change"])
        alarms = sum(1 for r in ins_aa if r["exit"] == 99)
        out.append(f"**Instruction gate, A/A** ({len(ins_aa)} reruns of one build, each against the first; gate +3%): "
                   f"**{alarms} false alarms**.\n")
        out.append("| transport side | largest change of a rerun |")
        out.append("|---|---|")
        for k, v in sorted(spread.items()):
            worst = max(v, key=lambda c: abs(c or 0))
            out.append(f"| {k} | {pct(worst)} |")
        out.append("")
    ins_c = [r for r in rows if r["gate"] == "instructions" and r["kind"] == "cost"]
    if ins_c:
        out.append("**Instruction gate, injected CPU cost per delivery** (`--inject-cost-rounds`, server side):\n")
        out.append("| slowdown | transport | measured change | caught |")
        out.append("|---|---|---|---|")
        for r in sorted(ins_c, key=lambda r: (level_num(r["level"]), r["rows"][0]["transport"])):
            for x in r["rows"]:
                caught = "yes" if r["exit"] == 99 else "no"
                out.append(f'| {r["level"]} | {x["transport"]} {x["side"]} | {pct(x["change"])} | {caught} |')
        out.append("")
    lat_aa = [r for r in rows if r["gate"] == "paired" and r["kind"] == "aa"]
    if lat_aa:
        alarms = sum(1 for r in lat_aa if r["exit"] == 99)
        named = [x for r in lat_aa for x in r["regressions"]]
        out.append(f"**Paired latency gate, A/A** ({len(lat_aa)} runs of scripts/perf-ab.sh with the same build "
                   f"on both sides, compare's default gates): **{alarms} false alarms**"
                   + (f" ({'; '.join(named)})" if named else "") + ".\n")
        bias = {}
        for r in lat_aa:
            for k, v in r["bias"].items():
                bias.setdefault(k, {"s": [], "c": []})
                bias[k]["s"].append(v["second_vs_first"])
                bias[k]["c"].append(v["current_vs_base"])
        out.append("Order bias (mean over the A/A runs): the second run of a pair against the first "
                   "(what a fixed A-then-B order adds to B), and B against A with the balanced order:\n")
        out.append("| row | second vs first | B vs A, balanced |")
        out.append("|---|---|---|")
        for k, v in sorted(bias.items()):
            out.append(f'| {k} | {pct(statistics.mean(v["s"]))} | {pct(statistics.mean(v["c"]))} |')
        out.append("")
    lat_c = [r for r in rows if r["gate"] == "paired" and r["kind"] != "aa"]
    if lat_c:
        out.append("**Paired latency gate, slowed builds** (side B only; compare's default gates, p50 +15%, p99 +25%):\n")
        out.append("| fault | row | measured change | verdict |")
        out.append("|---|---|---|---|")
        for r in sorted(lat_c, key=lambda r: (r["kind"], level_num(r["level"]))):
            for k, v in sorted(r["changes"].items()):
                out.append(f'| {r["kind"]} {r["level"]} | {k} | {pct(v["change"])} | {v["verdict"]} |')
        out.append("")
    print("\n".join(out))


def main(argv):
    cmd = argv[1]
    if cmd == "instr":
        instr(*argv[2:8])
    elif cmd == "paired":
        paired(*argv[2:8])
    elif cmd == "cost":
        print(f"{per_delivery(load(argv[2]), argv[3], argv[4]):.1f}")
    elif cmd == "cpu":
        cpu(argv[2])
    elif cmd == "p50":
        p50(argv[2])
    elif cmd == "table":
        table(argv[2])
    else:
        sys.exit(f"gate_truth.py: unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
