// Chapter 9 — condition numbers and the spectral regulariser. What κ = σ₁/σ_r of a matrix
// and of a low-rank layer measures (the worst amplification of a relative change); the
// regulariser R(S) = ‖SᵀS − α²I‖_F, its hand-derived gradient and the identities behind it,
// checked numerically; gradient descent on R alone flattening an ill-conditioned core; then
// a low-rank MLP trained on the same batches with β = 0 and with β = 0.1 (ranks held at 16),
// watching κ(S) and R(S) of every core after every cycle, with clean, FGSM and PGD accuracy
// at the end, how far an input change moves the logits, and three more values of β.
//
//   ch09_conditioning [--quick] [--out DIR]
//
// Runs in about 30 seconds on 2 cores, most of it five trainings of three epochs each
// (--quick: 300 batches each and 2000 test images, about 8 seconds). Reads MNIST from
// datasets/mnist (run it from the repository root). Writes to DIR (default out/ch09), for the
// figures of book/09-condition-numbers.md:
//   descent.csv  step, R, kappa, frobenius, alpha, kappa_bound, sigma_1 … sigma_8 (section 3)
//   cycles.csv   run, batch, layer, rank, kappa, R, sigma_1, sigma_r, frobenius: one row per
//                layer and integrator cycle of the runs "plain" (β = 0) and "regularised"
//   spectra.csv  run, layer, index, sigma: the singular values of the final cores
//   results.csv  run, beta, test_accuracy, eps, fgsm_accuracy, pgd_accuracy, lipschitz_bound,
//                gain_fgsm, gain_random, relative_gain_fgsm (sections 4 and 5)
//   beta.csv     beta, test_accuracy, fgsm_accuracy, pgd_accuracy, kappa_fc1, kappa_fc2,
//                sigma_1_fc1, sigma_1_fc2 (section 6)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "tinyrank/tinyrank.hpp"
#include "tutorial.hpp"

using namespace tinyrank;
using tutorial::Options;

