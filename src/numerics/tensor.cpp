// Tensor storage, construction, elementwise arithmetic with broadcasting, reductions and
// matrix products. Book chapter 1 walks through this file.
#include "tinyrank/tensor.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "storage_pool.hpp"
#include "tinyrank/error.hpp"
#include "tinyrank/random.hpp"

namespace tinyrank {

std::string to_string(const Shape& shape) {
    std::ostringstream out;
    out << '[';
    for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
    out << ']';
    return out.str();
}

int64_t shape_numel(const Shape& shape) {
    int64_t n = 1;
    for (int64_t extent : shape) {
        if (extent < 0) throw Error("shape " + to_string(shape) + ": extents must be >= 0");
        n *= extent;
    }
    return n;
}

void check_same_shape(const char* op, const Shape& a, const Shape& b) {
    if (a != b)
        throw Error(std::string(op) + ": shapes differ: " + to_string(a) + " vs " + to_string(b));
}

void check_ndim(const char* op, const char* argument, const Tensor& t, int64_t ndim) {
    if (t.ndim() != ndim)
        throw Error(std::string(op) + ": expected " + argument + " with " + std::to_string(ndim) +
                    " dimensions, found shape " + to_string(t.shape()));
}

// ---- Construction ------------------------------------------------------------------

Tensor::Tensor() : shape_{0}, numel_(0) {}

Tensor::Tensor(const Shape& shape) : Tensor(empty(shape)) { fill(0.0f); }

Tensor::Tensor(const Shape& shape, const std::vector<float>& values) : Tensor(empty(shape)) {
    if (static_cast<int64_t>(values.size()) != numel_)
        throw Error("Tensor: shape " + to_string(shape) + " needs " + std::to_string(numel_) +
                    " values, found " + std::to_string(values.size()));
    std::copy(values.begin(), values.end(), data());
}

Tensor Tensor::empty(const Shape& shape) {
    Tensor t;
    t.shape_ = shape;
    t.numel_ = shape_numel(shape);
    if (t.numel_ > 0) t.data_ = detail::pooled_buffer(t.numel_);
    return t;
}

Tensor Tensor::zeros(const Shape& shape) { return full(shape, 0.0f); }
Tensor Tensor::ones(const Shape& shape) { return full(shape, 1.0f); }

Tensor Tensor::full(const Shape& shape, float value) {
    Tensor t = empty(shape);
    t.fill(value);
    return t;
}

Tensor Tensor::arange(int64_t n) { return arange(0.0f, static_cast<float>(n), 1.0f); }

Tensor Tensor::arange(float start, float stop, float step) {
    if (step == 0.0f || !std::isfinite(step)) throw Error("arange: step must be finite and non-zero");
    const auto n = static_cast<int64_t>(std::max(0.0, std::ceil((double(stop) - start) / step)));
    Tensor t = empty({n});
    for (int64_t i = 0; i < n; ++i) t[i] = static_cast<float>(start + double(i) * step);
    return t;
}

Tensor Tensor::eye(int64_t n) {
    Tensor t = zeros({n, n});
    for (int64_t i = 0; i < n; ++i) t[i * n + i] = 1.0f;
    return t;
}

Tensor Tensor::uniform(const Shape& shape, Rng& rng, float lo, float hi) {
    Tensor t = empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) t[i] = rng.uniform(lo, hi);
    return t;
}

Tensor Tensor::normal(const Shape& shape, Rng& rng, float mean, float stddev) {
    Tensor t = empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) t[i] = rng.normal(mean, stddev);
    return t;
}

// ---- Access ----------------------------------------------------------------------------

int64_t Tensor::size(int64_t axis) const {
    const int64_t a = axis < 0 ? axis + ndim() : axis;
    if (a < 0 || a >= ndim())
        throw Error("size: axis " + std::to_string(axis) + " out of range for shape " + to_string(shape_));
    return shape_[static_cast<size_t>(a)];
}

