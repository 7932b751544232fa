#!/usr/bin/python3
"""Checks a `tinyrank export` folder with PyTorch: the same weights must classify MNIST the same.

    build/tinyrank export --checkpoint runs/lenet5/model.ckpt --npy /tmp/npy
    /usr/bin/python3 tests/golden/check_export.py --npy /tmp/npy
    /usr/bin/python3 tests/golden/check_export.py --npy /tmp/npy --expect 0.9712

The script reads manifest.json, rebuilds the network in PyTorch layer by layer (Conv2d,
MaxPool2d, ReLU, LeakyReLU, Flatten, Linear, with the options the manifest gives), loads each
parameter from its .npy file, reads the MNIST test set from the .gz IDX files (gzip + numpy,
pixels b / 255 as in tinyrank) and prints the test accuracy. A low-rank layer (manifest
"lowrank": true, type LowRankLinear or LowRankConv2d, files <name>.U.npy, .S.npy, .V.npy and
.bias.npy) becomes a dense nn.Linear or nn.Conv2d whose weight is W = U S V^T, formed in
float64 and stored as float32: [out, in] for a Linear, reshaped to [O, C, k, k] for a
convolution (tinyrank factorises the kernel as the matrix [O, C*k*k], one filter per row).
With --expect X (a fraction, as `tinyrank eval --json` prints it in "test_accuracy") it exits 1
when the accuracy differs from X by more than 1e-4: the same float32 weights give the same
predictions, up to the rare image whose two largest logits tie within rounding (tinyrank never
forms W = U S V^T, so a low-rank layer rounds differently on the two sides). Exit status 2 means
the export or the data could not be read. See tests/golden/LEARNING.md.
"""

import argparse
import gzip
import json
import os
import struct
import sys
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TOLERANCE = 1e-4


class ExportError(Exception):
    pass


def option(layer, key):
    options = layer.get("options", {})
    if key not in options:
        raise ExportError("layer '%s' (%s): the manifest has no option '%s'" % (layer["name"], layer["type"], key))
    return options[key]


def integer(layer, key):
    return int(round(option(layer, key)))


def make_layer(layer):
    """The torch module for one manifest layer (tinyrank's LayerSpec options)."""
    kind = layer["type"]
    if kind == "Conv2d":
        return nn.Conv2d(integer(layer, "in_channels"), integer(layer, "out_channels"), integer(layer, "kernel"),
                         stride=integer(layer, "stride"), padding=integer(layer, "padding"),
                         bias=integer(layer, "bias") != 0)
    if kind == "Linear":
        return nn.Linear(integer(layer, "in_features"), integer(layer, "out_features"), bias=integer(layer, "bias") != 0)
    if kind == "MaxPool2d":
        return nn.MaxPool2d(integer(layer, "kernel"), integer(layer, "stride"))
    if kind == "ReLU":
        return nn.ReLU()
    if kind == "LeakyReLU":
        return nn.LeakyReLU(float(np.float32(option(layer, "slope"))))
    if kind == "Flatten":
        return nn.Flatten()
    raise ExportError("layer '%s': unknown type '%s' (this script knows Conv2d, MaxPool2d, ReLU, LeakyReLU, "
                      "Flatten, Linear, and the low-rank LowRankLinear and LowRankConv2d)" % (layer["name"], kind))


# A low-rank layer's type → the dense torch layer its W = U S V^T is loaded into.
LOWRANK_TYPES = {"LowRankLinear": "Linear", "LowRankConv2d": "Conv2d"}


def load_array(folder, layer, files, key, shape):
    """The float32 array of parameter `key` of a layer; `shape` may hold None for a free extent."""
    if key not in files:
        raise ExportError("layer '%s' (%s): the manifest lists no parameter '%s' (it lists %s)"
                          % (layer["name"], layer["type"], key, sorted(files)))
    value = np.load(os.path.join(folder, files[key]))
    if value.dtype != np.float32 or value.ndim != len(shape) or any(
            want is not None and want != got for want, got in zip(shape, value.shape)):
        expected = tuple("r" if want is None else want for want in shape)
        raise ExportError("%s: expected float32 %s, found %s %s" % (files[key], expected, value.dtype,
                                                                    tuple(value.shape)))
    return value


def make_lowrank_layer(folder, layer):
    """A dense torch layer holding W = U S V^T of a tinyrank low-rank layer, and its rank."""
    kind = layer["type"]
    if kind not in LOWRANK_TYPES:
        raise ExportError("layer '%s': marked low-rank but of type '%s' (this script knows %s)"
                          % (layer["name"], kind, ", ".join(sorted(LOWRANK_TYPES))))
    files = layer.get("parameters", {})
    if set(files) != {"U", "S", "V", "bias"}:
        raise ExportError("layer '%s' (%s): expected parameters ['S', 'U', 'V', 'bias'], the manifest lists %s"
                          % (layer["name"], kind, sorted(files)))
    if kind == "LowRankLinear":
        n_out, n_in = integer(layer, "out_features"), integer(layer, "in_features")
        module = nn.Linear(n_in, n_out)
    else:
        n_out, k = integer(layer, "out_channels"), integer(layer, "kernel")
        n_in = integer(layer, "in_channels") * k * k
        module = nn.Conv2d(integer(layer, "in_channels"), n_out, k, stride=integer(layer, "stride"),
                           padding=integer(layer, "padding"))
    u = load_array(folder, layer, files, "U", (n_out, None))
    r = u.shape[1]
    if r != integer(layer, "rank"):
        raise ExportError("%s: %d columns, but the manifest gives layer '%s' rank %d"
                          % (files["U"], r, layer["name"], integer(layer, "rank")))
    s = load_array(folder, layer, files, "S", (r, r))
    v = load_array(folder, layer, files, "V", (n_in, r))
    bias = load_array(folder, layer, files, "bias", (n_out,))
    w = (u.astype(np.float64) @ s.astype(np.float64) @ v.astype(np.float64).T).astype(np.float32)  # [n_out, n_in]
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(w.reshape(tuple(module.weight.shape))))
        module.bias.copy_(torch.from_numpy(bias))
    return module, r


