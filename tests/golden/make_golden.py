#!/usr/bin/python3
"""Writes tests/golden/ops.golden: PyTorch's forward values and gradients for every op.

Run it through `make golden`, which calls `/usr/bin/python3 tests/golden/make_golden.py`
(Debian's python3-torch). For each case the script draws random float32 inputs with a
fixed seed, applies the PyTorch op, draws a random upstream gradient gy of the output's
shape and asks torch.autograd.grad for the gradient of every input given gy. tests/test_ops.cpp
runs the same op on the same inputs in tinyrank and compares y and every gradient.

Everything is plain float32, as in tinyrank. The format is described in README.md next to
this file; tests/golden_fixtures.hpp reads it. Bump FORMAT_VERSION there and here together.
"""

import os
import sys

import torch
import torch.nn.functional as F

FORMAT_VERSION = 1
SEED = 20240
MAX_BYTES = 1 << 20  # the fixture file stays under 1 MB
OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ops.golden")


def fmt(value):
    """A float32 printed with 9 significant digits: read back with strtof, it is the same float."""
    return "%.9g" % value


class Writer:
    def __init__(self):
        self.lines = []
        self.names = set()

    def tensor(self, key, t):
        t = t.detach().to(torch.float32).contiguous()
        self.lines.append("tensor %s %d%s" % (key, t.dim(), "".join(" %d" % d for d in t.shape)))
        values = [fmt(v) for v in t.reshape(-1).tolist()]
        for start in range(0, len(values), 8):
            self.lines.append(" ".join(values[start:start + 8]))

    def case(self, name, op, inputs, forward, ints=None, floats=None):
        """One fixture case: `inputs` (name → tensor, in the op's argument order), `forward`
        maps the input leaves to the output; ints/floats are the op's attributes."""
        assert name not in self.names, "duplicate case name " + name
        for key in inputs:
            assert key not in ("y", "gy") and not key.startswith("grad_"), "input name %s is reserved" % key
        self.names.add(name)
        leaves = [t.detach().clone().to(torch.float32).requires_grad_(True) for t in inputs.values()]
        y = forward(*leaves)
        gy = torch.randn(y.shape, dtype=torch.float32)
        grads = torch.autograd.grad(y, leaves, grad_outputs=gy)

        self.lines.append("case %s %s" % (name, op))
        for key, value in (ints or {}).items():
            if isinstance(value, (list, tuple)):
                self.lines.append("ints %s %d%s" % (key, len(value), "".join(" %d" % v for v in value)))
            else:
                self.lines.append("int %s %d" % (key, value))
        for key, value in (floats or {}).items():
            self.lines.append("float %s %s" % (key, fmt(value)))
        for key, leaf in zip(inputs.keys(), leaves):
            self.tensor(key, leaf)
        self.tensor("gy", gy)
        self.tensor("y", y)
        for key, grad in zip(inputs.keys(), grads):
            self.tensor("grad_" + key, grad)
        self.lines.append("end")


def randn(*shape):
    return torch.randn(shape, dtype=torch.float32)


