// The tinyrank commands (one source file each) and what they share.
#pragma once

#include <string>
#include <vector>

#include "args.hpp"
#include "tinyrank/data.hpp"

namespace tinyrank::cli {

// Each command: parses argv[first..] itself and returns the process exit status.
int train_command(int argc, char** argv, int first);
int eval_command(int argc, char** argv, int first);
int predict_command(int argc, char** argv, int first);
int export_command(int argc, char** argv, int first);
int inspect_command(int argc, char** argv, int first);
int compress_command(int argc, char** argv, int first);
int attack_command(int argc, char** argv, int first);
int reproduce_command(int argc, char** argv, int first);

// The --data flag every command that reads MNIST shares.
Flag data_flag();
// The --threads flag; applying it (or TINYRANK_THREADS) and printing the BLAS line.
Flag threads_flag();
// Sets the BLAS threads from --threads (if given) or TINYRANK_THREADS and prints blas_info().
void setup_threads(const Args& args, bool print);
// Loads a split of the dataset named by --data (default: the MNIST shipped with the repository).
Dataset load_data(const Args& args, Split split);

}  // namespace tinyrank::cli
