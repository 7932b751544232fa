// Chapter 10 — the reproduction in one readable program: the protocol that `tinyrank
// reproduce` runs (src/reproduce/), written out step by step with the library's pieces.
// Hold out a validation split and choose β on it; train a dense LeNet-5, DLRT (β = 0) and
// RobustDLRT (the chosen β) with one shared recipe and one seed; attack each with FGSM at
// several radii and with examples crafted on the dense network (transfer); then summarise
// with summarize(), decide the six claims of book/method.md §5 with evaluate_claims() and print the
// tables of summary_markdown().
//
//   ch10_reproduce [--quick] [--out DIR]
//
// Runs in about 3 minutes on 2 cores with one BLAS thread: one epoch for each of the six
// sweep runs and the three runs, FGSM on 1000 test images. --quick trains 20–30 batches per
// run and attacks 300 images (about 20 seconds): it checks that the pieces fit together, and
// its numbers are not results. Reads MNIST from datasets/mnist (run it from the repository
// root). Writes into DIR (default out/ch10), in the layout book/figures/10-*.gp read:
//   results.csv, summary.json, summary.md   as `tinyrank reproduce` writes them (write_results)
//   robust_vs_eps.csv  method, attack, eps, mean, std  (ε = 0: the clean accuracy)
//   trace.csv          method, batch, layer, rank, kappa, R  (after every integrator cycle)
//   spectra.csv        method, layer, index, sigma  (the final cores)
//   sweep.csv          beta, validation_clean, validation_fgsm
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "tinyrank/tinyrank.hpp"
#include "tutorial.hpp"

using namespace tinyrank;
using tutorial::Options;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// How much of the protocol this run does; the presets of `tinyrank reproduce` do more.
struct Budget {
    int64_t epochs = 1;
    int64_t max_batches = 0;             // batches per epoch of the three runs (0: all 469)
    int64_t sweep_batches = 0;           // batches per epoch of the sweep runs (0: all 430)
    std::vector<float> betas;            // the sweep's candidates; β = 0 is always run
    int64_t validation_size = 5000;      // images held out of the training set for the sweep
    std::vector<float> eps;              // FGSM radii
    int64_t attacked = 1000;             // the first N test images are attacked
    int64_t evaluated = 10000;           // the first N test images give the clean accuracy
};

Budget budget(bool quick) {
    Budget b;
    if (quick) {
        b.max_batches = 30;
        b.sweep_batches = 20;
        b.betas = {0.05f, 0.2f};
        b.validation_size = 500;
        b.eps = {0.05f, 0.1f, 0.2f};
        b.attacked = 300;
        b.evaluated = 1000;
    } else {
        b.betas = {0.02f, 0.05f, 0.1f, 0.2f, 0.5f};  // the standard preset's candidates
        b.eps = {0.02f, 0.05f, 0.1f, 0.15f, 0.2f, 0.3f};  // method §5's FGSM radii
    }
    return b;
}

const float kSweepEps = 0.1f;  // the FGSM radius whose validation accuracy chooses β

// region: shared-recipe
// One recipe for every run: Adam with cosine decay per batch, batch 128, τ = 0.1, s* = 10
// (the Recipe defaults, book §7.4). Each run changes only `lowrank` and `beta`.
Recipe shared_recipe(const Budget& b) {
    Recipe recipe;
    recipe.architecture = "lenet5";
    recipe.ranks.rank = default_rank(recipe.architecture);  // 12: 94.71% compression, (7.1)
    recipe.ranks.rank_max = recipe.ranks.rank;  // the pipeline's rank cap: ranks may fall, never rise
    recipe.train.epochs = b.epochs;
    recipe.train.max_batches = b.max_batches;
    recipe.train.seed = 1;       // the initialisation and the batch order
    recipe.train.progress = -2;  // silent: this program prints its own lines
    return recipe;
}
// endregion: shared-recipe

// One line of the sweep: β and what its network does on the validation split.
struct SweepRow {
    float beta;
    double clean, robust;  // validation accuracy, and under FGSM at kSweepEps
};

// region: choose-beta
// The rule of the pipeline (choose_beta in src/reproduce/pipeline.cpp), restated: among the
// β > 0 whose validation accuracy is at most one point below β = 0's, the one with the best
// FGSM accuracy (the smaller β on a tie); if none keeps the clean accuracy, the smallest β.
float choose_beta(const std::vector<SweepRow>& sweep) {  // sweep[0] is β = 0, then β ascending
    const SweepRow* best = nullptr;
    for (const SweepRow& row : sweep)
        if (row.beta > 0.0f && row.clean >= sweep[0].clean - 0.01 && (!best || row.robust > best->robust)) best = &row;
    return best ? best->beta : sweep[1].beta;
}
// endregion: choose-beta