def build(w):
    # ---- elementwise, with broadcasting of a row vector [n] against [m, n] ----------------
    binary = {"add": torch.add, "sub": torch.sub, "mul": torch.mul}
    for op, f in binary.items():
        w.case(op + "_same_3x5", op, {"a": randn(3, 5), "b": randn(3, 5)}, f)
        w.case(op + "_row_b", op, {"a": randn(4, 7), "b": randn(7)}, f)  # [m, n] ∘ [n]
        w.case(op + "_row_a", op, {"a": randn(3), "b": randn(5, 3)}, f)  # [n] ∘ [m, n]
    w.case("add_col_row", "add", {"a": randn(3, 1), "b": randn(1, 5)}, torch.add)  # both stretch
    w.case("mul_3d_row", "mul", {"a": randn(2, 3, 5), "b": randn(5)}, torch.mul)

    w.case("scale_3x4", "scale", {"a": randn(3, 4)}, lambda a: a * -1.75, floats={"s": -1.75})
    w.case("scale_1x7", "scale", {"a": randn(1, 7)}, lambda a: a * 0.5, floats={"s": 0.5})

    w.case("relu_3x7", "relu", {"x": randn(3, 7)}, F.relu)
    w.case("relu_2x3x5", "relu", {"x": randn(2, 3, 5)}, F.relu)
    # Without "slope" the test calls leaky_relu(x) and checks that the defaults agree (0.01).
    w.case("leaky_relu_default", "leaky_relu", {"x": randn(3, 5)}, F.leaky_relu)
    w.case("leaky_relu_0.2", "leaky_relu", {"x": randn(4, 3)}, lambda x: F.leaky_relu(x, 0.2),
           floats={"slope": 0.2})
    w.case("tanh_3x5", "tanh", {"x": randn(3, 5) * 2}, torch.tanh)
    w.case("tanh_7", "tanh", {"x": randn(7)}, torch.tanh)
    w.case("sigmoid_3x5", "sigmoid", {"x": randn(3, 5) * 3}, torch.sigmoid)
    w.case("sigmoid_wide", "sigmoid", {"x": torch.tensor([-30.0, -8.0, -1.0, 0.0, 1.0, 8.0, 30.0])},
           torch.sigmoid)

    # ---- shapes and reductions --------------------------------------------------------
    w.case("reshape_2x3x4_to_4x6", "reshape", {"x": randn(2, 3, 4)}, lambda x: x.reshape(4, -1),
           ints={"shape": [4, -1]})
    w.case("reshape_5x1_to_5", "reshape", {"x": randn(5, 1)}, lambda x: x.reshape(5), ints={"shape": [5]})
    w.case("flatten_3x2x7x5", "flatten", {"x": randn(3, 2, 7, 5)}, lambda x: torch.flatten(x, 1))
    w.case("flatten_4x3", "flatten", {"x": randn(4, 3)}, lambda x: torch.flatten(x, 1))
    w.case("sum_3x5", "sum", {"x": randn(3, 5)}, torch.sum)
    w.case("sum_2x3x7", "sum", {"x": randn(2, 3, 7)}, torch.sum)
    w.case("mean_3x5", "mean", {"x": randn(3, 5)}, torch.mean)
    w.case("mean_1x7", "mean", {"x": randn(1, 7)}, torch.mean)

    # ---- matrix products --------------------------------------------------------------
    w.case("matmul_5x7_7x3", "matmul", {"a": randn(5, 7), "b": randn(7, 3)}, torch.matmul)
    w.case("matmul_3x4_4x1", "matmul", {"a": randn(3, 4), "b": randn(4, 1)}, torch.matmul)  # 1 column
    w.case("matmul_1x5_5x2", "matmul", {"a": randn(1, 5), "b": randn(5, 2)}, torch.matmul)
    # matmul(a, b, transpose_a, transpose_b) multiplies op(a) op(b).
    w.case("matmul_at_4x3_4x2", "matmul", {"a": randn(4, 3), "b": randn(4, 2)}, lambda a, b: a.t() @ b,
           ints={"transpose_a": 1, "transpose_b": 0})
    w.case("matmul_bt_3x5_2x5", "matmul", {"a": randn(3, 5), "b": randn(2, 5)}, lambda a, b: a @ b.t(),
           ints={"transpose_a": 0, "transpose_b": 1})
    w.case("matmul_at_bt_5x1_3x5", "matmul", {"a": randn(5, 1), "b": randn(3, 5)}, lambda a, b: a.t() @ b.t(),
           ints={"transpose_a": 1, "transpose_b": 1})
    w.case("linear_3x5_to_4", "linear", {"x": randn(3, 5), "weight": randn(4, 5), "bias": randn(4)}, F.linear)
    w.case("linear_1x3_to_1", "linear", {"x": randn(1, 3), "weight": randn(1, 3), "bias": randn(1)}, F.linear)
    w.case("linear_nobias_3x5_to_4", "linear_nobias", {"x": randn(3, 5), "weight": randn(4, 5)}, F.linear)
    w.case("linear_nobias_2x7_to_1", "linear_nobias", {"x": randn(2, 7), "weight": randn(1, 7)}, F.linear)

    # ---- losses -----------------------------------------------------------------------
    w.case("log_softmax_3x5", "log_softmax", {"logits": randn(3, 5) * 2}, lambda z: F.log_softmax(z, dim=1))
    w.case("log_softmax_4x1", "log_softmax", {"logits": randn(4, 1)}, lambda z: F.log_softmax(z, dim=1))
    w.case("log_softmax_large", "log_softmax", {"logits": randn(2, 7) * 300},
           lambda z: F.log_softmax(z, dim=1))
    for name, (batch, classes, spread) in {"cross_entropy_3x5": (3, 5, 1.0),
                                           "cross_entropy_4x10": (4, 10, 3.0),
                                           "cross_entropy_large": (2, 3, 500.0)}.items():
        labels = torch.randint(0, classes, (batch,))
        w.case(name, "cross_entropy", {"logits": randn(batch, classes) * spread},
               lambda z, labels=labels: F.cross_entropy(z, labels), ints={"labels": labels.tolist()})
    w.case("mse_3x4", "mse", {"prediction": randn(3, 4), "target": randn(3, 4)}, F.mse_loss)
    w.case("mse_2x3x5", "mse", {"prediction": randn(2, 3, 5), "target": randn(2, 3, 5)}, F.mse_loss)

    # ---- convolution and pooling --------------------------------------------------------
    w.case("conv2d_s2_p1", "conv2d",
           {"x": randn(3, 2, 7, 5), "weight": randn(4, 2, 3, 3), "bias": randn(4)},
           lambda x, k, b: F.conv2d(x, k, b, stride=2, padding=1), ints={"stride": 2, "padding": 1})
    w.case("conv2d_3x2_kernel", "conv2d",
           {"x": randn(2, 3, 6, 5), "weight": randn(2, 3, 3, 2), "bias": randn(2)},
           lambda x, k, b: F.conv2d(x, k, b))  # no stride/padding: the defaults (1, 0)
    w.case("conv2d_s3_p2", "conv2d",
           {"x": randn(1, 1, 7, 7), "weight": randn(3, 1, 3, 3), "bias": randn(3)},
           lambda x, k, b: F.conv2d(x, k, b, stride=3, padding=2), ints={"stride": 3, "padding": 2})
    w.case("conv2d_nobias_s1_p1", "conv2d_nobias", {"x": randn(3, 2, 5, 7), "weight": randn(3, 2, 3, 3)},
           lambda x, k: F.conv2d(x, k, stride=1, padding=1), ints={"stride": 1, "padding": 1})
    w.case("conv2d_nobias_s2", "conv2d_nobias", {"x": randn(2, 3, 7, 5), "weight": randn(2, 3, 2, 2)},
           lambda x, k: F.conv2d(x, k, stride=2), ints={"stride": 2, "padding": 0})
    # im2col: [C·kh·kw, N·Ho·Wo], i.e. F.unfold's [N, C·kh·kw, Ho·Wo] with the batch moved into the columns.
    def im2col(kh, kw, stride, padding):
        def f(x):
            cols = F.unfold(x, (kh, kw), padding=padding, stride=stride)
            return cols.permute(1, 0, 2).reshape(cols.shape[1], -1)
        return f
    w.case("im2col_3x2_s2_p1", "im2col", {"x": randn(3, 2, 7, 5)}, im2col(3, 2, 2, 1),
           ints={"kernel_h": 3, "kernel_w": 2, "stride": 2, "padding": 1})
    w.case("im2col_2x2", "im2col", {"x": randn(2, 3, 4, 5)}, im2col(2, 2, 1, 0),
           ints={"kernel_h": 2, "kernel_w": 2})  # no stride/padding: the defaults (1, 0)
    # columns_to_images: its first argument (called y in ops.hpp, "cols" here because y is the
    # output) [O, N·Ho·Wo] → [N, O, Ho, Wo], plus bias[o].
    def columns_to_images(batch, out_h, out_w):
        return lambda cols, b: (cols.reshape(cols.shape[0], batch, out_h, out_w).permute(1, 0, 2, 3)
                                + b.reshape(1, -1, 1, 1))
    w.case("columns_to_images_4_3x3x2", "columns_to_images", {"cols": randn(4, 3 * 3 * 2), "bias": randn(4)},
           columns_to_images(3, 3, 2), ints={"batch": 3, "out_h": 3, "out_w": 2})
    w.case("columns_to_images_1_2x1x5", "columns_to_images", {"cols": randn(1, 2 * 1 * 5), "bias": randn(1)},
           columns_to_images(2, 1, 5), ints={"batch": 2, "out_h": 1, "out_w": 5})
    w.case("max_pool2d_k2", "max_pool2d", {"x": randn(3, 2, 7, 5)},
           lambda x: F.max_pool2d(x, 2), ints={"kernel": 2})  # no stride: stride = kernel
    w.case("max_pool2d_k3_s2", "max_pool2d", {"x": randn(2, 3, 7, 5)},
           lambda x: F.max_pool2d(x, 3, 2), ints={"kernel": 3, "stride": 2})  # overlapping windows
    w.case("max_pool2d_k2_s1", "max_pool2d", {"x": randn(1, 2, 4, 5)},
           lambda x: F.max_pool2d(x, 2, 1), ints={"kernel": 2, "stride": 1})


def save(w, output, script, seed, max_bytes):
    """Writes the cases of `w` to `output` (atomically) under the format header, refusing
    files over `max_bytes`; shared by every make_*_golden.py script."""
    header = ["tinyrank-golden %d torch %s" % (FORMAT_VERSION, torch.__version__),
              "# Written by tests/golden/%s (seed %d); regenerate with `make golden`." % (script, seed),
              "# %d cases. Format: tests/golden/README.md." % len(w.names)]
    text = "\n".join(header + w.lines) + "\n"
    if len(text) > max_bytes:
        sys.exit("%s: %s would be %d bytes, over the %d-byte limit" % (script, output, len(text), max_bytes))
    with open(output + ".tmp", "w") as out:
        out.write(text)
    os.replace(output + ".tmp", output)
    print("%s: wrote %d cases (%d bytes) to %s with torch %s"
          % (script, len(w.names), len(text), os.path.relpath(output), torch.__version__))


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    w = Writer()
    build(w)
    save(w, OUTPUT, "make_golden.py", SEED, MAX_BYTES)


if __name__ == "__main__":
    main()
