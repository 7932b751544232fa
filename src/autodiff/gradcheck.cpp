// Finite-difference gradient checking (book §2.7).
#include "tinyrank/gradcheck.hpp"

#include <cmath>
#include <sstream>

#include "tinyrank/random.hpp"

namespace tinyrank {

namespace {

// L = Σ w_i y_i in double precision, evaluated without recording.
double weighted_output(const GradcheckFunction& f, const std::vector<Tensor>& inputs, const Tensor& w) {
    Tape tape;
    NoGrad no_grad(tape);
    std::vector<Var> vars;
    for (const Tensor& x : inputs) vars.push_back(tape.input(x));
    const Tensor y = f(vars).value();
    double total = 0.0;
    for (int64_t i = 0; i < y.numel(); ++i) total += double(w[i]) * y[i];
    return total;
}

}  // namespace

GradcheckResult gradcheck(const GradcheckFunction& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options) {
    std::vector<Tensor> x;
    for (const Tensor& t : inputs) x.push_back(t.clone());

    Tape tape;
    std::vector<Var> vars;
    for (const Tensor& t : x) vars.push_back(tape.input(t, /*requires_grad=*/true));
    const Var y = f(vars);
    Rng rng(options.seed);
    const Tensor w = Tensor::normal(y.shape(), rng);
    tape.backward(y, w);

    GradcheckResult result;
    double worst_ratio = 0.0;
    for (size_t a = 0; a < x.size(); ++a) {
        const bool reached = vars[a].value().numel() > 0 && !tape.node(static_cast<size_t>(vars[a].index())).grad.is_empty();
        const Tensor analytic = reached ? tape.grad(vars[a]).clone() : Tensor::zeros(x[a].shape());
        // region: central-difference
        for (int64_t k = 0; k < x[a].numel(); ++k) {
            const float original = x[a][k];
            const auto up = static_cast<float>(original + options.epsilon);
            const auto down = static_cast<float>(original - options.epsilon);
            x[a][k] = up;
            const double plus = weighted_output(f, x, w);
            x[a][k] = down;
            const double minus = weighted_output(f, x, w);
            x[a][k] = original;
            const double numeric = (plus - minus) / (double(up) - double(down));  // the step float really took
            const double error = std::fabs(analytic[k] - numeric);
            const double ratio = error / (options.atol + options.rtol * std::fabs(numeric));
            result.max_abs_error = std::max(result.max_abs_error, error);
            if (ratio > worst_ratio) {
                worst_ratio = ratio;
                std::ostringstream where;
                where << "input " << a << " element " << k << ": analytic " << analytic[k] << ", numeric " << numeric;
                result.worst = where.str();
            }
        }
        // endregion: central-difference
    }
    result.passed = worst_ratio <= 1.0;
    return result;
}

}  // namespace tinyrank
