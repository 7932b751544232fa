// log-softmax, softmax cross-entropy and mean squared error (book §2.6).
#include <cmath>

#include "tinyrank/error.hpp"
#include "tinyrank/ops.hpp"

namespace tinyrank {

namespace {

// region: log-softmax-rows
// Writes log softmax of each row of z [B, C] into out, subtracting the row maximum first
// so that no exponential overflows: log Σ e^{z} = m + log Σ e^{z − m}. The result is formed
// as (z − m) − log Σ e^{z − m}, never as z − (m + log Σ …): for logits of size 1000 the
// float m + 0.69 keeps only ~4 digits of the 0.69, and softmax = e^y would inherit the error.
void log_softmax_rows(const Tensor& z, Tensor& out) {
    const int64_t rows = z.size(0), cols = z.size(1);
    for (int64_t i = 0; i < rows; ++i) {
        const float* zi = z.data() + i * cols;
        float* oi = out.data() + i * cols;
        float m = zi[0];
        for (int64_t j = 1; j < cols; ++j) m = std::max(m, zi[j]);
        double total = 0.0;
        for (int64_t j = 0; j < cols; ++j) total += std::exp(static_cast<double>(zi[j] - m));
        const float log_total = static_cast<float>(std::log(total));
        for (int64_t j = 0; j < cols; ++j) oi[j] = (zi[j] - m) - log_total;
    }
}
// endregion: log-softmax-rows

void check_logits(const char* op, const Tensor& z) {
    if (z.ndim() != 2 || z.size(1) == 0)
        throw Error(std::string(op) + ": expected logits of shape [B, C] with C > 0, found " + to_string(z.shape()));
}

}  // namespace

Var log_softmax(const Var& logits) {
    check_logits("log_softmax", logits.value());
    Tensor y = Tensor::empty(logits.shape());
    log_softmax_rows(logits.value(), y);
    return logits.tape().record("log_softmax", y, {logits}, [logits, y](const Tensor& g) {
        if (!logits.requires_grad()) return;
        Tensor& gz = logits.grad_buffer();
        const int64_t rows = y.size(0), cols = y.size(1);
        for (int64_t i = 0; i < rows; ++i) {
            double row_sum = 0.0;
            for (int64_t j = 0; j < cols; ++j) row_sum += g[i * cols + j];
            for (int64_t j = 0; j < cols; ++j)
                gz[i * cols + j] += g[i * cols + j] - std::exp(y[i * cols + j]) * static_cast<float>(row_sum);
        }
    });
}

Var cross_entropy(const Var& logits, const std::vector<int64_t>& labels) {
    const Tensor& z = logits.value();
    check_logits("cross_entropy", z);
    const int64_t batch = z.size(0), classes = z.size(1);
    if (static_cast<int64_t>(labels.size()) != batch)
        throw Error("cross_entropy: logits " + to_string(z.shape()) + " need " + std::to_string(batch) +
                    " labels, found " + std::to_string(labels.size()));
    for (size_t i = 0; i < labels.size(); ++i)
        if (labels[i] < 0 || labels[i] >= classes)
            throw Error("cross_entropy: label " + std::to_string(labels[i]) + " at position " + std::to_string(i) +
                        " is outside [0, " + std::to_string(classes) + ")");
    if (batch == 0) throw Error("cross_entropy: the batch is empty");
    Tensor log_p = Tensor::empty(z.shape());
    log_softmax_rows(z, log_p);
    double total = 0.0;
    for (int64_t i = 0; i < batch; ++i) total -= log_p[i * classes + labels[static_cast<size_t>(i)]];
    Tensor loss = Tensor::full({}, static_cast<float>(total / static_cast<double>(batch)));
    // region: cross-entropy-backward
    return logits.tape().record("cross_entropy", loss, {logits}, [logits, log_p, labels](const Tensor& g) {
        if (!logits.requires_grad()) return;
        Tensor& gz = logits.grad_buffer();
        const int64_t rows = log_p.size(0), cols = log_p.size(1);
        const float s = g[0] / static_cast<float>(rows);
        for (int64_t i = 0; i < rows; ++i) {
            for (int64_t j = 0; j < cols; ++j) gz[i * cols + j] += s * std::exp(log_p[i * cols + j]);  // softmax
            gz[i * cols + labels[static_cast<size_t>(i)]] -= s;                                         // − onehot
        }
    });
    // endregion: cross-entropy-backward
}

Var mse(const Var& prediction, const Var& target) {
    check_same_shape("mse", prediction.shape(), target.shape());
    const Tensor diff = sub(prediction.value(), target.value());
    const int64_t n = diff.numel();
    if (n == 0) throw Error("mse: the tensors are empty");
    double total = 0.0;
    for (int64_t i = 0; i < n; ++i) total += double(diff[i]) * diff[i];
    Tensor loss = Tensor::full({}, static_cast<float>(total / static_cast<double>(n)));
    return prediction.tape().record("mse", loss, {prediction, target}, [prediction, target, diff, n](const Tensor& g) {
        const float s = 2.0f * g[0] / static_cast<float>(n);
        if (prediction.requires_grad()) axpy(s, diff, prediction.grad_buffer());
        if (target.requires_grad()) axpy(-s, diff, target.grad_buffer());
    });
}

}  // namespace tinyrank
