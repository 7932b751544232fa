// tinyrank compress: SVD truncation of a trained dense model (the "SVD prune" baseline).
#include <cstdio>
#include <iostream>

#include "commands.hpp"
#include "tinyrank/error.hpp"
#include "tinyrank/io.hpp"
#include "tinyrank/lowrank.hpp"
#include "tinyrank/train.hpp"

namespace tinyrank::cli {

int compress_command(int argc, char** argv, int first) {
    const std::vector<Flag> flags = {
        {"checkpoint", "FILE", "a dense model.ckpt written by tinyrank train", "", true},
        {"tau", "X", "relative truncation tolerance: drop the tail below tau·‖σ‖", "0.1"},
        {"factorize", "WHICH", "standard (lenet5: conv2, fc1; mlp: all but the last) or all", "standard"},
        threads_flag(),
        data_flag(),
        {"out", "FILE", "where to write the compressed checkpoint", "", true}};
    const Args args("compress", flags, argc, argv, first);
    if (args.help()) {
        std::cout << usage("compress", "Replaces layers of a trained dense model by their truncated SVD.", flags);
        return 0;
    }
    const auto tau = static_cast<float>(args.number("tau", 0.0, 1.0));
    const Factorize which = args.choice("factorize", {"standard", "all"}) == "all" ? Factorize::all : Factorize::standard;
    setup_threads(args, true);
    const Checkpoint checkpoint = read_checkpoint(args.text("checkpoint"));
    std::unique_ptr<Sequential> dense = load_model(checkpoint);
    if (!lowrank_layers(*dense).empty())
        throw Error(args.text("checkpoint") + ": expected a dense model, found low-rank layers already");
    std::unique_ptr<Sequential> compressed = compress_by_svd(*dense, checkpoint.architecture, tau, which);
    const Dataset test = load_data(args, Split::test);
    const double before = evaluate(*dense, test), after = evaluate(*compressed, test);
    const Compression c = compression(*compressed);
    save_checkpoint(args.text("out"), *compressed, checkpoint.architecture,
                    {{"compressed_from", args.text("checkpoint")},
                     {"tau", format_number(tau)},
                     {"test_accuracy", format_number(after)}});
    std::cout << "ranks:";
    for (const auto& [name, f] : named_lowrank_layers(*compressed)) std::cout << ' ' << name << '=' << f->rank();
    std::printf("\ncompression %.2f%% of the factorised layers (%.2f%% of the network); test accuracy %.2f%% → "
                "%.2f%%; wrote %s\n",
                100.0 * c.rate(), 100.0 * c.total_rate(), 100.0 * before, 100.0 * after, args.text("out").c_str());
    return 0;
}

}  // namespace tinyrank::cli
