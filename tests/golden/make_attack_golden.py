#!/usr/bin/python3
"""Writes tests/golden/attacks.golden: PyTorch's FGSM and PGD adversarial images.

Run it with Debian's Python, which has python3-torch:

    /usr/bin/python3 tests/golden/make_attack_golden.py

The network is a small MLP, Linear(20, 16) → ReLU → Linear(16, 5), with PyTorch's default
initialisation under a fixed seed; its weights go into the fixture. The batch holds six
inputs in [0, 1]^20, a quarter of whose pixels are set to exactly 0 or 1, so that the
clip to [0, 1] changes the result. With g = ∇_x of the batch-MEAN cross-entropy, the
attacks of include/tinyrank/attacks.hpp (METHOD §4), in plain float32 torch (attacks_torch.py,
shared with check_attacks.py):

    fgsm          x' = clip(x + ε sign(g), 0, 1)
    fgsm-scaled   x' = clip(x + ε g / ‖g‖_∞, 0, 1)                     (‖·‖ per sample)
    pgd-linf      k times: x ← clip(clamp(x + α sign(g), x0 − ε, x0 + ε), 0, 1)
    pgd-l2        k times: x ← x + α g / ‖g‖₂;  δ = x − x0;
                           x ← clip(x0 + min(1, ε / ‖δ‖₂) δ, 0, 1)      (‖·‖ per sample)

PGD starts at x0 (no random start), g is recomputed at the current x every step, and
α = 2.5 ε / k in float32 (tinyrank's default when AttackOptions::step_size is 0).

Cases (format of README.md next to this file, written with make_golden.py's Writer):

    case mlp_20_16_5 attack_model   fc1.weight, fc1.bias, fc2.weight, fc2.bias, x,
                                    labels, loss (the batch-mean cross-entropy) and
                                    grad_x (= g at x)
    case <kind>_eps<ε> <kind>       float eps, int steps, float alpha (PGD only) and
                                    tensor adversarial, for kind fgsm, fgsm-scaled,
                                    pgd-linf, pgd-l2 (the names of AttackOptions::kind)

tests/test_attacks_golden.cpp builds the same network as a tinyrank Sequential and compares
input_gradient and attack() with these. Everything is plain float32, one thread, fixed
seed: a second run writes the same file byte for byte with the same torch version.
"""

import os
import sys

import torch

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import Writer, fmt, save  # noqa: E402  (the shared writer)
from attacks_torch import default_step, f32, fgsm, fgsm_scaled, gradient, pgd_l2, pgd_linf  # noqa: E402

SEED = 20260
OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "attacks.golden")
MAX_BYTES = 200 * 1024  # this file stays small
BATCH, N_IN, HIDDEN, CLASSES = 6, 20, 16, 5


def make_model():
    model = torch.nn.Sequential()
    model.add_module("fc1", torch.nn.Linear(N_IN, HIDDEN))
    model.add_module("relu", torch.nn.ReLU())
    model.add_module("fc2", torch.nn.Linear(HIDDEN, CLASSES))
    return model.eval()


def make_inputs():
    x = torch.rand(BATCH, N_IN, dtype=torch.float32)
    which = torch.rand(BATCH, N_IN)
    x[which < 0.125] = 0.0  # about one pixel in eight at 0 and one in eight at 1
    x[which > 0.875] = 1.0
    labels = torch.randint(0, CLASSES, (BATCH,))
    return x, labels


def begin(w, name, op):
    assert name not in w.names, "duplicate case name " + name
    w.names.add(name)
    w.lines.append("case %s %s" % (name, op))


def build(w):
    model = make_model()
    x0, labels = make_inputs()
    g, loss = gradient(model, x0, labels)

    begin(w, "mlp_20_16_5", "attack_model")
    w.lines.append("ints labels %d%s" % (len(labels), "".join(" %d" % v for v in labels.tolist())))
    for key, value in model.state_dict().items():
        w.tensor(key, value)
    w.tensor("x", x0)
    w.tensor("loss", loss)
    w.tensor("grad_x", g)
    w.lines.append("end")

    attacks = [("fgsm", 0.1, 1, lambda eps, k, a: fgsm(model, x0, labels, eps)),
               ("fgsm-scaled", 0.1, 1, lambda eps, k, a: fgsm_scaled(model, x0, labels, eps)),
               ("pgd-linf", 0.1, 5, lambda eps, k, a: pgd_linf(model, x0, labels, eps, k, a)),
               ("pgd-l2", 0.5, 5, lambda eps, k, a: pgd_l2(model, x0, labels, eps, k, a))]
    for kind, eps, steps, run in attacks:
        eps = f32(eps)
        alpha = default_step(eps, steps)  # α = 2.5 ε / k in float32, as tinyrank computes it
        adversarial = run(eps, steps, alpha)
        # The fixture is only a test of clipping if the clip changed something.
        assert ((adversarial == 0.0) | (adversarial == 1.0)).any(), kind + ": no pixel at 0 or 1"
        begin(w, "%s_eps%g" % (kind, eps), kind)
        w.lines.append("float eps %s" % fmt(eps))
        w.lines.append("int steps %d" % steps)
        if kind.startswith("pgd"):
            w.lines.append("float alpha %s" % fmt(alpha))
        w.tensor("adversarial", adversarial)
        w.lines.append("end")


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    w = Writer()
    build(w)
    save(w, OUTPUT, "make_attack_golden.py", SEED, MAX_BYTES)


if __name__ == "__main__":
    main()
