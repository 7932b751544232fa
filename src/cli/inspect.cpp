// tinyrank inspect: per layer, its shape, rank, parameters, singular values and κ.
#include <cmath>
#include <cstdio>
#include <iostream>

#include "commands.hpp"
#include "tinyrank/io.hpp"
#include "tinyrank/linalg.hpp"
#include "tinyrank/lowrank.hpp"

namespace tinyrank::cli {

namespace {

// The weight as a matrix and the spectrum that describes it: σ(S) for a low-rank layer
// (U, V orthonormal, so W and S share their non-zero singular values), σ(W) for a dense one.
bool layer_spectrum(Module& layer, Shape& shape, Tensor& sigma, int64_t& rank) {
    if (auto* f = dynamic_cast<LowRankFactors*>(&layer)) {
        shape = {f->rows(), f->cols()};
        sigma = singular_values(f->S.value);
        rank = f->rank();
        return true;
    }
    Tensor w;
    if (auto* linear = dynamic_cast<Linear*>(&layer)) w = linear->weight.value;
    if (auto* conv = dynamic_cast<Conv2d*>(&layer)) w = conv->weight.value.reshape({conv->out_channels, -1});
    if (w.is_empty()) return false;
    shape = w.shape();
    sigma = singular_values(w);
    rank = sigma.numel();
    return true;
}

std::string spectrum_text(const Tensor& s, int64_t shown) {
    std::string text;
    char number[32];
    const int64_t n = s.numel();
    for (int64_t i = 0; i < n; ++i) {
        if (i == shown && n > 2 * shown) {
            text += " …";
            i = n - shown;
        }
        std::snprintf(number, sizeof number, " %.4g", s[i]);
        text += number;
    }
    return text;
}

}  // namespace

int inspect_command(int argc, char** argv, int first) {
    const std::vector<Flag> flags = {{"checkpoint", "FILE", "a model.ckpt", "", true},
                                     {"show", "N", "singular values shown at each end", "4"}};
    const Args args("inspect", flags, argc, argv, first);
    if (args.help()) {
        std::cout << usage("inspect", "Shows each layer's shape, rank, parameters, singular values and condition number.",
                           flags);
        return 0;
    }
    const int64_t shown = args.integer("show", 1, 1000);
    const Checkpoint checkpoint = read_checkpoint(args.text("checkpoint"));
    std::unique_ptr<Sequential> model = load_model(checkpoint);
    std::cout << checkpoint.architecture << " from " << args.text("checkpoint") << ":";
    for (const auto& [key, value] : checkpoint.metadata) std::cout << ' ' << key << '=' << value;
    std::cout << '\n';
    for (size_t i = 0; i < model->size(); ++i) {
        Module& layer = model->layer(i);
        Shape shape;
        Tensor sigma;
        int64_t rank = 0;
        if (!layer_spectrum(layer, shape, sigma, rank)) {
            std::printf("%-8s %s\n", layer.name().c_str(), layer.spec().type.c_str());
            continue;
        }
        const float kappa = sigma[sigma.numel() - 1] > 0.0f ? sigma[0] / sigma[sigma.numel() - 1] : INFINITY;
        std::printf("%-8s %-14s W %-12s rank %-4lld params %-7lld kappa %-9.4g sigma:%s\n", layer.name().c_str(),
                    layer.spec().type.c_str(), to_string(shape).c_str(), static_cast<long long>(rank),
                    static_cast<long long>(layer.parameter_count()), kappa, spectrum_text(sigma, shown).c_str());
    }
    const Compression c = compression(*model);
    std::printf("parameters %lld; compression %.2f%% of the factorised layers, %.2f%% of the whole network\n",
                static_cast<long long>(model->parameter_count()), 100.0 * c.rate(), 100.0 * c.total_rate());
    return 0;
}

}  // namespace tinyrank::cli
