// tinyrank/data.hpp — datasets from disk, pictures from disk, and batches.
//
// Four small jobs, one source file each:
//   src/data/idx.cpp      reads IDX files (the MNIST format), gzip-compressed or raw
//   src/data/dataset.cpp  Dataset, load_mnist(), subsets, a seeded validation split, class counts
//   src/data/image.cpp    reads a PNG/JPEG/BMP with stb_image into a model-sized grayscale tensor,
//                         and writes image batches as a PNG grid with stb_image_write
//   src/data/batches.cpp  yields mini-batches in a seeded shuffled order (book chapter 3)
//
// Images are float32 tensors [N, 1, H, W] (N examples, 1 channel, H rows, W columns) with
// values in [0, 1]: a byte b becomes b / 255, and nothing else is done to it (no mean
// subtraction, no scaling by the standard deviation). Every failure on bad input throws
// tinyrank::Error naming the file and what was expected and found, e.g.
//   "train-images-idx3-ubyte.gz: expected magic 0x00000803 (images), found 0x00000801".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tinyrank/tensor.hpp"

namespace tinyrank {

// ---- IDX files (src/data/idx.cpp) ----------------------------------------------------------
// An IDX file is a 4-byte big-endian magic number 0x0000TTDD (TT = element type, 0x08 for
// unsigned bytes; DD = number of dimensions), DD big-endian uint32 extents, then the
// elements in row-major order, and nothing after them. A file whose first two bytes are
// 1f 8b is gzip-compressed and is inflated on the fly, whatever its name.

// Reads an IDX image file (magic 0x00000803: N×H×W unsigned bytes) into a tensor
// [N, 1, H, W] of byte/255 values; throws unless magic, extents and length all agree.
Tensor read_idx_images(const std::string& path);
// Reads an IDX label file (magic 0x00000801: N unsigned bytes); throws like read_idx_images.
std::vector<int64_t> read_idx_labels(const std::string& path);

// ---- Datasets (src/data/dataset.cpp) -------------------------------------------------------

// Labelled images: example i is images[i] (shape [1, H, W]) with class labels[i].
struct Dataset {
    Tensor images;                // [N, 1, H, W], values in [0, 1]
    std::vector<int64_t> labels;  // N class indices

    // The number of examples N.
    int64_t size() const { return static_cast<int64_t>(labels.size()); }
};

// Which half of a dataset that ships as a training and a test part.
enum class Split { train, test };

// Loads an IDX image file and an IDX label file; throws unless both hold the same count.
Dataset load_idx(const std::string& images_path, const std::string& labels_path);
// Loads MNIST (or any dataset with MNIST's file names) from `dir`: train-* or t10k-* files,
// each as .gz, raw, or raw with a dot ("train-images.idx3-ubyte"); a missing file's error
// lists every name tried.
Dataset load_mnist(const std::string& dir, Split split);
// A new dataset holding copies of the examples at `indices`, in that order; each index in [0, N).
Dataset subset(const Dataset& data, const std::vector<int64_t>& indices);
// A new dataset holding copies of examples start, …, start+count−1; the range must fit.
Dataset slice(const Dataset& data, int64_t start, int64_t count);

// The two parts of split(): what is left for training and the held-out validation part.
struct TrainValidation {
    Dataset train;
    Dataset validation;
};

// Holds out `n_validation` examples (0 ≤ n_validation ≤ N) chosen by a shuffle seeded with
// `seed`; both parts keep the original file order. The same seed gives the same split on
// every machine (Rng stream 0x5911, separate from the batch order's).
TrainValidation split(const Dataset& data, int64_t n_validation, uint64_t seed);
// How many examples carry each label 0, …, num_classes−1; throws on a label outside that range.
std::vector<int64_t> class_counts(const Dataset& data, int64_t num_classes = 10);

// ---- Picture files (src/data/image.cpp) ----------------------------------------------------

// Loads a PNG, JPEG, BMP (anything stb_image reads) as a model input [1, 1, height, width]:
// grayscale by luminance (0.299 R + 0.587 G + 0.114 B), resized by area averaging, values in
// [0, 1]. MNIST digits are white on black; pass invert = true for a dark digit on light paper
// (v → 1 − v). A transparent pixel counts as the picture's background: white paper when
// invert is set, black otherwise. Throws naming the file and stb_image's reason on failure.
Tensor load_image(const std::string& path, int64_t height = 28, int64_t width = 28, bool invert = false);
// Resizes a 2-D image [H, W] to [height, width]: every output pixel is the average of the
// input area it covers (partly covered input pixels count by the fraction covered).
// Works for shrinking and enlarging; a constant image stays exactly that constant.
Tensor resize_area(const Tensor& image, int64_t height, int64_t width);
// Writes images [N, 1, H, W] (or one image [H, W]) as one 8-bit grayscale PNG: a grid with
// `columns` images per row in the order given (the last row filled up with `gap_value`), and
// `gap` pixels of `gap_value` between neighbouring images; with zoom z ≥ 1 every pixel
// becomes a z×z block (gaps too). A value v is clipped to [0, 1] and stored as the byte
// round(255 v), so 0 is black, 1 white, and load_image reads a tile back to within 1/510.
// The file is written to path + ".tmp" and renamed onto `path`; throws naming the file and
// the reason when it cannot be written.
void write_png(const std::string& path, const Tensor& images, int64_t columns = 8, int64_t gap = 1,
               float gap_value = 1.0f, int64_t zoom = 1);
// The image batches [N_i, 1, H, W] (all of the same H and W) one after the other: [Σ N_i, 1, H, W].
Tensor stack_images(const std::vector<Tensor>& batches);

// ---- Mini-batches (src/data/batches.cpp) ---------------------------------------------------

// The order in which epoch `epoch` visits examples 0, …, n−1: a Fisher–Yates shuffle
// (Rng::shuffle) of 0, 1, …, n−1 by Rng(epoch_seed(seed, epoch), 0xba7c). Identical on every
// machine; another seed or epoch gives another order (for all but the smallest n, almost surely).
std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch);
// The generator seed of epoch `epoch`: SplitMix64 of seed + (epoch + 1) · 0x9e3779b97f4a7c15.
uint64_t epoch_seed(uint64_t seed, int64_t epoch);

