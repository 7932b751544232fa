// tinyrank reproduce: the paper's protocol on MNIST in one command (book chapter 10).
#include <iostream>

#include "commands.hpp"
#include "tinyrank/reproduce.hpp"

namespace tinyrank::cli {

int reproduce_command(int argc, char** argv, int first) {
    const std::vector<Flag> flags = {
        {"preset", "NAME", "quick (about 1.5 min), standard (about 12 min) or full (hours)", "standard"},
        {"seeds", "N", "seeds per method (default: the preset's)", ""},
        {"epochs", "N", "epochs per run (default: the preset's)", ""},
        {"max-batches", "N", "batches per epoch, for a reduced budget (default: the preset's; 0: all)", ""},
        {"attack-limit", "N", "attack the first N test images (default: the preset's; 0: all)", ""},
        {"no-figures", "", "write the figures' data but do not call gnuplot", ""},
        threads_flag(),
        data_flag(),
        {"out", "DIR", "results folder; runs already in it are reused, not redone", "results"}};
    const Args args("reproduce", flags, argc, argv, first);
    if (args.help()) {
        std::cout << usage("reproduce",
                           "Trains dense, DLRT and RobustDLRT networks, attacks them and tests the paper's claims.",
                           flags);
        return 0;
    }
    ReproduceOptions options;
    options.preset = preset(args.choice("preset", preset_names()));
    Preset& p = options.preset;
    if (args.has("seeds")) p.seeds = args.integer("seeds", 1, 1000);
    if (args.has("epochs")) p.epochs = p.sweep_epochs = args.integer("epochs", 1, 1000);
    if (args.has("max-batches")) p.max_batches = args.integer("max-batches", 0, INT64_MAX);
    if (args.has("attack-limit")) p.attack_limit = args.integer("attack-limit", 0, INT64_MAX);
    options.render_figures = !args.has("no-figures");
    options.out = args.text("out");
    options.data_dir = args.text("data");
    options.figure_scripts = std::string(TINYRANK_SOURCE_DIR) + "/book/figures";
    setup_threads(args, false);
    reproduce(options, std::cout);
    return 0;
}

}  // namespace tinyrank::cli