// Section 2: a validation split of the training set, one low-rank run per β on the rest.
float sweep_beta(const Recipe& shared, const Budget& b, const Dataset& train_data, std::vector<SweepRow>& sweep) {
    std::printf("\n== 2. Choosing beta on a validation split ==\n\n"
                "  %lld training images are held out (split seed 2025); a low-rank LeNet-5 is trained on the\n"
                "  other %lld for every beta, %s, and attacked with FGSM at eps %g on the held-out\n"
                "  images. The test set plays no part in the choice.\n\n",
                static_cast<long long>(b.validation_size), static_cast<long long>(train_data.size() - b.validation_size),
                b.sweep_batches > 0 ? (std::to_string(b.sweep_batches) + " batches").c_str() : "one epoch",
                static_cast<double>(kSweepEps));
    // region: sweep
    const TrainValidation parts = split(train_data, b.validation_size, /*seed=*/2025);
    std::vector<float> betas{0.0f};
    betas.insert(betas.end(), b.betas.begin(), b.betas.end());
    for (const float beta : betas) {
        Recipe recipe = shared;
        recipe.lowrank = true;
        recipe.beta = beta;
        recipe.train.max_batches = b.sweep_batches;
        recipe.train.evaluate_each_epoch = false;
        Training training = prepare_training(recipe, batches_per_epoch(parts.train, recipe.train));
        const auto start = Clock::now();
        train(*training.model, *training.stepper, parts.train, parts.validation, recipe.train);
        AttackOptions fgsm;
        fgsm.kind = AttackKind::fgsm;
        fgsm.eps = kSweepEps;
        const RobustAccuracy acc = robust_accuracy(*training.model, parts.validation, fgsm, /*seed=*/1);
        sweep.push_back({beta, acc.clean, acc.robust});
        std::printf("    beta %-5g validation %6.2f%%, FGSM %6.2f%%   (%.1f s)\n", static_cast<double>(beta),
                    100.0 * acc.clean, 100.0 * acc.robust, seconds_since(start));
    }
    // endregion: sweep
    const float chosen = choose_beta(sweep);
    std::printf("\n  Within one point of beta = 0's %.2f%% validation accuracy, the best FGSM accuracy has\n"
                "  beta = %g: RobustDLRT uses it.\n",
                100.0 * sweep[0].clean, static_cast<double>(chosen));
    return chosen;
}

// A trained network with the record the summary needs and its figure data.
struct Trained {
    std::unique_ptr<Sequential> model;
    RunRecord record;
    std::vector<std::vector<std::string>> trace;    // method, batch, layer, rank, kappa, R
    std::vector<std::vector<std::string>> spectra;  // method, layer, index, sigma
};

// region: train-one
// Trains one run of the protocol and records what the claims are decided from: the clean test
// accuracy, the compression rate, and per low-rank layer the final rank and κ(S) after the
// first integrator cycle and at the end.
Trained train_one(const Recipe& recipe, const std::string& method, const Dataset& train_data, const Dataset& test) {
    Trained run;
    RunRecord& rec = run.record;
    rec.model = recipe.architecture;
    rec.method = method;
    rec.beta = recipe.beta;
    rec.seed = static_cast<int64_t>(recipe.train.seed);
    Training training = prepare_training(recipe, batches_per_epoch(train_data, recipe.train));
    const auto layers = named_lowrank_layers(*training.model);
    if (auto* dlrt = dynamic_cast<DlrtStepper*>(training.stepper.get()))
        dlrt->set_cycle_observer([&](int64_t batch) {  // after every truncation
            for (const auto& [name, f] : layers) {
                const float kappa = condition_number(f->S.value);
                rec.kappa_first.emplace(name, kappa);  // the first cycle's; later ones do not replace it
                run.trace.push_back({method, std::to_string(batch), name, std::to_string(f->rank()),
                                     format_number(kappa), format_number(spectral_regularizer_value(f->S.value))});
            }
        });
    const std::vector<EpochRecord> history = train(*training.model, *training.stepper, train_data, test, recipe.train);
    for (const EpochRecord& e : history) rec.train_seconds += e.seconds;
    rec.test_accuracy = history.back().test_accuracy;
    rec.compression_rate = compression(*training.model).rate();
    for (const auto& [name, f] : layers) {
        rec.ranks[name] = static_cast<double>(f->rank());
        rec.kappa_last[name] = condition_number(f->S.value);
        const Tensor s = singular_values(f->S.value);
        for (int64_t i = 0; i < s.numel(); ++i)
            run.spectra.push_back({method, name, std::to_string(i + 1), format_number(s[i])});
    }
    run.model = std::move(training.model);
    return run;
}
// endregion: train-one