// One mini-batch: B images, their labels, and which examples of the dataset they are.
struct Batch {
    Tensor images;                 // [B, 1, H, W]
    std::vector<int64_t> labels;   // B labels
    std::vector<int64_t> indices;  // B positions in the dataset
};

// Whether an epoch visits the examples in a seeded random order or in file order (evaluation).
enum class Order { shuffled, sequential };
// What happens to the smaller batch left at the end of an epoch when B does not divide N.
enum class LastBatch { keep, drop };

// Cuts a dataset into mini-batches, epoch after epoch:
//
//     Batches batches(train, 64, seed);
//     for (int64_t epoch = 0; epoch < epochs; ++epoch) {
//         batches.start_epoch(epoch);
//         while (const Batch* batch = batches.next()) { ... batch->images, batch->labels ... }
//     }
//
// No allocation per batch: the batch tensors are allocated once, in the constructor, and
// refilled by every next(). The smaller last batch (N mod B examples, kept unless
// LastBatch::drop) has its own tensors, also allocated once. A Batch is therefore valid only
// until the following next(): clone() its images to keep them longer. (Copying a Batch
// copies the labels but shares the images, which the next batch then overwrites.)
class Batches {
public:
    // Batches of `batch_size` (≥ 1) from `data` (shares its image storage; N ≥ 1). Starts epoch 0.
    Batches(const Dataset& data, int64_t batch_size, uint64_t seed, Order order = Order::shuffled,
            LastBatch last = LastBatch::keep);

    // Begins epoch `epoch` (≥ 0): draws its order (shuffled) and rewinds to the first batch.
    void start_epoch(int64_t epoch);
    // Fills and returns the next batch of the current epoch, or nullptr when the epoch is over.
    const Batch* next();

    // The number of batches in every epoch.
    int64_t batches_per_epoch() const;
    // The epoch that start_epoch() last began.
    int64_t epoch() const { return epoch_; }
    // The order of dataset positions in the current epoch (all N, even when the last batch is dropped).
    const std::vector<int64_t>& order() const { return order_; }

private:
    Dataset data_;
    int64_t batch_size_;
    uint64_t seed_;
    Order order_kind_;
    LastBatch last_;
    int64_t epoch_ = 0;
    int64_t position_ = 0;  // index into order_ of the next example to hand out
    std::vector<int64_t> order_;
    Batch full_;     // B examples
    Batch partial_;  // N mod B examples (unused when that is 0 or the last batch is dropped)
};

}  // namespace tinyrank
