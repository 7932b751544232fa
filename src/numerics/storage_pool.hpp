// A pool of float buffers keyed by element count (internal to src/).
//
// A training step allocates the same shapes every batch. Instead of returning large
// buffers to malloc (which for big blocks means mmap/munmap and a page fault per page
// touched again), a freed buffer waits here and the next request of the same size takes it.
#pragma once

#include <cstdint>
#include <memory>

namespace tinyrank::detail {

// A buffer of `count` floats (64-byte aligned, contents unspecified) that returns to the
// pool when its last owner lets go.
std::shared_ptr<float> pooled_buffer(int64_t count);

}  // namespace tinyrank::detail
