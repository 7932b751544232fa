// The data layer: the shipped MNIST files, damaged IDX files, picture files and batching.
//
// Known values come from outside tinyrank: counts and first labels from
// datasets/mnist/SOURCE.md, pixel values and sums from the raw bytes (`zcat … | od -t u1`),
// and the expected shuffles from an independent re-implementation of PCG32 + Fisher–Yates.
#include <doctest/doctest.h>
#include <stb/stb_image.h>        // implementation in Debian's libstb
#include <stb/stb_image_write.h>  // likewise
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "test_support.hpp"
#include "tinyrank/data.hpp"
#include "tinyrank/error.hpp"

using namespace tinyrank;
using namespace tinyrank::test_support;

namespace {

using Bytes = std::vector<unsigned char>;

void write_raw(const std::string& path, const Bytes& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void write_gz(const std::string& path, const Bytes& bytes) {
    gzFile file = gzopen(path.c_str(), "wb");
    REQUIRE(file != nullptr);
    REQUIRE(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
    gzclose(file);
}

Bytes read_raw(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Bytes read_gz(const std::string& path) {
    gzFile file = gzopen(path.c_str(), "rb");
    REQUIRE(file != nullptr);
    Bytes out;
    unsigned char buffer[1 << 16];
    for (int got; (got = gzread(file, buffer, sizeof buffer)) > 0;) out.insert(out.end(), buffer, buffer + got);
    gzclose(file);
    return out;
}

void put_u32(Bytes& bytes, uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<unsigned char>(v >> shift));
}

// An IDX image file of n images h×w whose pixel k of image i is (i * 16 + k) mod 256.
Bytes idx_images(uint32_t n, uint32_t h, uint32_t w) {
    Bytes bytes;
    put_u32(bytes, 0x00000803);
    put_u32(bytes, n);
    put_u32(bytes, h);
    put_u32(bytes, w);
    for (uint32_t i = 0; i < n; ++i)
        for (uint32_t k = 0; k < h * w; ++k) bytes.push_back(static_cast<unsigned char>((i * 16 + k) % 256));
    return bytes;
}

// An IDX label file of n labels i mod 10.
Bytes idx_labels(uint32_t n) {
    Bytes bytes;
    put_u32(bytes, 0x00000801);
    put_u32(bytes, n);
    for (uint32_t i = 0; i < n; ++i) bytes.push_back(static_cast<unsigned char>(i % 10));
    return bytes;
}

// n examples of one pixel whose value is the example's position, labelled position mod 10:
// every batch and every split can be traced back to the examples it holds.
Dataset numbered(int64_t n) {
    Dataset data;
    data.images = Tensor::empty({n, 1, 1, 1});
    for (int64_t i = 0; i < n; ++i) {
        data.images[i] = static_cast<float>(i);
        data.labels.push_back(i % 10);
    }
    return data;
}

std::vector<int64_t> sorted(std::vector<int64_t> v) {
    std::sort(v.begin(), v.end());
    return v;
}

std::vector<int64_t> iota_vector(int64_t n) {
    std::vector<int64_t> v(static_cast<size_t>(n));
    std::iota(v.begin(), v.end(), int64_t{0});
    return v;
}

}  // namespace

TEST_SUITE("ch03_learning") {

// ---- The shipped MNIST files ---------------------------------------------------------------

TEST_CASE("MNIST training set: 60000 images [1, 28, 28], first labels and class counts") {
    const Dataset& train = mnist_train();
    CHECK(train.size() == 60000);
    CHECK(train.images.shape() == Shape{60000, 1, 28, 28});
    const std::vector<int64_t> first{5, 0, 4, 1, 9, 2, 1, 3, 1, 4};
    CHECK(std::vector<int64_t>(train.labels.begin(), train.labels.begin() + 10) == first);
    CHECK(class_counts(train) == std::vector<int64_t>{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949});
}

TEST_CASE("MNIST test set: 10000 images [1, 28, 28], first labels and class counts") {
    const Dataset& test = mnist_test();
    CHECK(test.size() == 10000);
    CHECK(test.images.shape() == Shape{10000, 1, 28, 28});
    const std::vector<int64_t> first{7, 2, 1, 0, 4, 1, 4, 9, 5, 9};
    CHECK(std::vector<int64_t>(test.labels.begin(), test.labels.begin() + 10) == first);
    CHECK(class_counts(test) == std::vector<int64_t>{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009});
}

TEST_CASE("MNIST pixels are byte/255 in [0, 1]: known pixels and sums from the raw bytes") {
    const Dataset& train = mnist_train();
    const Dataset& test = mnist_test();
    for (const Dataset* data : {&train, &test}) {
        const auto [lo, hi] = std::minmax_element(data->images.data(), data->images.data() + data->images.numel());
        CHECK(*lo == 0.0f);
        CHECK(*hi == 1.0f);
    }

    // The first training image (a 5): its first non-zero byte is 3 at row 5, column 12;
    // the centre pixel (14, 14) is 240; its 784 bytes add up to 27525.
    CHECK(train.images.at({0, 0, 5, 11}) == 0.0f);
    CHECK(train.images.at({0, 0, 5, 12}) == 3.0f / 255.0f);
    CHECK(train.images.at({0, 0, 14, 14}) == 240.0f / 255.0f);
    CHECK(sum(slice(train, 0, 1).images) == doctest::Approx(27525.0 / 255.0).epsilon(1e-6));
    CHECK(sum(slice(test, 0, 1).images) == doctest::Approx(18454.0 / 255.0).epsilon(1e-6));

    // All bytes: 1567298545 (train) and 264923200 (test); the train mean is the familiar 0.1307.
    const double train_sum = sum(train.images);
    CHECK(train_sum == doctest::Approx(1567298545.0 / 255.0).epsilon(1e-6));
    CHECK(train_sum / static_cast<double>(train.images.numel()) == doctest::Approx(0.130660).epsilon(1e-5));
    CHECK(sum(test.images) == doctest::Approx(264923200.0 / 255.0).epsilon(1e-6));
}

TEST_CASE("raw IDX files (dashed and dotted names) load exactly like the .gz files") {
    TempDir dir("data");
    // The two spellings of decompressed names: the dotted one is what the archives record inside.
    write_raw(dir / "t10k-images.idx3-ubyte", read_gz(mnist_dir() + "/t10k-images-idx3-ubyte.gz"));
    write_raw(dir / "t10k-labels-idx1-ubyte", read_gz(mnist_dir() + "/t10k-labels-idx1-ubyte.gz"));
    const Dataset raw = load_mnist(dir.path.string(), Split::test);
    const Dataset& gz = mnist_test();
    REQUIRE(raw.images.shape() == gz.images.shape());
    CHECK(std::memcmp(raw.images.data(), gz.images.data(), sizeof(float) * static_cast<size_t>(gz.images.numel())) == 0);
    CHECK(raw.labels == gz.labels);
}

// ---- Damaged files -------------------------------------------------------------------------

TEST_CASE("a small IDX pair loads with the right shape, values and labels, raw or gzip") {
    TempDir dir("data");
    write_raw(dir / "images", idx_images(3, 4, 5));
    write_raw(dir / "labels", idx_labels(3));
    write_gz(dir / "images.gz", idx_images(3, 4, 5));
    write_gz(dir / "labels.gz", idx_labels(3));
    for (const std::string suffix : {"", ".gz"}) {
        CAPTURE(suffix);
        const Dataset data = load_idx(dir / ("images" + suffix), dir / ("labels" + suffix));
        CHECK(data.images.shape() == Shape{3, 1, 4, 5});
        CHECK(data.labels == std::vector<int64_t>{0, 1, 2});
        CHECK(data.images.at({2, 0, 1, 3}) == static_cast<float>(2 * 16 + 1 * 5 + 3) / 255.0f);
    }
}

TEST_CASE("a wrong magic number is an error naming the file, the expected and the found magic") {
    TempDir dir("data");
    const std::string images = dir / "train-images-idx3-ubyte.gz";
    write_gz(images, idx_labels(3));  // a label file under an image file's name
    CHECK_THROWS_WITH_AS(read_idx_images(images),
                         doctest::Contains("train-images-idx3-ubyte.gz: expected magic 0x00000803 (images), found 0x00000801"),
                         Error);
    const std::string labels = dir / "labels";
    write_raw(labels, idx_images(1, 2, 2));
    CHECK_THROWS_WITH_AS(read_idx_labels(labels),
                         doctest::Contains("labels: expected magic 0x00000801 (labels), found 0x00000803"), Error);
}

TEST_CASE("a truncated file is an error naming the file and both lengths, raw or gzip") {
    TempDir dir("data");
    Bytes bytes = idx_images(3, 4, 5);  // 16 + 60 bytes
    bytes.pop_back();
    write_raw(dir / "cut", bytes);
    write_gz(dir / "cut.gz", bytes);
    CHECK_THROWS_WITH_AS(read_idx_images(dir / "cut"),
                         doctest::Contains("cut: expected 76 bytes (16-byte header + 3x4x5 images), found the file truncated at 75"),
                         Error);
    CHECK_THROWS_WITH_AS(read_idx_images(dir / "cut.gz"), doctest::Contains("cut.gz: expected 76 bytes after decompression"), Error);

    // Cut inside the header.
    write_raw(dir / "short_header", Bytes{0, 0, 8, 3, 0, 0});
    CHECK_THROWS_WITH_AS(read_idx_images(dir / "short_header"),
                         doctest::Contains("short_header: expected a 16-byte IDX header"), Error);
}

TEST_CASE("a cut-off gzip stream (half of a shipped archive) is an error naming the file") {
    TempDir dir("data");
    Bytes archive = read_raw(mnist_dir() + "/t10k-labels-idx1-ubyte.gz");
    archive.resize(archive.size() / 2);
    write_raw(dir / "t10k-labels-idx1-ubyte.gz", archive);
    CHECK_THROWS_WITH_AS(read_idx_labels(dir / "t10k-labels-idx1-ubyte.gz"),
                         doctest::Contains("t10k-labels-idx1-ubyte.gz: expected a complete gzip stream"), Error);
}

TEST_CASE("trailing bytes after the data are an error naming the file and the count") {
    TempDir dir("data");
    // A decompressed copy of the shipped test labels with one byte too many.
    Bytes labels = read_gz(mnist_dir() + "/t10k-labels-idx1-ubyte.gz");
    REQUIRE(labels.size() == 10008);
    labels.push_back(0);
    write_raw(dir / "t10k-labels-idx1-ubyte", labels);
    CHECK_THROWS_WITH_AS(read_idx_labels(dir / "t10k-labels-idx1-ubyte"),
                         doctest::Contains("t10k-labels-idx1-ubyte: expected 10008 bytes (8-byte header + 10000 labels), "
                                           "found 10009 (1 trailing bytes)"),
                         Error);
    Bytes images = idx_images(2, 3, 3);
    images.insert(images.end(), 100, 7);
    write_gz(dir / "images.gz", images);
    CHECK_THROWS_WITH_AS(read_idx_images(dir / "images.gz"), doctest::Contains("images.gz: expected 34 bytes"), Error);
}

TEST_CASE("image and label counts that differ are an error naming both files") {
    TempDir dir("data");
    write_gz(dir / "train-images-idx3-ubyte.gz", idx_images(3, 2, 2));
    write_gz(dir / "train-labels-idx1-ubyte.gz", idx_labels(4));
    CHECK_THROWS_WITH_AS(load_mnist(dir.path.string(), Split::train),
                         doctest::Contains("train-labels-idx1-ubyte.gz: expected 3 labels (one per image in"), Error);
}

TEST_CASE("garbage that is not gzip is an error naming the file") {
    TempDir dir("data");
    Bytes garbage;
    for (int i = 0; i < 1000; ++i) garbage.push_back(static_cast<unsigned char>((i * 37 + 11) % 251));
    write_raw(dir / "train-images-idx3-ubyte.gz", garbage);
    CHECK_THROWS_WITH_AS(read_idx_images(dir / "train-images-idx3-ubyte.gz"),
                         doctest::Contains("train-images-idx3-ubyte.gz: expected magic 0x00000803 (images), found 0x0b30557a "
                                           "(the file is not gzip-compressed)"),
                         Error);
}

TEST_CASE("a missing file or directory is an error listing the names that were tried") {
    TempDir dir("data");
    CHECK_THROWS_WITH_AS(load_mnist(dir.path.string(), Split::test),
                         doctest::Contains("found none of: t10k-images-idx3-ubyte.gz, t10k-images-idx3-ubyte, "
                                           "t10k-images.idx3-ubyte, t10k-images.idx3-ubyte.gz"),
                         Error);
    CHECK_THROWS_WITH_AS(load_mnist(dir / "nowhere", Split::train), doctest::Contains("nowhere' (no such directory)"), Error);
    CHECK_THROWS_WITH_AS(read_idx_images(dir / "absent.gz"), doctest::Contains("absent.gz: expected a readable IDX file, found it cannot be opened (No such file or directory)"), Error);
}

// ---- Subsets, validation split, class counts -------------------------------------------------

TEST_CASE("subset and slice copy the chosen examples in order and check their indices") {
    const Dataset data = numbered(10);
    const Dataset picked = subset(data, {7, 2, 2});
    CHECK(picked.images.shape() == Shape{3, 1, 1, 1});
    CHECK(picked.images.to_vector() == std::vector<float>{7, 2, 2});
    CHECK(picked.labels == std::vector<int64_t>{7, 2, 2});
    CHECK(slice(data, 3, 4).images.to_vector() == std::vector<float>{3, 4, 5, 6});
    CHECK_THROWS_WITH_AS(subset(data, {0, 10}), doctest::Contains("found 10 at position 1"), Error);
    CHECK_THROWS_AS(slice(data, 8, 3), Error);
}

TEST_CASE("split holds out n examples by a seeded shuffle, keeps file order, same seed same split") {
    const Dataset data = numbered(20);
    const TrainValidation parts = split(data, 5, 3);
    // Expected from an independent PCG32 (seed 3, stream 0x5911) + Fisher–Yates.
    CHECK(parts.validation.images.to_vector() == std::vector<float>{0, 7, 9, 15, 16});
    CHECK(parts.validation.labels == std::vector<int64_t>{0, 7, 9, 5, 6});
    CHECK(parts.train.size() == 15);
    std::vector<float> all = parts.train.images.to_vector();
    CHECK(std::is_sorted(all.begin(), all.end()));
    const std::vector<float> held = parts.validation.images.to_vector();
    all.insert(all.end(), held.begin(), held.end());
    std::sort(all.begin(), all.end());
    CHECK(all == numbered(20).images.to_vector());  // every example in exactly one part

    CHECK(split(data, 5, 3).validation.images.to_vector() == held);
    CHECK(split(data, 5, 4).validation.images.to_vector() != held);
    CHECK(split(data, 0, 1).train.size() == 20);
    CHECK(split(data, 20, 1).validation.size() == 20);
    CHECK_THROWS_WITH_AS(split(data, 21, 1), doctest::Contains("expected between 0 and 20 validation examples, found 21"), Error);
}

TEST_CASE("a validation split of MNIST test data keeps every class's examples") {
    const TrainValidation parts = split(mnist_test(), 1000, 42);
    CHECK(parts.train.size() == 9000);
    CHECK(parts.validation.size() == 1000);
    const std::vector<int64_t> a = class_counts(parts.train), b = class_counts(parts.validation);
    std::vector<int64_t> total(10);
    for (size_t c = 0; c < 10; ++c) total[c] = a[c] + b[c];
    CHECK(total == class_counts(mnist_test()));
}

TEST_CASE("class_counts rejects a label outside [0, num_classes)") {
    Dataset data = numbered(12);
    data.labels[11] = 12;
    CHECK_THROWS_WITH_AS(class_counts(data), doctest::Contains("expected labels in [0, 10), found 12 at example 11"), Error);
    CHECK(class_counts(data, 13)[12] == 1);
}

// ---- Picture files ----------------------------------------------------------------------------

TEST_CASE("resize_area averages the covered area, partly covered pixels by their fraction") {
    // Shrinking 4x4 -> 2x2 averages 2x2 blocks.
    const Tensor square({4, 4}, {0, 2, 4, 4, 2, 0, 4, 4, 1, 1, 8, 0, 1, 1, 0, 8});
    CHECK(resize_area(square, 2, 2).to_vector() == std::vector<float>{1, 4, 1, 4});
    // 3 -> 2: the first output covers pixels 0 and half of 1, the second half of 1 and 2.
    const Tensor row({1, 3}, {0, 1, 2});
    const Tensor shrunk = resize_area(row, 1, 2);
    CHECK(shrunk[0] == doctest::Approx(1.0 / 3.0));
    CHECK(shrunk[1] == doctest::Approx(5.0 / 3.0));
    // Enlarging 2x2 -> 4x4 repeats each pixel as a 2x2 block.
    const Tensor small({2, 2}, {1, 2, 3, 4});
    CHECK(resize_area(small, 4, 4).to_vector() ==
          std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
    // A constant stays that constant at any ratio.
    const Tensor flat = resize_area(Tensor::full({28, 28}, 0.25f), 3, 5);
    for (int64_t i = 0; i < flat.numel(); ++i) CHECK(flat[i] == 0.25f);
    CHECK_THROWS_AS(resize_area(Tensor::zeros({2, 2}), 0, 3), Error);
}

TEST_CASE("load_image: an RGB PNG becomes [1, 1, H, W] grayscale, resized, optionally inverted") {
    TempDir dir("data");
    // 8x8: the left half black, the right half white, except that the top-right 4x4 is pure red.
    std::vector<unsigned char> rgb(8 * 8 * 3, 0);
    for (int y = 0; y < 8; ++y)
        for (int x = 4; x < 8; ++x) {
            unsigned char* p = &rgb[static_cast<size_t>((y * 8 + x) * 3)];
            p[0] = 255;
            p[1] = p[2] = y < 4 ? 0 : 255;
        }
    const std::string png = dir / "digit.png";
    REQUIRE(stbi_write_png(png.c_str(), 8, 8, 3, rgb.data(), 8 * 3) != 0);

    const Tensor image = load_image(png, 2, 2);
    CHECK(image.shape() == Shape{1, 1, 2, 2});
    CHECK(image[0] == 0.0f);
    CHECK(image[1] == doctest::Approx(0.299));  // red's luminance
    CHECK(image[2] == 0.0f);
    CHECK(image[3] == doctest::Approx(1.0));
    const Tensor inverted = load_image(png, 2, 2, true);
    CHECK(inverted[0] == 1.0f);
    CHECK(inverted[1] == doctest::Approx(0.701));
    CHECK(inverted[3] == doctest::Approx(0.0));

    // Resizing 8 -> 28 keeps the halves: column 13 is all left, column 14 all right.
    const Tensor big = load_image(png, 28, 28, true);
    CHECK(big.shape() == Shape{1, 1, 28, 28});
    CHECK(big.at({0, 0, 27, 13}) == 1.0f);
    CHECK(big.at({0, 0, 27, 14}) == doctest::Approx(0.0));
}

TEST_CASE("load_image: gray BMP, and transparent PNG pixels take the background of the chosen polarity") {
    TempDir dir("data");
    // A 3x3 gray BMP (stb writes BMP as RGB): its single output pixel is the average.
    std::vector<unsigned char> gray{0, 30, 60, 90, 120, 150, 180, 210, 240};
    const std::string bmp = dir / "gray.bmp";
    REQUIRE(stbi_write_bmp(bmp.c_str(), 3, 3, 1, gray.data()) != 0);
    CHECK(load_image(bmp, 1, 1)[0] == doctest::Approx(120.0 / 255.0).epsilon(1e-5));
    CHECK(load_image(bmp, 3, 3).at({0, 0, 2, 2}) == doctest::Approx(240.0 / 255.0));

    // Gray + alpha: one opaque mid-gray pixel beside a transparent one.
    std::vector<unsigned char> ga{128, 255, 77, 0};
    const std::string png = dir / "alpha.png";
    REQUIRE(stbi_write_png(png.c_str(), 2, 1, 2, ga.data(), 2 * 2) != 0);
    const Tensor light_digit = load_image(png, 1, 2);       // transparent = black background
    const Tensor dark_digit = load_image(png, 1, 2, true);  // transparent = white paper, then inverted
    CHECK(light_digit[0] == doctest::Approx(128.0 / 255.0));
    CHECK(light_digit[1] == 0.0f);
    CHECK(dark_digit[0] == doctest::Approx(1.0 - 128.0 / 255.0));
    CHECK(dark_digit[1] == 0.0f);
}

TEST_CASE("load_image: a missing file or a file that is no picture is an error naming the path") {
    TempDir dir("data");
    CHECK_THROWS_WITH_AS(load_image(dir / "no-such-digit.png"), doctest::Contains("no-such-digit.png: expected a PNG"), Error);
    const std::string text = dir / "notes.png";
    write_raw(text, Bytes{'h', 'e', 'l', 'l', 'o'});
    CHECK_THROWS_WITH_AS(load_image(text), doctest::Contains("notes.png: expected a PNG, JPEG or BMP image, found one stb_image cannot read ("),
                         Error);
    CHECK_THROWS_AS(load_image(text, 0, 28), Error);
}

// ---- Batches ------------------------------------------------------------------------------------

TEST_CASE("epoch_order matches an independent PCG32 + Fisher-Yates, per seed and per epoch") {
    CHECK(epoch_order(10, 42, 0) == std::vector<int64_t>{7, 2, 6, 8, 0, 5, 1, 3, 9, 4});
    CHECK(epoch_order(10, 42, 1) == std::vector<int64_t>{7, 2, 5, 8, 6, 1, 4, 9, 0, 3});
    CHECK(epoch_order(10, 7, 0) == std::vector<int64_t>{1, 8, 7, 6, 2, 5, 0, 9, 4, 3});
    CHECK(epoch_order(16, 0, 0) == std::vector<int64_t>{6, 12, 11, 13, 0, 5, 15, 7, 8, 2, 1, 10, 9, 14, 4, 3});
}

TEST_CASE("Batches: every example once per epoch, a partial last batch, images and labels that match") {
    const Dataset data = numbered(10);
    Batches batches(data, 4, 42);
    CHECK(batches.batches_per_epoch() == 3);
    std::vector<int64_t> seen, sizes;
    while (const Batch* batch = batches.next()) {
        sizes.push_back(static_cast<int64_t>(batch->labels.size()));
        CHECK(batch->images.shape() == Shape{static_cast<int64_t>(batch->labels.size()), 1, 1, 1});
        for (size_t k = 0; k < batch->indices.size(); ++k) {
            const int64_t i = batch->indices[k];
            CHECK(batch->images[static_cast<int64_t>(k)] == static_cast<float>(i));
            CHECK(batch->labels[k] == i % 10);
            seen.push_back(i);
        }
    }
    CHECK(sizes == std::vector<int64_t>{4, 4, 2});
    CHECK(seen == epoch_order(10, 42, 0));
    CHECK(batches.next() == nullptr);  // the epoch stays over until the next start_epoch

    batches.start_epoch(1);
    std::vector<int64_t> again;
    while (const Batch* batch = batches.next()) again.insert(again.end(), batch->indices.begin(), batch->indices.end());
    CHECK(again == epoch_order(10, 42, 1));
    CHECK(again != seen);
    CHECK(sorted(again) == iota_vector(10));
}

TEST_CASE("Batches: same seed same order, another seed another order, drop_last and sequential order") {
    const Dataset data = numbered(100);
    auto visit = [&](uint64_t seed, Order order, LastBatch last) {
        Batches batches(data, 16, seed, order, last);
        std::vector<int64_t> seen;
        while (const Batch* batch = batches.next()) seen.insert(seen.end(), batch->indices.begin(), batch->indices.end());
        return seen;
    };
    const std::vector<int64_t> a = visit(5, Order::shuffled, LastBatch::keep);
    CHECK(a == visit(5, Order::shuffled, LastBatch::keep));
    CHECK(a != visit(6, Order::shuffled, LastBatch::keep));
    CHECK(sorted(a) == iota_vector(100));
    const std::vector<int64_t> dropped = visit(5, Order::shuffled, LastBatch::drop);
    CHECK(dropped.size() == 96);
    CHECK(std::equal(dropped.begin(), dropped.end(), a.begin()));
    CHECK(visit(5, Order::sequential, LastBatch::keep) == iota_vector(100));
    CHECK(Batches(data, 16, 0, Order::shuffled, LastBatch::drop).batches_per_epoch() == 6);
    // A dataset smaller than one batch: a single partial batch, or an error when dropping it.
    CHECK(visit(1, Order::sequential, LastBatch::keep).size() == 100);
    CHECK(Batches(numbered(3), 16, 0).next()->labels.size() == 3);
    CHECK_THROWS_AS(Batches(numbered(3), 16, 0, Order::shuffled, LastBatch::drop), Error);
    CHECK_THROWS_AS(Batches(data, 0, 0), Error);
}

TEST_CASE("Batches: the batch tensors are allocated once and refilled") {
    const Dataset data = numbered(10);
    Batches batches(data, 4, 1);
    const float* first = batches.next()->images.data();
    const float* second = batches.next()->images.data();
    const float* last = batches.next()->images.data();
    CHECK(first == second);  // the full batches share one buffer
    CHECK(last != first);    // the partial batch has its own
    for (int64_t epoch = 1; epoch < 4; ++epoch) {
        batches.start_epoch(epoch);
        CHECK(batches.next()->images.data() == first);
        CHECK(batches.next()->images.data() == first);
        CHECK(batches.next()->images.data() == last);
    }
}

TEST_CASE("Batches over MNIST test data: one epoch of 1000-image batches holds every class count") {
    Batches batches(mnist_test(), 1000, 2024);
    std::vector<int64_t> counts(10, 0);
    int64_t n = 0;
    double pixels = 0;
    while (const Batch* batch = batches.next()) {
        CHECK(batch->images.shape() == Shape{1000, 1, 28, 28});
        for (int64_t label : batch->labels) ++counts[static_cast<size_t>(label)];
        n += static_cast<int64_t>(batch->labels.size());
        pixels += sum(batch->images);
    }
    CHECK(n == 10000);
    CHECK(counts == class_counts(mnist_test()));
    CHECK(pixels == doctest::Approx(264923200.0 / 255.0).epsilon(1e-6));
}

}  // TEST_SUITE

TEST_SUITE("ch08_adversarial_attacks") {

namespace {
// The 8-bit gray pixels of a PNG, as stb_image reads them, with its size.
struct Gray {
    int width = 0, height = 0, channels = 0;
    std::vector<unsigned char> pixels;
};
Gray read_gray(const std::string& path) {
    Gray g;
    unsigned char* p = stbi_load(path.c_str(), &g.width, &g.height, &g.channels, 0);
    REQUIRE(p != nullptr);
    g.pixels.assign(p, p + g.width * g.height * g.channels);
    stbi_image_free(p);
    return g;
}
}  // namespace

TEST_CASE("write_png: a grid of images, read back by stb_image and load_image, pixel for pixel") {
    TempDir dir("png");
    // Three 2x3 images whose pixel k of image i is (40 i + 7 k) / 255: exact bytes.
    Tensor images = Tensor::empty({3, 1, 2, 3});
    for (int64_t i = 0; i < 3; ++i)
        for (int64_t k = 0; k < 6; ++k) images[i * 6 + k] = static_cast<float>(40 * i + 7 * k) / 255.0f;
    const std::string path = dir / "grid.png";
    write_png(path, images, /*columns=*/2, /*gap=*/1, /*gap_value=*/1.0f);

    // Two columns, two rows: 2·3 + 1 wide, 2·2 + 1 high; image 2 is at row 1, column 0.
    const Gray g = read_gray(path);
    CHECK(g.width == 7);
    CHECK(g.height == 5);
    CHECK(g.channels == 1);
    for (int64_t i = 0; i < 3; ++i)
        for (int64_t y = 0; y < 2; ++y)
            for (int64_t x = 0; x < 3; ++x) {
                const int64_t top = (i / 2) * 3, left = (i % 2) * 4;
                CHECK(int(g.pixels[static_cast<size_t>((top + y) * 7 + left + x)]) == 40 * i + 7 * (y * 3 + x));
            }
    CHECK(int(g.pixels[3]) == 255);            // the gap between the columns
    CHECK(int(g.pixels[2 * 7 + 0]) == 255);    // the gap between the rows
    CHECK(int(g.pixels[4 * 7 + 6]) == 255);    // the empty fourth cell
    CHECK_FALSE(std::filesystem::exists(path + ".tmp"));

    // load_image at the file's own size gives the same values back.
    const Tensor back = load_image(path, 5, 7);
    CHECK(back.shape() == Shape{1, 1, 5, 7});
    CHECK(back.at({0, 0, 1, 6}) == images.at({1, 0, 1, 2}));
    CHECK(back.at({0, 0, 4, 2}) == images.at({2, 0, 1, 2}));

    // Writing again replaces the file: one image [H, W], zoomed 3x, every pixel a 3x3 block.
    write_png(path, Tensor({2, 2}, {0.0f, 1.0f, 0.5f, 0.25f}), 8, 1, 1.0f, /*zoom=*/3);
    const Gray z = read_gray(path);
    CHECK(z.width == 6);
    CHECK(z.height == 6);
    CHECK(int(z.pixels[0]) == 0);
    CHECK(int(z.pixels[2 * 6 + 2]) == 0);
    CHECK(int(z.pixels[2 * 6 + 3]) == 255);
    CHECK(int(z.pixels[3 * 6 + 2]) == 128);  // round(127.5)
    CHECK(int(z.pixels[5 * 6 + 5]) == 64);   // round(63.75)
}

TEST_CASE("write_png: values outside [0, 1] are clipped, NaN is black") {
    TempDir dir("png");
    const std::string path = dir / "clip.png";
    write_png(path, Tensor({1, 1, 1, 4}, {-0.5f, 2.0f, std::nanf(""), 1.0f / 255.0f}));
    const Gray g = read_gray(path);
    CHECK(g.pixels == std::vector<unsigned char>{0, 255, 0, 1});
}

TEST_CASE("write_png: a wrong shape and an unwritable folder are one-line errors naming the file") {
    TempDir dir("png");
    const std::string shape = error_message([&] { write_png(dir / "rgb.png", Tensor::zeros({2, 3, 4, 4})); });
    CHECK(contains(shape, "rgb.png: expected images [N, 1, H, W] or one image [H, W], found [2, 3, 4, 4]"));
    CHECK_THROWS_AS(write_png(dir / "none.png", Tensor::zeros({0, 1, 4, 4})), Error);
    CHECK_THROWS_AS(write_png(dir / "zoom.png", Tensor::zeros({1, 1, 4, 4}), 1, 1, 1.0f, 0), Error);

    write_raw(dir / "file", Bytes{'x'});  // a file where a folder is expected
    const std::string blocked = dir / "file/grid.png";
    const std::string message = error_message([&] { write_png(blocked, Tensor::zeros({1, 1, 4, 4})); });
    CHECK(contains(message, blocked + ": expected a writable folder"));
    CHECK(message.find('\n') == std::string::npos);
}

TEST_CASE("stack_images: batches one after the other; different sizes are refused") {
    const Tensor a = Tensor::full({2, 1, 2, 2}, 1.0f), b = Tensor::full({1, 1, 2, 2}, 2.0f);
    const Tensor ab = stack_images({a, b});
    CHECK(ab.shape() == Shape{3, 1, 2, 2});
    CHECK(ab[7] == 1.0f);
    CHECK(ab[8] == 2.0f);
    CHECK_THROWS_WITH_AS(stack_images({a, Tensor::zeros({1, 1, 3, 2})}),
                         doctest::Contains("with the H and W of the first, [2, 1, 2, 2], found [1, 1, 3, 2]"), Error);
    CHECK_THROWS_AS(stack_images({}), Error);
}

}  // TEST_SUITE
