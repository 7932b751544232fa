#!/usr/bin/python3
"""Checks tinyrank's robust accuracies against PyTorch attacking the same exported weights.

    build/tinyrank export --checkpoint RUN/model.ckpt --npy RUN/npy
    /usr/bin/python3 tests/golden/check_attacks.py --npy RUN/npy \\
        --tinyrank build/tinyrank --checkpoint RUN/model.ckpt \\
        --attack fgsm=0.05,0.1,0.2 --attack pgd-linf=0.1 --steps 10 --limit 2000

runs `tinyrank attack --json` once per attack kind (one BLAS thread), then rebuilds the
network in PyTorch from the export (check_export.py's loader, dense or low-rank), attacks the
same MNIST test images in the same batches of 500 with the same attack (attacks_torch.py,
the definitions the fixture attacks.golden is made with) and prints one row per (attack, ε):
tinyrank's and PyTorch's robust accuracy, their difference in points, the tolerance and
PASS or FAIL. Instead of running tinyrank it can read what `tinyrank attack --json` printed:

    build/tinyrank attack --checkpoint RUN/model.ckpt --attack fgsm --eps 0.1,0.2 --limit 2000 \\
        --json --threads 1 > fgsm.json
    /usr/bin/python3 tests/golden/check_attacks.py --npy RUN/npy --json fgsm.json --limit 2000

(the JSON does not record --limit, so give the same one; the clean-accuracy row catches a
mismatch). Tolerances, in points of accuracy: 1 for FGSM and scaled FGSM, which are
deterministic, so the two sides differ only through float rounding (summation order), which
flips the sign of a near-zero gradient entry, or sends the gradient through another pixel at
a max-pool window whose two largest values tie within rounding, or moves an image across a
decision boundary; 2 for PGD, whose random starts come from different generators (tinyrank's
PCG32, torch's Mersenne twister); check_export.py's 1e-4 for the clean accuracy (at most one
image in 10000, none in 2000). PGD uses the default step α = 2.5 ε / k (tinyrank's
--step-size 0) and the random start; transfer attacks are not checked.

Exit status: 0 if every row passes, 1 if one fails, 2 if the export, the data, the JSON or
tinyrank could not be read or run.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import torch

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attacks_torch import KINDS, attack  # noqa: E402
from check_export import REPO, TOLERANCE, ExportError, load_network, mnist_test  # noqa: E402  (the one loader)

BATCH = 500  # tinyrank attack's batch size (robust_accuracy's default); the batch-mean loss depends on it
TOLERANCE_POINTS = {"fgsm": 1.0, "fgsm-scaled": 1.0, "pgd-linf": 2.0, "pgd-l2": 2.0}
DEFAULT_ATTACKS = ["fgsm=0.05,0.1,0.2", "fgsm-scaled=0.05,0.1,0.2", "pgd-linf=0.1"]


def parse_attack(text):
    """'KIND=EPS,EPS,...' → (kind, [eps, ...])."""
    kind, _, radii = text.partition("=")
    if kind not in KINDS or not radii:
        raise argparse.ArgumentTypeError("expected KIND=EPS[,EPS...] with KIND one of %s, found '%s'"
                                         % (", ".join(KINDS), text))
    try:
        return kind, [float(eps) for eps in radii.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError("'%s': the radii must be numbers" % text)


def run_tinyrank(args, kind, radii):
    """The rows `tinyrank attack --json` prints for one attack kind."""
    command = [args.tinyrank, "attack", "--checkpoint", args.checkpoint, "--attack", kind,
               "--eps", ",".join(repr(eps) for eps in radii), "--steps", str(args.steps), "--seed", str(args.seed),
               "--limit", str(args.limit), "--data", args.data, "--threads", "1", "--json"]
    print("check_attacks.py: running %s" % " ".join(command), flush=True)
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, TINYRANK_THREADS="1"))
    except OSError as e:
        raise ExportError("%s: cannot run (%s)" % (args.tinyrank, e))
    if done.returncode != 0:
        raise ExportError("%s attack exited with %d: %s" % (args.tinyrank, done.returncode, done.stderr.strip()))
    return parse_rows(done.stdout, "the output of " + args.tinyrank)


def parse_rows(text, where):
    """The JSON list of `tinyrank attack --json` (its last line that starts with '[')."""
    lines = [line for line in text.splitlines() if line.startswith("[")]
    try:
        rows = json.loads(lines[-1])
        for row in rows:
            row["eps"], row["steps"] = float(row["eps"]), int(row["steps"])
            row["clean_accuracy"], row["robust_accuracy"] = float(row["clean_accuracy"]), float(row["robust_accuracy"])
    except (IndexError, ValueError, KeyError, TypeError) as e:
        raise ExportError("%s: expected the JSON list of `tinyrank attack --json`, found something else (%s)"
                          % (where, e))
    for row in rows:
        if row.get("attack") not in KINDS:
            raise ExportError("%s: unknown attack %r" % (where, row.get("attack")))
        if row.get("transfer_from"):
            raise ExportError("%s: a transfer attack (from %s); this script checks white-box attacks only"
                              % (where, row["transfer_from"]))
    return rows


def tinyrank_rows(args):
    """Every row to check: from the --json files, or from running tinyrank per attack kind."""
    rows = []
    if args.json:
        for path in args.json:
            try:
                with open(path) as f:
                    rows += parse_rows(f.read(), path)
            except OSError as e:
                raise ExportError("%s: cannot read (%s)" % (path, e))
    else:
        for kind, radii in args.attack or [parse_attack(text) for text in DEFAULT_ATTACKS]:
            rows += run_tinyrank(args, kind, radii)
    if len({row["clean_accuracy"] for row in rows}) > 1:
        raise ExportError("the rows give different clean accuracies %s: not the same checkpoint and --limit"
                          % sorted({row["clean_accuracy"] for row in rows}))
    return rows


def torch_accuracy(model, images, labels, kind, eps, steps, seed):
    """(clean, robust) accuracy under PyTorch's attack, batch by batch as tinyrank attacks."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)  # PGD's random starts, one stream for all batches
    clean = robust = 0
    for start in range(0, len(labels), BATCH):
        x, y = images[start:start + BATCH], labels[start:start + BATCH]
        adversarial = attack(kind, model, x, y, eps, steps, generator)
        with torch.no_grad():
            clean += int((model(x).argmax(dim=1) == y).sum())
            robust += int((model(adversarial).argmax(dim=1) == y).sum())
    return clean / len(labels), robust / len(labels)


