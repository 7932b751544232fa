#!/usr/bin/python3
"""Writes tests/golden/learning.golden: PyTorch's values for the learning layer (book chapter 3).

Run it with `/usr/bin/python3 tests/golden/make_learning_golden.py` (Debian's python3-torch;
see LEARNING.md next to this file). The file has the format of ops.golden (README.md,
tests/golden_fixtures.hpp reads it) and holds four kinds of case:

  layers      op = the tinyrank layer type (Linear, Conv2d, MaxPool2d, ReLU, LeakyReLU,
              Flatten). The ints and floats are the layer's spec options under tinyrank's
              names with a "spec." prefix (spec.in_features, spec.kernel, spec.slope, …; the
              prefix keeps the option "bias" apart from the tensor "bias"), so
              tests/test_nn.cpp builds the layer with make_layer(). Tensors: x, weight, bias
              (as stored in the torch module), the upstream gradient gy, the output y and
              grad_x, grad_weight, grad_bias.
  models      op = lenet5 or mlp: three MNIST training images through the whole network,
              cross-entropy loss, and the gradient of every parameter (see model_case below
              for how the 1.08 million weights are reproduced instead of stored).
  optimisers  op = sgd, adam or adamw: two parameters a [2, 3] and b [4] updated for `steps`
              steps from a stored sequence of gradients (set by hand as .grad), with the
              parameters after every step and the rates used; optionally under
              CosineAnnealingLR.
  schedules   op = cosine (CosineAnnealingLR's rate per batch) and clip_grad_norm.

Everything is float32, as in tinyrank.
"""

import gzip
import os
import sys
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ next to the fixtures
from make_golden import Writer, fmt, save  # noqa: E402  (the same format and number printing)

SEED = 31337
MAX_BYTES = 2 << 20  # the fixture file stays under 2 MB
OUTPUT = os.path.join(HERE, "learning.golden")
MNIST = os.path.join(HERE, "..", "..", "datasets", "mnist")


class CaseWriter(Writer):
    """Writer with records written one by one, for cases that are not a single op call."""

    def begin(self, name, op):
        assert name not in self.names, "duplicate case name " + name
        self.names.add(name)
        self.keys = set()  # a key names one record of a case, whatever its kind
        self.lines.append("case %s %s" % (name, op))

    def key(self, key):
        assert key not in self.keys, "duplicate key " + key
        self.keys.add(key)
        return key

    def integer(self, key, value):
        self.lines.append("int %s %d" % (self.key(key), value))

    def integers(self, key, values):
        self.lines.append("ints %s %d%s" % (self.key(key), len(values), "".join(" %d" % v for v in values)))

    def real(self, key, value):
        self.lines.append("float %s %s" % (self.key(key), fmt(float(np.float32(value)))))

    def tensor(self, key, t):
        Writer.tensor(self, self.key(key), t)

    def end(self):
        self.lines.append("end")


def randn(*shape):
    return torch.randn(shape, dtype=torch.float32)


# ---- tinyrank's generator, to reproduce its uniform draws bit for bit ------------------------

MASK64 = (1 << 64) - 1


class Pcg32:
    """PCG32 seeded like tinyrank::Rng(seed, stream) (include/tinyrank/random.hpp)."""

    def __init__(self, seed, stream=54):
        self.increment = ((stream << 1) | 1) & MASK64
        self.state = 0
        self.next_u32()
        self.state = (self.state + seed) & MASK64
        self.next_u32()

    def next_u32(self):
        old = self.state
        self.state = (old * 6364136223846793005 + self.increment) & MASK64
        xorshifted = (((old >> 18) ^ old) >> 27) & 0xFFFFFFFF
        rotation = old >> 59
        return ((xorshifted >> rotation) | (xorshifted << ((32 - rotation) & 31))) & 0xFFFFFFFF

    def uniform(self, n, lo, hi):
        """n draws of Tensor::uniform(shape, rng, lo, hi): lo + (hi − lo)·u in float32,
        u = (next_u32() >> 8)·2⁻²⁴."""
        u = np.array([self.next_u32() >> 8 for _ in range(n)], dtype=np.float32) * np.float32(2.0 ** -24)
        lo, hi = np.float32(lo), np.float32(hi)
        values = lo + (hi - lo) * u
        assert values.dtype == np.float32
        return values