// The three runs; the low-rank ones print their ranks and κ(S).
std::vector<Trained> train_three(const Recipe& shared, float beta, const Dataset& train_data, const Dataset& test) {
    std::printf("\n== 3. Dense, DLRT and RobustDLRT with one recipe and one seed ==\n\n");
    // region: three-runs
    std::vector<Trained> runs;
    for (const std::string method : {"dense", "dlrt", "robust-dlrt"}) {
        Recipe recipe = shared;
        recipe.lowrank = method != "dense";
        recipe.beta = method == "robust-dlrt" ? beta : 0.0f;
        runs.push_back(train_one(recipe, method, train_data, test));
    }
    // endregion: three-runs
    for (const Trained& run : runs) {
        const RunRecord& r = run.record;
        const std::string beta = r.method != "dense" ? "beta " + format_number(r.beta) + "," : "";
        std::printf("    %-11s %-10s %5.1f s, test accuracy %6.2f%%", r.method.c_str(), beta.c_str(), r.train_seconds,
                    100.0 * r.test_accuracy);
        if (r.method != "dense") {
            std::printf(", compression %.2f%%\n               ", 100.0 * r.compression_rate);
            for (const auto& [layer, rank] : r.ranks)
                std::printf(" %s rank %g, kappa %.2f -> %.2f;", layer.c_str(), rank, r.kappa_first.at(layer),
                            r.kappa_last.at(layer));
        }
        std::printf("\n");
    }
    std::printf("\n  kappa(S) is shown after the first integrator cycle and at the end: claim 5 compares the two.\n");
    return runs;
}

// One result row of `run` under an attack.
ResultRow row_of(const RunRecord& r, const std::string& attack, float eps, const RobustAccuracy& acc) {
    return ResultRow{r.model, r.method, r.beta, r.seed, attack, eps, /*steps=*/1, acc.clean, acc.robust,
                     r.compression_rate};
}

// Section 4: FGSM on every network at every radius, and the dense network's FGSM images shown
// to the low-rank ones.
std::vector<ResultRow> attack_all(std::vector<Trained>& runs, const Dataset& attacked, const std::vector<float>& eps) {
    std::printf("\n== 4. Attacks on the first %lld test images ==\n\n"
                "  FGSM crafted on each network itself (white-box), and FGSM crafted on the dense network\n"
                "  and shown to the low-rank ones (transfer). Accuracy in %%:\n\n    %-24s",
                static_cast<long long>(attacked.size()), "eps");
    for (const float e : eps) std::printf(" %6g", static_cast<double>(e));
    std::printf("\n");
    std::vector<ResultRow> rows;
    Trained& dense = runs.front();
    for (Trained& run : runs) {
        const RunRecord& r = run.record;
        std::vector<double> white, transfer;
        // region: attacks
        for (const float e : eps) {
            AttackOptions fgsm;
            fgsm.kind = AttackKind::fgsm;
            fgsm.eps = e;
            const RobustAccuracy acc = robust_accuracy(*run.model, attacked, fgsm, r.seed);
            rows.push_back(row_of(r, "fgsm", e, acc));
            white.push_back(acc.robust);
            if (&run == &dense) continue;  // the transfer attack is crafted on the dense network
            const RobustAccuracy moved = robust_accuracy(*run.model, attacked, fgsm, r.seed, 500, dense.model.get());
            rows.push_back(row_of(r, "fgsm-transfer", e, moved));
            transfer.push_back(moved.robust);
        }
        // endregion: attacks
        std::printf("    %-24s", (r.method + ", FGSM").c_str());
        for (const double a : white) std::printf(" %6.1f", 100.0 * a);
        if (!transfer.empty()) {
            std::printf("\n    %-24s", (r.method + ", from dense").c_str());
            for (const double a : transfer) std::printf(" %6.1f", 100.0 * a);
        }
        std::printf("\n");
    }
    return rows;
}