namespace {

using Clock = std::chrono::steady_clock;

const char* const kArchitecture = "mlp";
const float kLearningRate = 0.003f;  // what `tinyrank train --lowrank` uses (book §7.4)
const float kBeta = 0.1f;            // the regularised runs' β
const int64_t kEpochs = 3;           // epochs per training (--quick: 300 batches)
const float kEps = 0.1f;             // the FGSM radius (ℓ∞, pixels in [0, 1])

// A random orthogonal n×n matrix: the Q of a Gaussian matrix's QR.
Tensor random_orthogonal(int64_t n, Rng& rng) { return qr(Tensor::normal({n, n}, rng)).Q; }

// A = P diag(σ) Qᵀ with random orthogonal P, Q: a matrix whose singular values we choose.
struct Spectrum {
    Tensor A, P, Q;
};

// An n×n matrix with the singular values `sigma` (descending) and random singular vectors.
Spectrum with_singular_values(const std::vector<float>& sigma, Rng& rng) {
    const auto n = static_cast<int64_t>(sigma.size());
    Spectrum s{Tensor(), random_orthogonal(n, rng), random_orthogonal(n, rng)};
    Tensor d({n, n});
    for (int64_t i = 0; i < n; ++i) d[i * n + i] = sigma[static_cast<size_t>(i)];
    s.A = matmul(matmul(s.P, d), s.Q, false, true);
    return s;
}

// Column j of an m×n matrix, as an m×1 matrix.
Tensor column(const Tensor& a, int64_t j) {
    const int64_t m = a.size(0), n = a.size(1);
    Tensor c({m, 1});
    for (int64_t i = 0; i < m; ++i) c[i] = a[i * n + j];
    return c;
}

// (‖A Δx‖ / ‖A x‖) / (‖Δx‖ / ‖x‖): how much A amplifies the relative change Δx of x.
double amplification(const Tensor& a, const Tensor& x, const Tensor& dx) {
    return (double(norm(matmul(a, dx))) / double(norm(matmul(a, x)))) / (double(norm(dx)) / double(norm(x)));
}

// The largest and the median amplification of `pairs` random Gaussian pairs x, Δx = basis · z.
std::pair<double, double> random_amplification(const Tensor& a, const Tensor& basis, int pairs, Rng& rng) {
    std::vector<double> seen;
    for (int k = 0; k < pairs; ++k) {
        const Tensor x = matmul(basis, Tensor::normal({basis.size(1), 1}, rng));
        const Tensor dx = matmul(basis, Tensor::normal({basis.size(1), 1}, rng));
        seen.push_back(amplification(a, x, dx));
    }
    std::sort(seen.begin(), seen.end());
    return {seen.back(), seen[seen.size() / 2]};
}

// Section 1: κ of a matrix and of a low-rank layer, as the worst amplification of a relative change.
void condition_of_a_matrix(Rng& rng) {
    std::printf("\n== 1. kappa = sigma_1 / sigma_n: how much a matrix can amplify a relative change ==\n\n");
    const std::vector<float> sigma = {10.0f, 5.0f, 2.0f, 1.0f, 0.5f, 0.1f};
    const Spectrum m = with_singular_values(sigma, rng);
    const int64_t n = 6;
    std::printf("  A = P diag(10, 5, 2, 1, 0.5, 0.1) Q^T with random orthogonal P, Q (6x6): kappa(A) = %.2f.\n",
                static_cast<double>(condition_number(m.A)));
    // Right singular vectors q_1 … q_n are the columns of Q: A q_j = σ_j p_j.
    const Tensor q_first = column(m.Q, 0), q_last = column(m.Q, n - 1);
    const double worst = amplification(m.A, q_last, 0.01f * q_first);
    const double best = amplification(m.A, q_first, 0.01f * q_last);
    const auto [largest, median] = random_amplification(m.A, Tensor::eye(n), 10000, rng);
    std::printf("  (|A dx| / |A x|) / (|dx| / |x|), the amplification of a relative change:\n"
                "    x = q_6 (the direction A shrinks most), dx along q_1 (the one it stretches most): %8.2f\n"
                "    x = q_1, dx along q_6:                                                    %8.4f\n"
                "    10000 random Gaussian pairs x, dx: largest %.2f, median %.2f\n"
                "  The worst case is kappa exactly, the best 1/kappa; random pairs rarely come close to\n"
                "  either. kappa is a bound on the worst case, not a typical value.\n",
                worst, best, largest, median);

    // A low-rank layer: W = U S Vᵀ (40×60) with a full, non-diagonal core S of rank 5.
    Rng layer_rng(3);
    LowRankLinear layer(60, 40, layer_rng, RankOptions{5, 5, 1});
    const Spectrum core = with_singular_values({8.0f, 4.0f, 2.0f, 1.0f, 0.4f}, rng);
    layer.set_factors(layer.U.value, core.A, layer.V.value);
    const Tensor w = layer.weight_matrix();
    const Tensor s_w = singular_values(w);
    std::printf("\n  A low-rank layer W = U S V^T, 40x60, rank 5, S = P diag(8, 4, 2, 1, 0.4) Q^T (not diagonal):\n"
                "    singular values of W: %.4f %.4f %.4f %.4f %.4f | %.1e %.1e ... (35 more, all rounding)\n"
                "    kappa(S) = %.2f; kappa(W) over all 40 singular values = %.3g (sigma_40 is rounding)\n",
                static_cast<double>(s_w[0]), static_cast<double>(s_w[1]), static_cast<double>(s_w[2]),
                static_cast<double>(s_w[3]), static_cast<double>(s_w[4]), static_cast<double>(s_w[5]),
                static_cast<double>(s_w[6]), static_cast<double>(condition_number(core.A)),
                static_cast<double>(condition_number(w)));
    // W's right singular vectors for σ₁ and σ_r are V q₁ and V q_r.
    const Tensor v_first = matmul(layer.V.value, column(core.Q, 0));
    const Tensor v_last = matmul(layer.V.value, column(core.Q, 4));
    const double layer_worst = amplification(w, v_last, 0.01f * v_first);
    const auto [layer_largest, layer_median] = random_amplification(w, layer.V.value, 10000, rng);
    const Tensor x = Tensor::normal({60, 1}, rng);
    std::printf("    x = V q_5, dx along V q_1: amplification %.2f = kappa(S)\n"
                "    10000 random pairs inside span(V) (x = V z, dx = V dz): largest %.2f, median %.2f\n"
                "  With U and V orthonormal, |W x| = |S V^T x|: the layer sees only the 5 numbers z = V^T x,\n"
                "  and its singular values are those of S. A random x in R^60 keeps only |V^T x| / |x| = %.2f\n"
                "  of its length in the directions the layer sees; the rest, and any change in it, is ignored.\n",
                layer_worst, layer_largest, layer_median,
                static_cast<double>(norm(matmul(layer.V.value, x, true, false)) / norm(x)));
}

// Section 2: R(S), α², the identities behind the gradient, and the bound on κ, checked on a random core.
void the_regularizer(Rng& rng) {
    std::printf("\n== 2. R(S) = |S^T S - alpha^2 I|_F and its gradient ==\n\n");
    const int64_t r = 5;
    const Tensor S = Tensor::normal({r, r}, rng);
    const Tensor sigma = singular_values(S);
    const float frob = norm(S);
    const float alpha2 = frob * frob / static_cast<float>(r);
    const float R = spectral_regularizer_value(S);
    double mean = 0.0, variance = 0.0;
    for (int64_t i = 0; i < r; ++i) mean += double(sigma[i]) * sigma[i] / r;
    for (int64_t i = 0; i < r; ++i) variance += std::pow(double(sigma[i]) * sigma[i] - mean, 2) / r;
    std::printf("  A Gaussian 5x5 core S: sigma =");
    for (int64_t i = 0; i < r; ++i) std::printf(" %.4f", static_cast<double>(sigma[i]));
    std::printf(", kappa %.2f\n"
                "    alpha^2 = |S|_F^2 / r = %.4f = the mean of sigma_i^2 (%.4f)\n"
                "    R(S) = %.4f;  R^2 / r = %.4f, the variance of sigma_i^2 = %.4f\n",
                static_cast<double>(condition_number(S)), static_cast<double>(alpha2), mean,
                static_cast<double>(R), double(R) * R / r, variance);
    const Tensor P = random_orthogonal(r, rng), Q = random_orthogonal(r, rng);
    std::printf("    R(3 P) for an orthogonal P = %.1e (zero up to rounding: a scaled orthogonal matrix)\n"
                "    R(P S Q^T) = %.4f for random orthogonal P, Q: the same as R(S)\n",
                static_cast<double>(spectral_regularizer_value(3.0f * P)),
                static_cast<double>(spectral_regularizer_value(matmul(matmul(P, S), Q, false, true))));

    // region: gradient-by-hand
    // The library's op records R on the tape; backward gives ∇R.
    Tape tape;
    const Var s = tape.input(S, true);
    tape.backward(spectral_regularizer(s));
    // The formula (9.11) by hand: D = SᵀS − α² I, ∇R = 2 S D / R.
    Tensor D = matmul(S, S, true, false);
    for (int64_t i = 0; i < r; ++i) D[i * r + i] -= alpha2;
    const Tensor by_hand = (2.0f / R) * matmul(S, D);
    // endregion: gradient-by-hand
    // A central difference on one entry, in float: a step of 1e-2 balances truncation and rounding.
    const float h = 1e-2f;
    Tensor plus = S.clone(), minus = S.clone();
    plus[1] += h;
    minus[1] -= h;
    const double fd = (double(spectral_regularizer_value(plus)) - spectral_regularizer_value(minus)) / (2.0 * h);
    double trace = 0.0;
    for (int64_t i = 0; i < r; ++i) trace += D[i * r + i];
    std::printf("\n  The gradient 2 S (S^T S - alpha^2 I) / R:\n"
                "    max |tape - formula| = %.1e;  dR/dS_12: formula %.5f, central difference %.5f\n"
                "    tr(S^T S - alpha^2 I) = %.1e: why the alpha^2 term adds nothing to the gradient\n"
                "    <grad R, S> = %.5f = 2 R = %.5f: R is homogeneous of degree 2, so the gradient always\n"
                "      has a component along S itself, and a step against it shrinks S\n",
                static_cast<double>(max_abs(s.grad() - by_hand)), static_cast<double>(by_hand[1]), fd, trace,
                static_cast<double>(sum(mul(by_hand, S))), 2.0 * R);
    const double sr = sigma[r - 1];
    std::printf("  The bound (9.9): kappa = %.3f <= sqrt(1 + sqrt(2) R / sigma_r^2) = %.3f <= exp(R / (sqrt(2) "
                "sigma_r^2)) = %.3g\n",
                static_cast<double>(condition_number(S)), std::sqrt(1.0 + std::sqrt(2.0) * R / (sr * sr)),
                std::exp(R / (std::sqrt(2.0) * sr * sr)));
}

// Section 3: plain gradient descent on R alone, from a core with κ = 100.
void descent_on_r(const Options& o, Rng& rng) {
    std::printf("\n== 3. Gradient descent on R alone: an ill-conditioned core becomes flat ==\n\n");
    const int64_t r = 8;
    std::vector<float> start(r);
    for (int64_t i = 0; i < r; ++i) start[i] = 4.0f * std::pow(0.01f, float(i) / float(r - 1));  // 4 … 0.04
    const Spectrum s0 = with_singular_values(start, rng);
    Parameter core("S", s0.A);
    const float lr = 0.01f;
    const int steps = 1000;
    std::vector<std::vector<std::string>> rows;
    double first_order = 0.0, second_order = 0.0;  // Σ 4 η R_t and Σ η² ‖∇R_t‖², see (9.14)
    const float frob_start = norm(core.value);
    std::printf("  S = P diag(4, ..., 0.04) Q^T, 8x8, kappa = 100; steps S <- S - %.2g grad R:\n\n", double(lr));
    std::printf("    %5s %9s %9s %9s %9s %9s %12s\n", "step", "R", "kappa", "sigma_1", "sigma_8", "|S|_F",
                "kappa bound");
    for (int step = 0; step <= steps; ++step) {
        const Tensor sigma = singular_values(core.value);
        const float R = spectral_regularizer_value(core.value), frob = norm(core.value);
        const double sr = sigma[r - 1], bound = std::sqrt(1.0 + std::sqrt(2.0) * R / (sr * sr));
        std::vector<std::string> row = {std::to_string(step), format_number(R),
                                        format_number(condition_number(core.value)), format_number(frob),
                                        format_number(frob / std::sqrt(float(r))), format_number(bound)};
        for (int64_t i = 0; i < r; ++i) row.push_back(format_number(sigma[i]));
        rows.push_back(row);
        if (step < 3 || step == 5 || (step <= 100 && step % 10 == 0) || step % 100 == 0)
            std::printf("    %5d %9.4f %9.3f %9.4f %9.4f %9.4f %12.4g\n", step, static_cast<double>(R),
                        static_cast<double>(condition_number(core.value)), static_cast<double>(sigma[0]), sr,
                        static_cast<double>(frob), bound);
        if (step == steps) break;
        // region: descent-on-r
        Tape tape;
        core.grad.zero();
        tape.backward(spectral_regularizer(tape.param(core)));  // core.grad = ∇R(S)
        axpy(-lr, core.grad, core.value);                       // S ← S − η ∇R(S)
        // endregion: descent-on-r
        first_order += 4.0 * lr * R;
        second_order += double(lr) * lr * norm(core.grad) * norm(core.grad);
    }
    write_csv(tutorial::output_file(o, "descent.csv"),
              {"step", "R", "kappa", "frobenius", "alpha", "kappa_bound", "sigma_1", "sigma_2", "sigma_3", "sigma_4",
               "sigma_5", "sigma_6", "sigma_7", "sigma_8"},
              rows);
    // The singular vectors: Pᵀ S Q is still diagonal if descent only moved the singular values.
    const Tensor rotated = matmul(matmul(s0.P, core.value, true, false), s0.Q);
    double off = 0.0;
    for (int64_t i = 0; i < r; ++i)
        for (int64_t j = 0; j < r; ++j)
            if (i != j) off += double(rotated[i * r + j]) * rotated[i * r + j];
    const float frob_end = norm(core.value);
    std::printf("\n  The singular vectors did not move: |off-diagonal of P^T S Q| / |S| = %.1e after %d steps.\n"
                "  |S|_F^2 fell from %.3f to %.3f, by %.3f = sum 4 eta R_t - sum eta^2 |grad R_t|^2 = %.3f - %.3f.\n"
                "  Wrote %s/descent.csv (%d rows).\n",
                std::sqrt(off) / frob_end, steps, double(frob_start) * frob_start, double(frob_end) * frob_end,
                double(frob_start) * frob_start - double(frob_end) * frob_end, first_order, second_order, o.out.c_str(),
                steps + 1);
}

// A notebook of the integrator's cycles (chapter 7's CycleLogger, with R(S) and the extreme
// singular values added), attached with DlrtStepper::set_cycle_observer: after every
// truncation it records each low-rank layer's rank, κ(S), R(S), σ₁, σ_r and ‖S‖_F, and prints
// the first two cycles and every `show_every`-th (none for 0).
class CycleNotebook {
public:
    CycleNotebook(Sequential& model, std::string run, int64_t show_every)
        : layers_(named_lowrank_layers(model)), run_(std::move(run)), show_every_(show_every) {}

