// tinyrank attack: clean and robust accuracy of a checkpoint under FGSM or PGD.
#include <cstdio>
#include <iostream>

#include "commands.hpp"
#include "tinyrank/attacks.hpp"
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
        threads_flag(),
        data_flag(),
        {"json", "", "print a JSON list instead of a table", ""}};
    const Args args("attack", flags, argc, argv, first);
    if (args.help()) {
        std::cout << usage("attack", "Measures how accuracy falls under an adversarial attack of growing radius.", flags);
        return 0;
    }
    AttackOptions options;
    options.kind = args.choice("attack", attack_kinds());
    options.steps = args.integer("steps", 1, 100000);
    options.step_size = static_cast<float>(args.number("step-size", 0.0, 100.0));
    const std::vector<double> radii = args.numbers("eps", 0.0, 1000.0);
    const auto seed = static_cast<uint64_t>(args.integer("seed", 0, INT64_MAX));
    const int64_t limit = args.integer("limit", 0, INT64_MAX);
    const bool json = args.has("json");
    setup_threads(args, !json);

    std::unique_ptr<Sequential> model = load_model(args.text("checkpoint"));
    std::unique_ptr<Sequential> source;
    if (args.has("source-checkpoint")) source = load_model(args.text("source-checkpoint"));
    Dataset test = load_data(args, Split::test);
    if (limit > 0 && limit < test.size()) test = slice(test, 0, limit);

    Json results = Json::array();
    if (!json) std::printf("%-12s %-8s %-6s %-8s %s\n", "attack", "eps", "steps", "clean", "robust");
    for (double eps : radii) {
        options.eps = static_cast<float>(eps);
        const RobustAccuracy a = robust_accuracy(*model, test, options, seed, 500, source.get());
        const bool pgd = options.kind.rfind("pgd", 0) == 0;
        results.push(Json::object()
                         .set("attack", options.kind)
                         .set("eps", eps)
                         .set("steps", pgd ? options.steps : int64_t(1))
                         .set("clean_accuracy", a.clean)
                         .set("robust_accuracy", a.robust)
                         .set("transfer_from", args.text("source-checkpoint")));
        if (!json)
            std::printf("%-12s %-8g %-6lld %-8.4f %.4f\n", options.kind.c_str(), eps,
                        static_cast<long long>(pgd ? options.steps : 1), a.clean, a.robust);
    }
    if (json) std::cout << results.dump(0) << '\n';
    return 0;
}

}  // namespace tinyrank::cli
