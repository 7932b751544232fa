// Picture files into model inputs: stb_image decodes, the rest (grayscale, resize, invert)
// is written out here so that every step can be read.
#include <stb/stb_image.h>  // the implementation is in Debian's libstb: no STB_IMAGE_IMPLEMENTATION

#include <algorithm>
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

}  // namespace tinyrank
