#!/usr/bin/python3
"""The workloads of tests/bench/bench.cpp in PyTorch, configured the way PyTorch runs fastest here.

    /usr/bin/python3 tests/bench/pytorch_reference.py                    # 1 thread and all cores
    /usr/bin/python3 tests/bench/pytorch_reference.py --quick --json /tmp/pytorch.json
    /usr/bin/python3 tests/bench/pytorch_reference.py --only lenet5 --threads 1 --reps 5

Same workload names, shapes, batch (128), optimisers (SGD with momentum 0.9, Adam; the learning
rates of tinyrank's Recipe, cosine decay per batch), ranks and thread counts as tinyrank_bench;
MNIST is read from the IDX .gz files with gzip and numpy and held in memory as tensors:
  train-*        one epoch (60 000 images); the low-rank models with the DLRT step written as
                 the method's authors wrote theirs: a basis batch computes the gradients of U
                 and V, augmentation by torch.linalg.qr of [U | G_U] and [V | G_V], s* = 10
                 Galerkin steps on S (and the dense parameters) with U and V frozen, truncation by
                 torch.linalg.svd of S at tau = 0.1 (book/method.md §2; include/tinyrank/dlrt.hpp)
  infer-*        the 10 000 test images, in torch.inference_mode()
  fgsm-*, pgd10-*  robust accuracy at eps 0.1 over the test set, FGSM and PGD-linf with 10 steps,
                 with tests/golden/attacks_torch.py (the attacks the golden fixtures are made with)
  sgemm          torch.mm of two 2048 x 2048 matrices, at least 10 times (the fastest is the ceiling)
Each workload runs in its own process (this script with --worker), which reports the median of
--reps timed repetitions after a warm-up and its peak resident memory (VmHWM, as
resource.getrusage's ru_maxrss): "base" is its resident memory with torch imported and MNIST
loaded, just before the workload.

The best configuration (DEVELOPERS.md, "Benchmarks"): Debian's python3-torch calls whatever
libblas.so.3 the alternatives system points at (the reference BLAS makes it about 20x slower);
it runs fastest on the OpenMP build of OpenBLAS (libopenblas0-openmp), whose threads are the
OpenMP threads torch.set_num_threads() sets, and with glibc's MALLOC_MMAP_THRESHOLD_ and
MALLOC_TRIM_THRESHOLD_ raised so that its large temporary buffers are reused instead of being
mapped and unmapped (page faults) at every batch. The script re-executes itself with
LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp and both thresholds at 512 MB unless
--as-is is given, and prints the BLAS library it actually loaded, read from /proc/self/maps.
"""

import os
import sys

OPENMP_BLAS_DIR = "/usr/lib/x86_64-linux-gnu/openblas-openmp"
MALLOC_THRESHOLD = str(512 * 1024 * 1024)
BEST_ENVIRONMENT = {"MALLOC_MMAP_THRESHOLD_": MALLOC_THRESHOLD, "MALLOC_TRIM_THRESHOLD_": MALLOC_THRESHOLD}


def best_environment():
    """os.environ with the OpenMP OpenBLAS first on LD_LIBRARY_PATH and the malloc thresholds raised,
    or None when it is already so (or the OpenMP build is not installed: then say so)."""
    env = dict(os.environ)
    changed = False
    for key, value in BEST_ENVIRONMENT.items():
        if env.get(key) != value:
            env[key] = value
            changed = True
    paths = [p for p in env.get("LD_LIBRARY_PATH", "").split(":") if p]
    if os.path.isdir(OPENMP_BLAS_DIR):
        if not paths or paths[0] != OPENMP_BLAS_DIR:
            env["LD_LIBRARY_PATH"] = ":".join([OPENMP_BLAS_DIR] + [p for p in paths if p != OPENMP_BLAS_DIR])
            changed = True
    else:
        print("pytorch_reference.py: %s is missing (Debian package libopenblas0-openmp; "
              "scripts/install-deps --missing --torch): torch will use the default libblas.so.3"
              % OPENMP_BLAS_DIR, file=sys.stderr)
    return env if changed else None


# The dynamic loader reads LD_LIBRARY_PATH only when a process starts: re-execute before torch loads.
if __name__ == "__main__" and "--as-is" not in sys.argv:
    _env = best_environment()
    if _env is not None:
        os.execve(sys.executable, [sys.executable] + sys.argv, _env)

