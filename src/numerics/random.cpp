// PCG32 and the distributions built on it; see include/tinyrank/random.hpp for the contract.
#include "tinyrank/random.hpp"

#include <cmath>

#include "tinyrank/error.hpp"

namespace tinyrank {

namespace {
constexpr uint64_t kPcgMultiplier = 6364136223846793005ULL;
}

Rng::Rng(uint64_t seed, uint64_t stream) {
    increment_ = (stream << 1u) | 1u;
    state_ = 0;
    next_u32();
    state_ += seed;
    next_u32();
}

uint32_t Rng::next_u32() {
    const uint64_t old = state_;
    state_ = old * kPcgMultiplier + increment_;
    const auto xorshifted = static_cast<uint32_t>(((old >> 18u) ^ old) >> 27u);
    const auto rotation = static_cast<uint32_t>(old >> 59u);
    return (xorshifted >> rotation) | (xorshifted << ((32u - rotation) & 31u));
}

float Rng::uniform() { return static_cast<float>(next_u32() >> 8) * (1.0f / 16777216.0f); }

float Rng::uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }

float Rng::normal() {
    // Box–Muller: u1 in (0, 1] so the logarithm is finite.
    const double u1 = 1.0 - static_cast<double>(next_u32()) * (1.0 / 4294967296.0);
    const double u2 = static_cast<double>(next_u32()) * (1.0 / 4294967296.0);
    const double two_pi = 6.283185307179586476925286766559;
    return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(two_pi * u2));
}

float Rng::normal(float mean, float stddev) { return mean + stddev * normal(); }

uint32_t Rng::below(uint32_t n) {
    if (n == 0) throw Error("Rng::below: expected a positive bound, found 0");
    // Lemire's nearly-divisionless method: multiply, reject the biased low part.
    uint64_t product = static_cast<uint64_t>(next_u32()) * n;
    auto low = static_cast<uint32_t>(product);
    if (low < n) {
        const uint32_t threshold = static_cast<uint32_t>(-n) % n;
        while (low < threshold) {
            product = static_cast<uint64_t>(next_u32()) * n;
            low = static_cast<uint32_t>(product);
        }
    }
    return static_cast<uint32_t>(product >> 32);
}

void Rng::shuffle(std::vector<int64_t>& items) {
    for (size_t i = items.size(); i > 1; --i) {
        const size_t j = below(static_cast<uint32_t>(i));
        std::swap(items[i - 1], items[j]);
    }
}

}  // namespace tinyrank
