// tinyrank/models.hpp — the model zoo (book chapters 3 and 4).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tinyrank/nn.hpp"

namespace tinyrank {

// 784 → 500 → 500 → 10 with ReLU, flattening [N, 1, 28, 28] images first.
std::unique_ptr<Sequential> mlp(Rng& rng);
// LeNet-5 as in the method's experiments: conv 5×5 1→20, max-pool 2, ReLU, conv 5×5
// 20→50, max-pool 2, ReLU, flatten, fc 800→500, ReLU, fc 500→10.
std::unique_ptr<Sequential> lenet5(Rng& rng);
// The zoo by name ("mlp", "lenet5"); throws listing the known names otherwise.
std::unique_ptr<Sequential> make_model(const std::string& name, Rng& rng);
// The names make_model() accepts.
std::vector<std::string> model_names();
// Builds one layer from its spec.
using LayerFactory = std::function<std::unique_ptr<Module>(const LayerSpec&, Rng&)>;
// A Sequential rebuilt layer by layer from specs (as stored in a checkpoint) by `factory`
// (nn's make_layer by default; io passes one that also knows the low-rank layers).
std::unique_ptr<Sequential> make_sequential(const std::vector<LayerSpec>& layers, Rng& rng,
                                            const LayerFactory& factory = make_layer);
// The specs of a Sequential's layers, in order.
std::vector<LayerSpec> layer_specs(Sequential& model);

}  // namespace tinyrank
