#!/usr/bin/python3
"""tinyrank against PyTorch on the same workloads, as one table (`make bench-compare`).

    /usr/bin/python3 tests/bench/compare.py                       # run both, then print the table
    /usr/bin/python3 tests/bench/compare.py --quick               # a few batches each (a smoke test)
    /usr/bin/python3 tests/bench/compare.py --only lenet5 --reps 5
    /usr/bin/python3 tests/bench/compare.py --no-run              # the table of the last run's JSON files

Runs build/tinyrank_bench and tests/bench/pytorch_reference.py (which configures PyTorch at its
best: the OpenMP build of OpenBLAS, raised malloc thresholds) one after the other with the same
options, each writing JSON into --out, then prints one row per workload and thread count:
  tinyrank s, PyTorch s   the median time of one repetition (an epoch, a pass over the test set)
  ratio                   tinyrank / PyTorch: above 1, tinyrank is slower
  tr %peak, pt %peak      the GEMM FLOP rate (tinyrank's count of the workload, tests/bench/flops.cpp)
                          as a fraction of the same program's sgemm ceiling (its fastest square product)
  tr MB, pt MB            the peak resident memory of the workload's process, and (+N) how much
                          it grew over that process with MNIST loaded, before the workload
"""

import argparse
import json
import os
import subprocess
import sys

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def run(command):
    """Runs a command with its output on the terminal; exits when it cannot run at all."""
    print("$ " + " ".join(command), flush=True)
    status = subprocess.call(command)
    if status not in (0, 1):  # 1: some workload failed; its row says so
        sys.exit("compare.py: %s exited with status %d" % (command[0], status))


