// What several commands share: the data location and the thread setting.
#include <filesystem>
#include <iostream>

#include "commands.hpp"
#include "tinyrank/runtime.hpp"

namespace tinyrank::cli {

namespace {
// The shipped MNIST: ./datasets/mnist when run from the repository, else the copy this
// program was built from.
std::string default_data_dir() {
    if (std::filesystem::exists("datasets/mnist")) return "datasets/mnist";
    return std::string(TINYRANK_SOURCE_DIR) + "/datasets/mnist";
}
}  // namespace

Flag data_flag() {
    return {"data", "DIR", "folder with the IDX files (MNIST's names; .gz or raw)", default_data_dir()};
}

Flag threads_flag() { return {"threads", "T", "BLAS threads (default: TINYRANK_THREADS, else all cores)", ""}; }

void setup_threads(const Args& args, bool print) {
    apply_thread_environment();
    if (args.has("threads")) set_threads(static_cast<int>(args.integer("threads", 1, 256)));
    if (print) std::cout << blas_info() << '\n';
}

Dataset load_data(const Args& args, Split split) { return load_mnist(args.text("data"), split); }

}  // namespace tinyrank::cli