def compare(rows, model, images, labels, seed):
    """One table row per tinyrank row, plus a clean-accuracy row; returns (table, all passed)."""
    table = []
    for row in rows:
        began = time.time()
        clean, robust = torch_accuracy(model, images, labels, row["attack"], row["eps"], row["steps"], seed)
        seconds = time.time() - began
        if not table:  # every row has the same clean accuracy (tinyrank_rows checks); compare it once
            table.append(table_row("clean", 0.0, "", row["clean_accuracy"], clean, 100.0 * TOLERANCE, ""))
        steps = str(row["steps"]) if row["attack"].startswith("pgd") else ""
        table.append(table_row(row["attack"], row["eps"], steps, row["robust_accuracy"], robust,
                               TOLERANCE_POINTS[row["attack"]], "%.0f s" % seconds))
    passed = all(entry[-2] == "PASS" for entry in table)
    return table, passed


def table_row(kind, eps, steps, ours, theirs, tolerance, note):
    """The printed columns of one comparison; the verdict is the second last."""
    difference = 100.0 * (theirs - ours)
    verdict = "PASS" if abs(difference) <= tolerance + 1e-9 else "FAIL"
    return [kind, "%g" % eps, steps, "%.2f" % (100 * ours), "%.2f" % (100 * theirs), "%+.2f" % difference,
            "%.2f" % tolerance, verdict, note]


def print_table(table):
    header = ["attack", "eps", "steps", "tinyrank %", "PyTorch %", "diff (pts)", "tol (pts)", "result", "torch time"]
    widths = [max(len(str(r[i])) for r in [header] + table) for i in range(len(header))]
    for r in [header] + table:
        print("  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip())


def arguments():
    parser = argparse.ArgumentParser(description="Compares tinyrank's robust accuracies with PyTorch's on the "
                                                 "exported weights (FGSM, scaled FGSM, PGD).")
    parser.add_argument("--npy", required=True, help="the folder written by `tinyrank export --npy DIR`")
    parser.add_argument("--tinyrank", help="the tinyrank program to run (e.g. build/tinyrank); needs --checkpoint")
    parser.add_argument("--checkpoint", help="the model.ckpt that was exported, for --tinyrank")
    parser.add_argument("--json", action="append",
                        help="a file holding `tinyrank attack --json` output, instead of --tinyrank (repeatable)")
    parser.add_argument("--attack", action="append", type=parse_attack, metavar="KIND=EPS,...",
                        help="with --tinyrank: an attack (%s) and its radii; repeatable (default: %s)"
                             % (", ".join(KINDS), " ".join(DEFAULT_ATTACKS)))
    parser.add_argument("--steps", type=int, default=10, help="PGD iterations, with --tinyrank (default 10)")
    parser.add_argument("--seed", type=int, default=1, help="PGD's random start, both sides (default 1)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N test images (0: all 10000)")
    parser.add_argument("--data", default=os.path.join(REPO, "datasets", "mnist"),
                        help="the MNIST folder (default: datasets/mnist)")
    args = parser.parse_args()
    if bool(args.json) == bool(args.tinyrank) or (args.tinyrank and not args.checkpoint):
        parser.error("give either --tinyrank PATH with --checkpoint FILE, or --json FILE")
    if args.json and args.attack:
        parser.error("--attack goes with --tinyrank; with --json the attacks are the file's rows")
    return args


def main():
    args = arguments()
    torch.set_num_threads(1)
    try:
        architecture, model = load_network(args.npy)
        images, labels = mnist_test(args.data)
        rows = tinyrank_rows(args)
    except (ExportError, OSError, KeyError) as e:
        print("check_attacks.py: %s" % e, file=sys.stderr)
        return 2
    if args.limit > 0:
        images, labels = images[:args.limit], labels[:args.limit]
    print("check_attacks.py: %s from %s, %d test images, PyTorch %s"
          % (architecture, args.npy, len(labels), torch.__version__), flush=True)
    table, passed = compare(rows, model, images, labels, args.seed)
    print_table(table)
    sys.stdout.flush()
    if not passed:
        hint = " (the clean accuracies differ: the same checkpoint and --limit on both sides?)" \
            if table[0][-2] == "FAIL" else ""
        print("check_attacks.py: FAILED: a difference exceeds its tolerance" + hint, file=sys.stderr)
        return 1
    print("check_attacks.py: every robust accuracy agrees within its tolerance")
    return 0


if __name__ == "__main__":
    sys.exit(main())
