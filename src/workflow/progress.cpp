// Drawing the progress bar and the per-epoch lines.
#include "progress.hpp"

#include <cstdio>
#include <string>

namespace tinyrank {

namespace {
std::string clock_text(double seconds) {
    const auto s = static_cast<long>(seconds + 0.5);
    char text[32];
    std::snprintf(text, sizeof text, "%ld:%02ld", s / 60, s % 60);
    return text;
}
}  // namespace

void Progress::batch(int64_t epoch, int64_t done, double loss, double accuracy, double images_per_second,
                     double elapsed) {
    if (!bar_) return;
    if (done < batches_ && elapsed - last_draw_ < 0.1) return;  // redraw at most 10 times a second
    last_draw_ = elapsed;
    const int width = 24;
    const int filled = static_cast<int>(width * done / batches_);
    const double eta = done > 0 ? elapsed * double(batches_ - done) / double(done) : 0.0;
    std::printf("\r\033[Kepoch %lld/%lld [%s%s] %lld/%lld  loss %.4f  acc %5.2f%%  %6.0f img/s  ETA %s",
                static_cast<long long>(epoch), static_cast<long long>(epochs_), std::string(filled, '=').c_str(),
                std::string(width - filled, ' ').c_str(), static_cast<long long>(done),
                static_cast<long long>(batches_), loss, 100.0 * accuracy, images_per_second, clock_text(eta).c_str());
    std::fflush(stdout);
}

void Progress::epoch_done(int64_t epoch, double loss, double accuracy, double test_accuracy, double seconds) {
    if (silent_) return;
    if (bar_) std::printf("\r\033[K");
    std::printf("epoch %lld/%lld  loss %.4f  train acc %.2f%%", static_cast<long long>(epoch),
                static_cast<long long>(epochs_), loss, 100.0 * accuracy);
    if (test_accuracy >= 0.0) std::printf("  test acc %.2f%%", 100.0 * test_accuracy);
    std::printf("  %.1f s\n", seconds);
    std::fflush(stdout);
    last_draw_ = -1.0;
}

}  // namespace tinyrank
