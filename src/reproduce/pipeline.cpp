// The reproduction pipeline: runs, β sweep, attacks, resuming and progress (book §10.3;
// book/method.md §5).
//
// Every run lives in its own folder, DIR/runs/<model>/<method>-seed<k>/:
//   model.ckpt   written after every epoch (atomically)
//   trace.csv    rank, κ(S) and R(S) of every low-rank layer after every integrator cycle
//   spectra.csv  the singular values of the final cores
//   run.csv      the run's record; written last, so its presence means "trained"
//   attacks.csv  the run's robust accuracies; its presence means "attacked"
// A second invocation reads these instead of redoing the work.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <ostream>

#include "tinyrank/attacks.hpp"
#include "tinyrank/error.hpp"
#include "tinyrank/io.hpp"
#include "tinyrank/linalg.hpp"
#include "tinyrank/regularizer.hpp"
#include "tinyrank/reproduce.hpp"
#include "tinyrank/runtime.hpp"

namespace fs = std::filesystem;

namespace tinyrank {

void write_figures(const ReproduceOptions& options, const std::vector<ResultRow>& rows, std::ostream& log);

namespace {

using Clock = std::chrono::steady_clock;

// "12:34" from seconds.
std::string minutes(double seconds) {
    const auto s = static_cast<long>(seconds + 0.5);
    return std::to_string(s / 60) + ":" + (s % 60 < 10 ? "0" : "") + std::to_string(s % 60);
}

// Progress lines with the elapsed time and an estimate of what is left. Work is counted in
// "batch units" (one dense LeNet-5 training batch ≈ 1); the estimate scales the time spent so
// far by the units still to do, so it sharpens as the reproduction goes.
class Progress {
public:
    explicit Progress(std::ostream& log) : log_(log), start_(Clock::now()) {}
    void plan(double units) { total_ += units; }
    void skip(double units) { total_ -= units; }
    void done(double units) { done_ += units; }
    double elapsed() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
    void line(const std::string& text) {
        const double t = elapsed();
        std::string left = "?";  // until some work has been timed
        if (total_ - done_ < 1e-9) left = "0:00";
        else if (done_ > 0.0) left = minutes(t * (total_ - done_) / done_);
        log_ << "[" << minutes(t) << " elapsed, ~" << left << " left] " << text << std::endl;
    }

private:
    std::ostream& log_;
    Clock::time_point start_;
    double total_ = 0.0, done_ = 0.0;
};

// The cost of one training batch of `architecture` in batch units.
double batch_cost(const std::string& architecture, bool lowrank) {
    const double dense = architecture == "mlp" ? 0.15 : 1.0;
    return lowrank ? 0.6 * dense : dense;
}

// The cost of one attack at one radius on `images` images.
double attack_cost(const std::string& architecture, const AttackPlan& plan, int64_t images) {
    const double gradient_passes = is_iterative(plan.kind) ? double(plan.steps) : 1.0;
    return (0.7 * gradient_passes + 0.3) * batch_cost(architecture, false) * double(images) / 128.0;
}

// What identifies a run's recipe: a resumed run must have been trained with the same one.
std::string fingerprint(const Recipe& r) {
    return r.architecture + (r.lowrank ? " lowrank" : " dense") + " beta=" + format_number(r.beta) +
           " epochs=" + std::to_string(r.train.epochs) + " max_batches=" + std::to_string(r.train.max_batches) +
           " batch=" + std::to_string(r.train.batch_size) + " seed=" + std::to_string(r.train.seed) +
           " lr=" + format_number(r.lr > 0.0f ? r.lr : default_lr(r.lowrank)) + " optimizer=" + optimizer_name(r.optimizer) +
           " tau=" + format_number(r.tau) + " s*=" + std::to_string(r.local_steps) +
           " rank=" + std::to_string(r.ranks.rank) + " rank_max=" + std::to_string(r.ranks.rank_max);
}

// key,value files (run.csv): written with write_csv, read back into a map.
void write_record(const std::string& path, const std::vector<std::pair<std::string, std::string>>& entries) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& [k, v] : entries) rows.push_back({k, v});
    write_csv(path, {"key", "value"}, rows);
}

std::map<std::string, std::string> read_record(const std::string& path) {
    std::map<std::string, std::string> out;
    for (const auto& row : read_csv(path).rows) out[row.at(0)] = row.at(1);
    return out;
}