def check_pcg32():
    rng = Pcg32(42, 54)
    got = [rng.next_u32() for _ in range(6)]
    assert got == [0xA15C02B7, 0x7B47F409, 0xBA1D3330, 0x83D2F293, 0xBFA4784B, 0xCBED606E], got


# ---- layers -------------------------------------------------------------------------------------

def layer_case(w, name, layer_type, module, x, ints=None, floats=None):
    """One layer on input x with a random upstream gradient; ints/floats are tinyrank's spec options."""
    x = x.detach().clone().requires_grad_(True)
    params = OrderedDict(module.named_parameters())
    y = module(x)
    gy = randn(*y.shape)
    grads = torch.autograd.grad(y, [x] + list(params.values()), grad_outputs=gy)
    w.begin(name, layer_type)
    for key, value in (ints or {}).items():
        w.integer("spec." + key, value)
    for key, value in (floats or {}).items():
        w.real("spec." + key, value)
    w.tensor("x", x)
    for key, p in params.items():
        w.tensor(key, p)
    w.tensor("gy", gy)
    w.tensor("y", y)
    w.tensor("grad_x", grads[0])
    for key, g in zip(params.keys(), grads[1:]):
        w.tensor("grad_" + key, g)
    w.end()


def layers(w):
    def linear(name, batch, n_in, n_out, bias):
        layer_case(w, name, "Linear", nn.Linear(n_in, n_out, bias=bias), randn(batch, n_in),
                   ints={"in_features": n_in, "out_features": n_out, "bias": int(bias)})

    linear("linear_3x7_to_5", 3, 7, 5, True)
    linear("linear_1x4_to_1", 1, 4, 1, True)
    linear("linear_nobias_4x6_to_3", 4, 6, 3, False)

    def conv(name, shape, n_out, kernel, stride, padding, bias):
        n_in = shape[1]
        layer_case(w, name, "Conv2d", nn.Conv2d(n_in, n_out, kernel, stride, padding, bias=bias), randn(*shape),
                   ints={"in_channels": n_in, "out_channels": n_out, "kernel": kernel, "stride": stride,
                         "padding": padding, "bias": int(bias)})

    conv("conv2d_k3_s1_p0", (2, 3, 7, 6), 4, 3, 1, 0, True)
    conv("conv2d_k3_s2_p1", (2, 3, 7, 6), 4, 3, 2, 1, True)
    conv("conv2d_k5_s1_p1", (2, 2, 9, 8), 3, 5, 1, 1, True)
    conv("conv2d_k2_s2_p0", (3, 2, 7, 7), 3, 2, 2, 0, True)   # the last row and column are not covered
    conv("conv2d_nobias_k3_s2_p1", (2, 3, 8, 5), 2, 3, 2, 1, False)
    conv("conv2d_nobias_k3_s1_p1", (1, 2, 5, 5), 3, 3, 1, 1, False)

    def pool(name, shape, kernel, stride):
        layer_case(w, name, "MaxPool2d", nn.MaxPool2d(kernel, stride), randn(*shape),
                   ints={"kernel": kernel, "stride": stride})

    pool("max_pool2d_k2_s2", (2, 3, 8, 6), 2, 2)
    pool("max_pool2d_k2_s2_odd", (2, 2, 7, 5), 2, 2)              # the last row and column are dropped
    pool("max_pool2d_k3_s2", (1, 2, 7, 7), 3, 2)                  # overlapping windows

    layer_case(w, "relu_3x2x4x4", "ReLU", nn.ReLU(), randn(3, 2, 4, 4))
    layer_case(w, "relu_4x9", "ReLU", nn.ReLU(), randn(4, 9))
    layer_case(w, "leaky_relu_default_3x8", "LeakyReLU", nn.LeakyReLU(), randn(3, 8),
               floats={"slope": 0.01})
    layer_case(w, "leaky_relu_0.2_2x3x3x3", "LeakyReLU", nn.LeakyReLU(0.2), randn(2, 3, 3, 3),
               floats={"slope": 0.2})
    layer_case(w, "flatten_3x2x4x5", "Flatten", nn.Flatten(), randn(3, 2, 4, 5))
    layer_case(w, "flatten_2x7", "Flatten", nn.Flatten(), randn(2, 7))