namespace {
int64_t flat_index(const Shape& shape, std::initializer_list<int64_t> index) {
    if (index.size() != shape.size())
        throw Error("at: expected " + std::to_string(shape.size()) + " indices for shape " + to_string(shape) +
                    ", found " + std::to_string(index.size()));
    int64_t flat = 0;
    size_t d = 0;
    for (int64_t i : index) {
        if (i < 0 || i >= shape[d])
            throw Error("at: index " + std::to_string(i) + " out of range for dimension " + std::to_string(d) +
                        " of shape " + to_string(shape));
        flat = flat * shape[d] + i;
        ++d;
    }
    return flat;
}
}  // namespace

float& Tensor::at(std::initializer_list<int64_t> index) { return data()[flat_index(shape_, index)]; }
float Tensor::at(std::initializer_list<int64_t> index) const { return data()[flat_index(shape_, index)]; }

float Tensor::item() const {
    if (numel_ != 1) throw Error("item: expected a one-element tensor, found shape " + to_string(shape_));
    return data()[0];
}

std::vector<float> Tensor::to_vector() const { return std::vector<float>(data(), data() + numel_); }

void Tensor::fill(float value) { std::fill(data(), data() + numel_, value); }

void Tensor::copy_from(const Tensor& other) {
    if (other.numel_ != numel_)
        throw Error("copy_from: sizes differ: " + to_string(shape_) + " vs " + to_string(other.shape_));
    std::copy(other.data(), other.data() + numel_, data());
}

Tensor Tensor::clone() const {
    Tensor t = empty(shape_);
    t.copy_from(*this);
    return t;
}

// region: reshape
Tensor Tensor::reshape(const Shape& shape) const {
    Shape resolved = shape;
    int64_t known = 1;
    int inferred = -1;
    for (size_t d = 0; d < resolved.size(); ++d) {
        if (resolved[d] == -1) {
            if (inferred >= 0) throw Error("reshape: at most one extent may be -1, found " + to_string(shape));
            inferred = static_cast<int>(d);
        } else {
            known *= resolved[d];
        }
    }
    if (inferred >= 0 && known > 0 && numel_ % known == 0) resolved[static_cast<size_t>(inferred)] = numel_ / known;
    if (shape_numel(resolved) != numel_)
        throw Error("reshape: cannot view " + to_string(shape_) + " (" + std::to_string(numel_) +
                    " elements) as " + to_string(shape));
    Tensor t = *this;
    t.shape_ = resolved;
    return t;
}
// endregion: reshape

// ---- Broadcasting ------------------------------------------------------------------------

// region: broadcast-shapes
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
    const size_t rank = std::max(a.size(), b.size());
    Shape out(rank);
    for (size_t i = 0; i < rank; ++i) {
        const int64_t ea = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
        const int64_t eb = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
        if (ea != eb && ea != 1 && eb != 1)
            throw Error(std::string(op) + ": shapes cannot be broadcast together: " + to_string(a) + " vs " +
                        to_string(b));
        out[i] = ea == 1 ? eb : ea;
    }
    return out;
}
// endregion: broadcast-shapes

