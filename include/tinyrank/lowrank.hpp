// tinyrank/lowrank.hpp — layers whose weight is stored as W = U S Vᵀ (book chapters 5 and 7;
// book/method.md §1).
//
// U [n_out × r] and V [n_in × r] have orthonormal columns, S [r × r] is a small full matrix.
// The forward pass never forms W: for a batch X [B × n_in], Y = ((X V) Sᵀ) Uᵀ + b, which
// costs B·r·(n_in + n_out + r) instead of B·n_in·n_out. A convolution factorises its kernel
// reshaped to [N_out × N_in·k·k] and applies the same product to the im2col columns.
//
// The rank r changes during training (the integrator augments and truncates). The factor
// tensors are replaced by tensors of the new size; they come from the tensor pool, so a
// rank change does not call malloc once the sizes have been seen.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tinyrank/nn.hpp"

namespace tinyrank {

class Rng;
class Linear;
class Conv2d;
class Sequential;

// Rank settings of a low-rank layer.
struct RankOptions {
    int64_t rank = 0;      // initial rank; 0: rank_max
    int64_t rank_max = 0;  // capacity; 0: min(n_in, n_out) / 2
    int64_t rank_min = 2;  // truncation never goes below this
};

// The factors of a weight matrix W = U S Vᵀ and what the integrator needs of them.
class LowRankFactors {
public:
    virtual ~LowRankFactors() = default;

    Parameter U;     // [n_out, r], orthonormal columns
    Parameter S;     // [r, r]
    Parameter V;     // [n_in, r], orthonormal columns
    Parameter bias;  // [n_out]

    // The current rank r.
    int64_t rank() const { return S.value.size(0); }
    // n_out, the rows of W.
    int64_t rows() const { return U.value.size(0); }
    // n_in (for a convolution N_in·k·k), the columns of W.
    int64_t cols() const { return V.value.size(0); }
    // The largest rank truncation may keep.
    int64_t rank_max() const { return rank_max_; }
    // The smallest rank truncation may keep.
    int64_t rank_min() const { return rank_min_; }

    // While true, U and V enter the tape as constants (the Galerkin step trains S only).
    bool bases_frozen = false;

    // Replaces the factors (shapes [n_out, r], [r, r], [n_in, r]) and zeroes the gradients (new
    // buffers only where a shape changed).
    void set_factors(const Tensor& u, const Tensor& s, const Tensor& v);
    // Sets the factors from the truncated SVD of a dense W [n_out, n_in] with rank r.
    void set_from_matrix(const Tensor& w, int64_t r);
    // U S Vᵀ as a dense [n_out, n_in] matrix (for tests and export; never on the hot path).
    Tensor weight_matrix() const;
    // Scalars stored for W: r (n_in + n_out) + r² (the bias is not counted here).
    int64_t stored_weights() const;
    // Scalars of the dense W: n_out · n_in.
    int64_t dense_weights() const { return rows() * cols(); }

protected:
    // Checks and stores the rank bounds for an n_out × n_in matrix; returns the initial rank.
    int64_t init_ranks(const std::string& layer, int64_t n_out, int64_t n_in, const RankOptions& options);
    // Initialises like the dense layer (Kaiming-uniform W and bias), truncated to the initial rank.
    void init_like_dense(const std::string& layer, int64_t n_out, int64_t fan_in, Rng& rng, const RankOptions& options);
    // Takes the rank-r SVD truncation of a trained dense W and its bias (zero when null).
    void copy_dense(const Tensor& w, const Parameter* dense_bias);
    // U, S, V as tape values: parameters, or constants while the bases are frozen.
    Var u_on(Tape& tape);
    Var s_on(Tape& tape) { return tape.param(S); }
    Var v_on(Tape& tape);

private:
    int64_t rank_max_ = 0, rank_min_ = 0;
};

// A Linear layer stored as U S Vᵀ + b.
class LowRankLinear : public Module, public LowRankFactors {
public:
    // A layer initialised like Linear (Kaiming-uniform) and truncated to the initial rank by SVD.
    LowRankLinear(int64_t in_features, int64_t out_features, Rng& rng, RankOptions options = {});
    // The rank-r SVD truncation of a trained dense layer (bias copied).
    static std::unique_ptr<LowRankLinear> from_dense(const Linear& dense, RankOptions options);
    Var forward(const Var& x) override;
    LayerSpec spec() const override;
    const int64_t in_features, out_features;
};

// A Conv2d layer whose kernel, as a matrix [out, in·k·k], is stored as U S Vᵀ.
class LowRankConv2d : public Module, public LowRankFactors {
public:
    // A layer initialised like Conv2d and truncated to the initial rank by SVD.
    LowRankConv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, Rng& rng, int64_t stride = 1,
                  int64_t padding = 0, RankOptions options = {});
    // The rank-r SVD truncation of a trained dense convolution (bias copied).
    static std::unique_ptr<LowRankConv2d> from_dense(const Conv2d& dense, RankOptions options);
    Var forward(const Var& x) override;
    LayerSpec spec() const override;
    const int64_t in_channels, out_channels, kernel, stride, padding;
};