# ---- whole models ------------------------------------------------------------------------------

def lenet5_torch():
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(1, 20, 5)), ("pool1", nn.MaxPool2d(2)), ("relu1", nn.ReLU()),
        ("conv2", nn.Conv2d(20, 50, 5)), ("pool2", nn.MaxPool2d(2)), ("relu2", nn.ReLU()),
        ("flatten", nn.Flatten()), ("fc1", nn.Linear(800, 500)), ("relu3", nn.ReLU()),
        ("fc2", nn.Linear(500, 10))]))


def mlp_torch():
    return nn.Sequential(OrderedDict([
        ("flatten", nn.Flatten()), ("fc1", nn.Linear(784, 500)), ("relu1", nn.ReLU()),
        ("fc2", nn.Linear(500, 500)), ("relu2", nn.ReLU()), ("fc3", nn.Linear(500, 10))]))


def fan_in(module):
    if isinstance(module, nn.Conv2d):
        return module.in_channels * module.kernel_size[0] * module.kernel_size[1]
    return module.in_features


def read_idx(path, offset):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def mnist_train(count):
    images = read_idx(os.path.join(MNIST, "train-images-idx3-ubyte.gz"), 16)[:count * 784]
    labels = read_idx(os.path.join(MNIST, "train-labels-idx1-ubyte.gz"), 8)[:count]
    x = torch.from_numpy(images.reshape(count, 1, 28, 28).astype(np.float32) / np.float32(255.0))
    return x, torch.from_numpy(labels.astype(np.int64))


FACTOR_MIN_ELEMENTS = 100000  # Linear weights at least this large are stored as two factors


def model_case(w, name, op, model, x, labels, weight_seed):
    """The whole model on x: logits, mean cross-entropy and every parameter gradient.

    The weights are not written out (1.08 million numbers would make a ~10 MB file). Instead
    they are tinyrank's own uniform draws: parameter after parameter in model order,
    Tensor::uniform(shape, Rng(weight_seed), −bound, +bound) with bound = 1/√fan_in, the
    PyTorch default init's range; this script reproduces PCG32 bit for bit. The case stores
    each bound, the first 8 values and the float64 sum of each parameter, so the test notices
    at once if the draws ever disagree.

    A Linear weight gradient is Σ_b δ_b x_bᵀ (δ = ∂loss/∂output, x = the layer's input), so
    for the large ones (fc1, fc2 of the mlp; fc1 of lenet5) the case stores the factors
    grad_out_<name> = δ [B, out] and grad_in_<name> = x [B, in], checked here against the
    gradient autograd computed, and the test compares every element with δᵀx.
    """
    rng = Pcg32(weight_seed)
    modules = dict(model.named_modules())
    bounds = OrderedDict()
    with torch.no_grad():
        for pname, p in model.named_parameters():
            owner = modules[pname.rsplit(".", 1)[0]]
            bound = np.float32(1.0) / np.sqrt(np.float32(fan_in(owner)))
            values = rng.uniform(p.numel(), -bound, bound)
            p.copy_(torch.from_numpy(values.reshape(tuple(p.shape))))
            bounds[pname] = bound

    factored = [n for n, m in model.named_children()
                if isinstance(m, nn.Linear) and m.weight.numel() >= FACTOR_MIN_ELEMENTS]
    inputs, outputs = {}, {}
    h = x
    for child_name, child in model.named_children():
        if child_name in factored:
            inputs[child_name] = h.detach().clone()
        h = child(h)
        if child_name in factored:
            h.retain_grad()
            outputs[child_name] = h
    logits = h
    loss = F.cross_entropy(logits, labels)
    model.zero_grad()
    loss.backward()

    w.begin(name, op)
    w.integer("weight_seed", weight_seed)
    w.integer("weight_stream", 54)
    w.integers("labels", labels.tolist())
    w.tensor("x", x)
    for pname, p in model.named_parameters():
        w.real("bound_" + pname, bounds[pname])
        w.tensor("head_" + pname, p.reshape(-1)[:8])
        w.real("sum_" + pname, float(p.detach().double().sum()))
    w.tensor("logits", logits)
    w.real("loss", float(loss))
    for pname, p in model.named_parameters():
        layer, kind = pname.rsplit(".", 1)
        w.real("grad_norm_" + pname, float(p.grad.double().norm()))
        if layer in factored and kind == "weight":
            delta, inp = outputs[layer].grad, inputs[layer]
            rebuilt = delta.double().t() @ inp.double()
            error = float((rebuilt - p.grad.double()).abs().max())
            assert error <= 1e-6 * float(p.grad.abs().max()) + 1e-9, (pname, error)
            w.tensor("grad_out_" + pname, delta)
            w.tensor("grad_in_" + pname, inp)
        else:
            w.tensor("grad_" + pname, p.grad)
    w.end()


