// Chapter 3 — learning: build a multilayer perceptron layer by layer, push one batch
// through it and update it by hand, then train it on MNIST with the library's loop and
// compare three optimisers on the same budget.
//
//   ch03_mlp [--quick] [--out DIR]
//
// Runs in about 20 seconds on 2 cores (--quick: 450 batches in all, about 8 seconds).
// Reads MNIST from datasets/mnist (run it from the repository root). Writes
// DIR/loss_curves.csv (default out/ch03) for the figure of book/03-learning.md.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "tinyrank/tinyrank.hpp"
#include "tutorial.hpp"

using namespace tinyrank;
using tutorial::Options;

namespace {

// Seconds since `start`.
double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// region: build-mlp
// The MLP of the model zoo, written out: 784 → 500 → 500 → 10 with ReLU in between.
std::unique_ptr<Sequential> build_mlp(Rng& rng) {
    auto model = std::make_unique<Sequential>();
    model->add("flatten", std::make_unique<Flatten>());            // [B, 1, 28, 28] → [B, 784]
    model->add("fc1", std::make_unique<Linear>(784, 500, rng));    // → [B, 500]
    model->add("relu1", std::make_unique<ReLU>());
    model->add("fc2", std::make_unique<Linear>(500, 500, rng));    // → [B, 500]
    model->add("relu2", std::make_unique<ReLU>());
    model->add("fc3", std::make_unique<Linear>(500, 10, rng));     // → [B, 10], the logits
    return model;
}
// endregion: build-mlp

// region: recording-stepper
// A Stepper that passes every batch on to another one and remembers the loss it reports:
// the loop does not care who changes the model, so a wrapper can watch it.
class RecordingStepper : public Stepper {
public:
    explicit RecordingStepper(Stepper& inner) : inner_(inner) {}
    StepResult step(const Tensor& images, const std::vector<int64_t>& labels) override {
        const StepResult r = inner_.step(images, labels);
        losses.push_back(r.loss);
        return r;
    }
    std::string describe() const override { return inner_.describe(); }
    std::vector<float> losses;  // one per batch

private:
    Stepper& inner_;
};
// endregion: recording-stepper

// The mean of values[first], …, values[first + n − 1] (as many of them as there are).
double mean_of(const std::vector<float>& values, size_t first, size_t n) {
    double total = 0.0;
    size_t count = 0;
    for (size_t i = first; i < values.size() && count < n; ++i, ++count) total += values[i];
    return count > 0 ? total / double(count) : 0.0;
}

// Section 1: the layers, their parameters and their initial values.
void layers_and_parameters() {
    std::printf("\n== 1. Building the MLP layer by layer ==\n\n");
    Rng rng(1);
    std::unique_ptr<Sequential> model = build_mlp(rng);
    std::printf("  A Sequential applies its layers in order; every Linear registers two parameters:\n\n");
    std::printf("    %-12s %-14s %10s\n", "parameter", "shape", "scalars");
    // region: parameter-table
    for (Parameter* p : model->parameters())
        std::printf("    %-12s %-14s %10lld\n", p->name.c_str(), to_string(p->value.shape()).c_str(),
                    static_cast<long long>(p->value.numel()));
    std::printf("    %-12s %-14s %10lld\n", "total", "", static_cast<long long>(model->parameter_count()));
    // endregion: parameter-table
    std::printf("\n  784*500 + 500 + 500*500 + 500 + 500*10 + 10 = 648010: almost all of it in fc1 and fc2.\n");

    // region: init-check
    Linear& fc1 = dynamic_cast<Linear&>(model->layer(1));
    const float bound = 1.0f / std::sqrt(784.0f);  // Kaiming-uniform with a = √5: U(±1/√fan_in)
    const Tensor& w = fc1.weight.value;
    const float spread = std::sqrt(mean(mul(w, w)));  // the root mean square of the entries
    // endregion: init-check
    std::printf("\n  Initial values: fc1.weight is uniform in +-1/sqrt(fan_in) = +-1/sqrt(784) = +-%.5f.\n",
                static_cast<double>(bound));
    std::printf("  largest |w| = %.5f, root mean square %.5f (a uniform law on +-b has b/sqrt(3) = %.5f)\n",
                static_cast<double>(max_abs(w)), static_cast<double>(spread), static_cast<double>(bound / std::sqrt(3.0f)));

    Rng same_seed(1);
    std::unique_ptr<Sequential> zoo = mlp(same_seed);
    float difference = 0.0f;
    for (size_t i = 0; i < model->parameters().size(); ++i)
        difference = std::max(difference, max_abs(model->parameters()[i]->value - zoo->parameters()[i]->value));
    std::printf("  The zoo's mlp() with the same seed draws the same numbers: largest difference %.1f.\n",
                static_cast<double>(difference));
}

// Section 2: one batch by hand — forward, loss, backward, and an SGD step written out.
void one_batch_by_hand(const Dataset& train_data) {
    std::printf("\n== 2. One batch by hand: forward, loss, backward, update ==\n\n");
    Rng rng(1);
    std::unique_ptr<Sequential> model = build_mlp(rng);
    Batches batches(train_data, 64, /*seed=*/1);
    const Batch* batch = batches.next();

    // region: one-batch
    Tape tape;
    Var images = tape.input(batch->images, /*requires_grad=*/false, "images");
    Var logits = model->forward(images);                  // [64, 10]
    Var loss = cross_entropy(logits, batch->labels);      // the mean of −log p(label)
    model->zero_grad();
    tape.backward(loss);                                  // fills every parameter's grad
    // endregion: one-batch
    tape.print(std::cout);
    std::printf("\n  loss on the first batch of 64: %.4f; a uniform guess over 10 classes scores ln 10 = %.4f.\n",
                static_cast<double>(loss.value().item()), std::log(10.0));
    const Tensor& z = logits.value();
    std::printf("  The untrained network is close to that guess because its logits are small: their root\n"
                "  mean square is %.3f, so softmax gives every class nearly 1/10.\n\n",
                static_cast<double>(std::sqrt(mean(mul(z, z)))));
    for (Parameter* p : model->parameters())
        std::printf("    |%s.grad| = %.5f\n", p->name.c_str(), static_cast<double>(norm(p->grad)));

    const float lr = 0.1f;
    // region: sgd-by-hand
    // w ← w − η ∇w, written out for every parameter, into copies.
    std::vector<Tensor> by_hand;
    for (Parameter* p : model->parameters()) {
        Tensor w = p->value.clone();
        for (int64_t k = 0; k < w.numel(); ++k) w[k] = w[k] - lr * p->grad[k];
        by_hand.push_back(w);
    }
    SGD sgd(model->parameters(), lr);  // the library's SGD, no momentum, no weight decay
    sgd.step();
    // endregion: sgd-by-hand
    float difference = 0.0f;
    for (size_t i = 0; i < by_hand.size(); ++i)
        difference = std::max(difference, max_abs(by_hand[i] - model->parameters()[i]->value));
    std::printf("\n  One SGD step with lr = %.1f, by hand and with SGD::step(): largest difference %.1f.\n",
                static_cast<double>(lr), static_cast<double>(difference));

    Tape again;
    NoGrad no_grad(again);
    const float after = cross_entropy(model->forward(again.input(batch->images)), batch->labels).value().item();
    std::printf("  The loss on the same batch went from %.4f to %.4f: the step went downhill.\n",
                static_cast<double>(loss.value().item()), static_cast<double>(after));
}

// Section 3: Adam with a cosine schedule, through the library's training loop.
void train_with_adam(const Dataset& train_data, const Dataset& test, const Options& o) {
    std::printf("\n== 3. Training with Adam and a cosine schedule, through train() ==\n\n");
    const int64_t max_batches = o.quick ? 150 : 0;
    // region: training-loop
    Rng rng(1);
    std::unique_ptr<Sequential> model = build_mlp(rng);
    TrainOptions options;
    options.epochs = o.quick ? 1 : 2;
    options.batch_size = 128;
    options.seed = 1;                 // the batch order
    options.max_batches = max_batches;  // 0: every batch of every epoch
    const int64_t per_epoch = batches_per_epoch(train_data, options);  // ⌈N / B⌉, or max_batches
    Adam adam(model->parameters(), 1e-3f);
    const CosineSchedule schedule(1e-3f, per_epoch * options.epochs);  // from 1e-3 down to 0, per batch
    OptimizerStepper stepper(*model, adam, &schedule);
    std::printf("  %s\n\n", stepper.describe().c_str());
    const std::vector<EpochRecord> history = train(*model, stepper, train_data, test, options);
    // endregion: training-loop
    std::printf("\n  %lld batches of %lld per epoch, %lld epoch(s): the learning rate fell from %.0e to %.0e\n"
                "  along half a cosine; the last epoch took %.1f s.\n",
                static_cast<long long>(per_epoch), static_cast<long long>(options.batch_size),
                static_cast<long long>(options.epochs), static_cast<double>(schedule.lr_at(0)),
                static_cast<double>(schedule.lr_at(per_epoch * options.epochs)), history.back().seconds);
    std::printf("  Test accuracy %.2f%% on %lld images the network never trained on.\n",
                100.0 * history.back().test_accuracy, static_cast<long long>(test.size()));
}

// Section 4: SGD, SGD with momentum and Adam from the same start on the same batches.
void compare_optimizers(const Dataset& train_data, const Dataset& test, const Options& o) {
    const int64_t budget = o.quick ? 100 : 300;
    std::printf("\n== 4. SGD against SGD with momentum against Adam, %lld batches each ==\n\n",
                static_cast<long long>(budget));
    std::printf("  Each run starts from the same initial weights (seed 1) and sees the same batches in the\n"
                "  same order; only the update rule differs. The learning rates are constant: no schedule.\n\n");
    struct Run {
        std::string name;
        std::vector<float> losses;
        double test_accuracy, seconds;
    };
    std::vector<Run> runs;
    for (const std::string name : {"sgd", "sgd+momentum", "adam"}) {
        Rng rng(1);
        std::unique_ptr<Sequential> model = build_mlp(rng);
        // region: three-optimizers
        std::unique_ptr<Optimizer> optimizer;
        if (name == "sgd") optimizer = std::make_unique<SGD>(model->parameters(), 0.01f);
        if (name == "sgd+momentum") optimizer = std::make_unique<SGD>(model->parameters(), 0.01f, 0.9f);
        if (name == "adam") optimizer = std::make_unique<Adam>(model->parameters(), 1e-3f);
        // endregion: three-optimizers
        OptimizerStepper plain(*model, *optimizer);
        RecordingStepper recorder(plain);
        TrainOptions options;
        options.epochs = 1;
        options.max_batches = budget;
        options.progress = 0;
        std::printf("  %-13s %s\n  ", name.c_str(), optimizer->describe().c_str());
        const auto start = std::chrono::steady_clock::now();
        const std::vector<EpochRecord> history = train(*model, recorder, train_data, test, options);
        runs.push_back({name, recorder.losses, history.back().test_accuracy, seconds_since(start)});
    }
    std::printf("\n    %-13s %15s %15s %10s %8s\n", "optimizer", "loss, first 50", "loss, last 50", "test acc",
                "seconds");
    std::vector<std::vector<std::string>> rows;
    for (const Run& r : runs) {
        std::printf("    %-13s %15.4f %15.4f %9.2f%% %8.1f\n", r.name.c_str(), mean_of(r.losses, 0, 50),
                    mean_of(r.losses, r.losses.size() - std::min<size_t>(50, r.losses.size()), 50),
                    100.0 * r.test_accuracy, r.seconds);
        for (size_t step = 0; step < r.losses.size(); ++step)
            rows.push_back({std::to_string(step + 1), r.name, format_number(r.losses[step])});
    }
    std::printf("\n  Plain SGD crawls: with lr = 0.01 each step moves a weight by a hundredth of its gradient.\n"
                "  Momentum adds up consistent gradients; in a steady descent its step grows to\n"
                "  1/(1 - 0.9) = 10 times the plain one. Adam divides every coordinate by its own gradient\n"
                "  scale, so each weight moves by about lr per step, whatever the size of its gradient.\n");
    const std::string path = tutorial::output_file(o, "loss_curves.csv");
    write_csv(path, {"step", "optimizer", "loss"}, rows);
    std::printf("  Wrote %s (step, optimizer, loss) for the chapter's figure.\n", path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    const Options options = tutorial::parse(argc, argv, "ch03_mlp", "out/ch03");
    const char* title = "Chapter 3: learning — layers, a loss, optimisers and the training loop on MNIST.";
    return tutorial::run(options, title, [&] {
        const Dataset train_data = tutorial::load_split(Split::train, options);
        const Dataset test = tutorial::load_test(options, 2000);
        std::printf("MNIST: %lld training and %lld test images of %lldx%lld pixels in [0, 1].\n",
                    static_cast<long long>(train_data.size()), static_cast<long long>(test.size()),
                    static_cast<long long>(train_data.images.size(2)), static_cast<long long>(train_data.images.size(3)));
        layers_and_parameters();
        one_batch_by_hand(train_data);
        train_with_adam(train_data, test, options);
        compare_optimizers(train_data, test, options);
    });
}
