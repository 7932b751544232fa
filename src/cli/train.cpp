// tinyrank train: trains a zoo model on MNIST — dense, or low-rank with the DLRT
// integrator (--lowrank) — writing a run folder as it goes:
//   model.ckpt    the checkpoint after the last completed epoch
//   history.csv   one row per epoch (with the ranks of low-rank layers)
//   metrics.json  the summary, written at the end
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "tinyrank/recipe.hpp"
#include "tinyrank/io.hpp"
#include "tinyrank/linalg.hpp"
#include "tinyrank/lowrank.hpp"
#include "tinyrank/models.hpp"
#include "tinyrank/regularizer.hpp"
#include "tinyrank/runtime.hpp"
#include "tinyrank/train.hpp"

namespace tinyrank::cli {

namespace {

std::vector<Flag> train_flags() {
    return {{"model", "NAME", "mlp or lenet5", "mlp"},
            {"epochs", "N", "passes over the training set (fine-tune epochs included)", "10"},
            {"batch", "B", "examples per batch", "128"},
            {"lr", "X", "learning rate, cosine decay to 0 per batch (default 0.001; 0.003 with --lowrank)", ""},
            {"optimizer", "NAME", "adam, adamw or sgd", "adam"},
            {"momentum", "X", "SGD momentum", "0.9"},
            {"weight-decay", "X", "L2 weight decay (decoupled for adamw)", "0"},
            {"clip", "X", "clip the gradient norm at X (0: off)", "0"},
            {"seed", "S", "initialisation and batch order", "1"},
            {"max-batches", "N", "stop each epoch after N batches (0: all)", "0"},
            {"lowrank", "", "factorise layers as U S V^T and train them with the DLRT integrator", ""},
            {"factorize", "WHICH", "standard (lenet5: conv2, fc1; mlp: all but the last) or all", "standard"},
            {"integrator", "NAME", "augmented (rank-adaptive) or fixed-rank (default: lenet5 augmented, mlp fixed-rank)", ""},
            {"tau", "X", "relative truncation tolerance of the augmented integrator", "0.1"},
            {"local-steps", "N", "Galerkin batches per integrator cycle (s*)", "10"},
            {"rank-init", "R", "initial rank of the low-rank layers (default: lenet5 12, mlp 16)", ""},
            {"rank-max", "R", "largest rank (0: min(n_in, n_out) / 2)", "0"},
            {"finetune-epochs", "N", "last N epochs train S with frozen bases", "0"},
            {"beta", "X", "weight of the spectral regulariser beta * sum R(S) on the cores", "0"},
            threads_flag(),
            data_flag(),
            {"out", "RUN_DIR", "folder for model.ckpt, history.csv, metrics.json", "", true}};
}

// Layer name → value, as a JSON object, for every low-rank layer.
template <class F>
Json per_layer(Sequential& model, F value) {
    Json object = Json::object();
    for (const auto& [name, f] : named_lowrank_layers(model)) object.set(name, value(*f));
    return object;
}

}  // namespace

int train_command(int argc, char** argv, int first) {
    const std::vector<Flag> flags = train_flags();
    const Args args("train", flags, argc, argv, first);
    if (args.help()) {
        std::cout << usage("train", "Trains a model of the zoo on MNIST with a cosine learning-rate schedule.", flags);
        return 0;
    }
    Recipe recipe;
    recipe.architecture = args.choice("model", model_names());
    recipe.lowrank = args.has("lowrank");
    TrainOptions& options = recipe.train;
    options.epochs = args.integer("epochs", 1, 100000);
    options.batch_size = args.integer("batch", 1, 1 << 20);
    options.seed = static_cast<uint64_t>(args.integer("seed", 0, INT64_MAX));
    options.max_batches = args.integer("max-batches", 0, INT64_MAX);
    recipe.lr = args.has("lr") ? static_cast<float>(args.number("lr", 1e-12, 10.0)) : 0.0f;
    recipe.optimizer = args.choice("optimizer", optimizer_kinds(), optimizer_name);
    recipe.momentum = static_cast<float>(args.number("momentum", 0.0, 1.0));
    recipe.weight_decay = static_cast<float>(args.number("weight-decay", 0.0, 1.0));
    recipe.clip = static_cast<float>(args.number("clip", 0.0, 1e6));
    recipe.ranks = RankOptions{args.has("rank-init") ? args.integer("rank-init", 1, 1 << 20) : 0,
                               args.integer("rank-max", 0, 1 << 20), 2};
    if (args.has("integrator")) recipe.integrator = args.choice("integrator", dlrt_integrators(), dlrt_integrator_name);
    recipe.tau = static_cast<float>(args.number("tau", 0.0, 1.0));
    recipe.local_steps = args.integer("local-steps", 1, 1 << 20);
    recipe.finetune_epochs = args.integer("finetune-epochs", 0, options.epochs - 1);
    recipe.factorize = args.choice("factorize", {"standard", "all"}) == "all" ? Factorize::all : Factorize::standard;
    recipe.beta = static_cast<float>(args.number("beta", 0.0, 100.0));
    if (recipe.beta > 0.0f && !recipe.lowrank) throw UsageError("train: --beta regularises low-rank cores; add --lowrank");
    const std::string& architecture = recipe.architecture;
    const bool lowrank = recipe.lowrank;
    const std::string out = args.text("out");
    setup_threads(args, true);

    const Dataset train_data = load_data(args, Split::train);
    const Dataset test_data = load_data(args, Split::test);
    std::filesystem::create_directories(out);

    Training training = prepare_training(recipe, batches_per_epoch(train_data, options));
    Sequential& model = *training.model;
    const std::string method = training.stepper->describe();
    const std::string optimizer_text = training.optimizer->describe();  // at the base rate
    std::cout << architecture << (lowrank ? " (low-rank)" : "") << ": " << model.parameter_count()
              << " parameters; " << method << "; " << train_data.size() << " training and "
              << test_data.size() << " test images\n";

    const auto layers = named_lowrank_layers(model);
    std::vector<std::string> header{"epoch", "train_loss", "train_accuracy", "test_accuracy", "seconds"};
    for (const auto& named : layers)
        for (const char* column : {"rank_", "kappa_", "R_"}) header.push_back(column + named.first);
    std::vector<std::vector<std::string>> rows;
    double seconds = 0.0;
    const auto on_epoch = [&](const EpochRecord& r) {
        seconds += r.seconds;
        std::vector<std::string> row{std::to_string(r.epoch), format_number(r.train_loss),
                                     format_number(r.train_accuracy), format_number(r.test_accuracy),
                                     format_number(r.seconds)};
        for (const auto& [name, f] : layers) {
            row.push_back(std::to_string(f->rank()));
            row.push_back(format_number(condition_number(f->S.value)));
            row.push_back(format_number(spectral_regularizer_value(f->S.value)));
        }
        rows.push_back(row);
        write_csv(out + "/history.csv", header, rows);
        save_checkpoint(out + "/model.ckpt", model, architecture,
                        {{"epoch", std::to_string(r.epoch)},
                         {"seed", std::to_string(options.seed)},
                         {"test_accuracy", format_number(r.test_accuracy)}});
        if (!layers.empty()) {
            const Compression c = compression(model);
            std::printf("  compression %.2f%% of the factorised layers, ranks", 100.0 * c.rate());
            for (const auto& [name, f] : layers) std::printf(" %s=%lld", name.c_str(), static_cast<long long>(f->rank()));
            std::printf("\n");
        }
    };
    const std::vector<EpochRecord> history = train(model, *training.stepper, train_data, test_data, options, on_epoch);

    const Compression c = compression(model);
    Json metrics = Json::object();
    metrics.set("model", architecture)
        .set("lowrank", lowrank)
        .set("epochs", options.epochs)
        .set("batch", options.batch_size)
        .set("seed", static_cast<int64_t>(options.seed))
        .set("optimizer", optimizer_text)
        .set("method", method)
        .set("lr", training.lr)
        .set("threads", threads())
        .set("test_accuracy", history.back().test_accuracy)
        .set("train_accuracy", history.back().train_accuracy)
        .set("train_loss", history.back().train_loss)
        .set("train_seconds", seconds)
        .set("seconds_per_epoch", seconds / static_cast<double>(history.size()))
        .set("parameters", model.parameter_count())
        .set("compression_rate", c.rate())
        .set("compression_rate_total", c.total_rate())
        .set("ranks", per_layer(model, [](LowRankFactors& f) { return Json(f.rank()); }))
        .set("beta", recipe.beta)
        .set("condition_numbers",
             per_layer(model, [](LowRankFactors& f) { return Json(condition_number(f.S.value)); }))
        .set("regularizer_values",
             per_layer(model, [](LowRankFactors& f) { return Json(spectral_regularizer_value(f.S.value)); }));
    write_json(out + "/metrics.json", metrics);
    std::printf("test accuracy %.2f%%; wrote %s/model.ckpt, history.csv, metrics.json\n",
                100.0 * history.back().test_accuracy, out.c_str());
    return 0;
}

}  // namespace tinyrank::cli