namespace {

// region: broadcast-strides
// Strides of a tensor of shape `shape` read as if it had shape `out` (0 where stretched).
std::vector<int64_t> broadcast_strides(const Shape& shape, const Shape& out) {
    std::vector<int64_t> strides(out.size(), 0);
    int64_t stride = 1;
    for (size_t k = 0; k < shape.size(); ++k) {
        const size_t d_in = shape.size() - 1 - k;
        const size_t d_out = out.size() - 1 - k;
        strides[d_out] = shape[d_in] == 1 ? 0 : stride;
        stride *= shape[d_in];
    }
    return strides;
}
// endregion: broadcast-strides

// Calls visit(out_offset, a_offset, b_offset) for every element of a tensor of shape
// `out`, with a and b read through broadcast strides. The innermost dimension runs in a
// tight loop; the outer ones advance an odometer.
template <class Visit>
void for_each_broadcast(const Shape& out, const std::vector<int64_t>& sa, const std::vector<int64_t>& sb,
                        Visit visit) {
    const int64_t total = shape_numel(out);
    if (total == 0) return;
    if (out.empty()) {
        visit(0, 0, 0);
        return;
    }
    const size_t rank = out.size();
    const int64_t inner = out.back();
    const int64_t step_a = sa.back(), step_b = sb.back();
    std::vector<int64_t> counter(rank, 0);
    int64_t offset_a = 0, offset_b = 0;
    for (int64_t o = 0; o < total; o += inner) {
        for (int64_t i = 0; i < inner; ++i) visit(o + i, offset_a + i * step_a, offset_b + i * step_b);
        for (size_t d = rank - 1; d-- > 0;) {  // odometer over the outer dimensions
            ++counter[d];
            offset_a += sa[d];
            offset_b += sb[d];
            if (counter[d] < out[d]) break;
            offset_a -= sa[d] * out[d];
            offset_b -= sb[d] * out[d];
            counter[d] = 0;
        }
    }
}

template <class F>
Tensor broadcast_binary(const char* op, const Tensor& a, const Tensor& b, F f) {
    if (a.shape() == b.shape()) {  // the common case: one flat loop
        Tensor out = Tensor::empty(a.shape());
        const float *pa = a.data(), *pb = b.data();
        float* po = out.data();
        for (int64_t i = 0; i < out.numel(); ++i) po[i] = f(pa[i], pb[i]);
        return out;
    }
    const Shape shape = broadcast_shapes(op, a.shape(), b.shape());
    Tensor out = Tensor::empty(shape);
    const float *pa = a.data(), *pb = b.data();
    float* po = out.data();
    for_each_broadcast(shape, broadcast_strides(a.shape(), shape), broadcast_strides(b.shape(), shape),
                       [&](int64_t o, int64_t ia, int64_t ib) { po[o] = f(pa[ia], pb[ib]); });
    return out;
}

template <class F>
Tensor unary(const Tensor& a, F f) {
    Tensor out = Tensor::empty(a.shape());
    const float* pa = a.data();
    float* po = out.data();
    for (int64_t i = 0; i < a.numel(); ++i) po[i] = f(pa[i]);
    return out;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
    return broadcast_binary("add", a, b, [](float x, float y) { return x + y; });
}
Tensor sub(const Tensor& a, const Tensor& b) {
    return broadcast_binary("sub", a, b, [](float x, float y) { return x - y; });
}
Tensor mul(const Tensor& a, const Tensor& b) {
    return broadcast_binary("mul", a, b, [](float x, float y) { return x * y; });
}
Tensor div(const Tensor& a, const Tensor& b) {
    return broadcast_binary("div", a, b, [](float x, float y) { return x / y; });
}
Tensor scale(const Tensor& a, float s) {
    return unary(a, [s](float x) { return s * x; });
}
Tensor add_scalar(const Tensor& a, float s) {
    return unary(a, [s](float x) { return x + s; });
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator*(float s, const Tensor& a) { return scale(a, s); }
Tensor operator*(const Tensor& a, float s) { return scale(a, s); }

// region: sum-to
Tensor sum_to(const Tensor& g, const Shape& target) {
    if (g.shape() == target) return g.clone();
    if (broadcast_shapes("sum_to", target, g.shape()) != g.shape())
        throw Error("sum_to: shape " + to_string(target) + " does not broadcast to " + to_string(g.shape()));
    Tensor out = Tensor::zeros(target);
    const float* pg = g.data();
    float* po = out.data();
    const std::vector<int64_t> identity = broadcast_strides(g.shape(), g.shape());
    for_each_broadcast(g.shape(), identity, broadcast_strides(target, g.shape()),
                       [&](int64_t, int64_t ig, int64_t io) { po[io] += pg[ig]; });
    return out;
}
// endregion: sum-to

// ---- In place ------------------------------------------------------------------------------

void axpy(float alpha, const Tensor& x, Tensor& y) {
    check_same_shape("axpy", x.shape(), y.shape());
    const float* px = x.data();
    float* py = y.data();
    for (int64_t i = 0; i < y.numel(); ++i) py[i] += alpha * px[i];
}

void scale_(Tensor& y, float s) {
    float* py = y.data();
    for (int64_t i = 0; i < y.numel(); ++i) py[i] *= s;
}

// ---- Reductions ------------------------------------------------------------------------------

float sum(const Tensor& a) {
    double total = 0.0;
    for (int64_t i = 0; i < a.numel(); ++i) total += a[i];
    return static_cast<float>(total);
}

float mean(const Tensor& a) {
    if (a.numel() == 0) throw Error("mean: the tensor is empty");
    return static_cast<float>(static_cast<double>(sum(a)) / static_cast<double>(a.numel()));
}

float max(const Tensor& a) {
    if (a.numel() == 0) throw Error("max: the tensor is empty");
    return *std::max_element(a.data(), a.data() + a.numel());
}

namespace {

// A view of `a` as [outer, extent, inner] around `axis`, and the reduced shape.
struct AxisView {
    int64_t outer = 1, extent = 1, inner = 1;
    Shape reduced;
};

AxisView axis_view(const char* op, const Tensor& a, int64_t axis, bool keepdim) {
    const int64_t d = axis < 0 ? axis + a.ndim() : axis;
    if (d < 0 || d >= a.ndim())
        throw Error(std::string(op) + ": axis " + std::to_string(axis) + " out of range for shape " +
                    to_string(a.shape()));
    AxisView v;
    for (int64_t k = 0; k < a.ndim(); ++k) {
        const int64_t e = a.shape()[static_cast<size_t>(k)];
        if (k < d) v.outer *= e;
        if (k > d) v.inner *= e;
        if (k == d) {
            v.extent = e;
            if (keepdim) v.reduced.push_back(1);
        } else {
            v.reduced.push_back(e);
        }
    }
    return v;
}

}  // namespace

Tensor sum(const Tensor& a, int64_t axis, bool keepdim) {
    const AxisView v = axis_view("sum", a, axis, keepdim);
    Tensor out = Tensor::zeros(v.reduced);
    for (int64_t o = 0; o < v.outer; ++o)
        for (int64_t k = 0; k < v.extent; ++k) {
            const float* row = a.data() + (o * v.extent + k) * v.inner;
            float* dst = out.data() + o * v.inner;
            for (int64_t i = 0; i < v.inner; ++i) dst[i] += row[i];
        }
    return out;
}

Tensor mean(const Tensor& a, int64_t axis, bool keepdim) {
    Tensor out = sum(a, axis, keepdim);
    const int64_t extent = a.size(axis);
    if (extent == 0) throw Error("mean: axis " + std::to_string(axis) + " of " + to_string(a.shape()) + " is empty");
    scale_(out, 1.0f / static_cast<float>(extent));
    return out;
}

Tensor max(const Tensor& a, int64_t axis, bool keepdim) {
    const AxisView v = axis_view("max", a, axis, keepdim);
    if (v.extent == 0) throw Error("max: axis " + std::to_string(axis) + " of " + to_string(a.shape()) + " is empty");
    Tensor out = Tensor::full(v.reduced, -std::numeric_limits<float>::infinity());
    for (int64_t o = 0; o < v.outer; ++o)
        for (int64_t k = 0; k < v.extent; ++k) {
            const float* row = a.data() + (o * v.extent + k) * v.inner;
            float* dst = out.data() + o * v.inner;
            for (int64_t i = 0; i < v.inner; ++i) dst[i] = std::max(dst[i], row[i]);
        }
    return out;
}

std::vector<int64_t> argmax(const Tensor& a, int64_t axis) {
    const AxisView v = axis_view("argmax", a, axis, false);
    if (v.extent == 0) throw Error("argmax: axis " + std::to_string(axis) + " of " + to_string(a.shape()) + " is empty");
    std::vector<int64_t> index(static_cast<size_t>(v.outer * v.inner), 0);
    for (int64_t o = 0; o < v.outer; ++o)
        for (int64_t i = 0; i < v.inner; ++i) {
            const float* base = a.data() + o * v.extent * v.inner + i;
            int64_t best = 0;
            for (int64_t k = 1; k < v.extent; ++k)
                if (base[k * v.inner] > base[best * v.inner]) best = k;
            index[static_cast<size_t>(o * v.inner + i)] = best;
        }
    return index;
}

float max_abs(const Tensor& a) {
    float m = 0.0f;
    for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::fabs(a[i]));
    return m;
}

float norm(const Tensor& a) {
    double s = 0.0;
    for (int64_t i = 0; i < a.numel(); ++i) s += double(a[i]) * a[i];
    return static_cast<float>(std::sqrt(s));
}

bool all_finite(const Tensor& a) {
    for (int64_t i = 0; i < a.numel(); ++i)
        if (!std::isfinite(a[i])) return false;
    return true;
}

// ---- Matrices ----------------------------------------------------------------------------------

Tensor transpose(const Tensor& a) {
    check_ndim("transpose", "a matrix", a, 2);
    const int64_t rows = a.size(0), cols = a.size(1);
    Tensor t = Tensor::empty({cols, rows});
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j) t[j * rows + i] = a[i * cols + j];
    return t;
}

