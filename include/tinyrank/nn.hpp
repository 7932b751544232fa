// tinyrank/nn.hpp — layers as Modules with named parameters (book chapters 3 and 4).
//
// Names and semantics follow PyTorch so that knowledge carries over: Linear(in, out)
// computes x Wᵀ + b with W [out, in]; Conv2d(in, out, k, stride, padding) has weight
// [out, in, k, k]; default initialisation is PyTorch's Kaiming-uniform (a = √5), i.e.
// weight and bias uniform in ±1/√fan_in.
//
// A Module's forward() records on the tape of its input: the parameters enter as leaves
// through tape.param(), so backward() fills each Parameter's grad.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tinyrank/ops.hpp"

namespace tinyrank {

class Rng;

// What a layer is: its type and hyperparameters, enough to rebuild it (checkpoints,
// exported manifests).
struct LayerSpec {
    std::string name;                       // "conv1"
    std::string type;                       // "Conv2d"
    std::map<std::string, double> options;  // "in_channels" → 1, "kernel" → 5, …
    // The option `key` as an integer; throws naming the layer if it is missing.
    int64_t integer(const std::string& key) const;
    // The option `key` as a number; throws naming the layer if it is missing.
    double number(const std::string& key) const;
};

// Samples uniform in ±1/√fan_in: PyTorch's default initialisation of weights and biases.
Tensor kaiming_uniform(const Shape& shape, int64_t fan_in, Rng& rng);

// The base of every layer and model.
class Module {
public:
    Module() = default;
    Module(const Module&) = delete;
    Module& operator=(const Module&) = delete;
    virtual ~Module() = default;

    // Applies the module to x, recording on x's tape.
    virtual Var forward(const Var& x) = 0;
    // The layer's type and hyperparameters (containers describe themselves by their children).
    virtual LayerSpec spec() const = 0;

    // Every trainable parameter, this module's first, then its children's, in order.
    std::vector<Parameter*> parameters();
    // The number of trainable scalars.
    int64_t parameter_count();
    // Sets every parameter gradient to zero.
    void zero_grad();
    // Switches training mode on or off, for this module and its children.
    void train(bool on = true);
    // Switches to evaluation mode.
    void eval() { train(false); }
    // True in training mode.
    bool training() const { return training_; }
    // The module's name within its parent ("" for a top-level model).
    const std::string& name() const { return name_; }
    // Sets the name and prefixes every parameter name with it ("weight" → "fc1.weight").
    void set_name(const std::string& name);
    // The child modules, in order.
    const std::vector<Module*>& children() const { return children_; }

protected:
    // Registers a parameter member under its short name ("weight").
    void register_parameter(const std::string& short_name, Parameter& parameter);
    // Registers a child module.
    void register_child(Module& child) { children_.push_back(&child); }
    // Puts `replacement` where `child` was among the children.
    void replace_child(Module& child, Module& replacement);

private:
    std::string name_;
    bool training_ = true;
    std::vector<std::pair<std::string, Parameter*>> parameters_;  // short name → parameter
    std::vector<Module*> children_;
};

// Evaluation mode for a scope: switches `module` to eval mode and, when the scope ends —
// normally or by an exception — back to the mode it had. Attacks and evaluation use it.
class EvalMode {
public:
    // Switches `module` to evaluation mode until this object is destroyed.
    explicit EvalMode(Module& module) : module_(module), was_training_(module.training()) { module.eval(); }
    ~EvalMode() { module_.train(was_training_); }
    EvalMode(const EvalMode&) = delete;
    EvalMode& operator=(const EvalMode&) = delete;

private:
    Module& module_;
    bool was_training_;
};

// y = x Wᵀ + b, x [B, in] → y [B, out].
class Linear : public Module {
public:
    // A layer with W [out, in] and b [out], both uniform in ±1/√in.
    Linear(int64_t in_features, int64_t out_features, Rng& rng, bool bias = true);
    Var forward(const Var& x) override;
    LayerSpec spec() const override;

    Parameter weight;
    Parameter bias;  // empty when constructed without bias
    const int64_t in_features, out_features;
    const bool has_bias;
};

// 2-D convolution, x [N, C_in, H, W] → [N, C_out, H_o, W_o].
class Conv2d : public Module {
public:
    // A layer with weight [out, in, k, k] and bias [out], uniform in ±1/√(in·k·k).
    Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, Rng& rng, int64_t stride = 1,
           int64_t padding = 0, bool bias = true);
    Var forward(const Var& x) override;
    LayerSpec spec() const override;

    Parameter weight;
    Parameter bias;
    const int64_t in_channels, out_channels, kernel, stride, padding;
    const bool has_bias;
};

// Max over kernel×kernel windows.
class MaxPool2d : public Module {
public:
    // Pooling with the given kernel and stride (0: stride = kernel).
    explicit MaxPool2d(int64_t kernel, int64_t stride = 0);
    Var forward(const Var& x) override;
    LayerSpec spec() const override;
    const int64_t kernel, stride;
};

// max(x, 0).
class ReLU : public Module {
public:
    Var forward(const Var& x) override;
    LayerSpec spec() const override;
};

// x for x > 0, slope·x otherwise.
class LeakyReLU : public Module {
public:
    // Uses `slope` for negative inputs (PyTorch's default 0.01).
    explicit LeakyReLU(float slope = 0.01f) : slope(slope) {}
    Var forward(const Var& x) override;
    LayerSpec spec() const override;
    const float slope;
};

// [N, d1, d2, …] → [N, d1·d2·…].
class Flatten : public Module {
public:
    Var forward(const Var& x) override;
    LayerSpec spec() const override;
};

// Modules applied one after another; owns them.
class Sequential : public Module {
public:
    // Appends `module` under `name` (its parameters become "name.weight", …) and returns it.
    template <class M>
    M& add(const std::string& name, std::unique_ptr<M> module) {
        M& ref = *module;
        adopt(name, std::move(module));
        return ref;
    }
    Var forward(const Var& x) override;
    LayerSpec spec() const override;
    // The number of layers.
    size_t size() const { return layers_.size(); }
    // Layer i.
    Module& layer(size_t i) { return *layers_.at(i); }
    // The layer named `name`; throws listing the names if there is none.
    Module& layer(const std::string& name);
    // Replaces the layer named `name` by `module` (which takes the name) and returns it.
    Module& replace(const std::string& name, std::unique_ptr<Module> module);

private:
    void adopt(const std::string& name, std::unique_ptr<Module> module);
    std::vector<std::unique_ptr<Module>> layers_;
};

// Builds one layer from its spec (the inverse of Module::spec(); parameters are
// initialised from rng and usually overwritten by a checkpoint).
std::unique_ptr<Module> make_layer(const LayerSpec& spec, Rng& rng);

}  // namespace tinyrank
