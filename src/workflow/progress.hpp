// The progress display of the training loop (internal to src/): a bar redrawn in place on a
// terminal, one plain line per epoch otherwise.
#pragma once

#include <cstdint>


namespace tinyrank {

// Prints training progress to stdout.
class Progress {
public:
    // A display for `epochs` epochs of `batches` batches; `bar` redraws a bar per batch;
    // `silent` prints nothing at all.
    Progress(bool bar, bool silent, int64_t epochs, int64_t batches)
        : bar_(bar && !silent), silent_(silent), epochs_(epochs), batches_(batches) {}
    // Reports batch `done` of epoch `epoch` (1-based) with running loss and accuracy.
    void batch(int64_t epoch, int64_t done, double loss, double accuracy, double images_per_second, double elapsed);
    // Reports the end of an epoch (test_accuracy < 0 when not evaluated).
    void epoch_done(int64_t epoch, double loss, double accuracy, double test_accuracy, double seconds);

private:
    bool bar_, silent_;
    int64_t epochs_, batches_;
    double last_draw_ = -1.0;
};

}  // namespace tinyrank
