// tinyrank/tensor.hpp — the n-dimensional array everything else is built on.
//
// A Tensor is float32, contiguous and row-major (the last index varies fastest), like a
// C array. It is a *handle*: copying a Tensor shares its storage (as in PyTorch), and
// clone() makes an independent copy. reshape() also shares storage. Book chapter 1.
//
// Storage comes from a pool of freed buffers, so that a training loop that makes the same
// shapes every batch stops calling malloc after the first batch.
//
// Every operation checks shapes and throws tinyrank::Error naming the operation and both
// shapes, e.g. "matmul: inner dimensions differ: [2, 3] x [4, 5]".
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace tinyrank {

class Rng;

// The extent of each dimension, outermost first.
using Shape = std::vector<int64_t>;

// "[2, 3]" — how shapes appear in messages.
std::string to_string(const Shape& shape);
// The number of elements of a tensor of this shape (1 for the empty shape, a scalar).
int64_t shape_numel(const Shape& shape);

// A float32, contiguous, row-major array with shared storage.
class Tensor {
public:
    // An empty tensor with shape [0] and no storage.
    Tensor();
    // A tensor of the given shape filled with zeros.
    explicit Tensor(const Shape& shape);
    // A tensor of the given shape holding `values` (row-major); sizes must agree.
    Tensor(const Shape& shape, const std::vector<float>& values);

    // A tensor of the given shape with unspecified contents (pooled storage, not zeroed).
    static Tensor empty(const Shape& shape);
    // A tensor filled with zeros.
    static Tensor zeros(const Shape& shape);
    // A tensor filled with ones.
    static Tensor ones(const Shape& shape);
    // A tensor filled with `value`.
    static Tensor full(const Shape& shape, float value);
    // The 1-D tensor [0, 1, …, n−1].
    static Tensor arange(int64_t n);
    // The 1-D tensor start, start+step, … (values < stop for step > 0, > stop for step < 0).
    static Tensor arange(float start, float stop, float step);
    // The n×n identity matrix.
    static Tensor eye(int64_t n);
    // Independent samples uniform in [lo, hi) from `rng`, in row-major order.
    static Tensor uniform(const Shape& shape, Rng& rng, float lo = 0.0f, float hi = 1.0f);
    // Independent normal samples with the given mean and standard deviation.
    static Tensor normal(const Shape& shape, Rng& rng, float mean = 0.0f, float stddev = 1.0f);

    // The shape, outermost dimension first.
    const Shape& shape() const { return shape_; }
    // The number of dimensions.
    int64_t ndim() const { return static_cast<int64_t>(shape_.size()); }
    // The extent of dimension `axis` (negative counts from the end).
    int64_t size(int64_t axis) const;
    // The total number of elements.
    int64_t numel() const { return numel_; }
    // True when the tensor holds no elements.
    bool is_empty() const { return numel_ == 0; }

    // Pointer to the first element (row-major order).
    float* data() { return data_.get(); }
    // Pointer to the first element (row-major order).
    const float* data() const { return data_.get(); }
    // Element `i` of the flat row-major storage (no bounds check).
    float& operator[](int64_t i) { return data_.get()[i]; }
    // Element `i` of the flat row-major storage (no bounds check).
    float operator[](int64_t i) const { return data_.get()[i]; }
    // The element at a full multi-index; checks rank and bounds.
    float& at(std::initializer_list<int64_t> index);
    // The element at a full multi-index; checks rank and bounds.
    float at(std::initializer_list<int64_t> index) const;
    // The single value of a one-element tensor.
    float item() const;
    // A copy of the values as a std::vector, row-major.
    std::vector<float> to_vector() const;

    // Sets every element to `value`.
    void fill(float value);
    // Sets every element to zero.
    void zero() { fill(0.0f); }
    // Copies the values of `other` (same number of elements) into this tensor's storage.
    void copy_from(const Tensor& other);
    // An independent copy with its own storage.
    Tensor clone() const;
    // The same storage seen with another shape of the same size; one extent may be −1.
    Tensor reshape(const Shape& shape) const;
    // True when both handles share storage.
    bool shares_storage_with(const Tensor& other) const { return data_ == other.data_; }

private:
    Shape shape_;
    int64_t numel_ = 0;
    std::shared_ptr<float> data_;
};

// Throws tinyrank::Error("<op>: <what>: [a] vs [b]") unless the shapes are equal.
void check_same_shape(const char* op, const Shape& a, const Shape& b);
// Throws unless `t` has exactly `ndim` dimensions, naming the op and the argument.
void check_ndim(const char* op, const char* argument, const Tensor& t, int64_t ndim);

// ---- Elementwise arithmetic with NumPy broadcasting (book §1.4) ---------------------
// Shapes are aligned at the right; an extent of 1 (or a missing one) is stretched.
// A row vector [n] against a matrix [m, n] is the case layers need most.

// The broadcast result shape of `a` and `b`; throws naming `op` if they are incompatible.
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);
// a + b with broadcasting.
Tensor add(const Tensor& a, const Tensor& b);
// a − b with broadcasting.
Tensor sub(const Tensor& a, const Tensor& b);
// a ⊙ b (elementwise product) with broadcasting.
Tensor mul(const Tensor& a, const Tensor& b);
// a ⊘ b (elementwise quotient) with broadcasting.
Tensor div(const Tensor& a, const Tensor& b);
// s · a.
Tensor scale(const Tensor& a, float s);
// a + s for every element.
Tensor add_scalar(const Tensor& a, float s);
// Sums `g` over the broadcast dimensions so that the result has shape `target`:
// the adjoint of broadcasting `target` up to g's shape.
Tensor sum_to(const Tensor& g, const Shape& target);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator*(float s, const Tensor& a);
Tensor operator*(const Tensor& a, float s);

