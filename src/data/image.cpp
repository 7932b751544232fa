// Picture files into model inputs: stb_image decodes, the rest (grayscale, resize, invert)
// is written out here so that every step can be read. And image batches out to a PNG grid:
// the layout is done here, stb_image_write only encodes the finished bytes.
#include <stb/stb_image.h>        // the implementation is in Debian's libstb: no STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image_write.h>  // likewise: libstb holds it, no STB_IMAGE_WRITE_IMPLEMENTATION

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tinyrank/data.hpp"
#include "tinyrank/error.hpp"

namespace tinyrank {

namespace {

// The weights of input cells [0, in) that output cell `o` of `out` covers, when both span the
// same length: output cell o covers the input interval [o·in/out, (o+1)·in/out).
struct Coverage {
    int64_t first = 0;           // first input cell touched
    std::vector<double> weight;  // fraction of each touched input cell covered, divided by the cell count
};

std::vector<Coverage> coverage(int64_t in, int64_t out) {
    std::vector<Coverage> cells(static_cast<size_t>(out));
    const double ratio = static_cast<double>(in) / static_cast<double>(out);  // input cells per output cell
    for (int64_t o = 0; o < out; ++o) {
        const double lo = static_cast<double>(o * in) / static_cast<double>(out);
        const double hi = static_cast<double>((o + 1) * in) / static_cast<double>(out);
        Coverage& c = cells[static_cast<size_t>(o)];
        c.first = static_cast<int64_t>(lo);
        for (int64_t i = c.first; i < in && static_cast<double>(i) < hi; ++i) {
            const double overlap = std::min(hi, static_cast<double>(i + 1)) - std::max(lo, static_cast<double>(i));
            c.weight.push_back(overlap / ratio);
        }
    }
    return cells;
}

// Frees stb_image's pixel buffer when it goes out of scope.
struct StbiFree {
    void operator()(unsigned char* pixels) const { stbi_image_free(pixels); }
};

// stb_image_write's output callback: appends the encoded bytes to a std::string.
void append_bytes(void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
}

// Writes `bytes` to path + ".tmp", then renames that onto `path` (a reader never sees half a file).
void write_atomically(const std::string& path, const std::string& bytes) {
    const std::string temporary = path + ".tmp";
    std::FILE* file = std::fopen(temporary.c_str(), "wb");
    if (file == nullptr)
        throw Error(path + ": expected a writable folder, found that '" + temporary + "' cannot be created (" +
                    std::strerror(errno) + ")");
    const size_t written = std::fwrite(bytes.data(), 1, bytes.size(), file);
    const bool closed = std::fclose(file) == 0;
    if (written != bytes.size() || !closed) {
        std::remove(temporary.c_str());
        throw Error(path + ": expected to write " + std::to_string(bytes.size()) + " bytes, wrote " +
                    std::to_string(written) + " (" + std::strerror(errno) + ")");
    }
    if (std::rename(temporary.c_str(), path.c_str()) != 0) {
        const std::string reason = std::strerror(errno);
        std::remove(temporary.c_str());
        throw Error(path + ": cannot rename '" + temporary + "' onto it (" + reason + ")");
    }
}

}  // namespace

Tensor resize_area(const Tensor& image, int64_t height, int64_t width) {
    check_ndim("resize_area", "image", image, 2);
    const int64_t in_h = image.size(0), in_w = image.size(1);
    if (height < 1 || width < 1 || in_h < 1 || in_w < 1)
        throw Error("resize_area: expected non-empty input and output sizes, found " + to_string(image.shape()) +
                    " -> " + to_string({height, width}));
    const std::vector<Coverage> rows = coverage(in_h, height);
    const std::vector<Coverage> cols = coverage(in_w, width);

    // Separable: first average along each row (in_h × width), then along each column.
    std::vector<double> across(static_cast<size_t>(in_h * width), 0.0);
    const float* in = image.data();
    for (int64_t y = 0; y < in_h; ++y)
        for (int64_t x = 0; x < width; ++x) {
            const Coverage& c = cols[static_cast<size_t>(x)];
            double sum = 0.0;
            for (size_t k = 0; k < c.weight.size(); ++k)
                sum += c.weight[k] * in[y * in_w + c.first + static_cast<int64_t>(k)];
            across[static_cast<size_t>(y * width + x)] = sum;
        }
    Tensor out = Tensor::empty({height, width});
    for (int64_t y = 0; y < height; ++y) {
        const Coverage& r = rows[static_cast<size_t>(y)];
        for (int64_t x = 0; x < width; ++x) {
            double sum = 0.0;
            for (size_t k = 0; k < r.weight.size(); ++k)
                sum += r.weight[k] * across[static_cast<size_t>((r.first + static_cast<int64_t>(k)) * width + x)];
            out[y * width + x] = static_cast<float>(sum);
        }
    }
    return out;
}

Tensor load_image(const std::string& path, int64_t height, int64_t width, bool invert) {
    if (height < 1 || width < 1)
        throw Error("load_image: " + path + ": expected a positive output size, found " + to_string({height, width}));
    std::error_code ignored;
    if (!std::filesystem::exists(path, ignored))
        throw Error(path + ": expected a PNG, JPEG or BMP file, found no such file");

    int w = 0, h = 0, channels = 0;
    std::unique_ptr<unsigned char, StbiFree> pixels(stbi_load(path.c_str(), &w, &h, &channels, 0));
    if (!pixels)
        throw Error(path + ": expected a PNG, JPEG or BMP image, found one stb_image cannot read (" +
                    std::string(stbi_failure_reason() != nullptr ? stbi_failure_reason() : "unknown reason") + ")");

    // 1 = gray, 2 = gray + alpha, 3 = RGB, 4 = RGBA, 8 bits each.
    const float background = invert ? 1.0f : 0.0f;  // what a transparent pixel shows
    Tensor gray = Tensor::empty({h, w});
    const unsigned char* p = pixels.get();
    for (int64_t i = 0; i < static_cast<int64_t>(h) * w; ++i, p += channels) {
        float value = 0.0f, alpha = 1.0f;
        if (channels <= 2) {
            value = p[0] / 255.0f;
        } else {
            value = (0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2]) / 255.0f;  // ITU-R BT.601 luminance
        }
        if (channels == 2 || channels == 4) alpha = p[channels - 1] / 255.0f;
        gray[i] = alpha * value + (1.0f - alpha) * background;
    }

