// tutorials/tutorial.hpp — what the chapter programs do the same way: read --quick and
// --out DIR, say which BLAS they use, stop with a one-line message on an error, find MNIST,
// make the folder for their figure data, time a piece of work and print small tensors.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <string>

#include "tinyrank/tinyrank.hpp"

namespace tutorial {

// The command line of a chapter program: `chNN_name [--quick] [--out DIR]`.
struct Options {
    std::string program;  // e.g. "ch03_mlp", for messages
    bool quick = false;   // a shorter run that tells the same story
    std::string out;      // where the figure data goes
};

// Reads --quick and --out DIR (default `default_out`); anything else prints the usage and exits with status 2.
inline Options parse(int argc, char** argv, const std::string& program, const std::string& default_out) {
    Options o{program, false, default_out};
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--quick") == 0) {
            o.quick = true;
        } else if (std::strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            o.out = argv[++i];
        } else {
            std::fprintf(stderr, "usage: %s [--quick] [--out DIR]\n", program.c_str());
            std::exit(2);
        }
    }
    return o;
}

// Applies TINYRANK_THREADS, prints `title` and the BLAS in use, runs `body`; an error ends the program with status 1.
template <class Body>
int run(const Options& o, const char* title, Body body) {
    try {
        tinyrank::apply_thread_environment();
        std::printf("%s\n%s\n", title, tinyrank::blas_info().c_str());
        body();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", o.program.c_str(), e.what());
        return 1;
    }
    return 0;
}

// MNIST's `split` from datasets/mnist, or an error that says where the files are expected.
inline tinyrank::Dataset load_split(tinyrank::Split split, const Options& o) {
    try {
        return tinyrank::load_mnist("datasets/mnist", split);
    } catch (const tinyrank::Error& e) {
        throw tinyrank::Error(std::string(e.what()) +
                              "\n  MNIST ships with the repository in datasets/mnist: run this program from the "
                              "repository root, e.g. `build/tutorials/" + o.program + "`.");
    }
}

// MNIST's test split: all 10 000 images, or the first `quick_images` of them with --quick.
inline tinyrank::Dataset load_test(const Options& o, int64_t quick_images) {
    const tinyrank::Dataset test = load_split(tinyrank::Split::test, o);
    return o.quick ? tinyrank::slice(test, 0, quick_images) : test;
}

// The path of `file` in the output folder --out, which is created if need be.
inline std::string output_file(const Options& o, const std::string& file) {
    std::filesystem::create_directories(o.out);
    return o.out + "/" + file;
}

// Seconds that one call of `work` takes: the fastest of `runs` calls, in wall time.
template <class Work>
double fastest_of(int runs, Work work) {
    double best = 1e30;
    for (int k = 0; k < runs; ++k) {
        const auto start = std::chrono::steady_clock::now();
        work();
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    return best;
}

// Prints a tensor as rows of its last dimension (a 1-D tensor as one row), after its name and shape.
inline void show(const char* name, const tinyrank::Tensor& t, const char* format = " %8.5g") {
    const int64_t cols = t.size(-1), rows = t.numel() / cols;
    std::printf("  %s %s =\n", name, tinyrank::to_string(t.shape()).c_str());
    for (int64_t i = 0; i < rows; ++i) {
        std::printf("    ");
        for (int64_t j = 0; j < cols; ++j) std::printf(format, static_cast<double>(t[i * cols + j]));
        std::printf("\n");
    }
}

}  // namespace tutorial
