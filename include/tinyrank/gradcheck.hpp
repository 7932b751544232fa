// tinyrank/gradcheck.hpp — check any op's backward against finite differences.
//
// Public so that a learner can check the op they write in an exercise (book §2.7).
// The scalar checked is L(x) = Σ_i w_i f(x)_i with fixed random weights w, so every
// output element contributes. The analytic gradient comes from one backward pass; the
// numeric one from central differences (L(x + εe_k) − L(x − εe_k)) / 2ε, with L summed in
// double precision. Element k passes when |analytic − numeric| ≤ atol + rtol·|numeric|.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tinyrank/tape.hpp"

namespace tinyrank {

// Options of a gradient check.
struct GradcheckOptions {
    double epsilon = 1e-2;  // the finite-difference step
    double atol = 2e-3;     // absolute tolerance
    double rtol = 1e-2;     // relative tolerance
    uint64_t seed = 7;      // for the output weights w
};

// The outcome of a gradient check.
struct GradcheckResult {
    bool passed = true;
    double max_abs_error = 0.0;  // largest |analytic − numeric| over all inputs and elements
    std::string worst;           // where the worst violation (or largest error) occurred
};

// The function being checked: input handles on a tape → one output.
using GradcheckFunction = std::function<Var(const std::vector<Var>&)>;

// Compares the tape's gradient of Σ w ⊙ f(inputs) with central differences for every
// element of every input. The inputs are not modified.
GradcheckResult gradcheck(const GradcheckFunction& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

}  // namespace tinyrank
