// tinyrank/reproduce.hpp — the paper's protocol on MNIST, as one resumable pipeline
// (book chapter 10; book/method.md §5).
//
// For every model and seed of a preset: train a dense network, a low-rank one with β = 0
// (DLRT) and a low-rank one with the β chosen on a validation split (RobustDLRT), all with
// one recipe; attack each on the test set (and attack the low-rank ones with examples
// crafted on the dense one: transfer); then average over seeds and test the six claims.
//
//   src/reproduce/presets.cpp   the quick, standard and full presets
//   src/reproduce/pipeline.cpp  the runs, the β sweep, the attacks, resuming, progress
//   src/reproduce/summary.cpp   mean ± std per cell, the claims' verdicts, the output files
//   src/reproduce/figures.cpp   the figures' data, rendered by book/figures/10-*.gp
#pragma once

#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "tinyrank/attacks.hpp"
#include "tinyrank/recipe.hpp"

namespace tinyrank {

// One attack of the protocol at several radii.
struct AttackPlan {
    AttackKind kind = AttackKind::fgsm;
    std::vector<float> eps;  // the radii, each > 0 (ε = 0 is the clean accuracy)
    int64_t steps = 10;      // PGD iterations
    bool transfer = false;   // also craft on the dense model and evaluate on the low-rank ones
};

// How much of the protocol to run, sized for a 2-core machine.
struct Preset {
    std::string name;                 // "quick", "standard", "full"
    std::vector<std::string> models;  // architectures, e.g. {"lenet5"}
    int64_t seeds = 1;                // seeds 1..seeds
    int64_t epochs = 2;               // of every run
    int64_t max_batches = 0;          // > 0: batches per epoch (reduced budgets)
    std::vector<float> betas;         // the sweep's candidates for RobustDLRT (0 is always run)
    int64_t sweep_epochs = 1;         // of every sweep run
    int64_t validation_size = 5000;   // images held out of the training set for the sweep
    float sweep_eps = 0.1f;           // the FGSM radius whose validation accuracy chooses β
    std::vector<AttackPlan> attacks;  // run on every trained model
    int64_t attack_limit = 0;         // attack the first N test images (0: all 10 000)
    bool cap_rank = true;             // low-rank runs stay at or below their initial rank, so that
                                      // β = 0 and β > 0 are compared at the same compression
    std::string expected_time;        // what to expect on 2 cores, printed at start
};

// The names preset() accepts.
std::vector<std::string> preset_names();
// The preset called `name`; throws naming the choices otherwise.
Preset preset(const std::string& name);

// What to run and where.
struct ReproduceOptions {
    Preset preset;
    std::string out = "results";          // everything goes here; completed runs are reused
    std::string data_dir = "datasets/mnist";
    Recipe recipe;                        // the shared recipe (architecture, beta, seed, epochs are set per run)
    bool render_figures = true;           // call gnuplot (when installed) on book/figures/10-*.gp
    std::string figure_scripts = "book/figures";  // where the 10-*.gp scripts are
};

// One line of results.csv: a trained model under one attack at one radius.
struct ResultRow {
    std::string model, method;  // method: "dense", "dlrt", "robust-dlrt"
    float beta = 0.0f;
    int64_t seed = 0;
    std::string attack;         // "fgsm", "pgd-linf", "fgsm-transfer", …
    float eps = 0.0f;
    int64_t steps = 0;
    double clean_accuracy = 0.0;   // on the attacked images, unperturbed
    double robust_accuracy = 0.0;  // on their adversarial versions
    double compression_rate = 0.0; // of the factorised layers (0 for dense)
};

// What one trained run ends with (seed by seed).
struct RunRecord {
    std::string model, method;
    float beta = 0.0f;
    int64_t seed = 0;
    double test_accuracy = 0.0;     // clean, on the whole test set
    double compression_rate = 0.0;  // of the factorised layers
    double train_seconds = 0.0;
    std::map<std::string, double> ranks;         // layer → final rank
    std::map<std::string, double> kappa_first;   // layer → κ(S) after the first cycle
    std::map<std::string, double> kappa_last;    // layer → κ(S) at the end
};

// A mean and a standard deviation over seeds.
struct Stat {
    double mean = 0.0, std = 0.0;
    int64_t n = 0;
};
// The mean and the sample standard deviation (0 for a single value) of `values`.
Stat statistics(const std::vector<double>& values);

// One model × method row of the summary table, averaged over seeds.
struct MethodSummary {
    std::string model, method;
    float beta = 0.0f;
    Stat clean, compression;
    std::map<std::string, Stat> ranks, kappa_first, kappa_last;  // per layer
    std::map<std::string, Stat> robust;  // "attack@eps" → robust accuracy
};

// Whether one of book/method.md §5's claims holds, and the numbers that decide it.
struct Claim {
    int id = 0;
    std::string statement;
    bool holds = false;
    std::string evidence;  // the supporting numbers, in a sentence
};

// Everything summary.json holds.
struct Summary {
    std::string preset;
    std::vector<MethodSummary> methods;       // model-major, then dense, dlrt, robust-dlrt
    std::map<std::string, float> chosen_beta;  // model → β of RobustDLRT
    std::vector<std::vector<std::string>> sweep;  // model, beta, validation clean, validation robust
    std::vector<Claim> claims;
    double seconds = 0.0;
};

// "attack@eps" keys of MethodSummary::robust, e.g. "fgsm@0.1".
std::string cell_key(const std::string& attack, float eps);
// Averages the runs and result rows over seeds (claims are left empty).
Summary summarize(const std::vector<RunRecord>& runs, const std::vector<ResultRow>& rows);
// Decides the six claims of book/method.md §5 from the averaged numbers alone.
std::vector<Claim> evaluate_claims(const Summary& summary);

// Writes results.csv, summary.json and summary.md into `dir`.
void write_results(const std::string& dir, const std::vector<ResultRow>& rows, const Summary& summary);
// The Markdown tables of summary.md (also printed at the end of a reproduction).
std::string summary_markdown(const Summary& summary);

// The data of figure 10.1 for `model`: per method × attack × ε the mean and standard deviation
// of the robust accuracy over seeds, with each attack's ε = 0 point the attacked images' clean
// accuracy (seeds numbered 1, 2, … in order).
void write_robust_vs_eps(const std::string& path, const std::string& model, const std::vector<ResultRow>& rows);

// Runs the whole protocol (resuming what `options.out` already holds), writes every output
// and returns the summary; progress lines go to `log`.
Summary reproduce(const ReproduceOptions& options, std::ostream& log);

}  // namespace tinyrank
