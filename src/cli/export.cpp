// tinyrank export: a checkpoint's parameters as .npy files with a manifest.json.
#include <iostream>

#include "commands.hpp"
#include "tinyrank/io.hpp"
#include "tinyrank/runtime.hpp"

namespace tinyrank::cli {

int export_command(int argc, char** argv, int first) {
    const std::vector<Flag> flags = {{"checkpoint", "FILE", "a model.ckpt written by tinyrank train", "", true},
                                     {"npy", "DIR", "folder to write <parameter>.npy files and manifest.json into", "", true}};
    const Args args("export", flags, argc, argv, first);
    if (args.help()) {
        std::cout << usage("export", "Writes every parameter as a NumPy file in PyTorch's layout, with a manifest.", flags);
        return 0;
    }
    std::cout << blas_info() << '\n';
    const Checkpoint checkpoint = read_checkpoint(args.text("checkpoint"));
    std::unique_ptr<Sequential> model = load_model(checkpoint);
    export_npy(args.text("npy"), *model, checkpoint.architecture);
    std::cout << "wrote " << model->parameters().size() << " parameter files and manifest.json to " << args.text("npy")
              << '\n';
    return 0;
}

}  // namespace tinyrank::cli
