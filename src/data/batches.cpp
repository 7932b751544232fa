// Mini-batches in a seeded shuffled order (book chapter 3): each epoch draws a permutation
// of the examples, and the batches walk through it B at a time.
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "tinyrank/data.hpp"
#include "tinyrank/error.hpp"
#include "tinyrank/random.hpp"

namespace tinyrank {

namespace {

// The generator stream of the batch order (split() uses another one).
constexpr uint64_t kBatchStream = 0xba7c;

// SplitMix64's output function (Steele, Lea, Flood 2014): scrambles all 64 bits, so that
// neighbouring epochs get unrelated generator seeds.
uint64_t splitmix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// A batch of `size` examples shaped like `data`'s, allocated once.
Batch make_batch(const Dataset& data, int64_t size) {
    Batch batch;
    Shape shape = data.images.shape();
    shape[0] = size;
    batch.images = Tensor::empty(shape);
    batch.labels.resize(static_cast<size_t>(size));
    batch.indices.resize(static_cast<size_t>(size));
    return batch;
}

}  // namespace

uint64_t epoch_seed(uint64_t seed, int64_t epoch) {
    return splitmix64(seed + (static_cast<uint64_t>(epoch) + 1) * 0x9e3779b97f4a7c15ULL);
}

std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch) {
    if (n < 0 || epoch < 0)
        throw Error("epoch_order: expected n >= 0 and epoch >= 0, found n = " + std::to_string(n) +
                    ", epoch = " + std::to_string(epoch));
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), int64_t{0});
    Rng rng(epoch_seed(seed, epoch), kBatchStream);
    rng.shuffle(order);
    return order;
}

Batches::Batches(const Dataset& data, int64_t batch_size, uint64_t seed, Order order, LastBatch last)
    : data_(data), batch_size_(batch_size), seed_(seed), order_kind_(order), last_(last) {
    if (batch_size < 1) throw Error("Batches: expected a batch size >= 1, found " + std::to_string(batch_size));
    if (data.size() < 1) throw Error("Batches: expected a dataset with at least one example, found none");
    if (data.images.ndim() < 1 || data.images.size(0) != data.size())
        throw Error("Batches: expected one image per label (" + std::to_string(data.size()) + "), found images " +
                    to_string(data.images.shape()));
    const int64_t rest = data.size() % batch_size;
    if (last == LastBatch::drop && data.size() < batch_size)
        throw Error("Batches: expected at least one full batch of " + std::to_string(batch_size) +
                    " with LastBatch::drop, found " + std::to_string(data.size()) + " examples");
    if (data.size() >= batch_size) full_ = make_batch(data, batch_size);
    if (rest > 0 && last == LastBatch::keep) partial_ = make_batch(data, rest);
    start_epoch(0);
}

void Batches::start_epoch(int64_t epoch) {
    if (epoch < 0) throw Error("Batches::start_epoch: expected epoch >= 0, found " + std::to_string(epoch));
    epoch_ = epoch;
    position_ = 0;
    if (order_kind_ == Order::shuffled) {
        order_ = epoch_order(data_.size(), seed_, epoch);
    } else {
        order_.resize(static_cast<size_t>(data_.size()));
        std::iota(order_.begin(), order_.end(), int64_t{0});
    }
}

// region: batches-next
const Batch* Batches::next() {
    const int64_t n = data_.size();
    const int64_t left = n - position_;
    if (left <= 0 || (left < batch_size_ && last_ == LastBatch::drop)) return nullptr;
    Batch& batch = left >= batch_size_ ? full_ : partial_;
    const int64_t size = static_cast<int64_t>(batch.labels.size());
    const int64_t per_example = data_.images.numel() / n;
    const float* source = data_.images.data();
    float* target = batch.images.data();
    for (int64_t k = 0; k < size; ++k) {
        const int64_t i = order_[static_cast<size_t>(position_ + k)];
        std::memcpy(target + k * per_example, source + i * per_example, static_cast<size_t>(per_example) * sizeof(float));
        batch.labels[static_cast<size_t>(k)] = data_.labels[static_cast<size_t>(i)];
        batch.indices[static_cast<size_t>(k)] = i;
    }
    position_ += size;
    return &batch;
}
// endregion: batches-next

int64_t Batches::batches_per_epoch() const {
    const int64_t n = data_.size();
    return last_ == LastBatch::drop ? n / batch_size_ : (n + batch_size_ - 1) / batch_size_;
}

}  // namespace tinyrank