import argparse  # noqa: E402
import ctypes  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from collections import OrderedDict  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "golden"))
import attacks_torch  # noqa: E402
from check_export import read_idx  # noqa: E402

DEFAULT_RANK = {"lenet5": 12, "mlp": 16}                     # tinyrank's default_rank()
FACTORIZED = {"lenet5": ("conv2", "fc1"), "mlp": ("fc1", "fc2")}  # Factorize::standard
EPS = 0.1


# ---- workloads and data -----------------------------------------------------------------------

def model_tag(model, lowrank):
    """lowrank-lenet5 or lenet5, as in the workload names."""
    return ("lowrank-" if lowrank else "") + model


def all_workloads():
    """The workload names of tinyrank_bench that have a PyTorch counterpart, in the same order."""
    names = ["sgemm"]
    for lowrank in (False, True):
        for model in ("mlp", "lenet5"):
            for optimizer in ("sgd", "adam"):
                names.append("train-%s-%s" % (model_tag(model, lowrank), optimizer))
    for prefix in ("infer", "fgsm", "pgd10"):
        for lowrank in (False, True):
            for model in ("mlp", "lenet5"):
                names.append("%s-%s" % (prefix, model_tag(model, lowrank)))
    return names


def parse_workload(name):
    """(kind, model, lowrank, optimizer) of a workload name."""
    if name == "sgemm":
        return "sgemm", None, False, None
    parts = name.split("-")
    kind = parts.pop(0)
    lowrank = parts[0] == "lowrank"
    if lowrank:
        parts.pop(0)
    return kind, parts[0], lowrank, parts[1] if len(parts) > 1 else None


def load_split(folder, prefix):
    """MNIST images [N, 1, 28, 28] as b / 255 and labels, from `prefix`-images/labels IDX .gz files."""
    extents, pixels = read_idx(folder, ["%s-images-idx3-ubyte" % prefix, "%s-images.idx3-ubyte" % prefix], 0x803)
    count, rows, cols = extents
    _, labels = read_idx(folder, ["%s-labels-idx1-ubyte" % prefix, "%s-labels.idx1-ubyte" % prefix], 0x801)
    images = pixels.reshape(count, 1, rows, cols).astype(np.float32)
    images /= np.float32(255.0)  # in place: no second 188 MB temporary for malloc to keep
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))


# ---- models -------------------------------------------------------------------------------------

def mlp():
    """784 -> 500 -> 500 -> 10 with ReLU (tinyrank's mlp())."""
    return nn.Sequential(OrderedDict(flatten=nn.Flatten(), fc1=nn.Linear(784, 500), relu1=nn.ReLU(),
                                     fc2=nn.Linear(500, 500), relu2=nn.ReLU(), fc3=nn.Linear(500, 10)))


def lenet5():
    """LeNet-5 as tinyrank's lenet5(): conv 5x5 1->20, pool, ReLU, conv 5x5 20->50, pool, ReLU, fc 800->500->10."""
    return nn.Sequential(OrderedDict(conv1=nn.Conv2d(1, 20, 5), pool1=nn.MaxPool2d(2), relu1=nn.ReLU(),
                                     conv2=nn.Conv2d(20, 50, 5), pool2=nn.MaxPool2d(2), relu2=nn.ReLU(),
                                     flatten=nn.Flatten(), fc1=nn.Linear(800, 500), relu3=nn.ReLU(),
                                     fc2=nn.Linear(500, 10)))


def truncated_svd(w, rank):
    """U [n_out, r], S = diag(sigma) [r, r], V [n_in, r] of the rank-r SVD truncation of w."""
    u, s, vh = torch.linalg.svd(w, full_matrices=False)
    return u[:, :rank].contiguous(), torch.diag(s[:rank]), vh[:rank].t().contiguous()


class LowRankLinear(nn.Module):
    """W = U S V^T + b, applied as ((x V) S^T) U^T + b."""

    def __init__(self, dense, rank):
        super().__init__()
        u, s, v = truncated_svd(dense.weight.detach(), rank)
        self.U, self.S, self.V = nn.Parameter(u), nn.Parameter(s), nn.Parameter(v)
        self.bias = nn.Parameter(dense.bias.detach().clone())
        self.rank_max = min(dense.in_features, dense.out_features) // 2

    def forward(self, x):
        return F.linear(F.linear(x @ self.V, self.S), self.U, self.bias)