// The value of `key` in a record read from `path`, or an error naming both.
const std::string& field(const std::map<std::string, std::string>& record, const std::string& key,
                         const std::string& path) {
    const auto it = record.find(key);
    if (it == record.end()) throw Error(path + ": expected a '" + key + "' entry, found none (a damaged run: delete it)");
    return it->second;
}

// A model, trained or read back, with its record.
struct Run {
    RunRecord record;
    std::unique_ptr<Sequential> model;
    std::string dir;
};

// The record of a trained model: clean accuracy, compression, ranks and κ(S) per layer.
void describe_model(Sequential& model, RunRecord& record) {
    record.compression_rate = compression(model).rate();
    for (const auto& [name, f] : named_lowrank_layers(model)) {
        record.ranks[name] = static_cast<double>(f->rank());
        record.kappa_last[name] = condition_number(f->S.value);
    }
}

// Trains the run described by `recipe` into `dir`, or reads it back if `dir` holds it.
// region: train-or-resume
Run train_or_resume(const Recipe& recipe, const std::string& method, const Dataset& train_data,
                    const Dataset& test_data, const std::string& dir, Progress& progress) {
    Run run;
    run.dir = dir;
    RunRecord& rec = run.record;
    rec.model = recipe.architecture;
    rec.method = method;
    rec.beta = recipe.beta;
    rec.seed = static_cast<int64_t>(recipe.train.seed);
    const std::string label = recipe.architecture + " " + method + " seed " + std::to_string(rec.seed);
    const int64_t batches = batches_per_epoch(train_data, recipe.train);
    const double units = double(batches * recipe.train.epochs) * batch_cost(recipe.architecture, recipe.lowrank);
    const std::string record_path = dir + "/run.csv";
    if (fs::exists(record_path)) {  // trained before: read it back
        const auto saved = read_record(record_path);
        if (field(saved, "recipe", record_path) != fingerprint(recipe))
            throw Error(record_path + ": expected a run of '" + fingerprint(recipe) + "', found one of '" +
                        saved.at("recipe") + "'; use another --out or delete that folder");
        run.model = load_model(dir + "/model.ckpt");
        rec.test_accuracy = std::stod(field(saved, "test_accuracy", record_path));
        rec.train_seconds = std::stod(field(saved, "train_seconds", record_path));
        describe_model(*run.model, rec);
        for (const auto& [key, value] : saved)
            if (key.rfind("kappa_first_", 0) == 0) rec.kappa_first[key.substr(12)] = std::stod(value);
        progress.skip(units);
        progress.line(label + ": trained before, read from " + dir);
        return run;
    }
    fs::create_directories(dir);
    progress.line(label + ": training " + std::to_string(recipe.train.epochs) + " epoch(s) of " +
                  std::to_string(batches) + " batches" + (recipe.lowrank ? ", beta " + format_number(recipe.beta) : ""));
    Training training = prepare_training(recipe, batches);
    const std::string description = training.stepper->describe();  // at the base learning rate
    Sequential& model = *training.model;
    const auto layers = named_lowrank_layers(model);
    std::vector<std::vector<std::string>> trace;  // batch, layer, rank, kappa, R
    if (auto* dlrt = dynamic_cast<DlrtStepper*>(training.stepper.get()))
        dlrt->set_cycle_observer([&](int64_t batch) {
            for (const auto& [name, f] : layers) {
                const float kappa = condition_number(f->S.value);
                if (!rec.kappa_first.count(name)) rec.kappa_first[name] = kappa;
                trace.push_back({std::to_string(batch), name, std::to_string(f->rank()), format_number(kappa),
                                 format_number(spectral_regularizer_value(f->S.value))});
            }
        });
    TrainOptions options = recipe.train;
    options.progress = -2;  // the pipeline prints its own lines
    const auto on_epoch = [&](const EpochRecord& e) {
        rec.train_seconds += e.seconds;
        save_checkpoint(dir + "/model.ckpt", model, recipe.architecture,
                        {{"epoch", std::to_string(e.epoch)}, {"seed", std::to_string(rec.seed)},
                         {"method", method}, {"beta", format_number(recipe.beta)}});
        progress.done(units / double(recipe.train.epochs));
        char text[160];
        std::snprintf(text, sizeof text, ": epoch %lld/%lld, loss %.4f, train accuracy %.2f%%",
                      static_cast<long long>(e.epoch), static_cast<long long>(recipe.train.epochs), e.train_loss,
                      100.0 * e.train_accuracy);
        std::string line = label + text;
        if (e.test_accuracy >= 0.0) {
            std::snprintf(text, sizeof text, ", test accuracy %.2f%%", 100.0 * e.test_accuracy);
            line += text;
        }
        std::snprintf(text, sizeof text, " (%.1f s)", e.seconds);
        progress.line(line + text);
    };
    const std::vector<EpochRecord> history = train(model, *training.stepper, train_data, test_data, options, on_epoch);
    rec.test_accuracy = history.back().test_accuracy;
    describe_model(model, rec);
    write_csv(dir + "/trace.csv", {"batch", "layer", "rank", "kappa", "R"}, trace);
    std::vector<std::vector<std::string>> spectra;
    for (const auto& [name, f] : layers) {
        const Tensor s = singular_values(f->S.value);
        for (int64_t j = 0; j < s.numel(); ++j) spectra.push_back({name, std::to_string(j + 1), format_number(s[j])});
    }
    write_csv(dir + "/spectra.csv", {"layer", "index", "sigma"}, spectra);
    std::vector<std::pair<std::string, std::string>> entries{
        {"recipe", fingerprint(recipe)}, {"method", description},
        {"test_accuracy", format_number(rec.test_accuracy)}, {"train_seconds", format_number(rec.train_seconds)},
        {"compression_rate", format_number(rec.compression_rate)}};
    for (const auto& [layer, kappa] : rec.kappa_first) entries.push_back({"kappa_first_" + layer, format_number(kappa)});
    write_record(record_path, entries);  // last: from now on the run counts as done
    run.model = std::move(training.model);
    return run;
}
// endregion: train-or-resume

