// Tensor: construction, layout, broadcasting, reductions, matmul, and the errors.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "test_support.hpp"
#include "tinyrank/error.hpp"
#include "tinyrank/random.hpp"
#include "tinyrank/tensor.hpp"

using namespace tinyrank;
using namespace tinyrank::test_support;

namespace {

// A naive reference product, accumulated in double.
Tensor naive_matmul(const Tensor& a, const Tensor& b) {
    const int64_t m = a.size(0), k = a.size(1), n = b.size(1);
    Tensor c({m, n});
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
            double s = 0;
            for (int64_t p = 0; p < k; ++p) s += double(a[i * k + p]) * b[p * n + j];
            c[i * n + j] = static_cast<float>(s);
        }
    return c;
}

}  // namespace

TEST_SUITE("ch01_tensors") {
TEST_CASE("construction, shape, size and row-major element access") {
    Tensor t({2, 3}, {1, 2, 3, 4, 5, 6});
    CHECK(t.ndim() == 2);
    CHECK(t.numel() == 6);
    CHECK(t.size(0) == 2);
    CHECK(t.size(-1) == 3);
    CHECK(t.at({1, 0}) == 4.0f);  // row 1 starts after the 3 elements of row 0
    CHECK(t[4] == 5.0f);
    CHECK(to_string(t.shape()) == "[2, 3]");
    CHECK(Tensor::zeros({4}).to_vector() == std::vector<float>(4, 0.0f));
    CHECK(Tensor::ones({2, 2}).to_vector() == std::vector<float>(4, 1.0f));
    CHECK(Tensor::full({3}, 2.5f).to_vector() == std::vector<float>(3, 2.5f));
    CHECK(Tensor::arange(4).to_vector() == std::vector<float>{0, 1, 2, 3});
    CHECK(Tensor::arange(1.0f, 2.0f, 0.25f).to_vector() == std::vector<float>{1, 1.25f, 1.5f, 1.75f});
    CHECK(Tensor::eye(2).to_vector() == std::vector<float>{1, 0, 0, 1});
    CHECK(Tensor::full({}, 3.0f).item() == 3.0f);  // shape [] is a scalar with one element
    CHECK_THROWS_AS(Tensor({2, 2}, {1, 2, 3}), Error);
    CHECK_THROWS_AS(t.at({2, 0}), Error);
    CHECK_THROWS_AS(t.at({0}), Error);
    CHECK_THROWS_AS(t.item(), Error);
}

TEST_CASE("copies share storage, clone copies, reshape shares and checks the size") {
    Tensor a = Tensor::arange(6);
    Tensor shared = a;
    Tensor copy = a.clone();
    Tensor matrix = a.reshape({2, 3});
    a[0] = 42.0f;
    CHECK(shared[0] == 42.0f);
    CHECK(copy[0] == 0.0f);
    CHECK(matrix.at({0, 0}) == 42.0f);
    CHECK(matrix.shares_storage_with(a));
    CHECK(a.reshape({3, -1}).shape() == Shape{3, 2});
    const std::string message = error_message([&] { a.reshape({4, 2}); });
    CHECK(message.find("[6]") != std::string::npos);
    CHECK(message.find("[4, 2]") != std::string::npos);
}

TEST_CASE("elementwise arithmetic broadcasts a row vector against a matrix") {
    const Tensor m({2, 3}, {1, 2, 3, 4, 5, 6});
    const Tensor row({3}, {10, 20, 30});
    CHECK((m + row).to_vector() == std::vector<float>{11, 22, 33, 14, 25, 36});
    CHECK((m - row).to_vector() == std::vector<float>{-9, -18, -27, -6, -15, -24});
    CHECK((m * row).to_vector() == std::vector<float>{10, 40, 90, 40, 100, 180});
    CHECK((row / Tensor({3}, {2, 4, 5})).to_vector() == std::vector<float>{5, 5, 6});
    const Tensor column({2, 1}, {1, -1});
    CHECK((m * column).to_vector() == std::vector<float>{1, 2, 3, -4, -5, -6});
    CHECK((column + row).shape() == Shape{2, 3});  // [2,1] with [3] → [2,3]
    CHECK((2.0f * m).to_vector() == std::vector<float>{2, 4, 6, 8, 10, 12});
    CHECK(add_scalar(m, 1.0f)[5] == 7.0f);
    // A 3-D case exercises the odometer over several outer dimensions.
    const Tensor cube = Tensor::arange(24).reshape({2, 3, 4});
    const Tensor middle({3, 1}, {100, 200, 300});
    const Tensor sum3 = cube + middle;
    CHECK(sum3.at({1, 2, 3}) == cube.at({1, 2, 3}) + 300.0f);
    CHECK(sum3.at({0, 1, 0}) == cube.at({0, 1, 0}) + 200.0f);
}

TEST_CASE("sum_to is the adjoint of broadcasting") {
    const Tensor g = Tensor::arange(6).reshape({2, 3});
    CHECK(sum_to(g, {3}).to_vector() == std::vector<float>{3, 5, 7});
    CHECK(sum_to(g, {2, 1}).to_vector() == std::vector<float>{3, 12});
    CHECK(sum_to(g, {1, 3}).shape() == Shape{1, 3});
    CHECK(sum_to(g, {}).item() == 15.0f);
    CHECK_THROWS_AS(sum_to(g, {4}), Error);
}

TEST_CASE("a shape mismatch in add names the op and both shapes") {
    const std::string message = error_message([] { add(Tensor({2, 3}), Tensor({4, 5})); });
    CHECK(message.find("add") != std::string::npos);
    CHECK(message.find("[2, 3]") != std::string::npos);
    CHECK(message.find("[4, 5]") != std::string::npos);
}

TEST_CASE("reductions along an axis and over everything") {
    const Tensor t({2, 3}, {1, 5, 3, 4, 2, 6});
    CHECK(sum(t) == 21.0f);
    CHECK(mean(t) == 3.5f);
    CHECK(max(t) == 6.0f);
    CHECK(sum(t, 0).to_vector() == std::vector<float>{5, 7, 9});
    CHECK(sum(t, 1).to_vector() == std::vector<float>{9, 12});
    CHECK(sum(t, 1, true).shape() == Shape{2, 1});
    CHECK(mean(t, -1).to_vector() == std::vector<float>{3, 4});
    CHECK(max(t, 0).to_vector() == std::vector<float>{4, 5, 6});
    CHECK(argmax(t, 1) == std::vector<int64_t>{1, 2});
    CHECK(argmax(t, 0) == std::vector<int64_t>{1, 0, 1});
    CHECK(argmax(Tensor({3}, {2, 2, 1}), 0) == std::vector<int64_t>{0});  // first maximum on ties
    CHECK(max_abs(Tensor({2}, {-3, 2})) == 3.0f);
    CHECK(norm(Tensor({2}, {3, 4})) == 5.0f);
    CHECK(all_finite(t));
    CHECK_FALSE(all_finite(Tensor({2}, {1, NAN})));
    CHECK_THROWS_AS(sum(t, 2), Error);
}

TEST_CASE("transpose, and matmul through sgemm with transpose flags") {
    Rng rng(11);
    const Tensor a = Tensor::normal({5, 7}, rng), b = Tensor::normal({7, 3}, rng);
    const Tensor reference = naive_matmul(a, b);
    CHECK(max_abs(matmul(a, b) - reference) < 1e-5f);
    CHECK(transpose(a).shape() == Shape{7, 5});
    CHECK(transpose(a).at({6, 4}) == a.at({4, 6}));
    // The flags read the stored matrices transposed: no copies, same numbers.
    CHECK(max_abs(matmul(transpose(a), b, true, false) - reference) < 1e-5f);
    CHECK(max_abs(matmul(a, transpose(b), false, true) - reference) < 1e-5f);
    CHECK(max_abs(matmul(transpose(a), transpose(b), true, true) - reference) < 1e-5f);
    // gemm accumulates: C ← 2 A B + C.
    Tensor c = reference.clone();
    gemm(2.0f, a, false, b, false, 1.0f, c);
    CHECK(max_abs(c - 3.0f * reference) < 1e-4f);
}

TEST_CASE("a shape mismatch in matmul names both shapes") {
    const std::string message = error_message([] { matmul(Tensor({2, 3}), Tensor({4, 5})); });
    CHECK(message.find("matmul") != std::string::npos);
    CHECK(message.find("[2, 3]") != std::string::npos);
    CHECK(message.find("[4, 5]") != std::string::npos);
    CHECK_THROWS_AS(matmul(Tensor({2, 3, 1}), Tensor({3, 1})), Error);
    Tensor wrong({3, 3});
    CHECK_THROWS_AS(gemm(1.0f, Tensor({2, 3}), false, Tensor({3, 4}), false, 0.0f, wrong), Error);
}

TEST_CASE("in-place updates and the storage pool") {
    Tensor y({3}, {1, 2, 3});
    axpy(2.0f, Tensor({3}, {1, 1, 1}), y);
    CHECK(y.to_vector() == std::vector<float>{3, 4, 5});
    scale_(y, 0.5f);
    CHECK(y.to_vector() == std::vector<float>{1.5f, 2, 2.5f});
    CHECK_THROWS_AS(axpy(1.0f, Tensor({2}), y), Error);

    release_pooled_memory();
    const float* first = nullptr;
    {
        Tensor big = Tensor::empty({1000, 17});
        first = big.data();
    }
    CHECK(pooled_bytes() >= 1000 * 17 * 4);
    const Tensor again = Tensor::empty({17, 1000});  // the same element count reuses the buffer
    CHECK(again.data() == first);
}
}
