// tinyrank/random.hpp — the project's own seeded random number generator.
//
// Algorithm: PCG32 (O'Neill 2014, "PCG-XSH-RR" with 64-bit state and a 64-bit stream
// selector), seeded exactly like the reference `pcg32_srandom_r(seed, stream)`.
// With seed 42 and stream 54 the first outputs are 0xa15c02b7, 0x7b47f409, 0xba1d3330,
// 0x83d2f293, 0xbfa4784b, 0xcbed606e (the reference demo's numbers; a test pins them).
//
// On top of the 32-bit outputs:
//   uniform()  = (next_u32() >> 8) * 2^-24, a float in [0, 1) with 24 random bits;
//   normal()   = Box–Muller in double precision from two uniforms, one value per call;
//   below(n)   = an unbiased integer in [0, n) by rejection (Lemire's method).
// Only integer arithmetic, IEEE float/double operations and std::log/std::sqrt/std::cos
// are used, so the same seed gives the same numbers with any compiler on any machine.
// std::normal_distribution is implementation-defined and is deliberately not used.
#pragma once

#include <cstdint>
#include <vector>

namespace tinyrank {

// A PCG32 generator: small, fast, and identical everywhere.
class Rng {
public:
    // Seeds the generator like pcg32_srandom_r(seed, stream).
    explicit Rng(uint64_t seed = 0, uint64_t stream = 54);

    // The next raw 32-bit output.
    uint32_t next_u32();
    // A float uniform in [0, 1).
    float uniform();
    // A float uniform in [lo, hi).
    float uniform(float lo, float hi);
    // A standard normal sample (mean 0, variance 1).
    float normal();
    // A normal sample with the given mean and standard deviation.
    float normal(float mean, float stddev);
    // An integer uniform in [0, n); n must be positive.
    uint32_t below(uint32_t n);
    // Shuffles `items` in place (Fisher–Yates, from the back).
    void shuffle(std::vector<int64_t>& items);

private:
    uint64_t state_ = 0;
    uint64_t increment_ = 0;
};

}  // namespace tinyrank