// The rows of one run under every attack of the plan, or read back from attacks.csv.
std::vector<ResultRow> attack_or_resume(Run& run, const std::vector<AttackPlan>& plans, const Dataset& test_subset,
                                        Run* dense, Progress& progress) {
    const RunRecord& rec = run.record;
    const std::string path = run.dir + "/attacks.csv";
    const std::string label = rec.model + " " + rec.method + " seed " + std::to_string(rec.seed);
    // Every (attack, eps, steps) the plan asks of this run.
    struct Job {
        AttackPlan plan;
        std::string name;
        float eps;
        bool transfer;
    };
    std::vector<Job> jobs;
    for (const AttackPlan& plan : plans)
        for (const float eps : plan.eps) {
            jobs.push_back({plan, attack_name(plan.kind), eps, false});
            if (plan.transfer && dense != nullptr && dense != &run)
                jobs.push_back({plan, attack_name(plan.kind) + "-transfer", eps, true});
        }
    double units = 0.0;
    for (const Job& j : jobs) units += attack_cost(rec.model, j.plan, test_subset.size());
    const auto row_of = [&](const std::string& attack, float eps, int64_t steps, double clean, double robust) {
        return ResultRow{rec.model, rec.method, rec.beta, rec.seed, attack, eps, steps, clean, robust, rec.compression_rate};
    };
    std::vector<ResultRow> rows;
    if (fs::exists(path)) {
        const CsvTable saved = read_csv(path);
        bool complete = saved.header.size() == 6 && saved.rows.size() == jobs.size();
        for (size_t i = 0; complete && i < jobs.size(); ++i) {
            const auto& r = saved.rows[i];
            rows.push_back(row_of(r[0], std::stof(r[1]), std::stoll(r[2]), std::stod(r[4]), std::stod(r[5])));
            complete = rows[i].attack == jobs[i].name && rows[i].eps == jobs[i].eps &&
                       rows[i].steps == jobs[i].plan.steps && std::stoll(r[3]) == test_subset.size();
        }
        if (complete) {
            progress.skip(units);
            progress.line(label + ": attacked before, read from " + path);
            return rows;
        }
        rows.clear();  // another plan: attack again
    }
    for (const Job& j : jobs) {
        AttackOptions options;
        options.kind = j.plan.kind;
        options.eps = j.eps;
        options.steps = j.plan.steps;
        const RobustAccuracy acc = robust_accuracy(*run.model, test_subset, options, /*seed=*/static_cast<uint64_t>(rec.seed),
                                                   500, j.transfer ? dense->model.get() : nullptr);
        rows.push_back(row_of(j.name, j.eps, j.plan.steps, acc.clean, acc.robust));
        progress.done(attack_cost(rec.model, j.plan, test_subset.size()));
        char text[160];
        std::snprintf(text, sizeof text, ": %s eps %s: %.2f%% (clean %.2f%%)", j.name.c_str(),
                      format_number(j.eps).c_str(), 100.0 * acc.robust, 100.0 * acc.clean);
        progress.line(label + text);
    }
    std::vector<std::vector<std::string>> table;
    for (const ResultRow& r : rows)
        table.push_back({r.attack, format_number(r.eps), std::to_string(r.steps), std::to_string(test_subset.size()),
                         format_number(r.clean_accuracy), format_number(r.robust_accuracy)});
    write_csv(path, {"attack", "eps", "steps", "images", "clean_accuracy", "robust_accuracy"}, table);
    return rows;
}