class LowRankConv2d(nn.Module):
    """A convolution whose kernel as a matrix [O, C k k] is U S V^T, applied to the unfolded input."""

    def __init__(self, dense, rank):
        super().__init__()
        self.kernel = dense.kernel_size[0]
        self.out_channels = dense.out_channels
        u, s, v = truncated_svd(dense.weight.detach().reshape(dense.out_channels, -1), rank)
        self.U, self.S, self.V = nn.Parameter(u), nn.Parameter(s), nn.Parameter(v)
        self.bias = nn.Parameter(dense.bias.detach().clone())
        self.rank_max = min(u.shape[0], v.shape[0]) // 2

    def forward(self, x):
        n, _, h, w = x.shape
        cols = F.unfold(x, self.kernel).transpose(1, 2)              # [N, P, C k k]
        y = F.linear(F.linear(cols @ self.V, self.S), self.U, self.bias)  # [N, P, O]
        return y.transpose(1, 2).reshape(n, self.out_channels, h - self.kernel + 1, w - self.kernel + 1)


def make_model(model, lowrank, seed):
    """A zoo model with torch's default initialisation, its standard layers factorised at the default rank."""
    torch.manual_seed(seed)
    net = mlp() if model == "mlp" else lenet5()
    if lowrank:
        for name in FACTORIZED[model]:
            dense = getattr(net, name)
            kind = LowRankLinear if isinstance(dense, nn.Linear) else LowRankConv2d
            setattr(net, name, kind(dense, DEFAULT_RANK[model]))
    return net


def lowrank_layers(net):
    """The low-rank layers of a model, in order."""
    return [m for m in net.modules() if isinstance(m, (LowRankLinear, LowRankConv2d))]


# ---- training -----------------------------------------------------------------------------------

def cosine(base_lr, total):
    """tinyrank's CosineSchedule: base_lr (1 + cos(pi t / total)) / 2, 0 from t = total on."""
    return lambda t: base_lr * 0.5 * (1.0 + math.cos(math.pi * t / total)) if t < total else 0.0


def make_optimizer(name, parameters, lr):
    """SGD with momentum 0.9 or Adam (PyTorch's defaults otherwise), as tinyrank's Recipe builds them."""
    if name == "sgd":
        return torch.optim.SGD(parameters, lr=lr, momentum=0.9)
    return torch.optim.Adam(parameters, lr=lr, betas=(0.9, 0.999), eps=1e-8)