namespace {

// The shape of op(A) op(B), checking that the inner dimensions agree.
Shape product_shape(const char* op, const Tensor& a, bool ta, const Tensor& b, bool tb) {
    if (a.ndim() != 2 || b.ndim() != 2)
        throw Error(std::string(op) + ": expected two matrices, found " + to_string(a.shape()) + " x " +
                    to_string(b.shape()));
    const int64_t inner_a = ta ? a.size(0) : a.size(1);
    const int64_t inner_b = tb ? b.size(1) : b.size(0);
    if (inner_a != inner_b)
        throw Error(std::string(op) + ": inner dimensions differ: " + to_string(a.shape()) +
                    (ta ? "ᵀ" : "") + " x " + to_string(b.shape()) + (tb ? "ᵀ" : ""));
    return {ta ? a.size(1) : a.size(0), tb ? b.size(0) : b.size(1)};
}

}  // namespace

// region: gemm
void gemm(float alpha, const Tensor& a, bool ta, const Tensor& b, bool tb, float beta, Tensor& c) {
    const Shape shape = product_shape("gemm", a, ta, b, tb);
    if (c.shape() != shape)
        throw Error("gemm: output has shape " + to_string(c.shape()) + ", expected " + to_string(shape));
    const int64_t m = shape[0], n = shape[1], k = ta ? a.size(0) : a.size(1);
    if (m == 0 || n == 0) return;
    if (k == 0) {  // an empty sum: BLAS is not asked
        if (beta == 0.0f) c.zero(); else scale_(c, beta);
        return;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, a.data(),
                static_cast<blasint>(a.size(1)), b.data(), static_cast<blasint>(b.size(1)), beta, c.data(),
                static_cast<blasint>(n));
}
// endregion: gemm

void gemm(float alpha, const float* a, bool ta, const float* b, bool tb, float beta, float* c, int64_t m, int64_t n,
          int64_t k) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
                static_cast<blasint>(ta ? m : k), b, static_cast<blasint>(tb ? k : n), beta, c, static_cast<blasint>(n));
}

Tensor matmul(const Tensor& a, const Tensor& b, bool ta, bool tb) {
    Tensor c = Tensor::empty(product_shape("matmul", a, ta, b, tb));
    gemm(1.0f, a, ta, b, tb, 0.0f, c);
    return c;
}

}  // namespace tinyrank
