// Matrix product and the affine layer X Wᵀ + b (book §2.5). All products go through
// gemm() with transpose flags and beta = 1, so backward adds into the gradient buffers
// without temporaries.
#include "tinyrank/error.hpp"
#include "tinyrank/ops.hpp"

namespace tinyrank {

Var matmul(const Var& a, const Var& b, bool ta, bool tb) {
    Tensor y = matmul(a.value(), b.value(), ta, tb);
    return a.tape().record("matmul", y, {a, b}, [a, b, ta, tb](const Tensor& g) {
        // C = op(A) op(B): ∂op(A) = ḡ op(B)ᵀ and ∂op(B) = op(A)ᵀ ḡ; a transposed operand
        // receives the transpose of that, which gemm's flags produce without copies.
        if (a.requires_grad()) {
            if (!ta) gemm(1.0f, g, false, b.value(), !tb, 1.0f, a.grad_buffer());  // ḡ op(B)ᵀ
            else gemm(1.0f, b.value(), tb, g, true, 1.0f, a.grad_buffer());        // op(B) ḡᵀ
        }
        if (b.requires_grad()) {
            if (!tb) gemm(1.0f, a.value(), !ta, g, false, 1.0f, b.grad_buffer());  // op(A)ᵀ ḡ
            else gemm(1.0f, g, true, a.value(), ta, 1.0f, b.grad_buffer());        // ḡᵀ op(A)
        }
    });
}

namespace {

Var linear_impl(const Var& x, const Var& weight, const Var* bias) {
    const Tensor& X = x.value();
    const Tensor& W = weight.value();
    if (X.ndim() != 2 || W.ndim() != 2 || X.size(1) != W.size(1))
        throw Error("linear: expected input [B, in] and weight [out, in], found " + to_string(X.shape()) + " and " +
                    to_string(W.shape()));
    const int64_t batch = X.size(0), out = W.size(0);
    Tensor y = Tensor::empty({batch, out});
    if (bias != nullptr) {
        const Tensor& b = bias->value();
        if (b.shape() != Shape{out})
            throw Error("linear: expected bias of shape " + to_string({out}) + " for weight " + to_string(W.shape()) +
                        ", found " + to_string(b.shape()));
        for (int64_t i = 0; i < batch; ++i) std::copy(b.data(), b.data() + out, y.data() + i * out);
        gemm(1.0f, X, false, W, true, 1.0f, y);  // y = b + X Wᵀ
    } else {
        gemm(1.0f, X, false, W, true, 0.0f, y);
    }
    std::vector<Var> inputs{x, weight};
    if (bias != nullptr) inputs.push_back(*bias);
    const Var b = bias != nullptr ? *bias : Var();
    const bool has_bias = bias != nullptr;
    // region: linear-backward
    return x.tape().record("linear", y, inputs, [x, weight, b, has_bias](const Tensor& g) {
        if (x.requires_grad()) gemm(1.0f, g, false, weight.value(), false, 1.0f, x.grad_buffer());  // ḡ W
        if (weight.requires_grad()) gemm(1.0f, g, true, x.value(), false, 1.0f, weight.grad_buffer());  // ḡᵀ X
        if (has_bias && b.requires_grad()) {
            Tensor& gb = b.grad_buffer();
            const int64_t rows = g.size(0), cols = g.size(1);
            for (int64_t i = 0; i < rows; ++i)
                for (int64_t j = 0; j < cols; ++j) gb[j] += g[i * cols + j];  // Σ_rows ḡ
        }
    });
    // endregion: linear-backward
}

}  // namespace

Var linear(const Var& x, const Var& weight, const Var& bias) { return linear_impl(x, weight, &bias); }

Var linear(const Var& x, const Var& weight) { return linear_impl(x, weight, nullptr); }

}  // namespace tinyrank
