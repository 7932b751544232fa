// tinyrank/train.hpp — the training loop, evaluation and progress reporting (book §3.5).
//
// The loop knows how a batch changes the model only through a Stepper (stepper.hpp): the
// plain optimiser step and the low-rank integrators of chapter 7 implement the same
// interface, so the loop reads the same for dense and low-rank training.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tinyrank/data.hpp"
#include "tinyrank/nn.hpp"
#include "tinyrank/stepper.hpp"

namespace tinyrank {

// The fraction of `data` the model classifies correctly, in eval mode and without
// recording (the model's mode is restored afterwards).
double evaluate(Module& model, const Dataset& data, int64_t batch_size = 500);

// Options of the training loop.
struct TrainOptions {
    int64_t epochs = 10;
    int64_t batch_size = 128;
    uint64_t seed = 1;          // the batch order
    int64_t max_batches = 0;    // > 0: stop each epoch after this many batches (quick runs, tests)
    bool evaluate_each_epoch = true;
    int progress = -1;          // 1: progress bar, 0: one line per epoch, −1: bar only on a terminal, −2: silent
};

// The number of batches train() runs per epoch: ⌈N / B⌉, capped by options.max_batches.
int64_t batches_per_epoch(const Dataset& data, const TrainOptions& options);

// What one epoch did.
struct EpochRecord {
    int64_t epoch = 0;          // 1-based
    double train_loss = 0.0;    // mean over the epoch's batches
    double train_accuracy = 0.0;
    double test_accuracy = -1.0;  // −1 when not evaluated
    double seconds = 0.0;       // training time of the epoch (evaluation excluded)
};

// Called after each epoch with its record; e.g. to write the checkpoint and history.
using EpochCallback = std::function<void(const EpochRecord&)>;

// Trains for options.epochs epochs with `stepper`, evaluating on `test` after each.
// A NaN or infinite loss throws tinyrank::Error naming the epoch and batch; the epochs
// completed before it have already been passed to `on_epoch` (so their checkpoint stands).
std::vector<EpochRecord> train(Module& model, Stepper& stepper, const Dataset& train_data, const Dataset& test,
                               const TrainOptions& options, const EpochCallback& on_epoch = {});

}  // namespace tinyrank
