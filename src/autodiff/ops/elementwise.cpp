// Elementwise ops and activations with their backward rules (book §2.4).
#include <cmath>

#include "tinyrank/ops.hpp"

namespace tinyrank {

namespace {

// region: accumulate-broadcast
// Adds `contribution`, summed down to the input's shape, into the input's gradient.
void accumulate_broadcast(const Var& input, const Tensor& contribution) {
    if (!input.requires_grad()) return;
    if (contribution.shape() == input.shape())
        axpy(1.0f, contribution, input.grad_buffer());
    else
        axpy(1.0f, sum_to(contribution, input.shape()), input.grad_buffer());
}
// endregion: accumulate-broadcast

// Records y = f(x) elementwise with ∂x = ḡ ⊙ derivative(x, y).
template <class Forward, class Derivative>
Var elementwise(const char* name, const Var& x, Forward forward, Derivative derivative) {
    const Tensor& xv = x.value();
    Tensor y = Tensor::empty(xv.shape());
    const int64_t n = y.numel();
    const float* in = xv.data();
    float* out = y.data();
#pragma omp parallel for schedule(static)  // element by element: the same for any thread count
    for (int64_t i = 0; i < n; ++i) out[i] = forward(in[i]);
    return x.tape().record(name, y, {x}, [x, y, derivative](const Tensor& g) {
        if (!x.requires_grad()) return;
        float* gx = x.grad_buffer().data();
        const float *go = g.data(), *in = x.value().data(), *out = y.data();
        const int64_t n = y.numel();
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; ++i) gx[i] += go[i] * derivative(in[i], out[i]);
    });
}

}  // namespace

Var add(const Var& a, const Var& b) {
    return a.tape().record("add", add(a.value(), b.value()), {a, b}, [a, b](const Tensor& g) {
        accumulate_broadcast(a, g);
        accumulate_broadcast(b, g);
    });
}

Var sub(const Var& a, const Var& b) {
    return a.tape().record("sub", sub(a.value(), b.value()), {a, b}, [a, b](const Tensor& g) {
        accumulate_broadcast(a, g);
        if (b.requires_grad()) accumulate_broadcast(b, scale(g, -1.0f));
    });
}

// region: mul
Var mul(const Var& a, const Var& b) {
    return a.tape().record("mul", mul(a.value(), b.value()), {a, b}, [a, b](const Tensor& g) {
        if (a.requires_grad()) accumulate_broadcast(a, mul(g, b.value()));
        if (b.requires_grad()) accumulate_broadcast(b, mul(g, a.value()));
    });
}
// endregion: mul

Var scale(const Var& a, float s) {
    return a.tape().record("scale", scale(a.value(), s), {a}, [a, s](const Tensor& g) {
        if (a.requires_grad()) axpy(s, g, a.grad_buffer());
    });
}

Var relu(const Var& x) {
    return elementwise(
        "relu", x, [](float v) { return v > 0.0f ? v : 0.0f; },
        [](float v, float) { return v > 0.0f ? 1.0f : 0.0f; });
}

Var leaky_relu(const Var& x, float slope) {
    return elementwise(
        "leaky_relu", x, [slope](float v) { return v > 0.0f ? v : slope * v; },
        [slope](float v, float) { return v > 0.0f ? 1.0f : slope; });
}

Var tanh(const Var& x) {
    return elementwise(
        "tanh", x, [](float v) { return std::tanh(v); }, [](float, float y) { return 1.0f - y * y; });
}

Var sigmoid(const Var& x) {
    // Written so that neither branch overflows: e^{−|v|} ≤ 1.
    return elementwise(
        "sigmoid", x,
        [](float v) {
            const float e = std::exp(-std::fabs(v));
            return v >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
        },
        [](float, float y) { return y * (1.0f - y); });
}

}  // namespace tinyrank
