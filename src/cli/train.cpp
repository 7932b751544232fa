// tinyrank train: trains a zoo model on MNIST, writing a run folder as it goes:
//   model.ckpt    the checkpoint after the last completed epoch
//   history.csv   one row per epoch
//   metrics.json  the summary, written at the end
#include <filesystem>
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "tinyrank/io.hpp"
#include "tinyrank/models.hpp"
#include "tinyrank/random.hpp"
#include "tinyrank/runtime.hpp"
#include "tinyrank/train.hpp"

namespace tinyrank::cli {

namespace {

std::vector<Flag> train_flags() {
    return {{"model", "NAME", "mlp or lenet5", "mlp"},
            {"epochs", "N", "passes over the training set", "10"},
            {"batch", "B", "examples per batch", "128"},
            {"lr", "X", "learning rate (cosine decay to 0 over the run, per batch)", "0.001"},
            {"optimizer", "NAME", "adam, adamw or sgd", "adam"},
            {"momentum", "X", "SGD momentum", "0.9"},
            {"weight-decay", "X", "L2 weight decay (decoupled for adamw)", "0"},
            {"clip", "X", "clip the gradient norm at X (0: off)", "0"},
            {"seed", "S", "initialisation and batch order", "1"},
            {"max-batches", "N", "stop each epoch after N batches (0: all)", "0"},
            threads_flag(),
            data_flag(),
            {"out", "RUN_DIR", "folder for model.ckpt, history.csv, metrics.json", "", true}};
}

std::unique_ptr<Optimizer> make_optimizer(const Args& args, Sequential& model, float lr) {
    const std::string name = args.choice("optimizer", {"adam", "adamw", "sgd"});
    const auto wd = static_cast<float>(args.number("weight-decay", 0.0, 1.0));
    if (name == "sgd")
        return std::make_unique<SGD>(model.parameters(), lr, static_cast<float>(args.number("momentum", 0.0, 1.0)), wd);
    return std::make_unique<Adam>(model.parameters(), lr, 0.9f, 0.999f, 1e-8f, wd, name == "adamw");
}

}  // namespace

int train_command(int argc, char** argv, int first) {
    const std::vector<Flag> flags = train_flags();
    const Args args("train", flags, argc, argv, first);
    if (args.help()) {
        std::cout << usage("train", "Trains a model of the zoo on MNIST with a cosine learning-rate schedule.", flags);
        return 0;
    }
    const std::string architecture = args.choice("model", model_names());
    TrainOptions options;
    options.epochs = args.integer("epochs", 1, 100000);
    options.batch_size = args.integer("batch", 1, 1 << 20);
    options.seed = static_cast<uint64_t>(args.integer("seed", 0, INT64_MAX));
    options.max_batches = args.integer("max-batches", 0, INT64_MAX);
    const auto lr = static_cast<float>(args.number("lr", 0.0, 10.0));
    const auto clip = static_cast<float>(args.number("clip", 0.0, 1e6));
    const std::string out = args.text("out");
    setup_threads(args, true);

    const Dataset train_data = load_data(args, Split::train);
    const Dataset test_data = load_data(args, Split::test);
    std::filesystem::create_directories(out);

    Rng rng(options.seed);
    std::unique_ptr<Sequential> model = make_model(architecture, rng);
    std::unique_ptr<Optimizer> optimizer = make_optimizer(args, *model, lr);
    Batches probe(train_data, options.batch_size, options.seed);
    int64_t per_epoch = probe.batches_per_epoch();
    if (options.max_batches > 0) per_epoch = std::min(per_epoch, options.max_batches);
    const CosineSchedule schedule(lr, per_epoch * options.epochs);
    OptimizerStepper stepper(*model, *optimizer, &schedule, {clip});
    std::cout << architecture << ": " << model->parameter_count() << " parameters; " << stepper.describe() << "; "
              << train_data.size() << " training and " << test_data.size() << " test images\n";

    std::vector<std::vector<std::string>> rows;
    double seconds = 0.0;
    const auto on_epoch = [&](const EpochRecord& r) {
        seconds += r.seconds;
        rows.push_back({std::to_string(r.epoch), format_number(r.train_loss), format_number(r.train_accuracy),
                        format_number(r.test_accuracy), format_number(r.seconds)});
        write_csv(out + "/history.csv",
                  {"epoch", "train_loss", "train_accuracy", "test_accuracy", "seconds"}, rows);
        save_checkpoint(out + "/model.ckpt", *model, architecture,
                        {{"epoch", std::to_string(r.epoch)},
                         {"seed", std::to_string(options.seed)},
                         {"test_accuracy", format_number(r.test_accuracy)}});
    };
    const std::vector<EpochRecord> history = train(*model, stepper, train_data, test_data, options, on_epoch);

    Json metrics = Json::object();
    metrics.set("model", architecture)
        .set("epochs", options.epochs)
        .set("batch", options.batch_size)
        .set("seed", static_cast<int64_t>(options.seed))
        .set("optimizer", optimizer->describe())
        .set("lr", lr)
        .set("threads", threads())
        .set("test_accuracy", history.back().test_accuracy)
        .set("train_accuracy", history.back().train_accuracy)
        .set("train_loss", history.back().train_loss)
        .set("train_seconds", seconds)
        .set("seconds_per_epoch", seconds / static_cast<double>(history.size()))
        .set("parameters", model->parameter_count());
    write_json(out + "/metrics.json", metrics);
    std::cout << "test accuracy " << format_number(100.0 * history.back().test_accuracy) << "%; wrote " << out
              << "/model.ckpt, history.csv, metrics.json\n";
    return 0;
}

}  // namespace tinyrank::cli
