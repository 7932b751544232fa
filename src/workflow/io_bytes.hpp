// Little-endian byte encoding for the file formats of the io module (internal to src/).
//
// The bytes are assembled with shifts, so the files come out the same on any machine,
// whatever its own byte order.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace tinyrank::detail {

// Appends the low `bytes` bytes of `value` to `out`, least significant first.
inline void put_le(std::string& out, uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

// Reads `bytes` bytes at `p` as a little-endian unsigned integer.
inline uint64_t get_le(const char* p, int bytes) {
    uint64_t value = 0;
    for (int i = 0; i < bytes; ++i) value |= uint64_t(static_cast<unsigned char>(p[i])) << (8 * i);
    return value;
}

// The IEEE-754 bit pattern of a float.
inline uint32_t float_bits(float value) {
    uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    return bits;
}

// The float with the given IEEE-754 bit pattern.
inline float float_from_bits(uint32_t bits) {
    float value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

// Appends `count` floats as little-endian binary32.
inline void put_floats(std::string& out, const float* values, int64_t count) {
    const size_t start = out.size();
    out.resize(start + 4 * static_cast<size_t>(count));
    char* p = &out[start];
    for (int64_t i = 0; i < count; ++i) {
        const uint32_t bits = float_bits(values[i]);
        for (int b = 0; b < 4; ++b) *p++ = static_cast<char>((bits >> (8 * b)) & 0xff);
    }
}

// Reads `count` little-endian binary32 values at `p` into `values`.
inline void get_floats(const char* p, float* values, int64_t count) {
    for (int64_t i = 0; i < count; ++i) values[i] = float_from_bits(static_cast<uint32_t>(get_le(p + 4 * i, 4)));
}

}  // namespace tinyrank::detail
