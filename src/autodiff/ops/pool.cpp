// Max pooling (book chapter 4, §4.5).
//
// Each output keeps the largest value of its k×k window; the backward pass routes the
// output's gradient to that one input. The forward pass therefore remembers, for every
// output, where in its window the winner was: one byte, i·k + j (so k ≤ 16).

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

#include "numerics/storage_pool.hpp"
#include "tinyrank/error.hpp"
#include "tinyrank/ops.hpp"

namespace tinyrank {

namespace {

// region: window-argmax
// The position i·k + j of the largest value in the k×k window whose top-left value is
// `first`, in a plane with rows of `width`: the first largest in row-major order; a NaN
// wins over any number (NaN propagates, as in PyTorch).
inline uint8_t window_argmax(const float* first, int64_t width, int64_t k) {
    int64_t best = 0;
    float best_value = first[0];
    for (int64_t i = 0; i < k; ++i)
        for (int64_t j = 0; j < k; ++j) {
            const float v = first[i * width + j];
            if (v > best_value || std::isnan(v)) {
                best = i * k + j;
                best_value = v;
            }
        }
    return static_cast<uint8_t>(best);
}

// The same for LeNet-5's 2×2 windows, with no jump in its machine code: which value wins is
// unpredictable, and a mispredicted jump costs more than the whole window (book §11.5). The
// largest value first (maxss), then one bit for each position that holds it, and the lowest
// set bit (one instruction, tzcnt) is the first such position. maxss does not order NaN, so a
// window with one only sets `saw_nan`, and the caller pools that plane again by the rule above.
inline uint8_t window_argmax_2x2(const float* first, int64_t width, bool& saw_nan) {
    const float a = first[0], b = first[1], c = first[width], d = first[width + 1];
    saw_nan |= (a != a) | (b != b) | (c != c) | (d != d);
    const float m = std::max(std::max(a, b), std::max(c, d));
    const unsigned holds = unsigned(a == m) | unsigned(b == m) << 1 | unsigned(c == m) << 2 | 8u;
    return static_cast<uint8_t>(__builtin_ctz(holds));
}
// endregion: window-argmax

}  // namespace

Var max_pool2d(const Var& x, int64_t kernel, int64_t stride) {
    if (stride == 0) stride = kernel;
    const Tensor& xv = x.value();
    if (xv.ndim() != 4) throw Error("max_pool2d: expected input [N, C, H, W], found " + to_string(xv.shape()));
    if (kernel < 1 || kernel > 16 || stride < 1 || kernel > xv.size(2) || kernel > xv.size(3))
        throw Error("max_pool2d: expected 1 <= kernel <= 16 fitting the input and stride >= 1, found kernel " +
                    std::to_string(kernel) + ", stride " + std::to_string(stride) + " and input " +
                    to_string(xv.shape()));
    const int64_t planes = xv.size(0) * xv.size(1), H = xv.size(2), W = xv.size(3);
    const int64_t Ho = (H - kernel) / stride + 1, Wo = (W - kernel) / stride + 1;
    Tensor y = Tensor::empty({xv.size(0), xv.size(1), Ho, Wo});
    // One byte per output, drawn from the tensor pool like every per-batch buffer.
    const std::shared_ptr<float> where_storage = detail::pooled_buffer((y.numel() + 3) / 4);
    uint8_t* where = reinterpret_cast<uint8_t*>(where_storage.get());
    // Window position t = i·k + j lies `offset[t]` = i·W + j floats after the window's first value.
    std::array<int64_t, 256> offset{};
    for (int64_t i = 0; i < kernel; ++i)
        for (int64_t j = 0; j < kernel; ++j) offset[i * kernel + j] = i * W + j;
    // region: max-pool-forward
#pragma omp parallel for schedule(static)
    for (int64_t q = 0; q < planes; ++q) {
        const float* plane = xv.data() + q * H * W;
        float* out = y.data() + q * Ho * Wo;
        uint8_t* at = where + q * Ho * Wo;
        if (kernel == 2 && stride == 2) {  // LeNet-5's case
            bool saw_nan = false;
            for (int64_t oh = 0; oh < Ho; ++oh)
                for (int64_t ow = 0; ow < Wo; ++ow) {
                    const float* first = plane + 2 * oh * W + 2 * ow;
                    const uint8_t t = window_argmax_2x2(first, W, saw_nan);
                    at[oh * Wo + ow] = t;
                    out[oh * Wo + ow] = first[offset[t]];
                }
            if (!saw_nan) continue;  // else: again, by the general rule
        }
        for (int64_t oh = 0; oh < Ho; ++oh)
            for (int64_t ow = 0; ow < Wo; ++ow) {
                const float* first = plane + oh * stride * W + ow * stride;
                const uint8_t t = window_argmax(first, W, kernel);
                at[oh * Wo + ow] = t;
                out[oh * Wo + ow] = first[offset[t]];
            }
    }
    // endregion: max-pool-forward
    // region: max-pool-backward
    return x.tape().record("max_pool2d", y, {x}, [x, where_storage, offset, planes, H, W, Ho, Wo, stride](const Tensor& g) {
        if (!x.requires_grad()) return;
        float* gx = x.grad_buffer().data();
        const float* go = g.data();
        const uint8_t* where = reinterpret_cast<const uint8_t*>(where_storage.get());
#pragma omp parallel for schedule(static)
        for (int64_t q = 0; q < planes; ++q)  // each plane by one thread: the same sums for any thread count
            for (int64_t oh = 0; oh < Ho; ++oh)
                for (int64_t ow = 0; ow < Wo; ++ow) {
                    const int64_t o = (q * Ho + oh) * Wo + ow;
                    gx[q * H * W + oh * stride * W + ow * stride + offset[where[o]]] += go[o];
                }
    });
    // endregion: max-pool-backward
}

}  // namespace tinyrank
