// tinyrank/ops.hpp — differentiable operations on tape values.
//
// Each op computes its forward value with the Tensor functions and records one backward
// closure with its hand-written derivative. The comment above each op states the shapes
// and the backward formula; book chapter 2 derives them, chapter 4 the convolution ones.
// Every op is checked against finite differences and PyTorch in tests/test_ops.cpp.
//
// Notation: ḡ = ∂loss/∂(output) is the gradient arriving from above.
#pragma once

#include <cstdint>
#include <vector>

#include "tinyrank/tape.hpp"

namespace tinyrank {

// ---- Elementwise (src/autodiff/ops/elementwise.cpp) -------------------------------------

// a + b, broadcasting. ∂a = sum_to(ḡ, shape a), ∂b = sum_to(ḡ, shape b).
Var add(const Var& a, const Var& b);
// a − b, broadcasting. ∂a = sum_to(ḡ), ∂b = −sum_to(ḡ).
Var sub(const Var& a, const Var& b);
// a ⊙ b, broadcasting. ∂a = sum_to(ḡ ⊙ b), ∂b = sum_to(ḡ ⊙ a).
Var mul(const Var& a, const Var& b);
// s · a. ∂a = s ḡ.
Var scale(const Var& a, float s);
// max(x, 0). ∂x = ḡ ⊙ [x > 0].
Var relu(const Var& x);
// x for x > 0, slope · x otherwise. ∂x = ḡ ⊙ (x > 0 ? 1 : slope).
Var leaky_relu(const Var& x, float slope = 0.01f);
// tanh(x). ∂x = ḡ ⊙ (1 − y²).
Var tanh(const Var& x);
// σ(x) = 1 / (1 + e^{−x}). ∂x = ḡ ⊙ y (1 − y).
Var sigmoid(const Var& x);

// ---- Shapes and reductions (src/autodiff/ops/shape.cpp) ---------------------------------

// The same values with another shape (one extent may be −1). ∂x = reshape(ḡ, shape x).
Var reshape(const Var& x, const Shape& shape);
// [N, d1, d2, …] → [N, d1·d2·…]. ∂x = reshape(ḡ, shape x).
Var flatten(const Var& x);
// Σ_i x_i as a one-element tensor of shape []. ∂x = ḡ · 1.
Var sum(const Var& x);
// (1/n) Σ_i x_i as a one-element tensor. ∂x = ḡ / n · 1.
Var mean(const Var& x);

// ---- Matrix products (src/autodiff/ops/linear.cpp) --------------------------------------

// op(A) op(B), op = transpose when the flag is set; for A [m, k], B [k, n]:
// ∂A = ḡ Bᵀ, ∂B = Aᵀ ḡ (transposed operands get the transposed gradient).
Var matmul(const Var& a, const Var& b, bool transpose_a = false, bool transpose_b = false);
// X Wᵀ + b for X [B, in], W [out, in], b [out] (PyTorch's nn.Linear).
// ∂X = ḡ W, ∂W = ḡᵀ X, ∂b = Σ_rows ḡ.
Var linear(const Var& x, const Var& weight, const Var& bias);
// X Wᵀ without a bias.
Var linear(const Var& x, const Var& weight);

// ---- Losses (src/autodiff/ops/loss.cpp) -------------------------------------------------

// log softmax over the last axis of [B, C] logits: y_ij = z_ij − log Σ_k e^{z_ik}
// (computed with the row maximum subtracted). ∂z = ḡ − softmax(z) ⊙ Σ_j ḡ_j (row-wise).
Var log_softmax(const Var& logits);
// Mean over the batch of −log softmax(z)_{i, y_i}, for [B, C] logits and B integer labels
// in [0, C). One-element result. ∂z = ḡ (softmax(z) − onehot(y)) / B.
Var cross_entropy(const Var& logits, const std::vector<int64_t>& labels);
// Mean squared error (1/n) Σ (p − t)², shapes equal. ∂p = ḡ 2 (p − t) / n, ∂t = −∂p.
Var mse(const Var& prediction, const Var& target);

// ---- Convolution and pooling (src/autodiff/ops/conv.cpp) --------------------------------

// 2-D cross-correlation (PyTorch's conv2d): x [N, C, H, W], weight [O, C, k_h, k_w],
// bias [O]; output [N, O, H_o, W_o] with H_o = (H + 2p − k_h)/s + 1. Computed as im2col
// then one sgemm for the whole batch; the backward is the transposed product plus col2im.
Var conv2d(const Var& x, const Var& weight, const Var& bias, int64_t stride = 1, int64_t padding = 0);
// conv2d without a bias.
Var conv2d(const Var& x, const Var& weight, int64_t stride = 1, int64_t padding = 0);
// The im2col unfolding of x [N, C, H, W] for k_h×k_w windows: [C·k_h·k_w, N·H_o·W_o],
// column (n, oh, ow) holding the receptive field of output pixel (oh, ow) of image n.
// ∂x = col2im(ḡ), which adds every entry back onto the pixel it came from.
Var im2col(const Var& x, int64_t kernel_h, int64_t kernel_w, int64_t stride = 1, int64_t padding = 0);
// The inverse reordering of a convolution's output: y [O, N·P] → [N, O, H_o, W_o] with
// P = H_o·W_o, plus bias [O] on every pixel of channel o. ∂y is ḡ reordered back, ∂bias = Σ ḡ.
Var columns_to_images(const Var& y, const Var& bias, int64_t batch, int64_t out_h, int64_t out_w);
// Max over k×k windows with the given stride (0 means stride = kernel), no padding:
// x [N, C, H, W] → [N, C, (H − k)/s + 1, (W − k)/s + 1]. ∂x routes ḡ to each window's
// maximum (the first one on ties).
Var max_pool2d(const Var& x, int64_t kernel, int64_t stride = 0);

}  // namespace tinyrank
