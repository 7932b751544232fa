// conv2d through im2col + one sgemm, and max pooling (book chapter 4, §4.2–4.4).
//
// im2col lays every receptive field of the whole batch out as one column:
//   cols [C·k_h·k_w, N·H_o·W_o],  cols[(c, i, j), (n, oh, ow)] = x[n, c, oh·s − p + i, ow·s − p + j]
// (zero outside the image). Then the convolution is the product W_mat cols with
// W_mat = weight viewed as [O, C·k_h·k_w]; the backward pass is two more products and
// col2im, which adds each column entry back onto the pixel it was copied from.

#include "tinyrank/error.hpp"
#include "tinyrank/ops.hpp"

namespace tinyrank {

namespace {

struct ConvGeometry {
    int64_t batch, channels, height, width;  // input  [N, C, H, W]
    int64_t out_channels, kernel_h, kernel_w;  // weight [O, C, k_h, k_w]
    int64_t stride, padding;
    int64_t out_h, out_w;

    int64_t patch() const { return channels * kernel_h * kernel_w; }  // rows of cols
    int64_t positions() const { return out_h * out_w; }               // P per image
};

ConvGeometry conv_geometry(const Tensor& x, const Tensor& w, int64_t stride, int64_t padding) {
    if (x.ndim() != 4 || w.ndim() != 4 || x.size(1) != w.size(1))
        throw Error("conv2d: expected input [N, C, H, W] and weight [O, C, kh, kw] with equal C, found " +
                    to_string(x.shape()) + " and " + to_string(w.shape()));
    if (stride < 1 || padding < 0)
        throw Error("conv2d: expected stride >= 1 and padding >= 0, found stride " + std::to_string(stride) +
                    " and padding " + std::to_string(padding));
    ConvGeometry g{x.size(0), x.size(1), x.size(2), x.size(3), w.size(0), w.size(2), w.size(3),
                   stride, padding, 0, 0};
    const int64_t span_h = g.height + 2 * padding - g.kernel_h, span_w = g.width + 2 * padding - g.kernel_w;
    if (span_h < 0 || span_w < 0)
        throw Error("conv2d: kernel " + to_string(w.shape()) + " is larger than the padded input " +
                    to_string(x.shape()) + " (padding " + std::to_string(padding) + ")");
    g.out_h = span_h / stride + 1;
    g.out_w = span_w / stride + 1;
    return g;
}

// Copies every receptive field of x into a column of cols (see the file comment).
void im2col(const ConvGeometry& g, const float* x, float* cols) {
    const int64_t columns = g.batch * g.positions();
    for (int64_t c = 0; c < g.channels; ++c)
        for (int64_t i = 0; i < g.kernel_h; ++i)
            for (int64_t j = 0; j < g.kernel_w; ++j) {
                float* row = cols + ((c * g.kernel_h + i) * g.kernel_w + j) * columns;
                for (int64_t n = 0; n < g.batch; ++n) {
                    const float* image = x + (n * g.channels + c) * g.height * g.width;
                    for (int64_t oh = 0; oh < g.out_h; ++oh) {
                        float* dst = row + n * g.positions() + oh * g.out_w;
                        const int64_t ih = oh * g.stride - g.padding + i;
                        if (ih < 0 || ih >= g.height) {
                            std::fill(dst, dst + g.out_w, 0.0f);
                            continue;
                        }
                        for (int64_t ow = 0; ow < g.out_w; ++ow) {
                            const int64_t iw = ow * g.stride - g.padding + j;
                            dst[ow] = (iw >= 0 && iw < g.width) ? image[ih * g.width + iw] : 0.0f;
                        }
                    }
                }
            }
}

// The adjoint of im2col: adds every column entry back onto its pixel of gx.
void col2im(const ConvGeometry& g, const float* cols, float* gx) {
    const int64_t columns = g.batch * g.positions();
    for (int64_t c = 0; c < g.channels; ++c)
        for (int64_t i = 0; i < g.kernel_h; ++i)
            for (int64_t j = 0; j < g.kernel_w; ++j) {
                const float* row = cols + ((c * g.kernel_h + i) * g.kernel_w + j) * columns;
                for (int64_t n = 0; n < g.batch; ++n) {
                    float* image = gx + (n * g.channels + c) * g.height * g.width;
                    for (int64_t oh = 0; oh < g.out_h; ++oh) {
                        const int64_t ih = oh * g.stride - g.padding + i;
                        if (ih < 0 || ih >= g.height) continue;
                        const float* src = row + n * g.positions() + oh * g.out_w;
                        for (int64_t ow = 0; ow < g.out_w; ++ow) {
                            const int64_t iw = ow * g.stride - g.padding + j;
                            if (iw >= 0 && iw < g.width) image[ih * g.width + iw] += src[ow];
                        }
                    }
                }
            }
}

Var conv2d_impl(const Var& x, const Var& weight, const Var* bias, int64_t stride, int64_t padding) {
    const ConvGeometry g = conv_geometry(x.value(), weight.value(), stride, padding);
    if (bias != nullptr && bias->shape() != Shape{g.out_channels})
        throw Error("conv2d: expected bias of shape " + to_string({g.out_channels}) + " for weight " +
                    to_string(weight.shape()) + ", found " + to_string(bias->shape()));
    const int64_t P = g.positions(), columns = g.batch * P;

    Tensor cols = Tensor::empty({g.patch(), columns});
    im2col(g, x.value().data(), cols.data());
    const Tensor w_mat = weight.value().reshape({g.out_channels, g.patch()});
    const Tensor y_mat = matmul(w_mat, cols);  // [O, N·P]

    // Reorder [O, N, P] → [N, O, P] and add the bias.
    Tensor y = Tensor::empty({g.batch, g.out_channels, g.out_h, g.out_w});
    for (int64_t n = 0; n < g.batch; ++n)
        for (int64_t o = 0; o < g.out_channels; ++o) {
            const float b = bias != nullptr ? bias->value()[o] : 0.0f;
            const float* src = y_mat.data() + o * columns + n * P;
            float* dst = y.data() + (n * g.out_channels + o) * P;
            for (int64_t p = 0; p < P; ++p) dst[p] = src[p] + b;
        }

    std::vector<Var> inputs{x, weight};
    if (bias != nullptr) inputs.push_back(*bias);
    const Var b = bias != nullptr ? *bias : Var();
    return x.tape().record("conv2d", y, inputs, [x, weight, b, g, cols, w_mat](const Tensor& grad) {
        const int64_t P = g.positions(), columns = g.batch * P;
        Tensor g_mat = Tensor::empty({g.out_channels, columns});  // ḡ reordered to [O, N·P]
        for (int64_t n = 0; n < g.batch; ++n)
            for (int64_t o = 0; o < g.out_channels; ++o)
                std::copy(grad.data() + (n * g.out_channels + o) * P, grad.data() + (n * g.out_channels + o + 1) * P,
                          g_mat.data() + o * columns + n * P);
        if (weight.requires_grad()) {
            Tensor gw = weight.grad_buffer().reshape({g.out_channels, g.patch()});
            gemm(1.0f, g_mat, false, cols, true, 1.0f, gw);  // ∂W = ḡ colsᵀ
        }
        if (b.requires_grad()) {
            Tensor& gb = b.grad_buffer();
            for (int64_t o = 0; o < g.out_channels; ++o) {
                double s = 0.0;
                for (int64_t k = 0; k < columns; ++k) s += g_mat[o * columns + k];
                gb[o] += static_cast<float>(s);
            }
        }
        if (x.requires_grad()) {
            Tensor g_cols = matmul(w_mat, g_mat, true, false);  // ∂cols = W_matᵀ ḡ
            col2im(g, g_cols.data(), x.grad_buffer().data());
        }
    });
}

}  // namespace

Var conv2d(const Var& x, const Var& weight, const Var& bias, int64_t stride, int64_t padding) {
    return conv2d_impl(x, weight, &bias, stride, padding);
}

Var conv2d(const Var& x, const Var& weight, int64_t stride, int64_t padding) {
    return conv2d_impl(x, weight, nullptr, stride, padding);
}

Var max_pool2d(const Var& x, int64_t kernel, int64_t stride) {
    if (stride == 0) stride = kernel;
    const Tensor& xv = x.value();
    if (xv.ndim() != 4) throw Error("max_pool2d: expected input [N, C, H, W], found " + to_string(xv.shape()));
    if (kernel < 1 || stride < 1 || kernel > xv.size(2) || kernel > xv.size(3))
        throw Error("max_pool2d: kernel " + std::to_string(kernel) + " with stride " + std::to_string(stride) +
                    " does not fit input " + to_string(xv.shape()));
    const int64_t planes = xv.size(0) * xv.size(1), H = xv.size(2), W = xv.size(3);
    const int64_t Ho = (H - kernel) / stride + 1, Wo = (W - kernel) / stride + 1;
    if (H * W > (int64_t(1) << 24))
        throw Error("max_pool2d: planes of " + std::to_string(H * W) + " pixels exceed 2^24 (argmax is stored as float)");
    Tensor y = Tensor::empty({xv.size(0), xv.size(1), Ho, Wo});
    Tensor where = Tensor::empty(y.shape());  // index of each window's maximum within its plane (exact in float)
    for (int64_t q = 0; q < planes; ++q) {
        const float* plane = xv.data() + q * H * W;
        for (int64_t oh = 0; oh < Ho; ++oh)
            for (int64_t ow = 0; ow < Wo; ++ow) {
                int64_t best = (oh * stride) * W + ow * stride;
                for (int64_t i = 0; i < kernel; ++i)
                    for (int64_t j = 0; j < kernel; ++j) {
                        const int64_t k = (oh * stride + i) * W + ow * stride + j;
                        if (plane[k] > plane[best]) best = k;
                    }
                const int64_t o = (q * Ho + oh) * Wo + ow;
                y[o] = plane[best];
                where[o] = static_cast<float>(best);
            }
    }
    return x.tape().record("max_pool2d", y, {x}, [x, where, H, W](const Tensor& g) {
        if (!x.requires_grad()) return;
        Tensor& gx = x.grad_buffer();
        const int64_t per_plane = where.size(2) * where.size(3);
        for (int64_t o = 0; o < where.numel(); ++o)
            gx[(o / per_plane) * H * W + static_cast<int64_t>(where[o])] += g[o];
    });
}

}  // namespace tinyrank
