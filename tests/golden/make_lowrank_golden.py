#!/usr/bin/python3
"""Writes tests/golden/lowrank.golden: PyTorch's outputs and gradients for the factorised layers.

Run it with Debian's Python, which has python3-torch:

    /usr/bin/python3 tests/golden/make_lowrank_golden.py

A low-rank layer stores W = U S V^T (U [n_out, r] and V [n_in, r] with orthonormal columns,
S [r, r] a full matrix) and a bias. For each case the script draws U, V (thin QR of random
matrices), S, the bias and the input, applies the layer the way PyTorch users would write it,

    LowRankLinear:  Y = X V S^T U^T + b
    LowRankConv2d:  kernel = (U S V^T).reshape(O, C, k, k);  Y = F.conv2d(X, kernel, b, stride, padding)

draws an upstream gradient gy of the output's shape and asks torch.autograd.grad for the
gradients of x, U, S, V and bias. tests/test_lowrank.cpp loads the factors into
tinyrank's layers and compares the output and every gradient.

The cases use the writer (and so the format, version 1) of make_golden.py next to this file;
tests/golden_fixtures.hpp reads them. Everything is plain float32, one thread, fixed seed: a
second run writes the same file byte for byte with the same torch version.
"""

import os
import sys

import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import MAX_BYTES, Writer, save  # noqa: E402  (the shared writer)

SEED = 20250
OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lowrank.golden")


def randn(*shape):
    return torch.randn(shape, dtype=torch.float32)


def orthonormal(rows, cols):
    """A [rows, cols] matrix with orthonormal columns (thin QR of a Gaussian matrix)."""
    q, _ = torch.linalg.qr(randn(rows, cols))
    return q.contiguous()


def core(r):
    """A full r×r core with a spread of singular values, as training leaves it."""
    return randn(r, r) + torch.diag(torch.linspace(2.0, 0.5, r))


def linear_case(w, name, batch, n_in, n_out, r):
    inputs = {"x": randn(batch, n_in), "U": orthonormal(n_out, r), "S": core(r), "V": orthonormal(n_in, r),
              "bias": randn(n_out)}
    w.case(name, "lowrank_linear", inputs, lambda x, u, s, v, b: x @ v @ s.t() @ u.t() + b,
           ints={"in_features": n_in, "out_features": n_out, "rank": r})


def conv_case(w, name, batch, channels, height, width, out_channels, kernel, r, stride, padding):
    fan_in = channels * kernel * kernel
    inputs = {"x": randn(batch, channels, height, width), "U": orthonormal(out_channels, r), "S": core(r),
              "V": orthonormal(fan_in, r), "bias": randn(out_channels)}

    def forward(x, u, s, v, b):
        weight = (u @ s @ v.t()).reshape(out_channels, channels, kernel, kernel)
        return F.conv2d(x, weight, b, stride=stride, padding=padding)

    w.case(name, "lowrank_conv2d", inputs, forward,
           ints={"in_channels": channels, "out_channels": out_channels, "kernel": kernel, "stride": stride,
                 "padding": padding, "rank": r})


def build(w):
    linear_case(w, "lowrank_linear_3x7_to_5_r3", batch=3, n_in=7, n_out=5, r=3)
    linear_case(w, "lowrank_linear_4x13_to_9_r1", batch=4, n_in=13, n_out=9, r=1)  # rank one
    linear_case(w, "lowrank_linear_2x6_to_11_r6", batch=2, n_in=6, n_out=11, r=6)  # full rank
    conv_case(w, "lowrank_conv2d_s2_p1_r2", batch=2, channels=3, height=7, width=6, out_channels=4, kernel=3,
              r=2, stride=2, padding=1)
    conv_case(w, "lowrank_conv2d_s1_p0_r3", batch=3, channels=2, height=5, width=7, out_channels=5, kernel=3,
              r=3, stride=1, padding=0)
    conv_case(w, "lowrank_conv2d_k5_s1_p2_r4", batch=1, channels=1, height=6, width=5, out_channels=6, kernel=5,
              r=4, stride=1, padding=2)  # more kernel positions than output channels


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    w = Writer()
    build(w)
    save(w, OUTPUT, "make_lowrank_golden.py", SEED, MAX_BYTES)


if __name__ == "__main__":
    main()