def models(w):
    x, labels = mnist_train(3)
    model_case(w, "lenet5_mnist3", "lenet5", lenet5_torch(), x, labels, weight_seed=5)
    model_case(w, "mlp_mnist3", "mlp", mlp_torch(), x, labels, weight_seed=7)


# ---- optimisers ---------------------------------------------------------------------------------

def optimizer_case(w, name, op, make, floats, ints=None, steps=5, t_max=None, eta_min=0.0):
    """Two parameters a [2, 3] and b [4] stepped `steps` times by make(params) from a stored
    sequence of gradients; with t_max, CosineAnnealingLR(t_max, eta_min) is stepped after
    every optimiser step (per batch)."""
    # After t_max torch's rate rises again (the cosine is periodic) while tinyrank's stays at
    # eta_min, so a scheduled case ends at step t_max + 1 at the latest (rate index t_max).
    assert t_max is None or steps <= t_max + 1
    a = torch.nn.Parameter(randn(2, 3))
    b = torch.nn.Parameter(randn(4))
    optimizer = make([a, b])
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, t_max, eta_min) if t_max else None
    w.begin(name, op)
    for key, value in floats.items():
        w.real(key, value)
    for key, value in (ints or {}).items():
        w.integer(key, value)
    w.integer("steps", steps)
    if t_max:
        w.integer("t_max", t_max)
        w.real("eta_min", eta_min)
    w.tensor("a_0", a)
    w.tensor("b_0", b)
    rates = []
    for t in range(1, steps + 1):
        # Gradients of changing size, so that Adam's normalisation and momentum both matter;
        # one element of b gets no gradient at step 2.
        ga = randn(2, 3) * (0.5 + t * 0.5)
        gb = randn(4) * (2.0 if t % 2 else 0.1)
        if t == 2:
            gb[1] = 0.0
        a.grad, b.grad = ga.clone(), gb.clone()
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        w.tensor("grad_a_%d" % t, ga)
        w.tensor("grad_b_%d" % t, gb)
        w.tensor("a_%d" % t, a)
        w.tensor("b_%d" % t, b)
    w.tensor("rates", torch.tensor(rates, dtype=torch.float32))
    w.end()