def load_network(folder):
    """The network described by folder/manifest.json, with its parameters from the .npy files."""
    path = os.path.join(folder, "manifest.json")
    try:
        with open(path) as f:
            manifest = json.load(f)
    except (OSError, ValueError) as e:
        raise ExportError("%s: cannot read the manifest (%s)" % (path, e))
    if manifest.get("format") != "tinyrank-npy-export" or manifest.get("version") != 1:
        raise ExportError("%s: expected format 'tinyrank-npy-export' version 1, found %r version %r"
                          % (path, manifest.get("format"), manifest.get("version")))
    layers = OrderedDict()
    for layer in manifest["layers"]:
        if layer.get("lowrank", layer["type"] in LOWRANK_TYPES):
            module, rank = make_lowrank_layer(folder, layer)
            print("check_export.py: %s: %s of rank %d -> %s with W = U S V^T %s"
                  % (layer["name"], layer["type"], rank, LOWRANK_TYPES.get(layer["type"]),
                     list(module.weight.shape)))
            layers[layer["name"]] = module
            continue
        module = make_layer(layer)
        own = dict(module.named_parameters())
        files = layer.get("parameters", {})
        if set(files) != set(own):
            raise ExportError("layer '%s' (%s): the manifest lists parameters %s, the layer has %s"
                              % (layer["name"], layer["type"], sorted(files), sorted(own)))
        for key, file in files.items():
            value = np.load(os.path.join(folder, file))
            if value.dtype != np.float32 or tuple(value.shape) != tuple(own[key].shape):
                raise ExportError("%s: expected float32 %s, found %s %s"
                                  % (file, tuple(own[key].shape), value.dtype, tuple(value.shape)))
            with torch.no_grad():
                own[key].copy_(torch.from_numpy(value))
        layers[layer["name"]] = module
    return manifest.get("architecture", "?"), nn.Sequential(layers)


def read_idx(folder, names, magic):
    """The IDX file called one of `names` in `folder` (.gz or raw) as (extents, uint8 data)."""
    for name in names:
        for candidate, opener in ((name + ".gz", gzip.open), (name, open)):
            path = os.path.join(folder, candidate)
            if os.path.exists(path):
                with opener(path, "rb") as f:
                    data = f.read()
                found, = struct.unpack(">I", data[:4])
                if found != magic:
                    raise ExportError("%s: expected magic 0x%08x, found 0x%08x" % (path, magic, found))
                ndim = magic & 0xFF
                extents = struct.unpack(">%dI" % ndim, data[4:4 + 4 * ndim])
                values = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
                if values.size != int(np.prod(extents)):
                    raise ExportError("%s: expected %d values for %s, found %d" % (path, np.prod(extents), extents,
                                                                                    values.size))
                return extents, values
    raise ExportError("%s: none of %s (with or without .gz) exists" % (folder, ", ".join(names)))


def mnist_test(folder):
    extents, pixels = read_idx(folder, ["t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"], 0x00000803)
    count, rows, cols = extents
    _, labels = read_idx(folder, ["t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"], 0x00000801)
    if labels.size != count:
        raise ExportError("%s: %d test images but %d labels" % (folder, count, labels.size))
    images = pixels.reshape(count, 1, rows, cols).astype(np.float32) / np.float32(255.0)
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))


def accuracy(model, images, labels, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(labels), batch):
            logits = model(images[start:start + batch])
            correct += int((logits.argmax(dim=1) == labels[start:start + batch]).sum())
    return correct / len(labels)


def main():
    parser = argparse.ArgumentParser(description="Evaluates a `tinyrank export` folder with PyTorch on the MNIST test set.")
    parser.add_argument("--npy", required=True, help="the folder written by `tinyrank export --npy DIR`")
    parser.add_argument("--data", default=os.path.join(REPO, "datasets", "mnist"),
                        help="the MNIST folder (default: datasets/mnist)")
    parser.add_argument("--expect", type=float,
                        help="the accuracy tinyrank reported, as a fraction (`tinyrank eval --json`); exit 1 if "
                             "PyTorch's differs by more than %g" % TOLERANCE)
    args = parser.parse_args()
    torch.set_num_threads(1)
    try:
        architecture, model = load_network(args.npy)
        images, labels = mnist_test(args.data)
    except (ExportError, OSError, KeyError) as e:
        print("check_export.py: %s" % e, file=sys.stderr)
        return 2
    result = accuracy(model, images, labels)
    print("check_export.py: %s from %s: PyTorch %s test accuracy %.4f%% on %d images"
          % (architecture, args.npy, torch.__version__, 100.0 * result, len(labels)))
    if args.expect is not None:
        expected = args.expect
        difference = abs(result - expected)
        if difference > TOLERANCE:
            print("check_export.py: FAILED: tinyrank reported %.4f%%, PyTorch finds %.4f%% (difference %.4f%%, "
                  "allowed %.4f%%)" % (100 * expected, 100 * result, 100 * difference, 100 * TOLERANCE),
                  file=sys.stderr)
            return 1
        print("check_export.py: agrees with the expected %.4f%% (difference %.4f%%, allowed %.4f%%)"
              % (100 * expected, 100 * difference, 100 * TOLERANCE))
    return 0


if __name__ == "__main__":
    sys.exit(main())
