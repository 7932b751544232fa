// tests/bench/flops.hpp — the matrix products a model computes, counted from its layer specs.
//
// Every FLOP of a Linear, Conv2d or low-rank layer is in a matrix product C = op(A) op(B)
// (m×n, inner dimension k, 2·m·n·k FLOPs), so listing the products of a pass gives both its
// FLOP count and the GEMM shapes whose speed bounds it. Elementwise work (ReLU, pooling,
// im2col, bias, loss, optimiser) is not counted. The products follow what tinyrank's ops
// record on the tape (src/ops/linear.cpp, src/ops/conv.cpp, src/lowrank/layers.cpp): a
// gradient is computed only for a tensor that depends on something requiring one.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tinyrank/nn.hpp"

namespace tinyrank::bench {

// One product C [m×n] = op(A) op(B) with inner dimension k.
struct Gemm {
    int64_t m = 0, n = 0, k = 0;
    bool transpose_a = false, transpose_b = false;
    std::string what;  // "fc1 forward", "conv2 dW", …

    // 2·m·n·k.
    double flops() const { return 2.0 * double(m) * double(n) * double(k); }
    // "128x500x784 NT": the shape and the transpose flags, the key of a GEMM shape.
    std::string shape() const;
};

// What one pass over a batch computes.
struct PassKind {
    bool backward = true;      // false: the forward pass only (inference)
    bool weight_grads = true;  // gradients of the parameters (false: an attack's input gradient)
    bool input_grad = false;   // the gradient of the input images (attacks)
    bool frozen_bases = false;  // low-rank layers take U and V as constants (the Galerkin step)
};

// The products of one pass of the model made of `layers` over `batch` images of shape
// `image` ([C, H, W]); `ranks` overrides the rank of the named low-rank layers.
std::vector<Gemm> pass_gemms(const std::vector<LayerSpec>& layers, int64_t batch, const PassKind& pass,
                             const std::map<std::string, int64_t>& ranks = {}, const Shape& image = {1, 28, 28});
// Σ 2·m·n·k over `gemms`.
double total_flops(const std::vector<Gemm>& gemms);

}  // namespace tinyrank::bench