def optimizers(w):
    SGD, Adam, AdamW = torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW
    optimizer_case(w, "sgd_plain", "sgd", lambda p: SGD(p, lr=0.1), {"lr": 0.1})
    optimizer_case(w, "sgd_momentum", "sgd", lambda p: SGD(p, lr=0.1, momentum=0.9), {"lr": 0.1, "momentum": 0.9})
    optimizer_case(w, "sgd_nesterov", "sgd", lambda p: SGD(p, lr=0.05, momentum=0.9, nesterov=True),
                   {"lr": 0.05, "momentum": 0.9}, {"nesterov": 1})
    optimizer_case(w, "sgd_weight_decay", "sgd", lambda p: SGD(p, lr=0.1, weight_decay=0.1),
                   {"lr": 0.1, "weight_decay": 0.1})
    optimizer_case(w, "sgd_momentum_weight_decay", "sgd",
                   lambda p: SGD(p, lr=0.1, momentum=0.8, weight_decay=0.05, nesterov=True),
                   {"lr": 0.1, "momentum": 0.8, "weight_decay": 0.05}, {"nesterov": 1})
    # Without beta1/beta2/eps/weight_decay the test uses tinyrank's defaults, and torch's apply here.
    optimizer_case(w, "adam_default", "adam", lambda p: Adam(p, lr=0.01), {"lr": 0.01})
    optimizer_case(w, "adam_betas_eps", "adam", lambda p: Adam(p, lr=0.02, betas=(0.8, 0.99), eps=1e-3),
                   {"lr": 0.02, "beta1": 0.8, "beta2": 0.99, "eps": 1e-3})
    optimizer_case(w, "adam_weight_decay", "adam", lambda p: Adam(p, lr=0.01, weight_decay=0.1),
                   {"lr": 0.01, "weight_decay": 0.1})
    optimizer_case(w, "adamw_default", "adamw", lambda p: AdamW(p, lr=0.01), {"lr": 0.01})  # weight_decay 0.01
    optimizer_case(w, "adamw_weight_decay_0.01", "adamw", lambda p: AdamW(p, lr=0.05, weight_decay=0.01),
                   {"lr": 0.05, "weight_decay": 0.01})
    optimizer_case(w, "adamw_weight_decay_0.5", "adamw", lambda p: AdamW(p, lr=0.05, weight_decay=0.5),
                   {"lr": 0.05, "weight_decay": 0.5})
    # Under the cosine schedule, stepped per batch: step t uses lr(t), t = 0, 1, …
    optimizer_case(w, "sgd_momentum_cosine", "sgd", lambda p: SGD(p, lr=0.1, momentum=0.9),
                   {"lr": 0.1, "momentum": 0.9}, steps=5, t_max=4, eta_min=0.01)
    optimizer_case(w, "adam_cosine", "adam", lambda p: Adam(p, lr=0.05), {"lr": 0.05}, steps=5, t_max=5,
                   eta_min=0.001)


def schedules(w):
    for name, base_lr, t_max, eta_min in [("cosine_T10", 0.1, 10, 0.0), ("cosine_T7_min", 0.05, 7, 0.001),
                                          ("cosine_T1", 0.3, 1, 0.0), ("cosine_T469_min", 0.01, 469, 1e-4)]:
        p = torch.nn.Parameter(torch.zeros(1))
        optimizer = torch.optim.SGD([p], lr=base_lr)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, t_max, eta_min)
        rates = []
        for _ in range(t_max + 1):  # torch's rate rises again after t_max (a period); tinyrank stays at eta_min
            rates.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
        w.begin(name, "cosine")
        w.real("base_lr", base_lr)
        w.integer("t_max", t_max)
        w.real("eta_min", eta_min)
        w.tensor("rates", torch.tensor(rates, dtype=torch.float32))
        w.end()

    for name, max_norm, spread in [("clip_grad_norm_clipped", 1.0, 1.0), ("clip_grad_norm_unclipped", 100.0, 1.0),
                                   ("clip_grad_norm_tiny", 0.05, 0.01)]:
        a = torch.nn.Parameter(torch.zeros(3, 4))
        b = torch.nn.Parameter(torch.zeros(5))
        a.grad, b.grad = randn(3, 4) * spread, randn(5) * spread
        ga, gb = a.grad.clone(), b.grad.clone()
        total = torch.nn.utils.clip_grad_norm_([a, b], max_norm)
        w.begin(name, "clip_grad_norm")
        w.real("max_norm", max_norm)
        w.tensor("grad_a", ga)
        w.tensor("grad_b", gb)
        w.real("total_norm", float(total))
        w.tensor("clipped_a", a.grad)
        w.tensor("clipped_b", b.grad)
        w.end()


def main():
    check_pcg32()
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    w = CaseWriter()
    layers(w)
    models(w)
    optimizers(w)
    schedules(w)
    save(w, OUTPUT, "make_learning_golden.py", SEED, MAX_BYTES)


if __name__ == "__main__":
    main()