// Builds a low-rank layer from its spec (types "LowRankLinear", "LowRankConv2d"), or null
// for any other type.
std::unique_ptr<Module> make_lowrank_layer(const LayerSpec& spec, Rng& rng);

// An extra term of the loss computed from the low-rank layers' cores S (e.g. β Σ R(S), the
// regulariser of chapter 9): it records on `tape` (tape.param(layer->S) puts a core on it) and
// returns one value. The integrator adds it to the loss of every Galerkin step.
using CorePenalty = std::function<Var(Tape& tape, const std::vector<LowRankFactors*>& layers)>;

// Frozen (or free) bases for a scope: sets bases_frozen of every layer and, when the scope
// ends — normally or by an exception — gives each layer back the setting it had.
class BasesFrozen {
public:
    // Sets `layers`' bases_frozen to `frozen` until this object is destroyed.
    BasesFrozen(const std::vector<LowRankFactors*>& layers, bool frozen);
    ~BasesFrozen();
    BasesFrozen(const BasesFrozen&) = delete;
    BasesFrozen& operator=(const BasesFrozen&) = delete;

private:
    std::vector<std::pair<LowRankFactors*, bool>> saved_;  // each layer with its previous setting
};

// Every low-rank layer of a model, in order.
std::vector<LowRankFactors*> lowrank_layers(Sequential& model);
// The low-rank layers of `model` with their names ("conv2", "fc1", …), in order.
std::vector<std::pair<std::string, LowRankFactors*>> named_lowrank_layers(Sequential& model);

// Compression of a model's factorised layers (book/method.md §1).
struct Compression {
    int64_t lowrank_stored = 0;  // Σ r (n_in + n_out) + r² over low-rank layers
    int64_t lowrank_dense = 0;   // Σ n_in · n_out of the same layers
    int64_t total_stored = 0;    // every parameter of the model as stored, biases included
    int64_t total_dense = 0;     // the same model with every layer dense, biases included
    // 1 − stored / dense over the factorised layers.
    double rate() const { return lowrank_dense > 0 ? 1.0 - double(lowrank_stored) / double(lowrank_dense) : 0.0; }
    // 1 − stored / dense over the whole network.
    double total_rate() const { return total_dense > 0 ? 1.0 - double(total_stored) / double(total_dense) : 0.0; }
};

// Counts what the model stores against its dense equivalent.
Compression compression(Sequential& model);

// Which layers of a zoo model are factorised.
enum class Factorize {
    standard,  // lenet5: conv2 and fc1 (first and last stay dense); mlp: every layer but the last
    all,       // every Linear and Conv2d layer
};

// The initial rank tinyrank trains a zoo model's low-rank layers with, chosen so that ≥ 94%
// of the factorised layers' weights are removed (lenet5 12: 94.7%; mlp 16: 94.2%).
int64_t default_rank(const std::string& architecture);
// The names of the layers of zoo model `architecture` that `which` factorises.
std::vector<std::string> factorized_layers(const std::string& architecture, Factorize which);
// The low-rank variant of a zoo model: the dense model's initialisation, with the chosen
// layers replaced by their rank-r SVD truncation (orthonormal U, V; positive decreasing S).
std::unique_ptr<Sequential> make_lowrank_model(const std::string& architecture, Rng& rng, RankOptions options,
                                               Factorize which = Factorize::standard);
// A trained dense zoo model with the chosen layers replaced by their SVD truncation at
// relative tolerance tau (book/method.md §2.5): the "SVD prune" baseline. The input is unchanged.
std::unique_ptr<Sequential> compress_by_svd(Sequential& dense, const std::string& architecture, float tau,
                                            Factorize which = Factorize::standard);

}  // namespace tinyrank
