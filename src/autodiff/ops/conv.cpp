// conv2d through im2col and sgemm (book chapter 4, §4.2–4.4).
//
// im2col lays every receptive field out as one column:
//   cols [C·k_h·k_w, N·H_o·W_o],  cols[(c, i, j), (n, oh, ow)] = x[n, c, oh·s − p + i, ow·s − p + j]
// (zero outside the image). Then the convolution is the product W_mat cols with
// W_mat = weight viewed as [O, C·k_h·k_w]; the backward pass is two more products and
// col2im, which adds each column entry back onto the pixel it was copied from. conv2d does
// this one image at a time (N = 1): its cols fit in the cache, and the product for image n
// writes straight into y[n], which is already in NCHW order. The im2col op (the low-rank
// convolution's first step) does it for the whole batch at once.

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "tinyrank/error.hpp"
#include "tinyrank/ops.hpp"
#include "tinyrank/runtime.hpp"

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

// The geometry of sliding kernel_h×kernel_w windows over x; `op` and `kernel_text` name the
// caller and its kernel in error messages.
ConvGeometry window_geometry(const char* op, const Tensor& x, int64_t out_channels, int64_t kernel_h,
                             int64_t kernel_w, int64_t stride, int64_t padding, const std::string& kernel_text) {
    if (x.ndim() != 4) throw Error(std::string(op) + ": expected input [N, C, H, W], found " + to_string(x.shape()));
    if (stride < 1 || padding < 0 || kernel_h < 1 || kernel_w < 1)
        throw Error(std::string(op) + ": expected kernel and stride >= 1 and padding >= 0, found kernel " +
                    kernel_text + ", stride " + std::to_string(stride) + " and padding " + std::to_string(padding));
    ConvGeometry g{x.size(0), x.size(1), x.size(2), x.size(3), out_channels, kernel_h, kernel_w,
                   stride, padding, 0, 0};
    const int64_t span_h = g.height + 2 * padding - g.kernel_h, span_w = g.width + 2 * padding - g.kernel_w;
    if (span_h < 0 || span_w < 0)
        throw Error(std::string(op) + ": kernel " + kernel_text + " is larger than the padded input " +
                    to_string(x.shape()) + " (padding " + std::to_string(padding) + ")");
    g.out_h = span_h / stride + 1;
    g.out_w = span_w / stride + 1;
    return g;
}

ConvGeometry conv_geometry(const Tensor& x, const Tensor& w, int64_t stride, int64_t padding) {
    if (x.ndim() != 4 || w.ndim() != 4 || x.size(1) != w.size(1))
        throw Error("conv2d: expected input [N, C, H, W] and weight [O, C, kh, kw] with equal C, found " +
                    to_string(x.shape()) + " and " + to_string(w.shape()));
    return window_geometry("conv2d", x, w.size(0), w.size(2), w.size(3), stride, padding, to_string(w.shape()));
}

// y [N, O, P] ← y_mat [O, N·P] reordered, plus bias[o] (bias may be null).
void columns_to_images(const ConvGeometry& g, const float* y_mat, const float* bias, float* y) {
    const int64_t P = g.positions(), columns = g.batch * P;
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < g.batch; ++n)
        for (int64_t o = 0; o < g.out_channels; ++o) {
            const float b = bias != nullptr ? bias[o] : 0.0f;
            const float* src = y_mat + o * columns + n * P;
            float* dst = y + (n * g.out_channels + o) * P;
            for (int64_t p = 0; p < P; ++p) dst[p] = src[p] + b;
        }
}

// g_mat [O, N·P] ← grad [N, O, P] reordered: the adjoint of columns_to_images.
void images_to_columns(const ConvGeometry& g, const float* grad, float* g_mat) {
    const int64_t P = g.positions(), columns = g.batch * P;
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < g.batch; ++n)
        for (int64_t o = 0; o < g.out_channels; ++o)
            std::copy(grad + (n * g.out_channels + o) * P, grad + (n * g.out_channels + o + 1) * P,
                      g_mat + o * columns + n * P);
}

// Adds Σ over the columns of g_mat [O, columns] into gb [O].
void add_row_sums(const Tensor& g_mat, Tensor& gb) {
    const int64_t rows = g_mat.size(0), columns = g_mat.size(1);
#pragma omp parallel for schedule(static)  // each row summed by one thread, in order
    for (int64_t o = 0; o < rows; ++o) {
        double s = 0.0;
        for (int64_t k = 0; k < columns; ++k) s += g_mat[o * columns + k];
        gb[o] += static_cast<float>(s);
    }
}