void run_protocol(const Options& o) {
    const auto start = Clock::now();
    const Budget b = budget(o.quick);
    const Recipe shared = shared_recipe(b);
    std::printf("\n== 1. The protocol, and this run's budget ==\n\n"
                "  LeNet-5 on MNIST, three ways: dense; low-rank with the integrator of chapter 7 (DLRT,\n"
                "  beta = 0); low-rank with the regulariser of chapter 9 at the beta a validation sweep\n"
                "  chooses (RobustDLRT). One recipe and seed %llu for all three: Adam with cosine decay, batch\n"
                "  128, rank 12 at most, tau = 0.1, s* = 10. Budget: %s per run, FGSM at %zu radii on\n"
                "  %lld test images, clean accuracy on %lld.\n",
                static_cast<unsigned long long>(shared.train.seed),
                b.max_batches > 0 ? (std::to_string(b.max_batches) + " batches").c_str() : "one epoch", b.eps.size(),
                static_cast<long long>(b.attacked), static_cast<long long>(b.evaluated));
    if (o.quick)
        std::printf("  --quick: a few dozen batches per run. These numbers only show that the pieces fit\n"
                    "  together; they are not the results (those are in book chapter 10 and come from\n"
                    "  `tinyrank reproduce --preset standard`).\n");

    std::filesystem::create_directories(o.out);
    const Dataset train_data = tutorial::load_split(Split::train, o);
    const Dataset full_test = tutorial::load_split(Split::test, o);
    const Dataset test = slice(full_test, 0, b.evaluated);
    const Dataset attacked = slice(full_test, 0, b.attacked);

    std::vector<SweepRow> sweep;
    const float beta = sweep_beta(shared, b, train_data, sweep);
    std::vector<Trained> runs = train_three(shared, beta, train_data, test);
    const std::vector<ResultRow> rows = attack_all(runs, attacked, b.eps);

    std::printf("\n== 5. The summary and the six claims ==\n\n"
                "  summarize() averages over seeds (one here, so no +- std), evaluate_claims() decides each\n"
                "  claim of book/method.md §5 from those averages alone, summary_markdown() prints:\n\n");
    // region: summarize
    std::vector<RunRecord> records;
    for (const Trained& run : runs) records.push_back(run.record);
    Summary summary = summarize(records, rows);
    summary.preset = o.quick ? "tutorial --quick" : "tutorial";
    summary.chosen_beta["lenet5"] = beta;
    for (const SweepRow& s : sweep)
        summary.sweep.push_back({"lenet5", format_number(s.beta), format_number(s.clean), format_number(s.robust)});
    summary.claims = evaluate_claims(summary);
    summary.seconds = seconds_since(start);
    std::printf("%s", summary_markdown(summary).c_str());
    write_results(o.out, rows, summary);  // results.csv, summary.json, summary.md
    // endregion: summarize

    write_robust_vs_eps(tutorial::output_file(o, "robust_vs_eps.csv"), "lenet5", rows);
    std::vector<std::vector<std::string>> trace, spectra, sweep_rows;
    for (const Trained& run : runs) {
        trace.insert(trace.end(), run.trace.begin(), run.trace.end());
        spectra.insert(spectra.end(), run.spectra.begin(), run.spectra.end());
    }
    write_csv(tutorial::output_file(o, "trace.csv"), {"method", "batch", "layer", "rank", "kappa", "R"}, trace);
    write_csv(tutorial::output_file(o, "spectra.csv"), {"method", "layer", "index", "sigma"}, spectra);
    for (const SweepRow& s : sweep)
        sweep_rows.push_back({format_number(s.beta), format_number(s.clean), format_number(s.robust)});
    write_csv(tutorial::output_file(o, "sweep.csv"), {"beta", "validation_clean", "validation_fgsm"}, sweep_rows);
    std::printf("\n  Wrote results.csv, summary.json, summary.md, robust_vs_eps.csv, trace.csv, spectra.csv and\n"
                "  sweep.csv into %s in %.0f s. %s\n",
                o.out.c_str(), seconds_since(start),
                o.quick ? "Again: --quick numbers are not results."
                        : "One seed and one epoch: a smaller budget than the standard preset.");
}

}  // namespace

int main(int argc, char** argv) {
    const Options options = tutorial::parse(argc, argv, "ch10_reproduce", "out/ch10");
    return tutorial::run(options,
                         "Chapter 10: the reproduction, step by step (about 3 minutes on 2 cores; --quick: 20 s, "
                         "and its numbers are not results).",
                         [&] { run_protocol(options); });
}