// The sweep's choice: among β > 0 whose validation accuracy is within a point of β = 0's,
// the one with the highest FGSM validation accuracy (the smaller β on a tie); the smallest
// β when none keeps the clean accuracy.
// region: choose-beta
float choose_beta(const std::vector<std::vector<double>>& sweep) {  // rows: beta, clean, robust
    double reference = 0.0;
    for (const auto& row : sweep)
        if (row[0] == 0.0) reference = row[1];
    float best = -1.0f;
    double best_robust = -1.0;
    for (const auto& row : sweep)
        if (row[0] > 0.0 && row[1] >= reference - 0.01 && row[2] > best_robust) {
            best = static_cast<float>(row[0]);
            best_robust = row[2];
        }
    if (best > 0.0f) return best;
    float smallest = 0.0f;
    for (const auto& row : sweep)
        if (row[0] > 0.0 && (smallest == 0.0f || row[0] < smallest)) smallest = static_cast<float>(row[0]);
    return smallest;
}
// endregion: choose-beta

// The protocol's recipe for one run: the shared recipe with this run's model, method, β,
// budget and seed; with cap_rank the rank may fall below its initial value but not rise.
// region: run-recipe
Recipe run_recipe(const ReproduceOptions& o, const std::string& architecture, bool lowrank, float beta,
                  int64_t epochs, int64_t seed) {
    Recipe recipe = o.recipe;
    recipe.architecture = architecture;
    recipe.lowrank = lowrank;
    recipe.beta = beta;
    recipe.train.epochs = epochs;
    recipe.train.max_batches = o.preset.max_batches;
    recipe.train.seed = static_cast<uint64_t>(seed);
    recipe.integrator = DlrtIntegrator::augmented;  // the paper's rank-adaptive integrator, for every model
    if (lowrank && o.preset.cap_rank) {
        if (recipe.ranks.rank == 0) recipe.ranks.rank = default_rank(architecture);
        recipe.ranks.rank_max = recipe.ranks.rank;
    }
    return recipe;
}
// endregion: run-recipe

// Runs (or reads back) the β sweep of one model on a validation split of the training set.
float sweep_beta(const ReproduceOptions& o, const std::string& architecture, const Dataset& train_data, Summary& summary,
                 Progress& progress) {
    const Preset& p = o.preset;
    const TrainValidation parts = split(train_data, p.validation_size, /*seed=*/2025);
    std::vector<float> betas{0.0f};
    betas.insert(betas.end(), p.betas.begin(), p.betas.end());
    std::vector<std::vector<double>> results;
    for (const float beta : betas) {
        Recipe recipe = run_recipe(o, architecture, true, beta, p.sweep_epochs, 1);
        recipe.train.evaluate_each_epoch = false;
        const std::string dir = o.out + "/sweep/" + architecture + "/validation" + std::to_string(p.validation_size) +
                                "-beta-" + format_number(beta);
        Run run = train_or_resume(recipe, "sweep beta " + format_number(beta), parts.train, parts.validation, dir, progress);
        const std::string path = dir + "/validation.csv";
        double clean = 0.0, robust = 0.0;
        const auto saved = fs::exists(path) ? read_record(path) : std::map<std::string, std::string>{};
        if (saved.count("images") && saved.at("images") == std::to_string(parts.validation.size()) &&
            saved.count("eps") && saved.at("eps") == format_number(p.sweep_eps)) {
            clean = std::stod(field(saved, "clean", path));
            robust = std::stod(field(saved, "robust", path));
        } else {  // not measured yet, or on another validation set or radius
            AttackOptions fgsm;
            fgsm.kind = AttackKind::fgsm;
            fgsm.eps = p.sweep_eps;
            const RobustAccuracy acc = robust_accuracy(*run.model, parts.validation, fgsm, 1);
            clean = acc.clean;
            robust = acc.robust;
            write_record(path, {{"images", std::to_string(parts.validation.size())}, {"eps", format_number(p.sweep_eps)},
                                {"clean", format_number(clean)}, {"robust", format_number(robust)}});
        }
        char text[160];
        std::snprintf(text, sizeof text, "%s sweep beta %s: validation %.2f%%, FGSM eps %s %.2f%%", architecture.c_str(),
                      format_number(beta).c_str(), 100.0 * clean, format_number(p.sweep_eps).c_str(), 100.0 * robust);
        progress.line(text);
        results.push_back({beta, clean, robust});
        summary.sweep.push_back({architecture, format_number(beta), format_number(clean), format_number(robust)});
    }
    const float chosen = choose_beta(results);
    progress.line(architecture + ": RobustDLRT uses beta = " + format_number(chosen));
    return chosen;
}

}  // namespace

