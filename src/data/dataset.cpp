// Datasets: loading MNIST-style IDX pairs, subsets, a seeded validation split, class counts.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

#include "tinyrank/data.hpp"
#include "tinyrank/error.hpp"
#include "tinyrank/random.hpp"

namespace tinyrank {

namespace {

// The stream of the generator that draws split(): different from every epoch's stream, so
// that the held-out examples and the batch order are not drawn from the same numbers.
constexpr uint64_t kSplitStream = 0x5911;

// The first of `names` that exists in `dir`; throws listing all of them when none does.
std::string find_file(const std::string& dir, const std::vector<std::string>& names, const std::string& what) {
    namespace fs = std::filesystem;
    for (const std::string& name : names) {
        const fs::path candidate = fs::path(dir) / name;
        std::error_code ignored;
        if (fs::is_regular_file(candidate, ignored)) return candidate.string();
    }
    std::string tried;
    for (const std::string& name : names) tried += (tried.empty() ? "" : ", ") + name;
    std::error_code ignored;
    const std::string where = fs::is_directory(dir, ignored) ? "" : " (no such directory)";
    throw Error("load_mnist: expected the " + what + " in '" + dir + "'" + where + ", found none of: " + tried);
}

// The names MNIST's files go by: the canonical .gz, the decompressed file, and the
// decompressed name with a dot that the .gz archives record inside them.
std::vector<std::string> idx_names(const std::string& prefix, const std::string& kind, const std::string& idx) {
    const std::string dashed = prefix + "-" + kind + "-" + idx + "-ubyte";
    const std::string dotted = prefix + "-" + kind + "." + idx + "-ubyte";
    return {dashed + ".gz", dashed, dotted, dotted + ".gz"};
}

// Bytes of one example's image (all of its channels, rows and columns).
int64_t example_numel(const Dataset& data) {
    return data.size() == 0 ? 0 : data.images.numel() / data.size();
}

}  // namespace

Dataset load_idx(const std::string& images_path, const std::string& labels_path) {
    Dataset data;
    data.images = read_idx_images(images_path);
    data.labels = read_idx_labels(labels_path);
    if (data.images.size(0) != data.size())
        throw Error(labels_path + ": expected " + std::to_string(data.images.size(0)) + " labels (one per image in " +
                    images_path + "), found " + std::to_string(data.size()));
    return data;
}

Dataset load_mnist(const std::string& dir, Split split) {
    const std::string prefix = split == Split::train ? "train" : "t10k";
    const std::string part = split == Split::train ? "training" : "test";
    const std::string images = find_file(dir, idx_names(prefix, "images", "idx3"), part + " images");
    const std::string labels = find_file(dir, idx_names(prefix, "labels", "idx1"), part + " labels");
    return load_idx(images, labels);
}

Dataset subset(const Dataset& data, const std::vector<int64_t>& indices) {
    const int64_t n = data.size();
    const int64_t per_example = example_numel(data);
    Shape shape = data.images.shape();
    shape[0] = static_cast<int64_t>(indices.size());
    Dataset out;
    out.images = Tensor::empty(shape);
    out.labels.reserve(indices.size());
    for (size_t k = 0; k < indices.size(); ++k) {
        const int64_t i = indices[k];
        if (i < 0 || i >= n)
            throw Error("subset: expected indices in [0, " + std::to_string(n) + "), found " + std::to_string(i) +
                        " at position " + std::to_string(k));
        std::memcpy(out.images.data() + static_cast<int64_t>(k) * per_example, data.images.data() + i * per_example,
                    static_cast<size_t>(per_example) * sizeof(float));
        out.labels.push_back(data.labels[static_cast<size_t>(i)]);
    }
    return out;
}

Dataset slice(const Dataset& data, int64_t start, int64_t count) {
    if (start < 0 || count < 0 || start > data.size() - count)
        throw Error("slice: expected a range inside [0, " + std::to_string(data.size()) + "), found start " +
                    std::to_string(start) + " and count " + std::to_string(count));
    std::vector<int64_t> indices(static_cast<size_t>(count));
    std::iota(indices.begin(), indices.end(), start);
    return subset(data, indices);
}

TrainValidation split(const Dataset& data, int64_t n_validation, uint64_t seed) {
    const int64_t n = data.size();
    if (n_validation < 0 || n_validation > n)
        throw Error("split: expected between 0 and " + std::to_string(n) + " validation examples, found " +
                    std::to_string(n_validation));
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), int64_t{0});
    Rng rng(seed, kSplitStream);
    rng.shuffle(order);
    // The first n_validation positions of the shuffle are held out; sorting each part keeps
    // the examples in file order, which makes the split easy to inspect.
    std::vector<int64_t> validation(order.begin(), order.begin() + n_validation);
    std::vector<int64_t> train(order.begin() + n_validation, order.end());
    std::sort(validation.begin(), validation.end());
    std::sort(train.begin(), train.end());
    return {subset(data, train), subset(data, validation)};
}

std::vector<int64_t> class_counts(const Dataset& data, int64_t num_classes) {
    if (num_classes < 1)
        throw Error("class_counts: expected at least one class, found " + std::to_string(num_classes));
    std::vector<int64_t> counts(static_cast<size_t>(num_classes), 0);
    for (size_t i = 0; i < data.labels.size(); ++i) {
        const int64_t label = data.labels[i];
        if (label < 0 || label >= num_classes)
            throw Error("class_counts: expected labels in [0, " + std::to_string(num_classes) + "), found " +
                        std::to_string(label) + " at example " + std::to_string(i));
        ++counts[static_cast<size_t>(label)];
    }
    return counts;
}

}  // namespace tinyrank