// region: im2col
// Copies every receptive field of x into a column of cols (see the file comment). Each row
// (c, i, j) of cols is written by one thread.
void im2col(const ConvGeometry& g, const float* x, float* cols) {
    const int64_t columns = g.batch * g.positions(), kk = g.kernel_h * g.kernel_w;
    const bool plain = g.stride == 1 && g.padding == 0;  // every window row is a run of the image row
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < g.patch(); ++r) {
        const int64_t c = r / kk, i = (r % kk) / g.kernel_w, j = r % g.kernel_w;
        float* row = cols + r * columns;
        for (int64_t n = 0; n < g.batch; ++n) {
            const float* image = x + (n * g.channels + c) * g.height * g.width;
            for (int64_t oh = 0; oh < g.out_h; ++oh) {
                float* dst = row + n * g.positions() + oh * g.out_w;
                const int64_t ih = oh * g.stride - g.padding + i;
                if (plain) {
                    std::copy(image + ih * g.width + j, image + ih * g.width + j + g.out_w, dst);
                    continue;
                }
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
// endregion: im2col

// region: col2im
// The adjoint of im2col: adds every column entry back onto its pixel of gx. Each image
// plane (n, c) is done by one thread, adding in the order (i, j, oh, ow), so every pixel
// sums its terms in the same order for any thread count.
void col2im(const ConvGeometry& g, const float* cols, float* gx) {
    const int64_t columns = g.batch * g.positions();
#pragma omp parallel for schedule(static)
    for (int64_t plane = 0; plane < g.batch * g.channels; ++plane) {
        const int64_t n = plane / g.channels, c = plane % g.channels;
        float* image = gx + plane * g.height * g.width;
        for (int64_t i = 0; i < g.kernel_h; ++i)
            for (int64_t j = 0; j < g.kernel_w; ++j) {
                const float* row = cols + ((c * g.kernel_h + i) * g.kernel_w + j) * columns + n * g.positions();
                for (int64_t oh = 0; oh < g.out_h; ++oh) {
                    const int64_t ih = oh * g.stride - g.padding + i;
                    if (ih < 0 || ih >= g.height) continue;
                    const float* src = row + oh * g.out_w;
                    for (int64_t ow = 0; ow < g.out_w; ++ow) {
                        const int64_t iw = ow * g.stride - g.padding + j;
                        if (iw >= 0 && iw < g.width) image[ih * g.width + iw] += src[ow];
                    }
                }
            }
    }
}
// endregion: col2im

// Runs body(n) for every image n of the batch: on all threads (a fixed block of images per
// thread) when BLAS runs its products on the calling thread inside a parallel loop (the
// OpenMP build of OpenBLAS), else on this thread, with BLAS threading each product.
// body(n, t) also gets the thread's index t < parts, for per-thread partial sums.
template <class Body>
void for_each_image(int64_t batch, int parts, const Body& body) {
#pragma omp parallel for schedule(static) num_threads(parts)
    for (int64_t n = 0; n < batch; ++n) body(n, omp_get_thread_num());
}

// How many threads for_each_image uses.
int image_threads() { return blas_uses_openmp() ? omp_get_max_threads() : 1; }

// region: conv-backward
// The backward pass of conv2d, image by image: cols_n is rebuilt (nothing of the size of the
// whole batch is kept), then ∂W += ḡ_n cols_nᵀ, ∂b += Σ_p ḡ_n, ∂cols_n = W_matᵀ ḡ_n and col2im.
// ∂W and ∂b sum over the images, so each thread sums its own block of images into a part
// and the parts are added in thread order: the same bits for a given thread count.
void conv2d_backward(const Var& x, const Var& weight, const Var& bias, const ConvGeometry& one, int64_t batch,
                     const Tensor& grad) {
    const int64_t O = one.out_channels, K = one.patch(), P = one.positions(), image = one.channels * one.height * one.width;
    const float* w_mat = weight.value().data();
    const float* xs = x.value().data();
    float* gx = x.requires_grad() ? x.grad_buffer().data() : nullptr;  // buffers made here, not on the threads
    const int parts = image_threads();
    std::vector<Tensor> cols(parts), gw(parts), gb(parts);
    for (int t = 0; t < parts; ++t) {
        cols[t] = Tensor::empty({K, P});
        gw[t] = Tensor::zeros({O, K});
        gb[t] = Tensor::zeros({O});
    }
    for_each_image(batch, parts, [&](int64_t n, int t) {
        const float* gn = grad.data() + n * O * P;  // ḡ_n [O, P]
        if (weight.requires_grad()) {
            im2col(one, xs + n * image, cols[t].data());
            gemm(1.0f, gn, false, cols[t].data(), true, 1.0f, gw[t].data(), O, K, P);  // ∂W += ḡ_n cols_nᵀ
        }
        if (bias.requires_grad())
            for (int64_t o = 0; o < O; ++o)
                for (int64_t p = 0; p < P; ++p) gb[t][o] += gn[o * P + p];  // ∂b += Σ_p ḡ_n
        if (gx != nullptr) {
            gemm(1.0f, w_mat, true, gn, false, 0.0f, cols[t].data(), K, P, O);  // ∂cols_n = W_matᵀ ḡ_n
            col2im(one, cols[t].data(), gx + n * image);
        }
    });
    for (int t = 0; t < parts; ++t) {
        if (weight.requires_grad()) axpy(1.0f, gw[t].reshape(weight.shape()), weight.grad_buffer());
        if (bias.requires_grad()) axpy(1.0f, gb[t], bias.grad_buffer());
    }
}
// endregion: conv-backward

// region: conv-forward
Var conv2d_impl(const Var& x, const Var& weight, const Var* bias, int64_t stride, int64_t padding) {
    const ConvGeometry g = conv_geometry(x.value(), weight.value(), stride, padding);
    if (bias != nullptr && bias->shape() != Shape{g.out_channels})
        throw Error("conv2d: expected bias of shape " + to_string({g.out_channels}) + " for weight " +
                    to_string(weight.shape()) + ", found " + to_string(bias->shape()));
    ConvGeometry one = g;  // im2col and col2im of a single image
    one.batch = 1;
    const int64_t O = g.out_channels, K = g.patch(), P = g.positions(), image = g.channels * g.height * g.width;
    const float* w_mat = weight.value().data();  // weight viewed as W_mat [O, C·k_h·k_w]
    const float* b = bias != nullptr ? bias->value().data() : nullptr;
    const float* xs = x.value().data();
    Tensor y = Tensor::empty({g.batch, O, g.out_h, g.out_w});
    float* ys = y.data();
    const int parts = image_threads();
    std::vector<Tensor> cols(parts);  // one im2col buffer [C·k_h·k_w, P] per thread
    for (Tensor& c : cols) c = Tensor::empty({K, P});
    for_each_image(g.batch, parts, [&](int64_t n, int t) {
        im2col(one, xs + n * image, cols[t].data());
        float* yn = ys + n * O * P;  // image n of y, [O, P] in NCHW order
        gemm(1.0f, w_mat, false, cols[t].data(), false, 0.0f, yn, O, P, K);  // y_n = W_mat cols_n
        for (int64_t o = 0; o < O && b != nullptr; ++o)
            for (int64_t p = 0; p < P; ++p) yn[o * P + p] += b[o];
    });
    std::vector<Var> inputs{x, weight};
    if (bias != nullptr) inputs.push_back(*bias);
    return x.tape().record("conv2d", y, inputs, [x, weight, b = bias != nullptr ? *bias : Var(), one, g](const Tensor& grad) {
        conv2d_backward(x, weight, b, one, g.batch, grad);
    });
}
// endregion: conv-forward

}  // namespace

Var conv2d(const Var& x, const Var& weight, const Var& bias, int64_t stride, int64_t padding) {
    return conv2d_impl(x, weight, &bias, stride, padding);
}

Var conv2d(const Var& x, const Var& weight, int64_t stride, int64_t padding) {
    return conv2d_impl(x, weight, nullptr, stride, padding);
}

Var im2col(const Var& x, int64_t kernel_h, int64_t kernel_w, int64_t stride, int64_t padding) {
    const ConvGeometry g = window_geometry("im2col", x.value(), 0, kernel_h, kernel_w, stride, padding,
                                           std::to_string(kernel_h) + "x" + std::to_string(kernel_w));
    Tensor cols = Tensor::empty({g.patch(), g.batch * g.positions()});
    im2col(g, x.value().data(), cols.data());
    return x.tape().record("im2col", cols, {x}, [x, g](const Tensor& grad) {
        if (x.requires_grad()) col2im(g, grad.data(), x.grad_buffer().data());
    });
}

Var columns_to_images(const Var& y, const Var& bias, int64_t batch, int64_t out_h, int64_t out_w) {
    const Tensor& yv = y.value();
    if (yv.ndim() != 2 || batch < 1 || yv.size(1) != batch * out_h * out_w || bias.shape() != Shape{yv.size(0)})
        throw Error("columns_to_images: expected y [O, " + std::to_string(batch) + "·" + std::to_string(out_h) + "·" +
                    std::to_string(out_w) + "] and bias [O], found " + to_string(yv.shape()) + " and " +
                    to_string(bias.shape()));
    ConvGeometry g{};
    g.batch = batch;
    g.out_channels = yv.size(0);
    g.out_h = out_h;
    g.out_w = out_w;
    Tensor images = Tensor::empty({batch, g.out_channels, out_h, out_w});
    columns_to_images(g, yv.data(), bias.value().data(), images.data());
    return y.tape().record("columns_to_images", images, {y, bias}, [y, bias, g](const Tensor& grad) {
        Tensor g_mat = Tensor::empty({g.out_channels, g.batch * g.positions()});
        images_to_columns(g, grad.data(), g_mat.data());
        if (y.requires_grad()) axpy(1.0f, g_mat, y.grad_buffer());
        if (bias.requires_grad()) add_row_sums(g_mat, bias.grad_buffer());
    });
}

}  // namespace tinyrank