// region: reproduce
Summary reproduce(const ReproduceOptions& o, std::ostream& log) {
    const Preset& p = o.preset;
    log << "tinyrank reproduce: preset " << p.name << " (" << p.expected_time << "), " << p.models.size()
        << " model(s) x " << p.seeds << " seed(s) x {dense, DLRT, RobustDLRT}, " << p.epochs << " epoch(s) each, into "
        << o.out << "\n" << blas_info() << std::endl;
    fs::create_directories(o.out);
    const Dataset train_data = load_mnist(o.data_dir, Split::train);
    const Dataset test_data = load_mnist(o.data_dir, Split::test);
    const Dataset attacked =
        p.attack_limit > 0 && p.attack_limit < test_data.size() ? slice(test_data, 0, p.attack_limit) : test_data;

    Progress progress(log);
    TrainOptions budget = o.recipe.train;
    budget.max_batches = p.max_batches;
    const int64_t batches = batches_per_epoch(train_data, budget);
    for (const std::string& model : p.models) {  // the plan, for the estimate of what is left
        const double sweep = double(p.betas.size() + 1) * double(p.sweep_epochs * batches) * batch_cost(model, true);
        const double runs = double(p.epochs * batches) * (batch_cost(model, false) + 2.0 * batch_cost(model, true));
        double attacks = 0.0;
        for (const AttackPlan& plan : p.attacks)
            attacks += double(plan.eps.size()) * attack_cost(model, plan, attacked.size()) * (plan.transfer ? 5.0 : 3.0);
        progress.plan(sweep + double(p.seeds) * (runs + attacks));
    }

    Summary summary;
    summary.preset = p.name;
    std::vector<RunRecord> records;
    std::vector<ResultRow> rows;
    for (const std::string& architecture : p.models) {
        const float beta = sweep_beta(o, architecture, train_data, summary, progress);
        summary.chosen_beta[architecture] = beta;
        for (int64_t seed = 1; seed <= p.seeds; ++seed) {
            Run dense;
            for (const std::string method : {"dense", "dlrt", "robust-dlrt"}) {
                const Recipe recipe = run_recipe(o, architecture, method != std::string("dense"),
                                                 method == std::string("robust-dlrt") ? beta : 0.0f, p.epochs, seed);
                const std::string dir =
                    o.out + "/runs/" + architecture + "/" + method + "-seed" + std::to_string(seed);
                Run run = train_or_resume(recipe, method, train_data, test_data, dir, progress);
                const std::vector<ResultRow> attacked_rows =
                    attack_or_resume(run, p.attacks, attacked, run.record.method == "dense" ? nullptr : &dense, progress);
                rows.insert(rows.end(), attacked_rows.begin(), attacked_rows.end());
                records.push_back(run.record);
                if (method == std::string("dense")) dense = std::move(run);
            }
        }
    }

    Summary averaged = summarize(records, rows);
    averaged.preset = p.name;
    averaged.chosen_beta = summary.chosen_beta;
    averaged.sweep = summary.sweep;
    averaged.claims = evaluate_claims(averaged);
    averaged.seconds = progress.elapsed();
    write_results(o.out, rows, averaged);
    write_figures(o, rows, log);
    log << "\n" << summary_markdown(averaged) << "\nwrote " << o.out << "/results.csv, summary.json, summary.md and "
        << o.out << "/figures/ in " << minutes(averaged.seconds) << std::endl;
    return averaged;
}
// endregion: reproduce

}  // namespace tinyrank
