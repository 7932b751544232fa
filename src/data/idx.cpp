// Reading IDX files, gzip-compressed or raw; see include/tinyrank/data.hpp for the format.
//
// zlib's gzopen/gzread read both kinds: a file that starts with the gzip magic bytes is
// inflated, any other file is passed through unchanged ("transparent" mode). So one reader
// serves train-images-idx3-ubyte.gz and train-images-idx3-ubyte alike.
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tinyrank/data.hpp"
#include "tinyrank/error.hpp"

namespace tinyrank {

namespace {

constexpr uint32_t kImagesMagic = 0x00000803;  // unsigned bytes, 3 dimensions
constexpr uint32_t kLabelsMagic = 0x00000801;  // unsigned bytes, 1 dimension

std::string hex8(uint32_t value) {
    char text[16];
    std::snprintf(text, sizeof text, "0x%08x", static_cast<unsigned>(value));
    return text;
}

// An open gzip-or-raw file that closes itself.
class GzFile {
public:
    explicit GzFile(const std::string& path) : path_(path), file_(gzopen(path.c_str(), "rb")) {
        if (file_ == nullptr)
            throw Error(path + ": expected a readable IDX file, found it cannot be opened (" + std::strerror(errno) + ")");
        gzbuffer(file_, 1 << 17);
    }
    ~GzFile() { gzclose(file_); }
    GzFile(const GzFile&) = delete;
    GzFile& operator=(const GzFile&) = delete;

    // Reads up to `count` bytes into `out`; returns how many were read (fewer only at the end).
    // Throws when the gzip stream is damaged (bad data, bad checksum, cut short).
    size_t read(unsigned char* out, size_t count) {
        size_t done = 0;
        while (done < count) {
            const auto chunk = static_cast<unsigned>(std::min<size_t>(count - done, size_t{1} << 30));
            const int got = gzread(file_, out + done, chunk);
            if (got < 0) fail();
            if (got == 0) break;
            done += static_cast<size_t>(got);
        }
        // A short read is the end of the data, unless zlib saw the stream break off early.
        if (done < count) check_stream();
        return done;
    }

    // True when the file is not gzip-compressed and is read as it is.
    bool is_raw() { return gzdirect(file_) != 0; }

private:
    void check_stream() {
        int code = Z_OK;
        gzerror(file_, &code);
        if (code != Z_OK) fail();
    }
    [[noreturn]] void fail() {
        int code = Z_OK;
        const char* message = gzerror(file_, &code);
        throw Error(path_ + ": expected a complete gzip stream, found a damaged one (zlib: " +
                    std::string(message != nullptr ? message : "unknown error") + ")");
    }

    std::string path_;
    gzFile file_;
};

// The extents and the bytes of an IDX file of unsigned bytes.
struct IdxBytes {
    std::vector<int64_t> dims;
    std::vector<unsigned char> bytes;
};

// Reads a whole IDX file, checking the magic number, the extents and the exact length.
IdxBytes read_idx(const std::string& path, uint32_t expected_magic, const char* what) {
    GzFile file(path);
    const int ndim = static_cast<int>(expected_magic & 0xffu);
    const int64_t header_bytes = 4 + 4 * static_cast<int64_t>(ndim);

    std::array<unsigned char, 4> word{};
    auto read_u32 = [&](const std::string& field) {
        const size_t got = file.read(word.data(), 4);
        if (got < 4)
            throw Error(path + ": expected a " + std::to_string(header_bytes) + "-byte IDX header (" + what +
                        "), found the file ending inside the " + field);
        return (uint32_t{word[0]} << 24) | (uint32_t{word[1]} << 16) | (uint32_t{word[2]} << 8) | uint32_t{word[3]};
    };

    const uint32_t magic = read_u32("magic number");
    if (magic != expected_magic)
        throw Error(path + ": expected magic " + hex8(expected_magic) + " (" + what + "), found " + hex8(magic) +
                    (file.is_raw() ? " (the file is not gzip-compressed)" : ""));

    IdxBytes idx;
    int64_t count = 1;
    std::string extents;
    for (int d = 0; d < ndim; ++d) {
        const int64_t extent = read_u32("extent of dimension " + std::to_string(d));
        idx.dims.push_back(extent);
        extents += (d > 0 ? "x" : "") + std::to_string(extent);
        // Each extent is < 2^32, so three of them could overflow 64 bits: cap the product.
        if (extent > 0 && count > (int64_t{1} << 40) / extent)
            throw Error(path + ": expected extents of at most 2^40 bytes in all, found " + extents + "...");
        count *= extent;
    }
    for (int d = 1; d < ndim; ++d)
        if (idx.dims[static_cast<size_t>(d)] == 0)
            throw Error(path + ": expected non-zero image extents, found " + extents);

    // Read in pieces, so that a damaged header claiming a huge size cannot make us
    // allocate more than the file really holds.
    const int64_t expected_length = header_bytes + count;
    const size_t piece = size_t{1} << 24;
    idx.bytes.reserve(static_cast<size_t>(std::min<int64_t>(count, int64_t{1} << 26)));
    size_t have = 0;
    while (have < static_cast<size_t>(count)) {
        const size_t want = std::min(piece, static_cast<size_t>(count) - have);
        idx.bytes.resize(have + want);
        const size_t got = file.read(idx.bytes.data() + have, want);
        have += got;
        if (got < want) break;
    }
    const char* kind = file.is_raw() ? "bytes" : "bytes after decompression";
    if (have < static_cast<size_t>(count))
        throw Error(path + ": expected " + std::to_string(expected_length) + " " + kind + " (" +
                    std::to_string(header_bytes) + "-byte header + " + extents + " " + what +
                    "), found the file truncated at " + std::to_string(header_bytes + static_cast<int64_t>(have)));

    // Nothing may follow the data: trailing bytes mean the header does not describe the file.
    std::vector<unsigned char> rest(1 << 16);
    int64_t trailing = 0;
    for (size_t got; (got = file.read(rest.data(), rest.size())) > 0;) trailing += static_cast<int64_t>(got);
    if (trailing > 0)
        throw Error(path + ": expected " + std::to_string(expected_length) + " " + kind + " (" +
                    std::to_string(header_bytes) + "-byte header + " + extents + " " + what + "), found " +
                    std::to_string(expected_length + trailing) + " (" + std::to_string(trailing) +
                    " trailing bytes)");
    return idx;
}

}  // namespace

Tensor read_idx_images(const std::string& path) {
    const IdxBytes idx = read_idx(path, kImagesMagic, "images");
    Tensor images = Tensor::empty({idx.dims[0], 1, idx.dims[1], idx.dims[2]});
    // A table makes each pixel exactly float(b) / 255 and keeps the loop trivial.
    std::array<float, 256> to_unit{};
    for (int b = 0; b < 256; ++b) to_unit[static_cast<size_t>(b)] = static_cast<float>(b) / 255.0f;
    float* out = images.data();
    for (size_t i = 0; i < idx.bytes.size(); ++i) out[i] = to_unit[idx.bytes[i]];
    return images;
}

std::vector<int64_t> read_idx_labels(const std::string& path) {
    const IdxBytes idx = read_idx(path, kLabelsMagic, "labels");
    return std::vector<int64_t>(idx.bytes.begin(), idx.bytes.end());
}

}  // namespace tinyrank
