"""Which transports a paired gate's first pass must run again.

Reads `rtbench compare --format json` and prints the transports (comma-
separated, as `--transports` takes them) whose regressions are all timing
rows judged on the spread of runs (latency, rates): on a shared VM those
can separate by chance, so perf-ab.sh repeats them in fresh rounds. Prints
nothing when any regression is a count (loss, errors, duplicates, reordering) or a single-run
comparison: those fail at once, since a repeat cannot clear them.
"""
import json
import sys


def main(path):
    with open(path) as f:
        report = json.load(f)
    rows = [r for r in report.get("rows", []) if r.get("verdict") == "regression"]
    if not rows or any(r.get("method") != "spread" for r in rows):
        return ""
    names = []
    for r in rows:
        name = r["transport"].split()[0]
        if name not in names:
            names.append(name)
    return ",".join(names)


if __name__ == "__main__":
    print(main(sys.argv[1]))
