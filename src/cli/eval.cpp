// tinyrank eval: the test accuracy of a checkpoint.
#include <cstdio>
#include <iostream>

#include "commands.hpp"
#include "tinyrank/io.hpp"
#include "tinyrank/train.hpp"

namespace tinyrank::cli {

int eval_command(int argc, char** argv, int first) {
    const std::vector<Flag> flags = {{"checkpoint", "FILE", "a model.ckpt written by tinyrank train", "", true},
                                     data_flag(),
                                     {"batch", "B", "examples per forward pass", "500"},
                                     threads_flag(),
                                     {"json", "", "print one JSON object instead of text", ""}};
    const Args args("eval", flags, argc, argv, first);
    if (args.help()) {
        std::cout << usage("eval", "Evaluates a checkpoint on the test set.", flags);
        return 0;
    }
    const bool json = args.has("json");
    setup_threads(args, !json);
    const Checkpoint checkpoint = read_checkpoint(args.text("checkpoint"));
    std::unique_ptr<Sequential> model = load_model(checkpoint);
    const Dataset test = load_data(args, Split::test);
    const double accuracy = evaluate(*model, test, args.integer("batch", 1, 1 << 20));
    if (json) {
        Json result = Json::object();
        result.set("checkpoint", args.text("checkpoint"))
            .set("model", checkpoint.architecture)
            .set("examples", test.size())
            .set("test_accuracy", accuracy);
        std::cout << result.dump(0) << '\n';
    } else {
        std::printf("%s from %s: test accuracy %.2f%% on %lld images\n", checkpoint.architecture.c_str(),
                    args.text("checkpoint").c_str(), 100.0 * accuracy, static_cast<long long>(test.size()));
    }
    return 0;
}

}  // namespace tinyrank::cli
