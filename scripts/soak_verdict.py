"""The verdict of a scripts/soak.sh run: RSS growth after warm-up, loss and
errors, from the files the run left in its output directory.

usage: soak_verdict.py OUT_DIR WARMUP
"""
import csv
import json
import sys

LIMIT = 5.0  # percent of RSS growth allowed after warm-up


def secs(s):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for u in ("ms", "s", "m", "h"):
        if s.endswith(u) and s[: -len(u)].replace(".", "").isdigit():
            return float(s[: -len(u)]) * units[u]
    return float(s)


def results(out):
    """Each transport's result, or None when its file is missing."""
    found = {}
    for t in ("ws", "sse"):
        try:
            with open(f"{out}/{t}.json") as f:
                r = json.load(f)
            found[t] = (r["transports"][0], r["scenario"])
        except (OSError, KeyError, ValueError) as e:
            print(f"  {t}: no result file ({e})")
            found[t] = None
    return found


def bitset_bytes(result, seconds):
    """Bytes the exact loss accounting gains in `seconds`: one bit per
    delivery a client should see (a lower bound; vectors grow by doubling)."""
    if result is None:
        return 0
    t, scenario = result
    window = float(scenario.get("duration_secs") or 1)
    return t["counts"]["expected"] * min(seconds / window, 1.0) / 8


def rss_verdicts(rows, settle, found):
    steady = [r for r in rows if float(r["seconds"]) >= settle and int(r["server_rss"]) > 0]
    print(f"soak: {len(rows)} RSS samples, {len(steady)} after warm-up ({settle:.0f} s)")
    ok = True
    for col, t in (("server_rss", None), ("ws_loadgen_rss", "ws"), ("sse_loadgen_rss", "sse")):
        pts = [(float(r["seconds"]), int(r[col])) for r in steady if int(r[col]) > 0]
        if len(pts) < 2:
            print(f"  {col}: too few samples")
            ok = False
            continue
        (t0, first), (t1, last) = pts[0], pts[-1]
        peak = max(v for _, v in pts)
        bits = bitset_bytes(found.get(t), t1 - t0) if t else 0
        growth = (last - first - bits) / first * 100
        verdict = "ok" if growth <= LIMIT else "GREW"
        ok &= growth <= LIMIT
        net = f" (net of {bits / 2**20:.1f} MiB of accounting bits)" if t else ""
        print(
            f"  {col:16} start {first / 2**20:8.1f} MiB  end {last / 2**20:8.1f} MiB  "
            f"peak {peak / 2**20:8.1f} MiB  growth {growth:+5.1f}%{net}  {verdict}"
        )
    return ok


def main():
    out, warmup = sys.argv[1], sys.argv[2]
    with open(f"{out}/rss.csv") as f:
        rows = list(csv.DictReader(f))
    found = results(out)
    # Ramp-up plus warm-up, then a margin of 30 s.
    ok = rss_verdicts(rows, secs(warmup) + 30, found)
    for t, r in found.items():
        if r is None:
            ok = False
            continue
        c, lat = r[0]["counts"], r[0]["latency"]
        errors = sum(c["errors"].values())
        print(
            f"  {t:3}: delivered {c['delivered']:,} of {c['expected']:,}, lost {c['lost']}, "
            f"p50 {lat['p50_us'] / 1000:.2f} ms, p99 {lat['p99_us'] / 1000:.2f} ms, "
            f"errors {errors}, reconnects {c['reconnects']}, lagged {c['lagged']}"
        )
        ok &= c["lost"] == 0 and errors == 0 and c["expected"] > 0
    print("soak: PASS" if ok else "soak: FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