    // Called after the truncation that ends a cycle, with the batches seen so far.
    void record(int64_t batch) {
        ++cycles_;
        const bool show = show_every_ > 0 && (cycles_ <= 2 || cycles_ % show_every_ == 0);
        if (show) std::printf("    batch %4lld:", static_cast<long long>(batch));
        for (const auto& [name, f] : layers_) {
            const Tensor s = singular_values(f->S.value);
            const float kappa = condition_number(f->S.value), R = spectral_regularizer_value(f->S.value);
            rows.push_back({run_, std::to_string(batch), name, std::to_string(f->rank()), format_number(kappa),
                            format_number(R), format_number(s[0]), format_number(s[s.numel() - 1]),
                            format_number(norm(f->S.value))});
            if (show)
                std::printf("  %s rank %3lld kappa %5.2f R %6.3f sigma %.2f..%.2f", name.c_str(),
                            static_cast<long long>(f->rank()), static_cast<double>(kappa), static_cast<double>(R),
                            static_cast<double>(s[0]), static_cast<double>(s[s.numel() - 1]));
        }
        if (show) std::printf("\n");
    }

    std::vector<std::vector<std::string>> rows;  // run, batch, layer, rank, kappa, R, sigma_1, sigma_r, frobenius

private:
    std::vector<std::pair<std::string, LowRankFactors*>> layers_;
    std::string run_;
    int64_t show_every_;
    int64_t cycles_ = 0;
};

// One training of the section: its name in the CSV files and β.
struct RunSpec {
    std::string name;  // "plain" or "regularised"
    float beta;
};

// What one training run ended with.
struct Run {
    RunSpec spec;
    std::unique_ptr<Sequential> model;
    double clean = 0.0, fgsm = 0.0, pgd = 0.0, seconds = 0.0;
};

// Trains a fresh low-rank model as `spec` says (same seed, same batches for every run) and attacks it.
// Cycles are printed every `show_every` (0: none) and their records appended to `cycle_rows`.
Run train_run(const RunSpec& spec, const Dataset& train_data, const Dataset& test, const Options& o,
              int64_t show_every, std::vector<std::vector<std::string>>& cycle_rows) {
    std::printf("\n  %s, beta = %g:\n", spec.name.c_str(), static_cast<double>(spec.beta));
    Run run;
    run.spec = spec;
    Rng rng(1);
    const int64_t r = default_rank(kArchitecture);
    // region: fixed-rank
    // Truncation keeps a rank in [r_min, r_max] = [r, 2r], (7.5). With τ = 1 every tail is below
    // τ‖σ‖, the rule asks for rank 1 and the clamp returns r: every cycle ends at rank r, while
    // augmentation still doubles it for the Galerkin steps and rotates new directions in.
    const RankOptions ranks{r, 2 * r, r};
    DlrtOptions integrator;  // s* = 10
    integrator.tau = 1.0f;
    // endregion: fixed-rank
    run.model = make_lowrank_model(kArchitecture, rng, ranks);
    TrainOptions options;
    options.epochs = o.quick ? 1 : kEpochs;
    options.max_batches = o.quick ? 300 : 0;
    options.progress = 0;
    const int64_t per_epoch = batches_per_epoch(train_data, options);
    Adam adam(galerkin_parameters(*run.model), kLearningRate);
    const CosineSchedule schedule(kLearningRate, per_epoch * options.epochs);
    // region: with-regularizer
    DlrtStepper dlrt(*run.model, adam, &schedule, integrator);
    if (spec.beta > 0.0f) dlrt.set_core_penalty(spectral_penalty(spec.beta));  // loss = CE + β Σ_layers R(S_layer)
    // endregion: with-regularizer
    CycleNotebook notebook(*run.model, spec.name, show_every);
    dlrt.set_cycle_observer([&](int64_t batch) { notebook.record(batch); });
    const auto start = Clock::now();
    const std::vector<EpochRecord> history = train(*run.model, dlrt, train_data, test, options);
    run.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    cycle_rows.insert(cycle_rows.end(), notebook.rows.begin(), notebook.rows.end());
    run.clean = history.back().test_accuracy;
    AttackOptions fgsm;
    fgsm.kind = AttackKind::fgsm;
    fgsm.eps = kEps;
    run.fgsm = robust_accuracy(*run.model, test, fgsm, /*seed=*/1).robust;
    AttackOptions pgd;  // 10 steps of 2.5 ε / 10 from a random start: a stronger attack, as a check
    pgd.kind = AttackKind::pgd_linf;
    pgd.eps = kEps;
    run.pgd = robust_accuracy(*run.model, slice(test, 0, o.quick ? 500 : 2000), pgd, /*seed=*/1).robust;
    return run;
}

// σ₁ of every linear map of the MLP: the low-rank cores and the dense last layer.
std::vector<float> largest_singular_values(Sequential& model) {
    std::vector<float> out;
    for (size_t i = 0; i < model.size(); ++i) {
        if (auto* f = dynamic_cast<LowRankFactors*>(&model.layer(i))) out.push_back(singular_values(f->S.value)[0]);
        else if (auto* l = dynamic_cast<Linear*>(&model.layer(i))) out.push_back(singular_values(l->weight.value)[0]);
    }
    return out;
}

// How far a change of the input moved the logits z, averaged over a batch.
struct Gain {
    double absolute = 0.0;  // ‖Δz‖ / ‖Δx‖
    double relative = 0.0;  // (‖Δz‖ / ‖z‖) / (‖Δx‖ / ‖x‖)
};

// The gain of `model`'s logits between `images` and `changed`, averaged over the batch.
Gain logit_gain(Sequential& model, const Tensor& images, const Tensor& changed) {
    Tape tape;
    NoGrad no_grad(tape);
    const Tensor a = model.forward(tape.input(images)).value();
    const Tensor b = model.forward(tape.input(changed)).value();
    const int64_t n = images.size(0), classes = a.size(1), pixels = images.numel() / n;
    Gain gain;
    for (int64_t i = 0; i < n; ++i) {
        double dz = 0.0, z = 0.0, dx = 0.0, x = 0.0;
        for (int64_t c = 0; c < classes; ++c) {
            dz += std::pow(double(b[i * classes + c]) - a[i * classes + c], 2);
            z += std::pow(double(a[i * classes + c]), 2);
        }
        for (int64_t p = 0; p < pixels; ++p) {
            dx += std::pow(double(changed[i * pixels + p]) - images[i * pixels + p], 2);
            x += std::pow(double(images[i * pixels + p]), 2);
        }
        gain.absolute += std::sqrt(dz / std::max(dx, 1e-30)) / double(n);
        gain.relative += std::sqrt((dz / std::max(z, 1e-30)) / std::max(dx / x, 1e-30)) / double(n);
    }
    return gain;
}

// Sections 4 and 5: the same low-rank MLP trained with β = 0 and β > 0 on the same batches;
// κ, R, accuracy and robust accuracy after training, then how far an input change moves the logits.
std::vector<Run> train_twice(const Dataset& train_data, const Dataset& test, const Options& o) {
    std::printf("\n== 4. A low-rank MLP trained with beta = 0 and beta = %g on the same batches ==\n\n"
                "  fc1 (784 -> 500) and fc2 (500 -> 500) low-rank at rank %lld, fc3 dense; Adam lr %g with the\n"
                "  cosine schedule, s* = 10, every truncation back to rank %lld; %s each. The first cycles\n"
                "  and every %dth are shown.\n",
                static_cast<double>(kBeta), static_cast<long long>(default_rank(kArchitecture)),
                static_cast<double>(kLearningRate), static_cast<long long>(default_rank(kArchitecture)),
                o.quick ? "300 batches (--quick)" : (std::to_string(kEpochs) + " epochs").c_str(), o.quick ? 9 : 20);
    std::vector<std::vector<std::string>> cycle_rows;
    std::vector<Run> runs;
    for (const RunSpec& spec : {RunSpec{"plain", 0.0f}, RunSpec{"regularised", kBeta}})
        runs.push_back(train_run(spec, train_data, test, o, o.quick ? 9 : 20, cycle_rows));
    write_csv(tutorial::output_file(o, "cycles.csv"),
              {"run", "batch", "layer", "rank", "kappa", "R", "sigma_1", "sigma_r", "frobenius"}, cycle_rows);

    std::vector<std::vector<std::string>> spectrum_rows, result_rows;
    std::printf("\n  After training: clean and FGSM accuracy on %lld test images, PGD-10 on the first %d (eps = %g):\n",
                static_cast<long long>(test.size()), o.quick ? 500 : 2000, static_cast<double>(kEps));
    for (const Run& run : runs) {
        std::printf("    %-11s (beta %g) clean %.2f%%, FGSM %.2f%%, PGD %.2f%%; %.1f s to train and evaluate\n",
                    run.spec.name.c_str(), static_cast<double>(run.spec.beta), 100.0 * run.clean, 100.0 * run.fgsm,
                    100.0 * run.pgd, run.seconds);
        for (const auto& [name, f] : named_lowrank_layers(*run.model)) {
            const Tensor s = singular_values(f->S.value);
            const float R = spectral_regularizer_value(f->S.value), alpha2 = norm(s) * norm(s) / float(s.numel());
            std::printf("      %s kappa %.2f, R %.3f, alpha^2 %.3f, R / alpha^2 %.3f; sigma:", name.c_str(),
                        static_cast<double>(condition_number(f->S.value)), static_cast<double>(R),
                        static_cast<double>(alpha2), static_cast<double>(R / alpha2));
            for (int64_t i = 0; i < s.numel(); ++i) {
                spectrum_rows.push_back({run.spec.name, name, std::to_string(i + 1), format_number(s[i])});
                if (i < 3 || i >= s.numel() - 2) std::printf(" %.3f", static_cast<double>(s[i]));
                else if (i == 3) std::printf(" ...");
            }
            std::printf("\n        the same core padded with zeros to %lldx%lld, as augmentation leaves it: R = %.3f\n",
                        static_cast<long long>(2 * f->rank()), static_cast<long long>(2 * f->rank()),
                        static_cast<double>(spectral_regularizer_value(pad_square(f->S.value, 2 * f->rank()))));
        }
    }
    write_csv(tutorial::output_file(o, "spectra.csv"), {"run", "layer", "index", "sigma"}, spectrum_rows);

    std::printf("\n== 5. How far an input change moves the output ==\n\n"
                "  |dz| <= sigma_1(fc1) sigma_1(fc2) sigma_1(fc3) |dx| for the logits z (ReLU moves nothing\n"
                "  further than its input moved), against the gain |dz| / |dx| measured on the first 500 test\n"
                "  images, for the FGSM change (eps = %g) and for a random change of signs of the same size;\n"
                "  `relative' is (|dz| / |z|) / (|dx| / |x|) for the FGSM change:\n",
                static_cast<double>(kEps));
    const Dataset probe = slice(test, 0, 500);
    Batches batches(probe, 500, 0, Order::sequential);
    const Batch batch = *batches.next();
    for (Run& run : runs) {
        const std::vector<float> s1 = largest_singular_values(*run.model);
        double bound = 1.0;
        for (float v : s1) bound *= v;
        AttackOptions fgsm;
        fgsm.kind = AttackKind::fgsm;
        fgsm.eps = kEps;
        Rng rng(2);
        const Tensor adversarial = attack(*run.model, batch.images, batch.labels, fgsm, rng);
        Tensor random = batch.images.clone();
        for (int64_t i = 0; i < random.numel(); ++i)
            random[i] = std::clamp(random[i] + (rng.uniform() < 0.5f ? -kEps : kEps), 0.0f, 1.0f);
        const Gain fgsm_gain = logit_gain(*run.model, batch.images, adversarial);
        const Gain random_gain = logit_gain(*run.model, batch.images, random);
        std::printf("    %-11s sigma_1 %5.2f %5.2f %5.2f: bound %6.2f | gain FGSM %.2f, random %.2f | "
                    "relative FGSM %.2f\n",
                    run.spec.name.c_str(), static_cast<double>(s1[0]), static_cast<double>(s1[1]),
                    static_cast<double>(s1[2]), bound, fgsm_gain.absolute, random_gain.absolute, fgsm_gain.relative);
        result_rows.push_back({run.spec.name, format_number(run.spec.beta), format_number(run.clean),
                               format_number(kEps), format_number(run.fgsm), format_number(run.pgd),
                               format_number(bound), format_number(fgsm_gain.absolute),
                               format_number(random_gain.absolute), format_number(fgsm_gain.relative)});
    }
    write_csv(tutorial::output_file(o, "results.csv"),
              {"run", "beta", "test_accuracy", "eps", "fgsm_accuracy", "pgd_accuracy", "lipschitz_bound", "gain_fgsm",
               "gain_random", "relative_gain_fgsm"},
              result_rows);
    std::printf("  Wrote %s/cycles.csv (%lld rows), %s/spectra.csv and %s/results.csv.\n", o.out.c_str(),
                static_cast<long long>(cycle_rows.size()), o.out.c_str(), o.out.c_str());
    return runs;
}

// σ₁ of each low-rank core of a trained model, in layer order.
std::vector<float> core_sigma_1(Sequential& model) {
    std::vector<float> sigma_1;
    for (const auto& [name, f] : named_lowrank_layers(model)) sigma_1.push_back(singular_values(f->S.value)[0]);
    return sigma_1;
}

// Section 6: more values of β, same settings; reuses the two runs of section 4.
void sweep_beta(std::vector<Run>& runs, const Dataset& train_data, const Dataset& test, const Options& o) {
    std::printf("\n== 6. More values of beta, the same batches and ranks ==\n");
    std::vector<std::vector<std::string>> cycle_rows;  // not written: the figures show sections 4 and 5
    for (float beta : {0.01f, 0.05f, 0.2f})
        runs.push_back(train_run(RunSpec{"sweep", beta}, train_data, test, o, 0, cycle_rows));
    std::sort(runs.begin(), runs.end(), [](const Run& a, const Run& b) { return a.spec.beta < b.spec.beta; });
    std::printf("\n    %6s %8s %8s %8s %12s %12s %14s\n", "beta", "clean", "FGSM", "PGD", "kappa(fc1)",
                "kappa(fc2)", "sigma_1 fc1, fc2");
    std::vector<std::vector<std::string>> rows;
    for (Run& run : runs) {
        const auto layers = named_lowrank_layers(*run.model);
        const float k1 = condition_number(layers[0].second->S.value), k2 = condition_number(layers[1].second->S.value);
        const std::vector<float> s1 = core_sigma_1(*run.model);
        std::printf("    %6g %7.2f%% %7.2f%% %7.2f%% %12.2f %12.2f %8.2f, %.2f\n", static_cast<double>(run.spec.beta),
                    100.0 * run.clean, 100.0 * run.fgsm, 100.0 * run.pgd, static_cast<double>(k1),
                    static_cast<double>(k2), static_cast<double>(s1[0]), static_cast<double>(s1[1]));
        rows.push_back({format_number(run.spec.beta), format_number(run.clean), format_number(run.fgsm),
                        format_number(run.pgd), format_number(k1), format_number(k2), format_number(s1[0]),
                        format_number(s1[1])});
    }
    write_csv(tutorial::output_file(o, "beta.csv"),
              {"beta", "test_accuracy", "fgsm_accuracy", "pgd_accuracy", "kappa_fc1", "kappa_fc2", "sigma_1_fc1",
               "sigma_1_fc2"},
              rows);
    std::printf("  Wrote %s/beta.csv.\n", o.out.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    const Options options = tutorial::parse(argc, argv, "ch09_conditioning", "out/ch09");
    return tutorial::run(options,
                         "Chapter 9: condition numbers and the spectral regulariser (about 30 s on 2 cores; "
                         "--quick: 8 s).",
                         [&] {
                             Rng rng(9);
                             condition_of_a_matrix(rng);
                             the_regularizer(rng);
                             descent_on_r(options, rng);
                             const Dataset train_data = tutorial::load_split(Split::train, options);
                             const Dataset test = tutorial::load_test(options, 2000);
                             std::vector<Run> runs = train_twice(train_data, test, options);
                             sweep_beta(runs, train_data, test, options);
                         });
}
