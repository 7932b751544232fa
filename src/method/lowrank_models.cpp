// Low-rank variants of the zoo, SVD compression of trained models, compression counts.
#include <algorithm>

#include "tinyrank/error.hpp"
#include "tinyrank/linalg.hpp"
#include "tinyrank/lowrank.hpp"
#include "tinyrank/models.hpp"
#include "tinyrank/random.hpp"

namespace tinyrank {

std::vector<std::pair<std::string, LowRankFactors*>> named_lowrank_layers(Sequential& model) {
    std::vector<std::pair<std::string, LowRankFactors*>> layers;
    for (size_t i = 0; i < model.size(); ++i)
        if (auto* f = dynamic_cast<LowRankFactors*>(&model.layer(i))) layers.emplace_back(model.layer(i).name(), f);
    return layers;
}

std::vector<LowRankFactors*> lowrank_layers(Sequential& model) {
    std::vector<LowRankFactors*> layers;
    for (const auto& named : named_lowrank_layers(model)) layers.push_back(named.second);
    return layers;
}

// region: compression
Compression compression(Sequential& model) {
    Compression c;
    for (size_t i = 0; i < model.size(); ++i) {
        Module& layer = model.layer(i);
        const int64_t stored = layer.parameter_count();
        c.total_stored += stored;
        if (auto* f = dynamic_cast<LowRankFactors*>(&layer)) {
            c.lowrank_stored += f->stored_weights();
            c.lowrank_dense += f->dense_weights();
            c.total_dense += stored - f->stored_weights() + f->dense_weights();
        } else {
            c.total_dense += stored;
        }
    }
    return c;
}
// endregion: compression

int64_t default_rank(const std::string& architecture) {
    if (architecture == "lenet5") return 12;  // conv2 50×500 and fc1 500×800: 94.7% removed
    if (architecture == "mlp") return 16;     // fc1 500×784 and fc2 500×500: 94.2% removed
    throw Error("low-rank model: unknown architecture '" + architecture + "' (expected mlp or lenet5)");
}

std::vector<std::string> factorized_layers(const std::string& architecture, Factorize which) {
    if (architecture == "lenet5")
        return which == Factorize::all ? std::vector<std::string>{"conv1", "conv2", "fc1", "fc2"}
                                       : std::vector<std::string>{"conv2", "fc1"};
    if (architecture == "mlp")
        return which == Factorize::all ? std::vector<std::string>{"fc1", "fc2", "fc3"}
                                       : std::vector<std::string>{"fc1", "fc2"};
    throw Error("low-rank model: unknown architecture '" + architecture + "' (expected mlp or lenet5)");
}

namespace {

// The low-rank replacement of a dense Linear or Conv2d layer with the given ranks.
std::unique_ptr<Module> factorize(Module& layer, RankOptions options) {
    if (auto* linear = dynamic_cast<Linear*>(&layer)) return LowRankLinear::from_dense(*linear, options);
    if (auto* conv = dynamic_cast<Conv2d*>(&layer)) return LowRankConv2d::from_dense(*conv, options);
    throw Error("low-rank model: layer '" + layer.name() + "' is a " + layer.spec().type +
                ", expected Linear or Conv2d");
}

// The dense weight of a Linear or Conv2d layer as a matrix [n_out, n_in·k·k].
Tensor weight_matrix_of(Module& layer) {
    if (auto* linear = dynamic_cast<Linear*>(&layer)) return linear->weight.value;
    if (auto* conv = dynamic_cast<Conv2d*>(&layer)) return conv->weight.value.reshape({conv->out_channels, -1});
    throw Error("compress: layer '" + layer.name() + "' is a " + layer.spec().type + ", expected Linear or Conv2d");
}

}  // namespace

std::unique_ptr<Sequential> make_lowrank_model(const std::string& architecture, Rng& rng, RankOptions options,
                                               Factorize which) {
    std::unique_ptr<Sequential> model = make_model(architecture, rng);
    for (const std::string& name : factorized_layers(architecture, which)) {
        Module& dense = model->layer(name);
        const Tensor w = weight_matrix_of(dense);
        // One RankOptions serves layers of different sizes: clamp it to what this layer allows.
        // The capacity is rank_max (at most the full rank) or, by default, full / 2 (as in
        // init_ranks); the initial rank and rank_min are clamped to that capacity.
        RankOptions layer_options = options;
        const int64_t full = std::min(w.size(0), w.size(1));
        if (layer_options.rank_max > full) layer_options.rank_max = full;
        const int64_t capacity =
            layer_options.rank_max > 0 ? layer_options.rank_max : std::max<int64_t>(1, full / 2);
        if (layer_options.rank > capacity) layer_options.rank = capacity;
        if (layer_options.rank_min > capacity) layer_options.rank_min = capacity;
        model->replace(name, factorize(dense, layer_options));
    }
    return model;
}

// region: compress-by-svd
std::unique_ptr<Sequential> compress_by_svd(Sequential& dense, const std::string& architecture, float tau,
                                            Factorize which) {
    Rng unused(0);  // every parameter is overwritten from `dense` below
    std::unique_ptr<Sequential> model = make_sequential(layer_specs(dense), unused);
    const std::vector<Parameter*> from = dense.parameters(), to = model->parameters();
    for (size_t i = 0; i < from.size(); ++i) to[i]->value.copy_from(from[i]->value);
    for (const std::string& name : factorized_layers(architecture, which)) {
        Module& layer = model->layer(name);
        const Tensor w = weight_matrix_of(layer);
        const int64_t full = std::min(w.size(0), w.size(1));
        const int64_t r = std::max<int64_t>(1, truncation_rank(singular_values(w), tau));
        model->replace(name, factorize(layer, RankOptions{r, std::max(r, full / 2), 1}));
    }
    return model;
}
// endregion: compress-by-svd

}  // namespace tinyrank
