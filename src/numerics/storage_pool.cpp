// The buffer pool behind Tensor storage; see storage_pool.hpp.
#include "storage_pool.hpp"

#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "tinyrank/tensor.hpp"

namespace tinyrank {
namespace detail {
namespace {

struct Pool {
    std::mutex mutex;
    std::unordered_map<int64_t, std::vector<float*>> free_buffers;  // element count → buffers
    int64_t bytes = 0;
};

// Never destroyed: tensors in static storage may be freed after main returns.
Pool& pool() {
    static Pool* instance = new Pool();
    return *instance;
}

float* allocate(int64_t count) {
    const size_t bytes = ((static_cast<size_t>(count) * sizeof(float) + 63) / 64) * 64;
    void* p = std::aligned_alloc(64, bytes);
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<float*>(p);
}

}  // namespace

std::shared_ptr<float> pooled_buffer(int64_t count) {
    Pool& p = pool();
    float* buffer = nullptr;
    {
        std::lock_guard<std::mutex> lock(p.mutex);
        auto it = p.free_buffers.find(count);
        if (it != p.free_buffers.end() && !it->second.empty()) {
            buffer = it->second.back();
            it->second.pop_back();
            p.bytes -= count * static_cast<int64_t>(sizeof(float));
        }
    }
    if (buffer == nullptr) buffer = allocate(count);
    return std::shared_ptr<float>(buffer, [count](float* b) {
        Pool& q = pool();
        std::lock_guard<std::mutex> lock(q.mutex);
        q.free_buffers[count].push_back(b);
        q.bytes += count * static_cast<int64_t>(sizeof(float));
    });
}

}  // namespace detail

int64_t pooled_bytes() {
    detail::Pool& p = detail::pool();
    std::lock_guard<std::mutex> lock(p.mutex);
    return p.bytes;
}

void release_pooled_memory() {
    detail::Pool& p = detail::pool();
    std::lock_guard<std::mutex> lock(p.mutex);
    for (auto& entry : p.free_buffers)
        for (float* b : entry.second) std::free(b);
    p.free_buffers.clear();
    p.bytes = 0;
}

}  // namespace tinyrank