class DenseStepper:
    """Forward, cross-entropy, backward, optimiser step."""

    def __init__(self, net, optimizer, schedule):
        self.net, self.optimizer, self.schedule, self.batches = net, optimizer, schedule, 0

    def step(self, x, y):
        for group in self.optimizer.param_groups:
            group["lr"] = self.schedule(self.batches)
        self.batches += 1
        self.optimizer.zero_grad(set_to_none=True)
        logits = self.net(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        self.optimizer.step()
        return loss.item(), int((logits.argmax(1) == y).sum())

    def end_epoch(self):
        pass


def project_state(optimizer, parameter, m, n):
    """The optimiser state of a core S expressed in new bases: b <- M b N (Adam's v through its root)."""
    state = optimizer.state.get(parameter)
    if not state:
        return
    for key in ("exp_avg", "momentum_buffer"):
        if state.get(key) is not None:
            state[key] = m @ state[key] @ n
    if state.get("exp_avg_sq") is not None:
        state["exp_avg_sq"] = (m @ state["exp_avg_sq"].sqrt() @ n) ** 2


def truncation_rank(sigma, tau):
    """The smallest r with ||sigma[r:]|| < tau ||sigma|| (descending sigma)."""
    squares = sigma.double() ** 2
    tails = torch.cat([squares.flip(0).cumsum(0).flip(0), squares.new_zeros(1)]).sqrt()  # tails[r] = ||sigma[r:]||
    return int((tails < tau * squares.sum().sqrt()).nonzero()[0])


class DlrtStepper:
    """DLRT's rank-adaptive step: basis batch, augment (QR), s* Galerkin steps on S, truncate (SVD)."""

    def __init__(self, net, optimizer_name, lr, schedule, local_steps=10, tau=0.1, rank_min=2):
        self.net, self.schedule, self.local_steps, self.tau, self.rank_min = net, schedule, local_steps, tau, rank_min
        self.layers = lowrank_layers(net)
        bases = {id(p) for layer in self.layers for p in (layer.U, layer.V)}
        self.optimizer = make_optimizer(optimizer_name, [p for p in net.parameters() if id(p) not in bases], lr)
        self.phase, self.batches = 0, 0

    def step(self, x, y):
        basis = self.phase == 0
        self.batches += 1
        for layer in self.layers:
            layer.U.requires_grad_(basis)
            layer.V.requires_grad_(basis)
            layer.U.grad = layer.V.grad = None
        self.optimizer.zero_grad(set_to_none=True)
        logits = self.net(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        if basis:
            with torch.no_grad():
                for layer in self.layers:
                    self.augment(layer)
            self.phase = 1
        else:
            for group in self.optimizer.param_groups:
                group["lr"] = self.schedule(self.batches - 1)
            self.optimizer.step()
            self.phase += 1
            if self.phase > self.local_steps:
                self.truncate()
        return loss.item(), int((logits.argmax(1) == y).sum())

    def end_epoch(self):
        if self.phase > 0:
            self.truncate()

    def augment(self, layer):
        """U_hat = orth([U | G_U]), V_hat = orth([V | G_V]), min(2r, n_out, n_in) columns; S = U_hat^T U S V^T V_hat."""
        u, s, v = layer.U.data, layer.S.data, layer.V.data
        r = s.shape[0]
        k = min(2 * r, u.shape[0], v.shape[0])
        if k <= r:
            return
        u_hat = torch.linalg.qr(torch.cat([u, layer.U.grad], 1))[0][:, :k]
        v_hat = torch.linalg.qr(torch.cat([v, layer.V.grad], 1))[0][:, :k]
        m, n = u_hat.t() @ u, v.t() @ v_hat
        layer.U.data, layer.S.data, layer.V.data = u_hat.contiguous(), m @ s @ n, v_hat.contiguous()
        project_state(self.optimizer, layer.S, m, n)

    def truncate(self):
        """S = P Sigma Q^T; keep the smallest rank whose tail is below tau ||sigma||, within [rank_min, rank_max]."""
        with torch.no_grad():
            for layer in self.layers:
                p, sigma, qh = torch.linalg.svd(layer.S.data)
                r1 = min(max(truncation_rank(sigma, self.tau), self.rank_min), layer.rank_max)
                p1, q1 = p[:, :r1], qh[:r1].t()
                layer.U.data, layer.V.data = layer.U.data @ p1, layer.V.data @ q1
                layer.S.data = torch.diag(sigma[:r1])
                project_state(self.optimizer, layer.S, p1.t(), q1)
        self.phase = 0


def make_stepper(model, lowrank, optimizer, seed, batches):
    """A freshly initialised model and the stepper that trains it (tinyrank's Recipe defaults)."""
    net = make_model(model, lowrank, seed)
    lr = 0.003 if lowrank else 0.001
    schedule = cosine(lr, batches)
    if lowrank:
        return net, DlrtStepper(net, optimizer, lr, schedule)
    return net, DenseStepper(net, make_optimizer(optimizer, net.parameters(), lr), schedule)


def train_epoch(net, stepper, images, labels, batch, batches, seed):
    """One epoch of `batches` batches in a seeded shuffled order; the mean loss."""
    net.train()
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    loss_sum = 0.0
    for i in range(batches):
        index = order[i * batch:(i + 1) * batch]
        loss, _ = stepper.step(images[index], labels[index])
        loss_sum += loss
    stepper.end_epoch()
    return loss_sum / batches


def run_training(setup, model, lowrank, optimizer, data):
    """A warm-up of a few batches, then `reps` timed epochs, each from a fresh model; the times and a note."""
    images, labels = data["train"]
    per_epoch = math.ceil(len(labels) / setup.batch)
    batches = min(per_epoch, setup.train_batches) if setup.train_batches else per_epoch
    net, stepper = make_stepper(model, lowrank, optimizer, setup.seed, batches)
    train_epoch(net, stepper, images, labels, setup.batch, setup.warmup_batches, setup.seed)
    times, loss = [], 0.0
    for _ in range(setup.reps):
        net, stepper = make_stepper(model, lowrank, optimizer, setup.seed, batches)
        start = time.perf_counter()
        loss = train_epoch(net, stepper, images, labels, setup.batch, batches, setup.seed)
        times.append(time.perf_counter() - start)
    ranks = " ".join("%s=%d" % (name, m.S.shape[0]) for name, m in net.named_children()
                     if isinstance(m, (LowRankLinear, LowRankConv2d)))
    return times, "loss %.3f" % loss + (", ranks " + ranks if ranks else "")


# ---- inference, attacks, sgemm --------------------------------------------------------------------

def classify(net, images, labels, batch):
    """The number of images classified correctly, in inference mode."""
    correct = 0
    with torch.inference_mode():
        for start in range(0, len(labels), batch):
            correct += int((net(images[start:start + batch]).argmax(1) == labels[start:start + batch]).sum())
    return correct


def robust(net, images, labels, kind, batch, seed):
    """(clean, robust) accuracy under FGSM or PGD-linf (10 steps, random start) at EPS."""
    generator = torch.Generator().manual_seed(seed)
    eps = attacks_torch.f32(EPS)
    clean = robust_count = 0
    for start in range(0, len(labels), batch):
        x, y = images[start:start + batch], labels[start:start + batch]
        if kind == "fgsm":
            adversarial = attacks_torch.fgsm(net, x, y, eps)
        else:
            adversarial = attacks_torch.pgd_linf(net, x, y, eps, 10, attacks_torch.default_step(eps, 10), generator)
        with torch.no_grad():
            clean += int((net(x).argmax(1) == y).sum())
            robust_count += int((net(adversarial).argmax(1) == y).sum())
    return clean / len(labels), robust_count / len(labels)


def run_evaluation(setup, kind, model, lowrank, data):
    """Inference or an attack over the test set: `reps` timed passes after a warm-up on its first images."""
    images, labels = data["test"]
    net = make_model(model, lowrank, setup.seed)
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)  # only the input gradient is wanted (tinyrank freezes its parameters too)
    warm = min(setup.warmup_images, len(labels))
    if kind == "infer":
        work = lambda n: classify(net, images[:n], labels[:n], setup.batch)  # noqa: E731
    else:
        work = lambda n: robust(net, images[:n], labels[:n], kind, setup.batch, setup.seed)  # noqa: E731
    work(warm)
    times, result = [], None
    for _ in range(setup.reps):
        start = time.perf_counter()
        result = work(len(labels))
        times.append(time.perf_counter() - start)
    note = "" if kind == "infer" else "eps 0.1, initial weights: clean %.3f, robust %.3f" % result
    return times, note


def run_sgemm(setup):
    """torch.mm of two n x n matrices, at least 10 times after a warm-up; the times and a note."""
    n = setup.sgemm_n
    generator = torch.Generator().manual_seed(7)
    a, b = (torch.rand(n, n, generator=generator) * 2 - 1 for _ in range(2))
    c = torch.empty(n, n)
    torch.mm(a, b, out=c)
    times = []
    for _ in range(max(setup.reps, 10)):
        start = time.perf_counter()
        torch.mm(a, b, out=c)
        times.append(time.perf_counter() - start)
    return times, "square %dx%dx%d" % (n, n, n)


# ---- the process of one workload ------------------------------------------------------------------

def status_kb(field):
    """A field of /proc/self/status in kB (VmRSS, VmHWM)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def reset_peak():
    """Restarts VmHWM from the current resident size (Linux >= 4.0), so that loading MNIST is not the peak."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def mapped_files():
    """Every file mapped into this process, from /proc/self/maps, once each."""
    found = []
    with open("/proc/self/maps") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 6 and fields[5].startswith("/") and fields[5] not in found:
                found.append(fields[5])
    return found


def blas_libraries():
    """The BLAS, LAPACK and OpenMP libraries mapped into this process."""
    keys = ("blas", "lapack", "gomp", "omp.so", "mkl", "dnnl")
    return [path for path in mapped_files() if any(key in os.path.basename(path) for key in keys)]


class DlInfo(ctypes.Structure):
    """glibc's Dl_info, filled by dladdr()."""
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p), ("dli_sname", ctypes.c_char_p),
                ("dli_saddr", ctypes.c_void_p)]