    Tensor resized = resize_area(gray, height, width);
    for (int64_t i = 0; i < resized.numel(); ++i) {
        float v = invert ? 1.0f - resized[i] : resized[i];
        resized[i] = std::min(1.0f, std::max(0.0f, v));  // rounding must not leave [0, 1]
    }
    return resized.reshape({1, 1, height, width});
}

// region: write-png
void write_png(const std::string& path, const Tensor& images, int64_t columns, int64_t gap, float gap_value,
               int64_t zoom) {
    const bool one_image = images.ndim() == 2;
    if (!one_image && (images.ndim() != 4 || images.size(1) != 1))
        throw Error("write_png: " + path + ": expected images [N, 1, H, W] or one image [H, W], found " +
                    to_string(images.shape()));
    const int64_t n = one_image ? 1 : images.size(0);
    const int64_t h = images.size(-2), w = images.size(-1);
    if (n < 1 || h < 1 || w < 1 || columns < 1 || gap < 0 || zoom < 1 || zoom > 64)
        throw Error("write_png: " + path +
                    ": expected at least one non-empty image, columns >= 1, gap >= 0 and zoom in [1, 64], found " +
                    to_string(images.shape()) + ", columns " + std::to_string(columns) + ", gap " +
                    std::to_string(gap) + ", zoom " + std::to_string(zoom));
    columns = std::min(columns, n);
    const int64_t rows = (n + columns - 1) / columns;
    // The grid in image pixels; every one of them is zoom × zoom pixels of the file.
    const int64_t grid_w = columns * w + (columns - 1) * gap, grid_h = rows * h + (rows - 1) * gap;
    const int64_t width = zoom * grid_w, height = zoom * grid_h;
    if (width > (1 << 15) || height > (1 << 15))
        throw Error("write_png: " + path + ": expected a picture of at most 32768 x 32768 pixels, found " +
                    std::to_string(width) + " x " + std::to_string(height));

    // v in [0, 1] → byte round(255 v); NaN becomes 0 (black).
    const auto byte = [](float v) {
        const float clipped = std::isnan(v) ? 0.0f : std::clamp(v, 0.0f, 1.0f);
        return static_cast<unsigned char>(std::lround(255.0f * clipped));
    };
    std::vector<unsigned char> grid(static_cast<size_t>(grid_w * grid_h), byte(gap_value));
    for (int64_t k = 0; k < n; ++k) {
        const int64_t top = (k / columns) * (h + gap), left = (k % columns) * (w + gap);
        const float* image = images.data() + k * h * w;
        for (int64_t y = 0; y < h; ++y)
            for (int64_t x = 0; x < w; ++x)
                grid[static_cast<size_t>((top + y) * grid_w + left + x)] = byte(image[y * w + x]);
    }
    std::vector<unsigned char> pixels(static_cast<size_t>(width * height));
    for (int64_t y = 0; y < height; ++y)
        for (int64_t x = 0; x < width; ++x)
            pixels[static_cast<size_t>(y * width + x)] = grid[static_cast<size_t>((y / zoom) * grid_w + x / zoom)];
    std::string encoded;
    if (stbi_write_png_to_func(append_bytes, &encoded, static_cast<int>(width), static_cast<int>(height), 1,
                               pixels.data(), static_cast<int>(width)) == 0)
        throw Error("write_png: " + path + ": stb_image_write could not encode a " + std::to_string(width) + " x " +
                    std::to_string(height) + " image");
    write_atomically(path, encoded);
}
// endregion: write-png

Tensor stack_images(const std::vector<Tensor>& batches) {
    if (batches.empty()) throw Error("stack_images: expected at least one batch of images, found none");
    int64_t n = 0;
    for (const Tensor& b : batches) {
        if (b.ndim() != 4 || b.size(1) != 1 || b.size(2) != batches[0].size(2) || b.size(3) != batches[0].size(3))
            throw Error("stack_images: expected batches [N, 1, H, W] with the H and W of the first, " +
                        to_string(batches[0].shape()) + ", found " + to_string(b.shape()));
        n += b.size(0);
    }
    Tensor out = Tensor::empty({n, 1, batches[0].size(2), batches[0].size(3)});
    float* next = out.data();
    for (const Tensor& b : batches) next = std::copy(b.data(), b.data() + b.numel(), next);
    return out;
}

}  // namespace tinyrank
