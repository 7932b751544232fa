// tinyrank attack: clean and robust accuracy of a checkpoint under FGSM or PGD, and on
// request pictures of the adversarial images (--save-examples).
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "commands.hpp"
#include "tinyrank/attacks.hpp"
#include "tinyrank/error.hpp"
#include "tinyrank/io.hpp"

namespace tinyrank::cli {

int attack_command(int argc, char** argv, int first) {
    const std::vector<Flag> flags = {
        {"checkpoint", "FILE", "the model to attack and evaluate", "", true},
        {"attack", "KIND", "fgsm, fgsm-scaled, pgd-linf or pgd-l2", "fgsm"},
        {"eps", "LIST", "comma-separated radii, e.g. 0,0.05,0.1", "0,0.05,0.1"},
        {"steps", "K", "PGD iterations", "10"},
        {"step-size", "X", "PGD step (0: 2.5 eps / steps)", "0"},
        {"source-checkpoint", "FILE", "craft the examples on this model instead (transfer attack)", ""},
        {"seed", "S", "PGD's random start", "1"},
        {"limit", "N", "attack only the first N test images (0: all)", "0"},
        {"save-examples", "DIR", "write, per eps, a PNG of the first test images (rows: originals, adversarial, "
                                 "x' - x around gray) and DIR/captions.csv", ""},
        {"examples", "N", "how many test images --save-examples shows", "16"},
        threads_flag(),
        data_flag(),
        {"json", "", "print a JSON list instead of a table", ""}};
    const Args args("attack", flags, argc, argv, first);
    if (args.help()) {
        std::cout << usage("attack", "Measures how accuracy falls under an adversarial attack of growing radius.", flags);
        return 0;
    }
    AttackOptions options;
    options.kind = args.choice("attack", attack_kinds(), attack_name);
    options.steps = args.integer("steps", 1, 100000);
    options.step_size = static_cast<float>(args.number("step-size", 0.0, 100.0));
    const std::vector<double> radii = args.numbers("eps", 0.0, 1000.0);
    const auto seed = static_cast<uint64_t>(args.integer("seed", 0, INT64_MAX));
    const int64_t limit = args.integer("limit", 0, INT64_MAX);
    const bool json = args.has("json");
    const std::string examples_dir = args.text("save-examples");
    const int64_t examples = args.integer("examples", 1, 1000);
    setup_threads(args, !json);
    if (!examples_dir.empty()) {  // fail before the attacks run, not after
        std::error_code error;
        std::filesystem::create_directories(examples_dir, error);
        if (error || !std::filesystem::is_directory(examples_dir))
            throw Error(examples_dir + ": expected a folder for --save-examples, found one that cannot be created (" +
                        (error ? error.message() : "not a directory") + ")");
    }

    std::unique_ptr<Sequential> model = load_model(args.text("checkpoint"));
    std::unique_ptr<Sequential> source;
    if (args.has("source-checkpoint")) source = load_model(args.text("source-checkpoint"));
    Dataset test = load_data(args, Split::test);
    if (limit > 0 && limit < test.size()) test = slice(test, 0, limit);

    Json results = Json::array();
    std::vector<std::vector<std::string>> captions;  // one row per tile of the adversarial row
    if (!json) std::printf("%-12s %-8s %-6s %-8s %s\n", "attack", "eps", "steps", "clean", "robust");
    for (double eps : radii) {
        options.eps = static_cast<float>(eps);
        const RobustAccuracy a = robust_accuracy(*model, test, options, seed, 500, source.get());
        const bool pgd = is_iterative(options.kind);
        const std::string kind = attack_name(options.kind);
        Json row = Json::object()
                       .set("attack", kind)
                       .set("eps", eps)
                       .set("steps", pgd ? options.steps : int64_t(1))
                       .set("clean_accuracy", a.clean)
                       .set("robust_accuracy", a.robust)
                       .set("transfer_from", args.text("source-checkpoint"));
        if (!examples_dir.empty()) {
            // region: save-examples
            // The first test images attacked once more, as a batch of their own, and drawn as a
            // grid: originals, adversarial images, x′ − x around gray; one caption row per column.
            const AttackExamples e = attack_examples(*model, test, examples, options, seed, source.get());
            char name[64];
            std::snprintf(name, sizeof name, "%s-eps%g.png", kind.c_str(), eps);
            write_png(examples_dir + "/" + name, e.grid(), static_cast<int64_t>(e.labels.size()));
            for (size_t k = 0; k < e.labels.size(); ++k)
                captions.push_back({name, std::to_string(k), std::to_string(e.labels[k]),
                                    std::to_string(e.clean_predictions[k]), std::to_string(e.adversarial_predictions[k]),
                                    format_number(e.largest_change)});
            write_csv(examples_dir + "/captions.csv",
                      {"file", "image", "label", "clean_prediction", "adversarial_prediction", "largest_change"},
                      captions);
            // endregion: save-examples
            row.set("examples", examples_dir + "/" + name);
        }
        results.push(row);
        if (!json)
            std::printf("%-12s %-8g %-6lld %-8.4f %.4f\n", kind.c_str(), eps,
                        static_cast<long long>(pgd ? options.steps : 1), a.clean, a.robust);
    }
    if (json) std::cout << results.dump(0) << '\n';
    else if (!examples_dir.empty())
        std::printf("wrote %zu PNG grids (rows: originals, adversarial images, x' - x around gray) and captions.csv "
                    "to %s\n", radii.size(), examples_dir.c_str());
    return 0;
}

}  // namespace tinyrank::cli
