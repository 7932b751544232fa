// tinyrank — the command-line program: train, evaluate, attack, reproduce, and more.
//
// Exit status: 0 on success, 1 when something failed at run time (a bad file, a NaN loss),
// 2 when the program was called wrongly. Every failure is one line on stderr.
#include <cstring>
#include <iostream>
#include <string>

#include "commands.hpp"
#include "tinyrank/error.hpp"
#include "tinyrank/runtime.hpp"

namespace {

const char* kHelp =
    "usage: tinyrank <command> [options]\n"
    "\n"
    "commands:\n"
    "  train     train a model on MNIST and write a run folder (checkpoint, history, metrics)\n"
    "  eval      accuracy of a checkpoint on the test set\n"
    "  predict   classify one picture of a digit (PNG, JPEG, BMP)\n"
    "  export    write a checkpoint's parameters as .npy files with a manifest\n"
    "  inspect   per layer: shape, rank, parameters, singular values, condition number\n"
    "  compress  truncate a trained dense model's layers by SVD (the SVD-prune baseline)\n"
    "  attack    clean and robust accuracy under FGSM or PGD attacks\n"
    "  reproduce the paper's claims tested on MNIST: training, attacks, tables, figures\n"
    "\n"
    "tinyrank <command> --help shows the options of a command.\n";

}  // namespace

int main(int argc, char** argv) {
    using namespace tinyrank::cli;
    tinyrank::restart_with_passive_waiting(argv);
    if (argc < 2) {
        std::cerr << "tinyrank: expected a command (train, eval, predict, export, inspect, compress, attack, reproduce); see "
                     "tinyrank "
                     "--help\n";
        return 2;
    }
    const std::string command = argv[1];
    try {
        if (command == "--help" || command == "-h" || command == "help") {
            std::cout << kHelp;
            return 0;
        }
        if (command == "train") return train_command(argc, argv, 2);
        if (command == "eval") return eval_command(argc, argv, 2);
        if (command == "predict") return predict_command(argc, argv, 2);
        if (command == "export") return export_command(argc, argv, 2);
        if (command == "inspect") return inspect_command(argc, argv, 2);
        if (command == "compress") return compress_command(argc, argv, 2);
        if (command == "attack") return attack_command(argc, argv, 2);
        if (command == "reproduce") return reproduce_command(argc, argv, 2);
        std::cerr << "tinyrank: unknown command '" << command
                  << "' (expected train, eval, predict, export, inspect, compress, attack or reproduce)\n";
        return 2;
    } catch (const UsageError& e) {
        std::cerr << "tinyrank " << e.what() << '\n';
        return 2;
    } catch (const tinyrank::Error& e) {
        std::cerr << "tinyrank " << command << ": " << e.what() << '\n';
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "tinyrank " << command << ": " << e.what() << '\n';
        return 1;
    }
}
