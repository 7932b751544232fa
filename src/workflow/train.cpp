// The training loop and evaluation (book §3.5).
#include "tinyrank/train.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "tinyrank/error.hpp"
#include "progress.hpp"

namespace tinyrank {

// region: evaluate
double evaluate(Module& model, const Dataset& data, int64_t batch_size) {
    const EvalMode eval(model);  // the model's own mode again when this returns or throws
    Tape tape;
    NoGrad no_grad(tape);
    Batches batches(data, batch_size, 0, Order::sequential);
    int64_t correct = 0;
    while (const Batch* batch = batches.next())
        correct += count_correct(model.forward(tape.input(batch->images)).value(), batch->labels);
    return data.size() > 0 ? static_cast<double>(correct) / static_cast<double>(data.size()) : 0.0;
}
// endregion: evaluate

int64_t batches_per_epoch(const Dataset& data, const TrainOptions& options) {
    const int64_t all = (data.size() + options.batch_size - 1) / options.batch_size;
    return options.max_batches > 0 ? std::min(all, options.max_batches) : all;
}

std::vector<EpochRecord> train(Module& model, Stepper& stepper, const Dataset& train_data, const Dataset& test,
                               const TrainOptions& options, const EpochCallback& on_epoch) {
    if (options.epochs < 1 || options.batch_size < 1)
        throw Error("train: expected epochs >= 1 and batch size >= 1, found " + std::to_string(options.epochs) +
                    " and " + std::to_string(options.batch_size));
    using Clock = std::chrono::steady_clock;
    Batches batches(train_data, options.batch_size, options.seed);
    const int64_t per_epoch = batches_per_epoch(train_data, options);
    const bool bar = options.progress == 1 || (options.progress == -1 && isatty(STDOUT_FILENO));
    Progress progress(bar, options.progress == -2, options.epochs, per_epoch);

    std::vector<EpochRecord> history;
    // region: training-loop
    for (int64_t epoch = 0; epoch < options.epochs; ++epoch) {
        model.train();
        batches.start_epoch(epoch);
        EpochRecord record;
        record.epoch = epoch + 1;
        double loss_sum = 0.0;
        int64_t correct = 0, seen = 0, done = 0;
        const auto start = Clock::now();
        while (done < per_epoch) {
            const Batch* batch = batches.next();
            if (batch == nullptr) break;
            const StepResult r = stepper.step(batch->images, batch->labels);
            if (!std::isfinite(r.loss))
                throw Error("training stopped: the loss is " + std::string(std::isnan(r.loss) ? "NaN" : "infinite") +
                            " at epoch " + std::to_string(epoch + 1) + ", batch " + std::to_string(done + 1) +
                            (history.empty() ? std::string(" (no epoch had completed)")
                                             : "; the checkpoint of epoch " + std::to_string(history.back().epoch) +
                                                   " is kept"));
            loss_sum += r.loss;
            correct += r.correct;
            seen += static_cast<int64_t>(batch->labels.size());
            ++done;
            const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
            progress.batch(epoch + 1, done, loss_sum / done, double(correct) / seen, seen / elapsed, elapsed);
        }
        record.seconds = std::chrono::duration<double>(Clock::now() - start).count();
        record.train_loss = loss_sum / std::max<int64_t>(done, 1);
        record.train_accuracy = double(correct) / std::max<int64_t>(seen, 1);
        stepper.end_epoch(epoch);
        if (options.evaluate_each_epoch && test.size() > 0) record.test_accuracy = evaluate(model, test);
        progress.epoch_done(record.epoch, record.train_loss, record.train_accuracy, record.test_accuracy,
                            record.seconds);
        history.push_back(record);
        if (on_epoch) on_epoch(record);
    }
    // endregion: training-loop
    return history;
}

}  // namespace tinyrank