def sgemm_provider():
    """The file whose sgemm_ torch's CPU library calls: dlsym in libtorch_cpu's scope, then dladdr; or None."""
    libraries = [path for path in mapped_files() if os.path.basename(path).startswith("libtorch_cpu")]
    if not libraries:
        return None
    try:
        address = ctypes.cast(ctypes.CDLL(libraries[0]).sgemm_, ctypes.c_void_p).value
    except AttributeError:
        return None
    info = DlInfo()
    if not ctypes.CDLL("libc.so.6").dladdr(ctypes.c_void_p(address), ctypes.byref(info)):
        return None
    return os.path.realpath(info.dli_fname.decode())


def describe_blas(provider):
    """The BLAS in `provider`: OpenBLAS with openblas_get_config() and its threading model, the reference
    BLAS, or just the path."""
    if provider is None:
        return "unknown (no sgemm_ found in libtorch_cpu's scope)"
    folder = os.path.dirname(provider)
    if os.path.basename(folder) == "blas":
        return "the reference BLAS (netlib), %s" % provider
    openblas = os.path.join(folder, "libopenblas.so.0")
    if "openblas" in os.path.basename(folder) and os.path.exists(openblas):
        lib = ctypes.CDLL(openblas)
        lib.openblas_get_config.restype = ctypes.c_char_p
        model = {0: "sequential", 1: "pthreads", 2: "OpenMP"}.get(lib.openblas_get_parallel(), "?")
        return "%s (%s threading), %s" % (lib.openblas_get_config().decode(), model, provider)
    return provider


