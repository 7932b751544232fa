// Chapter 5 — low rank: the singular value decomposition, the Eckart–Young theorem on a
// handwritten digit, low-rank layers W = U S Vᵀ that never form W, the singular values of a
// trained LeNet-5, and what its accuracy does when its layers are truncated after training.
//
//   ch05_svd_compression [--quick] [--out DIR] [--checkpoint FILE]
//
// Runs in about 50 seconds on 2 cores, most of it one training epoch of LeNet-5 and the
// evaluations of the compressed networks (--quick: 100 batches and 2000 test images, about
// 10 seconds). With --checkpoint FILE (e.g. runs/lenet5/model.ckpt from `tinyrank train
// --model lenet5`) the trained LeNet-5 is read instead of trained. Reads MNIST from
// datasets/mnist (run it from the repository root). Writes DIR/spectra.csv and
// DIR/accuracy_vs_rank.csv (default out/ch05) for the figures of book/05-low-rank.md.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "tinyrank/tinyrank.hpp"
#include "tutorial.hpp"

using namespace tinyrank;

namespace {

using tutorial::Options;
using tutorial::show;

// ‖(s_r, s_{r+1}, …)‖₂ for 0-based r: the norm of what a rank-r truncation discards.
double tail(const Tensor& s, int64_t r) {
    double sum = 0.0;
    for (int64_t i = r; i < s.numel(); ++i) sum += double(s[i]) * double(s[i]);
    return std::sqrt(sum);
}

// The spectral norm ‖A‖₂ = σ₁(A).
double spectral_norm(const Tensor& a) { return double(singular_values(a)[0]); }

// ---- Section 1: the SVD of a small matrix ------------------------------------------------------

void svd_of_a_small_matrix() {
    std::printf("\n== 1. The singular value decomposition A = U diag(s) V^T ==\n\n");
    const Tensor a({4, 3}, {3, 2, 2,
                            2, 3, -2,
                            1, 0, 1,
                            0, 1, 0});
    show("A", a, " %5.0f");
    // region: small-svd
    const SVD f = svd(a);  // thin: U [4, 3], s [3], Vt [3, 3]
    const Tensor rebuilt = matmul(matmul(f.U, diagonal_matrix(f.s, 3)), f.Vt);  // U diag(s) Vᵀ
    // endregion: small-svd
    show("U", f.U, " %7.3f");
    show("s", f.s.reshape({1, 3}), " %7.3f");
    show("V^T", f.Vt, " %7.3f");
    std::printf("  routine %s; |U diag(s) V^T - A| = %.1e; |U^T U - I| = %.1e; |V^T V - I| = %.1e\n",
                f.routine.c_str(), double(max_abs(rebuilt - a)), double(orthonormality_error(f.U)),
                double(orthonormality_error(transpose(f.Vt))));
    std::printf("  A maps the unit vector v_i (row i of V^T) to s_i u_i: every matrix is a rotation, a\n"
                "  stretch along the axes, and another rotation. |A|_F^2 = %.4f = s1^2 + s2^2 + s3^2 = %.4f.\n",
                double(norm(a) * norm(a)),
                double(f.s[0] * f.s[0] + f.s[1] * f.s[1] + f.s[2] * f.s[2]));
}

// ---- Section 2: Eckart–Young on a digit ----------------------------------------------------------

void eckart_young(const Dataset& test, Rng& rng) {
    std::printf("\n== 2. Eckart-Young: the truncated SVD is the best rank-r approximation ==\n\n");
    const Tensor digit = slice(test, 0, 1).images.reshape({28, 28});
    const SVD f = svd(digit);
    std::printf("  The first test image (a %lld) as a 28x28 matrix. Its singular values:\n   ",
                static_cast<long long>(test.labels[0]));
    for (int64_t i = 0; i < 28; ++i) std::printf(" %.2f%s", double(f.s[i]), i == 13 ? "\n   " : "");
    std::printf("\n  (%lld of them are zero to float precision: the image has empty rows and columns.)\n\n",
                static_cast<long long>(28 - truncation_rank(f.s, 1e-6f)));
    std::printf("     r   |A - A_r|_F   tail of s   |A - A_r|_2   s_(r+1)   best of 200 random rank-r projections\n");
    for (const int64_t r : {1, 2, 3, 5, 8, 12}) {
        // region: eckart-young
        const Tensor A_r = truncated_svd(digit, r).full();  // U_r diag(s_1..s_r) V_rᵀ
        const double frobenius = norm(digit - A_r), spectral = spectral_norm(digit - A_r);
        // Another rank-r approximation: project the columns onto a random r-dimensional subspace.
        double best_other = 1e30;
        for (int trial = 0; trial < 200; ++trial) {
            const Tensor Q = qr(Tensor::normal({28, r}, rng)).Q;
            best_other = std::min(best_other, double(norm(digit - matmul(Q, matmul(Q, digit, true, false)))));
        }
        // endregion: eckart-young
        std::printf("    %2lld   %11.4f   %9.4f   %11.4f   %7.4f   %9.4f\n", static_cast<long long>(r), frobenius,
                    tail(f.s, r), spectral, double(f.s[r]), best_other);
    }
    std::printf("\n  The error of the truncated SVD is exactly the tail of the singular values, in both norms,\n"
                "  and no other rank-r matrix comes closer. The spectrum decays fast: 5 of 28 values keep\n"
                "  %.0f%% of the image's norm.\n",
                100.0 * (1.0 - tail(f.s, 5) / tail(f.s, 0)));
}

// ---- Section 3: low-rank layers ------------------------------------------------------------------

void lowrank_layers_cost(Rng& rng) {
    std::printf("\n== 3. A low-rank layer never forms W: fc1 of LeNet-5 (800 -> 500) on 128 images ==\n\n");
    const int64_t B = 128, n_in = 800, n_out = 500;
    const Tensor x = Tensor::uniform({B, n_in}, rng);
    Linear dense(n_in, n_out, rng);
    Tape tape;
    NoGrad no_grad(tape);
    const double t_dense = tutorial::fastest_of(20, [&] { dense.forward(tape.input(x)); });
    std::printf("     r   stored weights   multiply-adds    forward    against dense   |Y - (X W^T + b)|\n");
    std::printf("   dense       %7lld      %9lld   %6.3f ms\n", static_cast<long long>(n_in * n_out),
                static_cast<long long>(B * n_in * n_out), 1e3 * t_dense);
    for (const int64_t r : {10, 50, 100, 250, 400}) {
        // region: lowrank-layer
        LowRankLinear layer(n_in, n_out, rng, RankOptions{r, r, 1});  // U [500, r], S [r, r], V [800, r]
        const Tensor y = layer.forward(tape.input(x)).value();        // ((X V) Sᵀ) Uᵀ + b
        const Tensor reference = matmul(x, layer.weight_matrix(), false, true) + layer.bias.value;
        // endregion: lowrank-layer
        const double t = tutorial::fastest_of(20, [&] { layer.forward(tape.input(x)); });
        std::printf("   %5lld       %7lld      %9lld   %6.3f ms   %5.2fx          %.1e\n", static_cast<long long>(r),
                    static_cast<long long>(layer.stored_weights()),
                    static_cast<long long>(B * r * (n_in + n_out + r)), 1e3 * t, t_dense / t,
                    double(max_abs(y - reference)));
    }
    std::printf("\n  Storage r (n_in + n_out) + r^2 and work B r (n_in + n_out + r) against n_in n_out and\n"
                "  B n_in n_out: the low-rank layer is cheaper below r = 257, where r^2 + 1300 r = 400000.\n");
}

// ---- Section 4: a trained LeNet-5 and its singular values -----------------------------------------

// Section 4: LeNet-5 trained here for one epoch (as in chapter 4), or read from --checkpoint.
std::unique_ptr<Sequential> trained_lenet(const Dataset& train_data, const Dataset& test, const Options& o,
                                         const std::string& checkpoint_path) {
    if (!checkpoint_path.empty()) {
        const Checkpoint checkpoint = read_checkpoint(checkpoint_path);
        if (checkpoint.architecture != "lenet5")
            throw Error(checkpoint_path + ": expected a lenet5 checkpoint, found architecture '" + checkpoint.architecture +
                        "'");
        std::printf("\n== 4. LeNet-5 from %s ==\n\n", checkpoint_path.c_str());
        for (const auto& entry : checkpoint.metadata) std::printf("  %s: %s\n", entry.first.c_str(), entry.second.c_str());
        std::unique_ptr<Sequential> model = load_model(checkpoint);
        if (!lowrank_layers(*model).empty())
            throw Error(checkpoint_path + ": expected a dense LeNet-5 (from tinyrank train without --lowrank), "
                        "found low-rank layers");
        return model;
    }
    std::printf("\n== 4. Training LeNet-5 for %s (as in chapter 4) ==\n\n", o.quick ? "100 batches" : "one epoch");
    Rng rng(1);
    std::unique_ptr<Sequential> model = lenet5(rng);
    TrainOptions options;
    options.epochs = 1;
    options.max_batches = o.quick ? 100 : 0;
    const int64_t steps = batches_per_epoch(train_data, options);
    Adam adam(model->parameters(), 1e-3f);
    const CosineSchedule schedule(1e-3f, steps);
    OptimizerStepper stepper(*model, adam, &schedule);
    train(*model, stepper, train_data, test, options);
    return model;
}

// The weight of a dense Linear or Conv2d layer as a matrix [n_out, n_in·k·k].
Tensor weight_matrix(Module& layer) {
    if (auto* linear = dynamic_cast<Linear*>(&layer)) return linear->weight.value;
    auto& conv = dynamic_cast<Conv2d&>(layer);
    return conv.weight.value.reshape({conv.out_channels, -1});
}

// Section 4 (continued): the singular values of each layer, trained and at initialisation.
void spectra(Sequential& model, const Options& o) {
    std::printf("\n  The singular values of each layer's weight matrix, trained and at initialisation:\n\n");
    std::printf("    layer  matrix       sigma_1 (init)   sigma_min (init)   stable rank (init)"
                "   rank for tau = 0.1, 0.3, 0.5\n");
    Rng rng(1);
    std::unique_ptr<Sequential> fresh = lenet5(rng);  // the same initialisation as section 4's training
    std::vector<std::vector<std::string>> rows;
    for (const char* name : {"conv1", "conv2", "fc1", "fc2"}) {
        // region: spectra
        const Tensor W = weight_matrix(model.layer(name));
        const Tensor s = singular_values(W), s0 = singular_values(weight_matrix(fresh->layer(name)));
        const double stable_rank = double(norm(W) * norm(W)) / (double(s[0]) * double(s[0]));  // ‖W‖_F² / σ₁²
        // endregion: spectra
        const double stable_rank0 = double(norm(s0) * norm(s0)) / (double(s0[0]) * double(s0[0]));
        const int64_t k = s.numel();
        std::printf("    %-5s  %-11s  %5.2f (%4.2f)    %6.3f (%5.3f)      %6.1f (%5.1f)       %3lld, %3lld, %3lld of %lld\n",
                    name, to_string(W.shape()).c_str(), double(s[0]), double(s0[0]), double(s[k - 1]),
                    double(s0[k - 1]), stable_rank, stable_rank0, static_cast<long long>(truncation_rank(s, 0.1f)),
                    static_cast<long long>(truncation_rank(s, 0.3f)), static_cast<long long>(truncation_rank(s, 0.5f)),
                    static_cast<long long>(k));
        for (int64_t i = 0; i < k; ++i)
            rows.push_back({name, std::to_string(i + 1), format_number(s[i]), format_number(s0[i])});
    }
    write_csv(tutorial::output_file(o, "spectra.csv"), {"layer", "index", "sigma", "sigma_init"}, rows);
    std::printf("\n  Training lifted a few singular values of conv2 and fc1 far above the rest, which stay\n"
                "  close to where the random initialisation put them. The stable rank |W|_F^2 / sigma_1^2\n"
                "  counts how many directions carry the weight. Wrote %s/spectra.csv (layer, index,\n"
                "  sigma, sigma_init).\n",
                o.out.c_str());
}

// ---- Section 5: compressing after training ---------------------------------------------------------

void compress_after_training(Sequential& model, const Dataset& test, const Options& o) {
    std::printf("\n== 5. SVD prune: truncate conv2 and fc1 after training, then test ==\n\n");
    const double dense_accuracy = evaluate(model, test);
    std::printf("  The dense network: test accuracy %.2f%% on %lld images, %lld parameters.\n\n",
                100.0 * dense_accuracy, static_cast<long long>(test.size()),
                static_cast<long long>(model.parameter_count()));
    std::vector<std::vector<std::string>> rows{
        {"dense", "", "50", "500", "0", "0", format_number(dense_accuracy)}};  // the reference point
    const auto report = [&](const std::string& sweep, const std::string& setting, Sequential& compressed) {
        const std::vector<LowRankFactors*> layers = lowrank_layers(compressed);
        const Compression c = compression(compressed);
        const double accuracy = evaluate(compressed, test);
        std::printf("    %-5s %6s   conv2 %3lld  fc1 %3lld   %6.2f%%   %6.2f%%    %6.2f%%  (%+.2f)\n", sweep.c_str(),
                    setting.c_str(), static_cast<long long>(layers[0]->rank()),
                    static_cast<long long>(layers[1]->rank()), 100.0 * c.rate(), 100.0 * c.total_rate(),
                    100.0 * accuracy, 100.0 * (accuracy - dense_accuracy));
        rows.push_back({sweep, setting, std::to_string(layers[0]->rank()), std::to_string(layers[1]->rank()),
                        format_number(c.rate()), format_number(c.total_rate()), format_number(accuracy)});
    };
    std::printf("    sweep setting  ranks               c.r. of      c.r. of    test accuracy\n"
                "                                       conv2+fc1    network\n");
    for (const float tau : {0.3f, 0.5f, 0.6f, 0.7f, 0.8f, 0.9f}) {
        // region: svd-prune
        std::unique_ptr<Sequential> compressed = compress_by_svd(model, "lenet5", tau);  // conv2, fc1
        // endregion: svd-prune
        char setting[16];
        std::snprintf(setting, sizeof setting, "%.2f", double(tau));
        report("tau", setting, *compressed);
    }
    std::printf("\n");
    Rng unused(0);  // every parameter of the copies below is overwritten
    for (const int64_t r : {2, 5, 10, 20, 50}) {
        // region: fixed-rank
        std::unique_ptr<Sequential> compressed = make_sequential(layer_specs(model), unused);  // a copy …
        const std::vector<Parameter*> from = model.parameters(), to = compressed->parameters();
        for (size_t i = 0; i < from.size(); ++i) to[i]->value.copy_from(from[i]->value);
        const RankOptions ranks{r, r, 1};  // … with conv2 and fc1 replaced by their rank-r truncations
        compressed->replace("conv2", LowRankConv2d::from_dense(dynamic_cast<Conv2d&>(model.layer("conv2")), ranks));
        compressed->replace("fc1", LowRankLinear::from_dense(dynamic_cast<Linear&>(model.layer("fc1")), ranks));
        // endregion: fixed-rank
        report("rank", std::to_string(r), *compressed);
    }
    write_csv(tutorial::output_file(o, "accuracy_vs_rank.csv"),
              {"sweep", "setting", "conv2_rank", "fc1_rank", "compression_rate", "total_compression_rate",
               "test_accuracy"},
              rows);
    std::printf("\n  c.r. = 1 - stored / dense weights, over conv2 and fc1, and over the whole network\n"
                "  (biases and the dense conv1 and fc2 included). tau is the relative Frobenius error\n"
                "  each truncated layer is allowed. Wrote %s/accuracy_vs_rank.csv.\n",
                o.out.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    // --checkpoint FILE is this chapter's own option; --quick and --out DIR are every tutorial's.
    std::string checkpoint;
    std::vector<char*> common{argv[0]};
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--checkpoint") == 0 && i + 1 < argc) checkpoint = argv[++i];
        else common.push_back(argv[i]);
    }
    const Options options =
        tutorial::parse(static_cast<int>(common.size()), common.data(), "ch05_svd_compression", "out/ch05");
    const char* title = "Chapter 5: low rank — the SVD, Eckart-Young, low-rank layers and an SVD-compressed LeNet-5.";
    return tutorial::run(options, title, [&] {
        const auto start = std::chrono::steady_clock::now();
        Rng rng(5);
        svd_of_a_small_matrix();
        const Dataset full_test = tutorial::load_split(Split::test, options);
        eckart_young(full_test, rng);
        lowrank_layers_cost(rng);
        const Dataset train_data = tutorial::load_split(Split::train, options);
        const Dataset test = options.quick ? slice(full_test, 0, 2000) : full_test;
        std::unique_ptr<Sequential> model = trained_lenet(train_data, test, options, checkpoint);
        spectra(*model, options);
        compress_after_training(*model, test, options);
        std::printf("\n  Done in %.0f s.\n",
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    });
}
