// Reshaping and full reductions (book §2.4).
#include "tinyrank/error.hpp"
#include "tinyrank/ops.hpp"

namespace tinyrank {

Var reshape(const Var& x, const Shape& shape) {
    return x.tape().record("reshape", x.value().reshape(shape), {x}, [x](const Tensor& g) {
        if (x.requires_grad()) axpy(1.0f, g.reshape(x.shape()), x.grad_buffer());
    });
}

Var flatten(const Var& x) {
    if (x.value().ndim() < 1) throw Error("flatten: expected at least one dimension, found a scalar");
    return reshape(x, {x.shape()[0], -1});
}

Var sum(const Var& x) {
    Tensor y = Tensor::full({}, sum(x.value()));
    return x.tape().record("sum", y, {x}, [x](const Tensor& g) {
        if (!x.requires_grad()) return;
        Tensor& gx = x.grad_buffer();
        const float g0 = g[0];
        for (int64_t i = 0; i < gx.numel(); ++i) gx[i] += g0;
    });
}

Var mean(const Var& x) {
    const int64_t n = x.value().numel();
    Tensor y = Tensor::full({}, mean(x.value()));
    return x.tape().record("mean", y, {x}, [x, n](const Tensor& g) {
        if (!x.requires_grad()) return;
        Tensor& gx = x.grad_buffer();
        const float share = g[0] / static_cast<float>(n);
        for (int64_t i = 0; i < gx.numel(); ++i) gx[i] += share;
    });
}

}  // namespace tinyrank