class Setup:
    """How much work each workload does (tinyrank_bench's Setup)."""

    def __init__(self, args):
        self.batch, self.reps, self.seed = args.batch, args.reps, 1
        self.train_batches, self.warmup_batches, self.warmup_images = 0, 10, 500
        self.test_images, self.sgemm_n = 10000, 2048
        if args.quick:
            self.train_batches, self.warmup_batches, self.warmup_images = 3, 1, 16
            self.test_images, self.sgemm_n = args.batch, 256


def worker(args):
    """Runs one workload in this process and prints its result as one JSON line."""
    torch.set_num_threads(args.threads)
    setup = Setup(args)
    kind, model, lowrank, optimizer = parse_workload(args.worker)
    # Both splits, as tinyrank_bench's workloads start with both in memory.
    images, labels = load_split(args.data, "t10k")
    data = {"train": load_split(args.data, "train"), "test": (images[:setup.test_images], labels[:setup.test_images])}
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # return what loading freed: the raised thresholds would keep it
    reset_peak()
    base = status_kb("VmRSS")
    if kind == "sgemm":
        times, note = run_sgemm(setup)
    elif kind == "train":
        times, note = run_training(setup, model, lowrank, optimizer, data)
    else:
        times, note = run_evaluation(setup, kind, model, lowrank, data)
    result = {"name": args.worker, "kind": kind, "threads": args.threads, "seconds": statistics.median(times),
              "all_seconds": times, "peak_rss_mb": status_kb("VmHWM") / 1024.0, "base_rss_mb": base / 1024.0,
              "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, "note": note,
              "torch_threads": torch.get_num_threads(), "blas": describe_blas(sgemm_provider())}
    if kind == "sgemm":
        result["flops"] = 2.0 * setup.sgemm_n ** 3
        result["gflops"] = result["flops"] / result["seconds"] / 1e9
        result["ceiling_gflops"] = result["flops"] / min(times) / 1e9
    print(json.dumps(result))


# ---- the parent: every workload at every thread count ---------------------------------------------

