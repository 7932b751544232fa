// The per-layer GEMM list of a pass (see flops.hpp).
#include "flops.hpp"

#include "tinyrank/error.hpp"

namespace tinyrank::bench {

namespace {

// The state of the activation between two layers while walking the model.
struct Activation {
    Shape shape;                 // per image: [C, H, W], or [F] after Flatten
    bool requires_grad = false;  // whether the backward pass needs its gradient
};

// Adds the product m×n×k with the given flags, named "<layer> <what>".
void add(std::vector<Gemm>& out, const LayerSpec& spec, const char* what, int64_t m, int64_t n, int64_t k,
         bool ta, bool tb) {
    out.push_back(Gemm{m, n, k, ta, tb, spec.name + " " + what});
}

// The number of features of a per-image shape.
int64_t features(const Shape& shape) { return shape_numel(shape); }

// The output height/width of a k×k window sliding with `stride` over `size` pixels padded by `padding`.
int64_t out_extent(int64_t size, int64_t kernel, int64_t stride, int64_t padding) {
    return (size + 2 * padding - kernel) / stride + 1;
}

// The rank a low-rank layer runs at: the override, else its spec's.
int64_t rank_of(const LayerSpec& spec, const std::map<std::string, int64_t>& ranks) {
    const auto found = ranks.find(spec.name);
    return found != ranks.end() ? found->second : spec.integer("rank");
}

// Linear: y = x Wᵀ + b; backward ∂x = ḡ W and ∂W = ḡᵀ x (src/ops/linear.cpp).
void linear(const LayerSpec& spec, int64_t B, const PassKind& pass, Activation& a, std::vector<Gemm>& out) {
    const int64_t in = spec.integer("in_features"), n_out = spec.integer("out_features");
    add(out, spec, "forward", B, n_out, in, false, true);
    if (pass.backward) {
        if (a.requires_grad) add(out, spec, "dX", B, in, n_out, false, false);
        if (pass.weight_grads) add(out, spec, "dW", n_out, in, B, true, false);
    }
    a = {{n_out}, a.requires_grad || pass.weight_grads};
}

// Conv2d through im2col: W_mat [O, CKK] · cols [CKK, N·P]; backward ∂W = ḡ colsᵀ, ∂cols = W_matᵀ ḡ.
void conv(const LayerSpec& spec, int64_t B, const PassKind& pass, Activation& a, std::vector<Gemm>& out) {
    const int64_t C = spec.integer("in_channels"), O = spec.integer("out_channels"), k = spec.integer("kernel");
    const int64_t s = spec.integer("stride"), p = spec.integer("padding");
    const int64_t H = out_extent(a.shape.at(1), k, s, p), W = out_extent(a.shape.at(2), k, s, p);
    const int64_t CKK = C * k * k, NP = B * H * W;
    add(out, spec, "forward", O, NP, CKK, false, false);
    if (pass.backward) {
        if (pass.weight_grads) add(out, spec, "dW", O, CKK, NP, false, true);
        if (a.requires_grad) add(out, spec, "dcols", CKK, NP, O, true, false);
    }
    a = {{O, H, W}, a.requires_grad || pass.weight_grads};
}

// LowRankLinear: ((x V) Sᵀ) Uᵀ + b as three products, each with its two backward products.
void lowrank_linear(const LayerSpec& spec, int64_t B, const PassKind& pass, int64_t r, Activation& a,
                    std::vector<Gemm>& out) {
    const int64_t in = spec.integer("in_features"), n_out = spec.integer("out_features");
    const bool bases = pass.weight_grads && !pass.frozen_bases, core = pass.weight_grads;
    const bool xv_grad = a.requires_grad || bases, xvs_grad = xv_grad || core;
    add(out, spec, "forward xV", B, r, in, false, false);
    add(out, spec, "forward (xV)S^T", B, r, r, false, true);
    add(out, spec, "forward (.)U^T", B, n_out, r, false, true);
    if (pass.backward) {
        if (xvs_grad) add(out, spec, "d(xVS^T)", B, r, n_out, false, false);
        if (bases) add(out, spec, "dU", n_out, r, B, true, false);
        if (xv_grad) add(out, spec, "d(xV)", B, r, r, false, false);
        if (core) add(out, spec, "dS", r, r, B, true, false);
        if (a.requires_grad) add(out, spec, "dX", B, in, r, false, true);
        if (bases) add(out, spec, "dV", in, r, B, true, false);
    }
    a = {{n_out}, xvs_grad};
}

// LowRankConv2d: U (S (Vᵀ cols)) on the im2col columns, each product with its backward products.
void lowrank_conv(const LayerSpec& spec, int64_t B, const PassKind& pass, int64_t r, Activation& a,
                  std::vector<Gemm>& out) {
    const int64_t C = spec.integer("in_channels"), O = spec.integer("out_channels"), k = spec.integer("kernel");
    const int64_t s = spec.integer("stride"), p = spec.integer("padding");
    const int64_t H = out_extent(a.shape.at(1), k, s, p), W = out_extent(a.shape.at(2), k, s, p);
    const int64_t CKK = C * k * k, NP = B * H * W;
    const bool bases = pass.weight_grads && !pass.frozen_bases, core = pass.weight_grads;
    const bool a_grad = a.requires_grad || bases, b_grad = a_grad || core;
    add(out, spec, "forward V^T cols", r, NP, CKK, true, false);
    add(out, spec, "forward S(.)", r, NP, r, false, false);
    add(out, spec, "forward U(.)", O, NP, r, false, false);
    if (pass.backward) {
        if (bases) add(out, spec, "dU", O, r, NP, false, true);
        if (b_grad) add(out, spec, "d(SV^Tcols)", r, NP, O, true, false);
        if (core) add(out, spec, "dS", r, r, NP, false, true);
        if (a_grad) add(out, spec, "d(V^Tcols)", r, NP, r, true, false);
        if (bases) add(out, spec, "dV", CKK, r, NP, false, true);
        if (a.requires_grad) add(out, spec, "dcols", CKK, NP, r, false, false);
    }
    a = {{O, H, W}, b_grad};
}

}  // namespace

std::string Gemm::shape() const {
    return std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k) + " " + (transpose_a ? "T" : "N") +
           (transpose_b ? "T" : "N");
}

