// Low-rank layers: factors, forward passes, initialisation by SVD (book §5.3, §7.1).
#include <algorithm>
#include <cmath>

#include "tinyrank/error.hpp"
#include "tinyrank/linalg.hpp"
#include "tinyrank/lowrank.hpp"
#include "tinyrank/random.hpp"

namespace tinyrank {

// ---- Factors --------------------------------------------------------------------------------------

int64_t LowRankFactors::init_ranks(const std::string& layer, int64_t n_out, int64_t n_in, const RankOptions& o) {
    const int64_t full = std::min(n_out, n_in);
    rank_max_ = o.rank_max > 0 ? o.rank_max : std::max<int64_t>(1, full / 2);
    rank_min_ = o.rank_min;
    const int64_t rank = o.rank > 0 ? o.rank : rank_max_;
    if (rank_max_ > full || rank_min_ < 1 || rank_min_ > rank_max_ || rank < rank_min_ || rank > rank_max_)
        throw Error(layer + ": expected 1 <= rank_min <= rank <= rank_max <= min(n_out, n_in) = " +
                    std::to_string(full) + ", found rank_min " + std::to_string(rank_min_) + ", rank " +
                    std::to_string(rank) + ", rank_max " + std::to_string(rank_max_));
    return rank;
}

BasesFrozen::BasesFrozen(const std::vector<LowRankFactors*>& layers, bool frozen) {
    for (LowRankFactors* layer : layers) {
        saved_.emplace_back(layer, layer->bases_frozen);
        layer->bases_frozen = frozen;
    }
}

BasesFrozen::~BasesFrozen() {
    for (const auto& [layer, was_frozen] : saved_) layer->bases_frozen = was_frozen;
}

void LowRankFactors::set_factors(const Tensor& u, const Tensor& s, const Tensor& v) {
    const int64_t r = s.ndim() == 2 ? s.size(0) : -1;
    if (u.ndim() != 2 || v.ndim() != 2 || s.ndim() != 2 || s.size(1) != r || u.size(1) != r || v.size(1) != r ||
        (!U.value.is_empty() && (u.size(0) != rows() || v.size(0) != cols())))
        throw Error("low-rank factors of '" + U.name + "': expected U [n_out, r], S [r, r], V [n_in, r], found " +
                    to_string(u.shape()) + ", " + to_string(s.shape()) + ", " + to_string(v.shape()));
    U.value = u;
    S.value = s;
    V.value = v;
    // Zero gradients of the new shapes; a rank that did not change keeps its buffers.
    for (Parameter* p : {&U, &S, &V}) {
        if (p->grad.shape() == p->value.shape()) p->grad.zero();
        else p->grad = Tensor::zeros(p->value.shape());
    }
}

// region: set-from-matrix
void LowRankFactors::set_from_matrix(const Tensor& w, int64_t r) {
    const LowRankMatrix best = truncated_svd(w, r);  // Eckart–Young: the best rank-r approximation
    set_factors(best.U, best.S, best.V);
}
// endregion: set-from-matrix

Tensor LowRankFactors::weight_matrix() const {
    return matmul(matmul(U.value, S.value), V.value, false, true);
}

int64_t LowRankFactors::stored_weights() const { return rank() * (rows() + cols()) + rank() * rank(); }

void LowRankFactors::init_like_dense(const std::string& layer, int64_t n_out, int64_t fan_in, Rng& rng,
                                     const RankOptions& options) {
    const int64_t r = init_ranks(layer, n_out, fan_in, options);
    set_from_matrix(kaiming_uniform({n_out, fan_in}, fan_in, rng), r);
    bias.value = kaiming_uniform({n_out}, fan_in, rng);
    bias.grad = Tensor::zeros({n_out});
}

void LowRankFactors::copy_dense(const Tensor& w, const Parameter* dense_bias) {
    set_from_matrix(w, rank());
    if (dense_bias != nullptr) bias.value = dense_bias->value.clone();
    else bias.value.zero();
}

Var LowRankFactors::u_on(Tape& tape) { return bases_frozen ? tape.input(U.value) : tape.param(U); }
Var LowRankFactors::v_on(Tape& tape) { return bases_frozen ? tape.input(V.value) : tape.param(V); }

// ---- LowRankLinear -------------------------------------------------------------------------------

LowRankLinear::LowRankLinear(int64_t in, int64_t out, Rng& rng, RankOptions options)
    : in_features(in), out_features(out) {
    register_parameter("U", U);
    register_parameter("S", S);
    register_parameter("V", V);
    register_parameter("bias", bias);
    init_like_dense("LowRankLinear", out, in, rng, options);
}

std::unique_ptr<LowRankLinear> LowRankLinear::from_dense(const Linear& dense, RankOptions options) {
    Rng unused(0);
    auto layer = std::make_unique<LowRankLinear>(dense.in_features, dense.out_features, unused, options);
    layer->copy_dense(dense.weight.value, dense.has_bias ? &dense.bias : nullptr);
    return layer;
}

// region: lowrank-linear-forward
Var LowRankLinear::forward(const Var& x) {
    Tape& tape = x.tape();
    const Var xv = matmul(x, v_on(tape));  // X V        [B, r]
    const Var xvs = linear(xv, s_on(tape));  // (X V) Sᵀ   [B, r]
    const Var u = u_on(tape);              // recorded before the bias, on every compiler
    const Var b = tape.param(bias);
    return linear(xvs, u, b);              // (…) Uᵀ + b [B, n_out]
}
// endregion: lowrank-linear-forward

LayerSpec LowRankLinear::spec() const {
    return {name(), "LowRankLinear", {{"in_features", double(in_features)}, {"out_features", double(out_features)},
                                      {"rank", double(rank())}, {"rank_max", double(rank_max())},
                                      {"rank_min", double(rank_min())}}};
}

// ---- LowRankConv2d ------------------------------------------------------------------------------------

LowRankConv2d::LowRankConv2d(int64_t in, int64_t out, int64_t k, Rng& rng, int64_t s, int64_t p, RankOptions options)
    : in_channels(in), out_channels(out), kernel(k), stride(s), padding(p) {
    register_parameter("U", U);
    register_parameter("S", S);
    register_parameter("V", V);
    register_parameter("bias", bias);
    init_like_dense("LowRankConv2d", out, in * k * k, rng, options);
}

std::unique_ptr<LowRankConv2d> LowRankConv2d::from_dense(const Conv2d& dense, RankOptions options) {
    Rng unused(0);
    auto layer = std::make_unique<LowRankConv2d>(dense.in_channels, dense.out_channels, dense.kernel, unused,
                                                 dense.stride, dense.padding, options);
    layer->copy_dense(dense.weight.value.reshape({dense.out_channels, -1}), dense.has_bias ? &dense.bias : nullptr);
    return layer;
}

// region: lowrank-conv-forward
Var LowRankConv2d::forward(const Var& x) {
    Tape& tape = x.tape();
    const Var cols = im2col(x, kernel, kernel, stride, padding);  // [C·k·k, N·P]
    const Var a = matmul(v_on(tape), cols, true, false);          // Vᵀ cols  [r, N·P]
    const Var b = matmul(s_on(tape), a);                          // S Vᵀ cols
    const Var c = matmul(u_on(tape), b);                          // U S Vᵀ cols [O, N·P]
    const int64_t out_h = (x.shape()[2] + 2 * padding - kernel) / stride + 1;
    const int64_t out_w = (x.shape()[3] + 2 * padding - kernel) / stride + 1;
    return columns_to_images(c, tape.param(bias), x.shape()[0], out_h, out_w);
}
// endregion: lowrank-conv-forward

LayerSpec LowRankConv2d::spec() const {
    return {name(), "LowRankConv2d", {{"in_channels", double(in_channels)}, {"out_channels", double(out_channels)},
                                      {"kernel", double(kernel)}, {"stride", double(stride)},
                                      {"padding", double(padding)}, {"rank", double(rank())},
                                      {"rank_max", double(rank_max())}, {"rank_min", double(rank_min())}}};
}

std::unique_ptr<Module> make_lowrank_layer(const LayerSpec& s, Rng& rng) {
    if (s.type != "LowRankLinear" && s.type != "LowRankConv2d") return nullptr;
    const RankOptions ranks{s.integer("rank"), s.integer("rank_max"), s.integer("rank_min")};
    if (s.type == "LowRankLinear")
        return std::make_unique<LowRankLinear>(s.integer("in_features"), s.integer("out_features"), rng, ranks);
    return std::make_unique<LowRankConv2d>(s.integer("in_channels"), s.integer("out_channels"),
                                               s.integer("kernel"), rng, s.integer("stride"), s.integer("padding"),
                                               ranks);
}

}  // namespace tinyrank
