// tests/test_support.hpp — the helpers that several test files share: the message of a
// thrown Error, temporary folders, the shipped MNIST, a model's output, and the element by
// element comparison of a result with a reference (PyTorch's fixtures or a second
// computation), with the report of the largest differences that TINYRANK_GOLDEN_REPORT asks for.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <system_error>

#include <unistd.h>

#include "tinyrank/data.hpp"
#include "tinyrank/error.hpp"
#include "tinyrank/nn.hpp"
#include "tinyrank/tape.hpp"
#include "tinyrank/tensor.hpp"

namespace tinyrank::test_support {

// ---- Errors and text ---------------------------------------------------------------------------

// The message of the tinyrank::Error that `f` throws ("" when it throws none).
template <class F>
std::string error_message(F f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

// True when `part` occurs in `text`.
inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// ---- Files ---------------------------------------------------------------------------------------

// A fresh directory under the system's temporary directory, removed with everything in it
// when the test ends; `tag` goes into its name to tell the tests apart.
struct TempDir {
    std::filesystem::path path;
    explicit TempDir(const std::string& tag = "") {
        static int counter = 0;
        path = std::filesystem::temp_directory_path() /
               ("tinyrank_test_" + (tag.empty() ? "" : tag + "_") + std::to_string(static_cast<long>(::getpid())) +
                "_" + std::to_string(counter++));
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    // The path of `name` inside the directory.
    std::string operator/(const std::string& name) const { return (path / name).string(); }
};

// ---- Data and models -----------------------------------------------------------------------------

// The MNIST files that ship with the repository.
inline std::string mnist_dir() { return std::string(TINYRANK_SOURCE_DIR) + "/datasets/mnist"; }

// The MNIST training set, read once per test binary (inflating 60000 images takes a
// noticeable fraction of a second).
inline const Dataset& mnist_train() {
    static const Dataset data = load_mnist(mnist_dir(), Split::train);
    return data;
}

// The MNIST test set, read once per test binary.
inline const Dataset& mnist_test() {
    static const Dataset data = load_mnist(mnist_dir(), Split::test);
    return data;
}

// What `module` computes for x, on a fresh tape that records nothing; a copy of its own.
inline Tensor output_of(Module& module, const Tensor& x) {
    Tape tape;
    NoGrad no_grad(tape);
    return module.forward(tape.input(x)).value().clone();
}

// ---- Comparing with a reference --------------------------------------------------------------

// An element passes when |ours − reference| ≤ abs + rel·|reference|.
struct Tolerance {
    double abs;
    double rel;
};

// How far `ours` is from a reference, element by element.
struct Difference {
    bool shapes_agree = true;
    double max_abs = 0.0;  // largest |ours − reference|; infinite when an element is NaN
    double worst = 0.0;    // largest |ours − reference| / (abs + rel·|reference|); ≤ 1 passes
    int64_t where = -1;    // the element of the worst ratio
    float ours = 0, expected = 0;
};

// Compares `ours` with `expected` under `tol`. Equal values agree (also equal infinities and
// under a zero tolerance); a NaN, or an infinity against a finite value, fails.
inline Difference compare(const Tensor& ours, const Tensor& expected, const Tolerance& tol) {
    constexpr double infinity = std::numeric_limits<double>::infinity();
    Difference d;
    if (ours.shape() != expected.shape()) {
        d.shapes_agree = false;
        d.max_abs = d.worst = infinity;
        return d;
    }
    for (int64_t i = 0; i < ours.numel(); ++i) {
        const double a = ours[i], b = expected[i];
        const double error = a == b ? 0.0 : std::fabs(a - b);
        double ratio = error == 0.0 ? 0.0 : error / (tol.abs + tol.rel * std::fabs(b));
        if (std::isnan(ratio)) ratio = infinity;
        d.max_abs = std::isnan(error) ? infinity : std::max(d.max_abs, error);
        if (d.where < 0 || ratio > d.worst) {
            d.worst = ratio;
            d.where = i;
            d.ours = ours[i];
            d.expected = expected[i];
        }
    }
    return d;
}

// One line on `d`: the shapes when they differ, else the largest difference, the worst
// element and the tolerance; `reference` names what was compared against.
inline std::string describe(const std::string& what, const Tensor& ours, const Tensor& expected, const Difference& d,
                            const Tolerance& tol, const std::string& reference = "torch") {
    std::ostringstream out;
    out.precision(9);
    if (!d.shapes_agree) {
        out << what << ": tinyrank's shape " << to_string(ours.shape()) << " differs from " << reference << "'s "
            << to_string(expected.shape());
        return out.str();
    }
    out << what << ": max |tinyrank - " << reference << "| = " << d.max_abs << "; worst element " << d.where
        << ": tinyrank " << d.ours << ", " << reference << " " << d.expected << " (tolerance " << tol.abs << " + "
        << tol.rel << "·|" << reference << "|)";
    return out.str();
}

// Checks that `ours` is within `tol` of `expected`; a failure names `what`, the largest
// difference and the worst element. Returns the largest |difference| (infinite on a shape mismatch).
inline double check_close(const std::string& what, const Tensor& ours, const Tensor& expected, const Tolerance& tol,
                          const std::string& reference = "torch") {
    const Difference d = compare(ours, expected, tol);
    CHECK_MESSAGE(d.worst <= 1.0, describe(what, ours, expected, d, tol, reference));
    return d.max_abs;
}

// Prints the largest difference per quantity against a fixture file when the environment
// sets TINYRANK_GOLDEN_REPORT.
inline void report(const std::string& file, const std::map<std::string, double>& largest) {
    if (std::getenv("TINYRANK_GOLDEN_REPORT") == nullptr) return;
    for (const auto& [what, value] : largest)
        std::cout << "  " << file << "  " << what << "  max |diff| " << value << '\n';
}

}  // namespace tinyrank::test_support