std::vector<Gemm> pass_gemms(const std::vector<LayerSpec>& layers, int64_t batch, const PassKind& pass,
                             const std::map<std::string, int64_t>& ranks, const Shape& image) {
    std::vector<Gemm> out;
    Activation a{image, pass.input_grad};
    for (const LayerSpec& spec : layers) {
        if (spec.type == "Linear") linear(spec, batch, pass, a, out);
        else if (spec.type == "Conv2d") conv(spec, batch, pass, a, out);
        else if (spec.type == "LowRankLinear") lowrank_linear(spec, batch, pass, rank_of(spec, ranks), a, out);
        else if (spec.type == "LowRankConv2d") lowrank_conv(spec, batch, pass, rank_of(spec, ranks), a, out);
        else if (spec.type == "MaxPool2d") {
            const int64_t k = spec.integer("kernel"), s = spec.integer("stride") > 0 ? spec.integer("stride") : k;
            a.shape = {a.shape.at(0), out_extent(a.shape.at(1), k, s, 0), out_extent(a.shape.at(2), k, s, 0)};
        } else if (spec.type == "Flatten") a.shape = {features(a.shape)};
        else if (spec.type != "ReLU" && spec.type != "LeakyReLU")
            throw Error("bench flops: layer '" + spec.name + "' has type " + spec.type +
                        ", expected Linear, Conv2d, LowRankLinear, LowRankConv2d, MaxPool2d, ReLU or Flatten");
    }
    return out;
}

double total_flops(const std::vector<Gemm>& gemms) {
    double sum = 0.0;
    for (const Gemm& g : gemms) sum += g.flops();
    return sum;
}

}  // namespace tinyrank::bench
