// The model zoo and rebuilding a Sequential from layer specs.
#include "tinyrank/models.hpp"

#include "tinyrank/error.hpp"

namespace tinyrank {

// region: mlp
std::unique_ptr<Sequential> mlp(Rng& rng) {
    auto model = std::make_unique<Sequential>();
    model->add("flatten", std::make_unique<Flatten>());
    model->add("fc1", std::make_unique<Linear>(784, 500, rng));
    model->add("relu1", std::make_unique<ReLU>());
    model->add("fc2", std::make_unique<Linear>(500, 500, rng));
    model->add("relu2", std::make_unique<ReLU>());
    model->add("fc3", std::make_unique<Linear>(500, 10, rng));
    return model;
}
// endregion: mlp

// region: lenet5
std::unique_ptr<Sequential> lenet5(Rng& rng) {
    auto model = std::make_unique<Sequential>();
    model->add("conv1", std::make_unique<Conv2d>(1, 20, 5, rng));   // [N,1,28,28] → [N,20,24,24]
    model->add("pool1", std::make_unique<MaxPool2d>(2));             // → [N,20,12,12]
    model->add("relu1", std::make_unique<ReLU>());
    model->add("conv2", std::make_unique<Conv2d>(20, 50, 5, rng));  // → [N,50,8,8]
    model->add("pool2", std::make_unique<MaxPool2d>(2));             // → [N,50,4,4]
    model->add("relu2", std::make_unique<ReLU>());
    model->add("flatten", std::make_unique<Flatten>());              // → [N,800]
    model->add("fc1", std::make_unique<Linear>(800, 500, rng));
    model->add("relu3", std::make_unique<ReLU>());
    model->add("fc2", std::make_unique<Linear>(500, 10, rng));
    return model;
}
// endregion: lenet5

std::vector<std::string> model_names() { return {"mlp", "lenet5"}; }

std::unique_ptr<Sequential> make_model(const std::string& name, Rng& rng) {
    if (name == "mlp") return mlp(rng);
    if (name == "lenet5") return lenet5(rng);
    throw Error("model: unknown name '" + name + "' (expected mlp or lenet5)");
}

std::unique_ptr<Sequential> make_sequential(const std::vector<LayerSpec>& layers, Rng& rng,
                                            const LayerFactory& factory) {
    auto model = std::make_unique<Sequential>();
    for (const LayerSpec& spec : layers) model->add(spec.name, factory(spec, rng));
    return model;
}

std::vector<LayerSpec> layer_specs(Sequential& model) {
    std::vector<LayerSpec> specs;
    for (size_t i = 0; i < model.size(); ++i) specs.push_back(model.layer(i).spec());
    return specs;
}

}  // namespace tinyrank
