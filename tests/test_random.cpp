// The project's generator: known answers pin the algorithm, moments check the samplers.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "tinyrank/random.hpp"
#include "tinyrank/tensor.hpp"

using namespace tinyrank;

TEST_SUITE("ch01_tensors") {
TEST_CASE("PCG32 reproduces the reference demo's first outputs (seed 42, stream 54)") {
    Rng rng(42, 54);
    const std::vector<uint32_t> expected{0xa15c02b7u, 0x7b47f409u, 0xba1d3330u,
                                         0x83d2f293u, 0xbfa4784bu, 0xcbed606eu};
    for (uint32_t e : expected) CHECK(rng.next_u32() == e);
}

TEST_CASE("the same seed gives the same numbers, another seed other numbers") {
    Rng a(123), b(123), c(124);
    bool differs = false;
    for (int i = 0; i < 100; ++i) {
        const uint32_t x = a.next_u32();
        CHECK(x == b.next_u32());
        differs = differs || x != c.next_u32();
    }
    CHECK(differs);
}

TEST_CASE("uniform samples lie in [0, 1) with mean 1/2 and variance 1/12") {
    Rng rng(1);
    const int n = 200000;
    double s = 0, s2 = 0;
    int outside = 0;
    for (int i = 0; i < n; ++i) {
        const float u = rng.uniform();
        outside += (u < 0.0f || u >= 1.0f);
        s += u;
        s2 += double(u) * u;
    }
    const double mean = s / n, var = s2 / n - mean * mean;
    CHECK(outside == 0);
    CHECK(mean == doctest::Approx(0.5).epsilon(0.01));
    CHECK(var == doctest::Approx(1.0 / 12.0).epsilon(0.02));
}

TEST_CASE("normal samples have mean 0, variance 1, and the right tails") {
    Rng rng(2);
    const int n = 200000;
    double s = 0, s2 = 0, s4 = 0;
    int beyond_two = 0;
    for (int i = 0; i < n; ++i) {
        const double z = rng.normal();
        s += z;
        s2 += z * z;
        s4 += z * z * z * z;
        beyond_two += std::fabs(z) > 2.0;
    }
    CHECK(std::fabs(s / n) < 0.01);
    CHECK(s2 / n == doctest::Approx(1.0).epsilon(0.02));
    CHECK(s4 / n == doctest::Approx(3.0).epsilon(0.05));                  // kurtosis of a Gaussian
    CHECK(double(beyond_two) / n == doctest::Approx(0.0455).epsilon(0.1));  // P(|z| > 2)
}

TEST_CASE("below(n) is unbiased and shuffle is a seeded permutation") {
    Rng rng(3);
    std::vector<int> counts(7, 0);
    for (int i = 0; i < 70000; ++i) ++counts[rng.below(7)];
    for (int c : counts) CHECK(c == doctest::Approx(10000).epsilon(0.05));

    std::vector<int64_t> a(50), b(50);
    for (int64_t i = 0; i < 50; ++i) a[i] = b[i] = i;
    Rng r1(9), r2(9);
    r1.shuffle(a);
    r2.shuffle(b);
    CHECK(a == b);
    std::vector<int64_t> sorted = a;
    std::sort(sorted.begin(), sorted.end());
    for (int64_t i = 0; i < 50; ++i) CHECK(sorted[i] == i);
    bool moved = false;
    for (int64_t i = 0; i < 50; ++i) moved = moved || a[i] != i;
    CHECK(moved);
}

TEST_CASE("Tensor::normal and Tensor::uniform draw from the generator in row-major order") {
    Rng r1(5), r2(5);
    const Tensor t = Tensor::normal({3, 4}, r1, 1.0f, 2.0f);
    for (int64_t i = 0; i < 12; ++i) CHECK(t[i] == 1.0f + 2.0f * r2.normal());
    const Tensor u = Tensor::uniform({5}, r1, -1.0f, 1.0f);
    for (int64_t i = 0; i < 5; ++i) CHECK(u[i] == r2.uniform(-1.0f, 1.0f));
}
}