def run_worker(name, threads, args):
    """Runs workload `name` in a child process with `threads` threads; its result, or one with "error"."""
    command = [sys.executable, os.path.abspath(__file__), "--as-is", "--worker", name, "--threads", str(threads),
               "--reps", str(args.reps), "--batch", str(args.batch), "--data", args.data]
    if args.quick:
        command.append("--quick")
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0 or not done.stdout.strip():
        lines = (done.stderr.strip() or "exit status %d" % done.returncode).splitlines()
        return {"name": name, "threads": threads, "error": lines[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_result(r):
    """One line of the results, as tinyrank_bench prints it."""
    if "error" in r:
        print("  %-34s %2d  FAILED: %s" % (r["name"], r["threads"], r["error"]), flush=True)
        return
    times = r["all_seconds"]
    print("  %-34s %2d %9.3f s  [%7.3f-%7.3f]  %s%6.0f MB (+%.0f)  %s"
          % (r["name"], r["threads"], r["seconds"], min(times), max(times),
             "%7.2f GFLOP/s  " % r["gflops"] if "gflops" in r else "", r["peak_rss_mb"],
             r["peak_rss_mb"] - r["base_rss_mb"], r["note"]), flush=True)


def describe_configuration():
    """Lines naming torch, the BLAS serving its sgemm_ and the environment; and the BLAS description."""
    blas = describe_blas(sgemm_provider())
    lines = ["PyTorch %s; libraries loaded (/proc/self/maps): %s" % (torch.__version__, ", ".join(blas_libraries())),
             "BLAS serving torch's sgemm_: %s" % blas,
             "LD_LIBRARY_PATH=%s MALLOC_MMAP_THRESHOLD_=%s MALLOC_TRIM_THRESHOLD_=%s"
             % tuple(os.environ.get(k, "(unset)") for k in ("LD_LIBRARY_PATH", "MALLOC_MMAP_THRESHOLD_",
                                                             "MALLOC_TRIM_THRESHOLD_"))]
    if blas.startswith("the reference BLAS"):
        lines.append("WARNING: torch calls the reference BLAS (about 20x slower than OpenBLAS)")
    elif "OpenMP threading" not in blas:
        lines.append("WARNING: not the OpenMP build of OpenBLAS; torch.set_num_threads() does not set its threads")
    return lines, blas


def parse_threads(text):
    """1,2 or 1,all as thread counts (all = every core this process may use)."""
    counts = []
    for item in text.split(","):
        n = len(os.sched_getaffinity(0)) if item == "all" else int(item)
        if n < 1:
            raise SystemExit("pytorch_reference.py: --threads: expected positive counts or 'all', found %r" % text)
        if n not in counts:
            counts.append(n)
    return counts


def selected(only):
    """The workloads --only selects (sgemm always)."""
    names = all_workloads()
    if not only:
        return names
    chosen = [n for n in names if n == "sgemm" or any(part in n for part in only)]
    if len(chosen) == 1:
        raise SystemExit("pytorch_reference.py: --only: no workload matches (names: %s)" % ", ".join(names))
    return chosen


def main():
    """Every selected workload at every thread count, each in its own process; JSON if asked."""
    parser = argparse.ArgumentParser(description="tinyrank_bench's workloads in PyTorch (tests/bench/compare.py "
                                                 "puts both in one table).")
    parser.add_argument("--quick", action="store_true", help="a few batches and images, 1 repetition, 1 thread")
    parser.add_argument("--reps", type=int, default=3, help="timed repetitions after the warm-up (median reported)")
    parser.add_argument("--threads", help="thread counts, e.g. 1,2 or 1,all (default: 1 and all cores; --quick: 1)")
    parser.add_argument("--only", nargs="+", default=[], metavar="NAME",
                        help="only the workloads whose name contains one of the NAMEs (sgemm always runs)")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--data", default=os.path.join(REPO, "datasets", "mnist"))
    parser.add_argument("--list", action="store_true", help="print the workload names and exit")
    parser.add_argument("--as-is", action="store_true",
                        help="keep the environment (BLAS, malloc thresholds) as it is instead of the best one")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.reps = 1
    if args.worker:
        args.threads = int(args.threads)
        return worker(args)
    if args.list:
        print("\n".join(all_workloads()))
        return 0
    threads = parse_threads(args.threads or ("1" if args.quick or os.cpu_count() == 1 else "1,all"))
    lines, blas = describe_configuration()
    print("pytorch reference: " + "\n".join(lines))
    print("measuring with %s thread(s) (torch.set_num_threads and OMP_NUM_THREADS); batch %d; median of %d "
          "repetition(s) after a warm-up%s" % (", ".join(map(str, threads)), args.batch, args.reps,
                                               " (--quick: a few batches each)" if args.quick else ""), flush=True)
    results = []
    for t in threads:
        for name in selected(args.only):
            r = run_worker(name, t, args)
            print_result(r)
            results.append(r)
    served = {r["blas"] for r in results if "blas" in r}
    if served - {blas}:
        print("WARNING: some workloads ran on another BLAS: %s" % "; ".join(sorted(served - {blas})))
    if args.json:
        document = {"program": "pytorch", "torch": torch.__version__, "blas": blas,
                    "blas_libraries": blas_libraries(), "cores": len(os.sched_getaffinity(0)), "threads": threads,
                    "batch": args.batch, "reps": args.reps, "quick": args.quick,
                    "environment": {k: os.environ.get(k) for k in ("LD_LIBRARY_PATH", "MALLOC_MMAP_THRESHOLD_",
                                                                   "MALLOC_TRIM_THRESHOLD_")},
                    "results": results}
        with open(args.json + ".tmp", "w") as f:
            json.dump(document, f, indent=2)
        os.replace(args.json + ".tmp", args.json)
        print("wrote %s" % args.json)
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