// ---- In place (no allocation), for gradients and optimisers -------------------------

// y ← y + alpha · x (shapes equal).
void axpy(float alpha, const Tensor& x, Tensor& y);
// y ← s · y.
void scale_(Tensor& y, float s);

// ---- Reductions ----------------------------------------------------------------------

// The sum of all elements (accumulated in double).
float sum(const Tensor& a);
// The mean of all elements.
float mean(const Tensor& a);
// The largest element; the tensor must not be empty.
float max(const Tensor& a);
// Sum along `axis`; the axis is removed unless keepdim, where it becomes 1.
Tensor sum(const Tensor& a, int64_t axis, bool keepdim = false);
// Mean along `axis`.
Tensor mean(const Tensor& a, int64_t axis, bool keepdim = false);
// Maximum along `axis`.
Tensor max(const Tensor& a, int64_t axis, bool keepdim = false);
// Index of the maximum along `axis` (first one on ties), in the reduced shape's row-major order.
std::vector<int64_t> argmax(const Tensor& a, int64_t axis);
// The largest |a_i| (0 for an empty tensor).
float max_abs(const Tensor& a);
// The Euclidean (Frobenius) norm, accumulated in double.
float norm(const Tensor& a);
// True when every element is finite (no NaN, no ±inf).
bool all_finite(const Tensor& a);

// ---- Matrices --------------------------------------------------------------------------

// The transpose of a 2-D tensor (a copy).
Tensor transpose(const Tensor& a);
// op(A) · op(B) with op = transpose when the flag is set, through cblas_sgemm: the
// transposes are flags to BLAS, never copies.
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a = false, bool transpose_b = false);
// C ← alpha · op(A) op(B) + beta · C in place (C must already have the result's shape).
void gemm(float alpha, const Tensor& a, bool transpose_a, const Tensor& b, bool transpose_b,
          float beta, Tensor& c);
// The same on contiguous row-major matrices given by their first element: C [m, n],
// op(A) [m, k], op(B) [k, n]. For a product into part of a tensor, such as one image of a
// batch (conv2d); the caller's geometry guarantees the sizes.
void gemm(float alpha, const float* a, bool transpose_a, const float* b, bool transpose_b, float beta, float* c,
          int64_t m, int64_t n, int64_t k);

// ---- Storage pool ---------------------------------------------------------------------

// Bytes currently held by the pool in freed buffers, waiting to be reused.
int64_t pooled_bytes();
// Returns every pooled buffer to the system.
void release_pooled_memory();

}  // namespace tinyrank
