// The benchmark program runs every workload on a tiny budget and writes them all to its JSON
// file (tests/bench/, DEVELOPERS.md "Benchmarks"): make bench cannot rot unnoticed.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "test_support.hpp"
#include "tinyrank/io.hpp"

namespace fs = std::filesystem;
using namespace tinyrank;

TEST_SUITE("ch11_performance") {
TEST_CASE("tinyrank_bench --quick times every workload and writes them as JSON") {
    test_support::TempDir dir("bench");
    const fs::path json = dir.path / "bench.json", log = dir.path / "stdout.txt";
    const std::string command = std::string(TINYRANK_BINARY_DIR) + "/tinyrank_bench --quick --json " + json.string() +
                                " > " + log.string() + " 2>&1";
    REQUIRE(std::system(command.c_str()) == 0);
    const std::string text = read_file(json.string());
    for (const char* workload : {"train-mlp-sgd", "train-lenet5-adam", "train-lowrank-lenet5-adam", "infer-lenet5",
                                 "fgsm-lenet5", "pgd10-lowrank-lenet5", "sgemm"}) {
        CAPTURE(workload);
        CHECK(test_support::contains(text, workload));
    }
}
}