def load(path):
    """The JSON document at `path`; exits with a message when it cannot be read."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        sys.exit("compare.py: cannot read %s (%s); run without --no-run first" % (path, e))


def by_key(document):
    """(name, threads) -> result."""
    return {(r["name"], r["threads"]): r for r in document["results"]}


def ceiling(results, threads):
    """The sgemm ceiling in GFLOP/s at `threads` (its fastest run), or None."""
    r = results.get(("sgemm", threads))
    if not r or "error" in r or not r.get("all_seconds"):
        return None
    return r["flops"] / min(r["all_seconds"]) / 1e9


def fraction(flops, seconds, peak):
    """flops / seconds as a percentage of `peak` GFLOP/s, as text."""
    if not flops or not seconds or not peak:
        return "-"
    return "%.0f%%" % (100.0 * flops / seconds / 1e9 / peak)


def memory(r):
    """Peak RSS and growth of a result, as text."""
    if not r or "error" in r:
        return "-"
    return "%.0f (+%.0f)" % (r["peak_rss_mb"], r["peak_rss_mb"] - r["base_rss_mb"])


def seconds(r):
    """The median time of a result, as text."""
    if not r:
        return "-"
    if "error" in r:
        return "FAILED"
    return "%.3f" % r["seconds"]


def table(tr_doc, pt_doc):
    """The comparison as lines of text."""
    tr, pt = by_key(tr_doc), by_key(pt_doc)
    header = ("workload", "thr", "tinyrank s", "PyTorch s", "ratio", "tr %peak", "pt %peak", "tr MB (+)",
              "pt MB (+)")
    rows = []
    for t in tr_doc["threads"]:
        tr_peak, pt_peak = ceiling(tr, t), ceiling(pt, t)
        for r in tr_doc["results"]:
            if r["threads"] != t:
                continue
            p = pt.get((r["name"], t))
            ratio = "-"
            if p and "error" not in p and "error" not in r and p.get("seconds"):
                ratio = "%.2f" % (r["seconds"] / p["seconds"])
            flops = r.get("flops")
            rows.append((r["name"], str(t), seconds(r), seconds(p), ratio,
                         fraction(flops, r.get("seconds"), tr_peak) if "error" not in r else "-",
                         fraction(flops, p.get("seconds"), pt_peak) if p and "error" not in p else "-",
                         memory(r), memory(p)))
    widths = [max(len(row[i]) for row in rows + [header]) for i in range(len(header))]
    def line(row):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
    return [line(header), "  ".join("-" * w for w in widths)] + [line(row) for row in rows]


def summary(tr_doc, pt_doc):
    """The configuration lines above the table."""
    tr, pt = by_key(tr_doc), by_key(pt_doc)
    lines = ["tinyrank: %s" % tr_doc["blas"],
             "PyTorch %s, its sgemm_ served by: %s" % (pt_doc["torch"], pt_doc["blas"]),
             "  libraries torch loaded: %s" % ", ".join(pt_doc["blas_libraries"]),
             "  environment: %s" % ", ".join("%s=%s" % kv for kv in sorted(pt_doc["environment"].items())),
             "threads: %s (%d cores); batch %d; median of %d repetition(s)%s" % (
                 ", ".join(map(str, tr_doc["threads"])), tr_doc["cores"], tr_doc["batch"], tr_doc["reps"],
                 " (--quick: a few batches, not a measurement)" if tr_doc["quick"] else "")]
    for t in tr_doc["threads"]:
        a, b = ceiling(tr, t), ceiling(pt, t)
        lines.append("sgemm ceiling with %d thread(s): tinyrank %s, PyTorch %s GFLOP/s (fastest %s)" % (
            t, "%.1f" % a if a else "-", "%.1f" % b if b else "-", tr.get(("sgemm", t), {}).get("note", "")))
    bases = [r["base_rss_mb"] for r in tr_doc["results"] if "base_rss_mb" in r]
    pt_bases = [r["base_rss_mb"] for r in pt_doc["results"] if "base_rss_mb" in r]
    if bases and pt_bases:
        lines.append("memory: peak RSS of each workload's process (+ growth over its start with MNIST loaded: "
                     "tinyrank ~%.0f MB, PyTorch with torch imported ~%.0f MB)" % (min(bases), min(pt_bases)))
    lines.append("ratio = tinyrank / PyTorch (above 1: tinyrank is slower); %peak = GEMM FLOP rate / sgemm ceiling")
    missing = [k for k in tr if k not in pt and k[0] != "sgemm"]
    if missing:
        lines.append("no PyTorch counterpart: %s" % ", ".join(sorted({k[0] for k in missing})))
    return lines


def main():
    """Runs both programs (unless --no-run) and prints the configuration and the table."""
    parser = argparse.ArgumentParser(description="Runs tinyrank_bench and pytorch_reference.py and prints one table.")
    parser.add_argument("--bench", default=os.path.join(REPO, "build", "tinyrank_bench"),
                        help="the tinyrank_bench program")
    parser.add_argument("--out", default=os.path.join(REPO, "build", "bench"), help="folder for the two JSON files")
    parser.add_argument("--no-run", action="store_true", help="only print the table of the JSON files in --out")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--reps", type=int)
    parser.add_argument("--threads")
    parser.add_argument("--only", nargs="+")
    args = parser.parse_args()
    tr_json, pt_json = os.path.join(args.out, "tinyrank.json"), os.path.join(args.out, "pytorch.json")
    if not args.no_run:
        os.makedirs(args.out, exist_ok=True)
        passed = (["--quick"] if args.quick else []) + (["--reps", str(args.reps)] if args.reps else []) + \
                 (["--threads", args.threads] if args.threads else []) + (["--only"] + args.only if args.only else [])
        run([args.bench, "--json", tr_json] + passed)
        reference = os.path.join(REPO, "tests", "bench", "pytorch_reference.py")
        run(["/usr/bin/python3", reference, "--json", pt_json] + passed)
    tr_doc, pt_doc = load(tr_json), load(pt_json)
    print()
    print("\n".join(summary(tr_doc, pt_doc)))
    print()
    print("\n".join(table(tr_doc, pt_doc)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
