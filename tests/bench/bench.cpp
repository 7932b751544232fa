// tinyrank_bench: how fast tinyrank trains, classifies and attacks MNIST, measured against the
// sgemm ceiling of the machine (DEVELOPERS.md, "Benchmarks").
//
//   build/tinyrank_bench                       every workload, 1 thread and all cores, 3 repetitions
//   build/tinyrank_bench --quick               a few batches of each (a smoke test, seconds)
//   build/tinyrank_bench --only lenet5 --threads 1 --reps 5 --json out.json
//
// Each workload runs in its own child process (fork): it warms up, then times --reps
// repetitions, and reports every time, the GEMM FLOPs of one repetition and the child's peak
// resident memory (VmHWM), so that every peak belongs to one workload. The child starts as a
// copy of this process, which holds MNIST (about 220 MB as float32): "base" is that start.
// The sgemm workload runs first for every thread count: a large square product, whose fastest
// of at least 10 runs is the ceiling, and every GEMM shape the models compute
// (tests/bench/flops.hpp); each other workload's FLOP rate is then given as a fraction of it.
#include <cblas.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "flops.hpp"
#include "tinyrank/tinyrank.hpp"

namespace tinyrank::bench {

namespace {

// ---- options ---------------------------------------------------------------------------------

// What the command line asks for.
struct Options {
    bool quick = false;
    bool list = false;
    int reps = 3;
    std::vector<int> threads;         // empty: 1 and all cores
    std::vector<std::string> only;    // empty: every workload
    std::string json;                 // "" : no JSON file
    std::string data = TINYRANK_SOURCE_DIR "/datasets/mnist";
    int64_t batch = 128;
};

// The usage text.
const char* usage() {
    return "usage: tinyrank_bench [--quick] [--reps N] [--threads LIST] [--only NAME...] [--json FILE]\n"
           "                      [--batch B] [--data DIR] [--list]\n"
           "  --quick          a few batches and images per workload, 1 repetition, 1 thread (a smoke test)\n"
           "  --reps N         timed repetitions after the warm-up; the median is reported (default 3)\n"
           "  --threads LIST   BLAS thread counts, e.g. 1,2 or 1,all (default: 1 and all cores; --quick: 1)\n"
           "  --only NAME...   only the workloads whose name contains one of the NAMEs (sgemm always runs)\n"
           "  --json FILE      also write the results as JSON (read by tests/bench/compare.py)\n"
           "  --batch B        examples per batch (default 128)\n"
           "  --data DIR       the MNIST folder (default: datasets/mnist)\n"
           "  --list           print the workload names and exit\n";
}

// The number of cores this process may run on.
int cores() {
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? static_cast<int>(n) : 1;
}

// "1,2" or "1,all" as thread counts (all = every core), duplicates dropped, order kept.
std::vector<int> parse_threads(const std::string& text) {
    std::vector<int> counts;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        const int n = item == "all" ? cores() : std::atoi(item.c_str());
        if (n < 1) throw Error("--threads: expected positive counts or 'all', found '" + text + "'");
        if (std::find(counts.begin(), counts.end(), n) == counts.end()) counts.push_back(n);
    }
    if (counts.empty()) throw Error("--threads: expected a list such as 1,2, found '" + text + "'");
    return counts;
}

// The value after flag argv[i], advancing i; throws if there is none.
std::string value_of(int argc, char** argv, int& i) {
    if (i + 1 >= argc) throw Error(std::string(argv[i]) + ": expected a value");
    return argv[++i];
}

// Reads the command line (throws tinyrank::Error on a mistake).
Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        if (flag == "--quick") o.quick = true;
        else if (flag == "--list") o.list = true;
        else if (flag == "--reps") o.reps = std::max(1, std::atoi(value_of(argc, argv, i).c_str()));
        else if (flag == "--threads") o.threads = parse_threads(value_of(argc, argv, i));
        else if (flag == "--json") o.json = value_of(argc, argv, i);
        else if (flag == "--data") o.data = value_of(argc, argv, i);
        else if (flag == "--batch") o.batch = std::max(1, std::atoi(value_of(argc, argv, i).c_str()));
        else if (flag == "--only") {
            while (i + 1 < argc && std::strncmp(argv[i + 1], "--", 2) != 0) o.only.push_back(argv[++i]);
            if (o.only.empty()) throw Error("--only: expected at least one workload name");
        } else if (flag == "--help" || flag == "-h") {
            std::cout << usage();
            std::exit(0);
        } else {
            throw Error("unknown option '" + flag + "'\n" + usage());
        }
    }
    if (o.quick) o.reps = 1;
    if (o.threads.empty()) o.threads = parse_threads(o.quick || cores() == 1 ? "1" : "1,all");
    return o;
}

// ---- workloads ---------------------------------------------------------------------------------

enum class Kind { sgemm, train, infer, fgsm, pgd };

// One thing to time.
struct Workload {
    std::string name;         // "train-lowrank-lenet5-adam"
    Kind kind = Kind::sgemm;
    std::string model;        // "mlp" or "lenet5"
    bool lowrank = false;
    std::string optimizer;    // training: "sgd" (momentum 0.9) or "adam"
    std::string integrator;   // low-rank training: "augmented" or "fixed-rank"
};

// "lowrank-lenet5" or "lenet5".
std::string model_tag(const std::string& model, bool lowrank) { return (lowrank ? "lowrank-" : "") + model; }

// Every workload, in the order they run: the ceiling, training, inference, attacks.
std::vector<Workload> all_workloads() {
    std::vector<Workload> list{{"sgemm", Kind::sgemm, "", false, "", ""}};
    for (const bool lowrank : {false, true})
        for (const char* model : {"mlp", "lenet5"})
            for (const char* optimizer : {"sgd", "adam"})
                list.push_back({"train-" + model_tag(model, lowrank) + "-" + optimizer, Kind::train, model, lowrank,
                                optimizer, lowrank ? "augmented" : ""});
    // The MLP's default integrator (Recipe), which the PyTorch reference does not implement.
    list.push_back({"train-lowrank-mlp-fixedrank-adam", Kind::train, "mlp", true, "adam", "fixed-rank"});
    const std::vector<std::pair<Kind, std::string>> evaluations{{Kind::infer, "infer-"}, {Kind::fgsm, "fgsm-"},
                                                                {Kind::pgd, "pgd10-"}};
    for (const auto& [kind, prefix] : evaluations)
        for (const bool lowrank : {false, true})
            for (const char* model : {"mlp", "lenet5"})
                list.push_back({prefix + model_tag(model, lowrank), kind, model, lowrank, "", ""});
    return list;
}

// The workloads --only selects (sgemm always: every fraction needs its ceiling).
std::vector<Workload> selected_workloads(const Options& o) {
    std::vector<Workload> chosen;
    for (const Workload& w : all_workloads()) {
        bool wanted = o.only.empty() || w.kind == Kind::sgemm;
        for (const std::string& name : o.only) wanted = wanted || w.name.find(name) != std::string::npos;
        if (wanted) chosen.push_back(w);
    }
    if (chosen.size() == 1 && !o.only.empty()) throw Error("--only: no workload matches; --list shows the names");
    return chosen;
}

// How much work each workload does.
struct Setup {
    Dataset train, test;
    int64_t batch = 128;
    int reps = 3;
    int64_t train_batches = 0;    // batches per timed epoch (0: the whole epoch)
    int64_t warmup_batches = 10;  // training batches before the timed epochs
    int64_t warmup_images = 500;  // test images classified or attacked before the timed passes
    int64_t sgemm_n = 2048;       // the square product of the ceiling
    int sgemm_reps = 10;          // its repetitions (at least): the fastest is the ceiling
    double shape_seconds = 0.05;  // time spent on each GEMM shape
    uint64_t seed = 1;
};

// ---- the child process and what it reports -----------------------------------------------------

// Lines a child sends to the parent: "seconds 1.23", "flops 4.5e9", "note …", "gemm …", "base_kb …".
class Report {
public:
    // An empty report; numbers keep 12 significant digits.
    Report() { out_.precision(12); }
    // One timed repetition.
    void seconds(double s) { out_ << "seconds " << s << "\n"; }
    // The GEMM FLOPs of one repetition.
    void flops(double f) { out_ << "flops " << f << "\n"; }
    // A short remark for the reader (ranks, accuracy).
    void note(const std::string& text) { out_ << "note " << text << "\n"; }
    // The rate of one GEMM shape.
    void gemm(const Gemm& g, double gflops) {
        out_ << "gemm " << g.m << " " << g.n << " " << g.k << " " << g.transpose_a << " " << g.transpose_b << " "
             << gflops << " " << g.what << "\n";
    }
    // A named number.
    void value(const std::string& key, double v) { out_ << key << " " << v << "\n"; }
    // Why the workload failed (one line).
    void error(std::string what) {
        std::replace(what.begin(), what.end(), '\n', ' ');
        out_ << "error " << what << "\n";
    }
    // Everything reported so far.
    std::string text() const { return out_.str(); }

private:
    std::ostringstream out_;
};

// One GEMM shape's measured rate.
struct GemmRate {
    Gemm gemm;
    double gflops = 0.0;
};

// What the parent learns about one workload at one thread count.
struct Measurement {
    std::vector<double> seconds;  // every timed repetition
    double flops = 0.0;           // GEMM FLOPs of one repetition (0: not counted)
    int64_t base_kb = 0, peak_kb = 0;
    int blas_threads = 0;         // the BLAS thread count the child ran with
    std::vector<GemmRate> gemms;  // sgemm: every shape
    std::string note, error;
};

// A field of /proc/self/status in kB ("VmHWM", "VmRSS"); 0 when it is missing.
int64_t status_kb(const std::string& field) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.compare(0, field.size() + 1, field + ":") == 0) return std::atoll(line.c_str() + field.size() + 1);
    return 0;
}

// Parses a child's report lines into a Measurement.
Measurement parse_report(const std::string& text) {
    Measurement m;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string key;
        fields >> key;
        std::string rest;
        std::getline(fields >> std::ws, rest);
        if (key == "seconds") m.seconds.push_back(std::atof(rest.c_str()));
        else if (key == "flops") m.flops = std::atof(rest.c_str());
        else if (key == "base_kb") m.base_kb = std::atoll(rest.c_str());
        else if (key == "peak_kb") m.peak_kb = std::atoll(rest.c_str());
        else if (key == "blas_threads") m.blas_threads = std::atoi(rest.c_str());
        else if (key == "note") m.note = rest;
        else if (key == "error") m.error = rest;
        else if (key == "gemm") {
            GemmRate r;
            std::istringstream g(rest);
            g >> r.gemm.m >> r.gemm.n >> r.gemm.k >> r.gemm.transpose_a >> r.gemm.transpose_b >> r.gflops;
            std::getline(g >> std::ws, r.gemm.what);
            m.gemms.push_back(r);
        }
    }
    return m;
}

// Runs `body` with `threads` BLAS threads in a child process and returns what it reported
// (with its base and peak resident memory); a child that fails or dies becomes an error.
Measurement run_in_child(int threads, const std::function<void(Report&)>& body) {
    int pipe_fds[2];
    if (pipe(pipe_fds) != 0) throw Error("bench: pipe failed: " + std::string(std::strerror(errno)));
    std::cout.flush();
    std::fflush(stdout);
    const pid_t pid = fork();
    if (pid < 0) throw Error("bench: fork failed: " + std::string(std::strerror(errno)));
    if (pid == 0) {
        close(pipe_fds[0]);
        Report report;
        report.value("base_kb", double(status_kb("VmRSS")));
        try {
            set_threads(threads);
            report.value("blas_threads", tinyrank::threads());  // as OpenBLAS reports it
            body(report);
        } catch (const std::exception& e) {
            report.error(e.what());
        }
        report.value("peak_kb", double(status_kb("VmHWM")));
        const std::string text = report.text();
        for (size_t done = 0; done < text.size();) {
            const ssize_t n = write(pipe_fds[1], text.data() + done, text.size() - done);
            if (n <= 0) break;
            done += size_t(n);
        }
        _exit(0);
    }
    close(pipe_fds[1]);
    std::string text;
    char buffer[4096];
    for (ssize_t n; (n = read(pipe_fds[0], buffer, sizeof buffer)) > 0;) text.append(buffer, size_t(n));
    close(pipe_fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    Measurement m = parse_report(text);
    if (WIFSIGNALED(status)) m.error = "killed by signal " + std::to_string(WTERMSIG(status));
    else if (m.error.empty() && m.blas_threads != threads)
        m.error = "asked for " + std::to_string(threads) + " BLAS threads, ran with " + std::to_string(m.blas_threads);
    return m;
}

// Seconds taken by `work`.
double seconds_of(const std::function<void()>& work) {
    const auto start = std::chrono::steady_clock::now();
    work();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// ---- sgemm: the ceiling and the models' shapes --------------------------------------------------

// C ← op(A) op(B) for row-major buffers large enough for `g` (beta = 0).
void sgemm(const Gemm& g, const std::vector<float>& a, const std::vector<float>& b, std::vector<float>& c) {
    cblas_sgemm(CblasRowMajor, g.transpose_a ? CblasTrans : CblasNoTrans, g.transpose_b ? CblasTrans : CblasNoTrans,
                int(g.m), int(g.n), int(g.k), 1.0f, a.data(), int(g.transpose_a ? g.m : g.k), b.data(),
                int(g.transpose_b ? g.k : g.n), 0.0f, c.data(), int(g.n));
}

// Uniform random values in [−1, 1) (the values do not change the speed).
std::vector<float> random_values(int64_t n, Rng& rng) {
    const Tensor t = Tensor::uniform({n}, rng, -1.0f, 1.0f);
    return std::vector<float>(t.data(), t.data() + n);
}

// The rate of `g` in GFLOP/s: one warm-up call, then calls until `seconds` have passed (at least `min_calls`).
double gemm_rate(const Gemm& g, double seconds, int min_calls) {
    Rng rng(7);
    const std::vector<float> a = random_values(g.m * g.k, rng), b = random_values(g.k * g.n, rng);
    std::vector<float> c(size_t(g.m * g.n));
    sgemm(g, a, b, c);
    int calls = 0;
    double elapsed = 0.0;
    while (calls < min_calls || elapsed < seconds) {
        elapsed += seconds_of([&] { sgemm(g, a, b, c); });
        ++calls;
    }
    return g.flops() * calls / elapsed / 1e9;
}

// The layer specs of a zoo model as built for training (low-rank at its default rank).
std::vector<LayerSpec> model_specs(const std::string& model, bool lowrank) {
    Rng rng(1);
    return layer_specs(lowrank ? *make_lowrank_model(model, rng, RankOptions{default_rank(model), 0, 2})
                               : *make_model(model, rng));
}

// Every distinct GEMM shape of the zoo's passes over a batch (training, Galerkin steps at the initial
// and the augmented rank, attacks' input gradients, inference), named by the first model and layer using it.
std::vector<Gemm> model_shapes(int64_t batch) {
    std::vector<Gemm> shapes;
    std::set<std::string> seen;
    const auto collect = [&](const std::string& tag, const std::vector<Gemm>& gemms) {
        for (Gemm g : gemms)
            if (seen.insert(g.shape()).second) {
                g.what = tag + " " + g.what;
                shapes.push_back(g);
            }
    };
    for (const bool lowrank : {false, true})
        for (const char* model : {"mlp", "lenet5"}) {
            const std::vector<LayerSpec> specs = model_specs(model, lowrank);
            const std::string tag = model_tag(model, lowrank);
            collect(tag, pass_gemms(specs, batch, PassKind{}));
            collect(tag, pass_gemms(specs, batch, PassKind{true, false, true, false}));
            collect(tag, pass_gemms(specs, batch, PassKind{false, false, false, false}));
            if (!lowrank) continue;
            collect(tag, pass_gemms(specs, batch, PassKind{true, true, false, true}));
            std::map<std::string, int64_t> doubled;
            for (const LayerSpec& s : specs)
                if (s.options.count("rank")) doubled[s.name] = 2 * s.integer("rank");
            collect(tag + " (augmented)", pass_gemms(specs, batch, PassKind{true, true, false, true}, doubled));
        }
    return shapes;
}

// The ceiling (a square n×n×n product, timed sgemm_reps times after a warm-up) and every model shape's rate.
void run_sgemm(const Setup& setup, Report& report) {
    const int64_t n = setup.sgemm_n;
    const Gemm square{n, n, n, false, false, "square"};
    Rng rng(7);
    const std::vector<float> a = random_values(n * n, rng), b = random_values(n * n, rng);
    std::vector<float> c(size_t(n * n));
    sgemm(square, a, b, c);
    for (int rep = 0; rep < std::max(setup.reps, setup.sgemm_reps); ++rep)
        report.seconds(seconds_of([&] { sgemm(square, a, b, c); }));
    report.flops(square.flops());
    report.note("square " + std::to_string(n) + "x" + std::to_string(n) + "x" + std::to_string(n));
    for (const Gemm& g : model_shapes(setup.batch))
        report.gemm(g, gemm_rate(g, setup.shape_seconds, setup.shape_seconds > 0 ? 3 : 1));
}

// ---- training -----------------------------------------------------------------------------------

// The recipe of a training workload: Recipe's defaults (lr, cosine schedule, ranks) for one epoch.
Recipe recipe_of(const Workload& w, const Setup& setup) {
    Recipe r;
    r.architecture = w.model;
    r.lowrank = w.lowrank;
    r.optimizer = parse_optimizer(w.optimizer);
    r.momentum = 0.9f;
    if (!w.integrator.empty()) r.integrator = parse_dlrt_integrator(w.integrator);
    r.train.epochs = 1;
    r.train.batch_size = setup.batch;
    r.train.seed = setup.seed;
    r.train.max_batches = setup.train_batches;
    r.train.evaluate_each_epoch = false;
    r.train.progress = -2;
    return r;
}

// Passes every batch on to the recipe's stepper and notes the low-rank layers' ranks and the
// integrator's phase at each, so that the epoch's GEMM FLOPs can be counted afterwards.
class CountingStepper : public Stepper {
public:
    // Wraps `inner`, which trains `model` as `recipe` says.
    CountingStepper(Stepper& inner, Sequential& model, const Recipe& recipe)
        : inner_(inner), dlrt_(dynamic_cast<const DlrtStepper*>(&inner)), specs_(layer_specs(model)),
          layers_(named_lowrank_layers(model)),
          fixed_rank_(recipe.lowrank &&
                      recipe.integrator.value_or(default_integrator(recipe.architecture)) == DlrtIntegrator::fixed_rank) {
        notes_.reserve(1024);
    }
    // Notes the batch (before the step changes any rank), then trains on it.
    StepResult step(const Tensor& images, const std::vector<int64_t>& labels) override {
        Note note{images.size(0), dlrt_ == nullptr || dlrt_->next_is_basis_batch(), {}};
        for (const auto& named : layers_) note.ranks[named.first] = named.second->rank();
        notes_.push_back(std::move(note));
        return inner_.step(images, labels);
    }
    // Ends the epoch.
    void end_epoch(int64_t epoch) override { inner_.end_epoch(epoch); }
    std::string describe() const override { return inner_.describe(); }
    // The GEMM FLOPs of every batch stepped so far.
    double flops() const {
        double sum = 0.0;
        for (const Note& n : notes_) {
            const PassKind free_bases{}, frozen_bases{true, true, false, true};
            if (dlrt_ == nullptr) sum += total_flops(pass_gemms(specs_, n.batch, free_bases));
            else if (!fixed_rank_)
                sum += total_flops(pass_gemms(specs_, n.batch, n.basis ? free_bases : frozen_bases, n.ranks));
            else  // fixed rank: K- and L-step pass, then the S-step pass
                sum += total_flops(pass_gemms(specs_, n.batch, free_bases, n.ranks)) +
                       total_flops(pass_gemms(specs_, n.batch, frozen_bases, n.ranks));
        }
        return sum;
    }

private:
    struct Note {
        int64_t batch;
        bool basis;  // U and V on the tape with their gradients
        std::map<std::string, int64_t> ranks;
    };
    Stepper& inner_;
    const DlrtStepper* dlrt_;  // the low-rank integrator, or null for a dense run
    std::vector<LayerSpec> specs_;
    std::vector<std::pair<std::string, LowRankFactors*>> layers_;
    bool fixed_rank_;  // two passes per batch
    std::vector<Note> notes_;
};

// "conv2=12 fc1=11" for the low-rank layers of `model`.
std::string ranks_text(Sequential& model) {
    std::string text;
    for (const auto& [name, f] : named_lowrank_layers(model))
        text += (text.empty() ? "" : " ") + name + "=" + std::to_string(f->rank());
    return text;
}

// A short warm-up run, then `reps` timed epochs, each from a freshly prepared recipe (not timed).
void run_training(const Workload& w, const Setup& setup, Report& report) {
    const Recipe recipe = recipe_of(w, setup);
    const Dataset no_test;
    {
        Recipe warm = recipe;
        warm.train.max_batches = setup.warmup_batches;
        Training t = prepare_training(warm, batches_per_epoch(setup.train, warm.train));
        train(*t.model, *t.stepper, setup.train, no_test, warm.train);
    }
    for (int rep = 0; rep < setup.reps; ++rep) {
        Training t = prepare_training(recipe, batches_per_epoch(setup.train, recipe.train));
        CountingStepper counting(*t.stepper, *t.model, recipe);
        std::vector<EpochRecord> history;
        report.seconds(seconds_of([&] { history = train(*t.model, counting, setup.train, no_test, recipe.train); }));
        if (rep + 1 < setup.reps) continue;
        report.flops(counting.flops());
        char loss[64];
        std::snprintf(loss, sizeof loss, "loss %.3f", history.back().train_loss);
        const std::string ranks = ranks_text(*t.model);
        report.note(std::string(loss) + (ranks.empty() ? "" : ", ranks " + ranks));
    }
}

// ---- inference and attacks ----------------------------------------------------------------------

// A zoo model with its initial weights (seeded; the timings do not depend on the values).
std::unique_ptr<Sequential> fresh_model(const Workload& w, uint64_t seed) {
    Rng rng(seed);
    return w.lowrank ? make_lowrank_model(w.model, rng, RankOptions{default_rank(w.model), 0, 2})
                     : make_model(w.model, rng);
}

// The GEMM FLOPs of passing every batch of `images` images through the products of `per_batch`.
double batched_flops(int64_t images, int64_t batch, const std::function<double(int64_t)>& per_batch) {
    double sum = 0.0;
    for (int64_t start = 0; start < images; start += batch) sum += per_batch(std::min(batch, images - start));
    return sum;
}

// Classifies the test set (evaluate(), no tape) `reps` times after a warm-up on its first images.
void run_inference(const Workload& w, const Setup& setup, Report& report) {
    auto model = fresh_model(w, setup.seed);
    evaluate(*model, slice(setup.test, 0, std::min(setup.warmup_images, setup.test.size())), setup.batch);
    for (int rep = 0; rep < setup.reps; ++rep)
        report.seconds(seconds_of([&] { evaluate(*model, setup.test, setup.batch); }));
    const std::vector<LayerSpec> specs = layer_specs(*model);
    report.flops(batched_flops(setup.test.size(), setup.batch, [&](int64_t b) {
        return total_flops(pass_gemms(specs, b, PassKind{false, false, false, false}));
    }));
}

// Robust accuracy under FGSM or PGD-ℓ∞ (10 steps), ε = 0.1, over the test set, `reps` times after a warm-up.
void run_attack(const Workload& w, const Setup& setup, Report& report) {
    auto model = fresh_model(w, setup.seed);
    AttackOptions options;
    options.kind = w.kind == Kind::fgsm ? AttackKind::fgsm : AttackKind::pgd_linf;
    options.eps = 0.1f;
    options.steps = w.kind == Kind::fgsm ? 1 : 10;
    robust_accuracy(*model, slice(setup.test, 0, std::min(setup.warmup_images, setup.test.size())), options,
                    setup.seed, setup.batch);
    RobustAccuracy result;
    for (int rep = 0; rep < setup.reps; ++rep)
        report.seconds(
            seconds_of([&] { result = robust_accuracy(*model, setup.test, options, setup.seed, setup.batch); }));
    const std::vector<LayerSpec> specs = layer_specs(*model);
    report.flops(batched_flops(setup.test.size(), setup.batch, [&](int64_t b) {
        // per batch: one input gradient per step, and the clean and the adversarial forward pass
        return double(options.steps) * total_flops(pass_gemms(specs, b, PassKind{true, false, true, false})) +
               2.0 * total_flops(pass_gemms(specs, b, PassKind{false, false, false, false}));
    }));
    char note[96];
    std::snprintf(note, sizeof note, "eps 0.1, initial weights: clean %.3f, robust %.3f", result.clean, result.robust);
    report.note(note);
}

// Runs workload `w` in the current (child) process.
void run_workload(const Workload& w, const Setup& setup, Report& report) {
    switch (w.kind) {
        case Kind::sgemm: return run_sgemm(setup, report);
        case Kind::train: return run_training(w, setup, report);
        case Kind::infer: return run_inference(w, setup, report);
        case Kind::fgsm:
        case Kind::pgd: return run_attack(w, setup, report);
    }
}

// ---- results ------------------------------------------------------------------------------------

// The median of `values` (not empty).
double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const size_t n = values.size();
    return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// One workload measured at one thread count.
struct Result {
    Workload workload;
    int threads = 1;
    Measurement m;
    double ceiling_gflops = 0.0;  // the sgemm ceiling at this thread count

    // The median time of a repetition.
    double seconds() const { return m.seconds.empty() ? 0.0 : median(m.seconds); }
    // GFLOP/s of the median repetition (0 when the FLOPs were not counted).
    double gflops() const { return seconds() > 0.0 ? m.flops / seconds() / 1e9 : 0.0; }
    // That rate as a fraction of the sgemm ceiling (0 when unknown).
    double fraction() const { return ceiling_gflops > 0.0 ? gflops() / ceiling_gflops : 0.0; }
};

// One line of the results table.
void print_result(const Result& r) {
    const Measurement& m = r.m;
    if (!m.error.empty()) {
        std::printf("  %-34s %2d  FAILED: %s\n", r.workload.name.c_str(), r.threads, m.error.c_str());
        return;
    }
    const auto [lo, hi] = std::minmax_element(m.seconds.begin(), m.seconds.end());
    std::printf("  %-34s %2d %9.3f s  [%7.3f–%7.3f]  %7.2f GFLOP/s  %5.1f%%  %6.0f MB (+%.0f)  %s\n",
                r.workload.name.c_str(), r.threads, r.seconds(), *lo, *hi, r.gflops(), 100.0 * r.fraction(),
                m.peak_kb / 1024.0, (m.peak_kb - m.base_kb) / 1024.0, m.note.c_str());
}

// The GEMM shapes' rates under the ceiling, one line each.
void print_shapes(const Result& sgemm) {
    std::printf("  GEMM shapes of the models (m x n x k, op(A) op(B)), GFLOP/s and fraction of the ceiling:\n");
    for (const GemmRate& g : sgemm.m.gemms)
        std::printf("    %-22s %8.2f  %5.1f%%   %s\n", g.gemm.shape().c_str(), g.gflops,
                    sgemm.ceiling_gflops > 0 ? 100.0 * g.gflops / sgemm.ceiling_gflops : 0.0, g.gemm.what.c_str());
}

// The name of a workload kind in the JSON file.
const char* kind_name(Kind k) {
    switch (k) {
        case Kind::sgemm: return "sgemm";
        case Kind::train: return "train";
        case Kind::infer: return "infer";
        case Kind::fgsm: return "fgsm";
        case Kind::pgd: return "pgd";
    }
    return "?";
}

// One result as a JSON object (the fields tests/bench/compare.py reads).
Json result_json(const Result& r) {
    Json seconds = Json::array();
    for (double s : r.m.seconds) seconds.push(s);
    Json j = Json::object();
    j.set("name", r.workload.name).set("kind", kind_name(r.workload.kind)).set("threads", r.threads);
    j.set("blas_threads", r.m.blas_threads);
    j.set("seconds", r.seconds()).set("all_seconds", seconds).set("flops", r.m.flops).set("gflops", r.gflops());
    j.set("ceiling_gflops", r.ceiling_gflops).set("ceiling_fraction", r.fraction());
    j.set("peak_rss_mb", r.m.peak_kb / 1024.0).set("base_rss_mb", r.m.base_kb / 1024.0);
    j.set("note", r.m.note);
    if (!r.m.error.empty()) j.set("error", r.m.error);
    if (r.workload.kind == Kind::sgemm) {
        Json shapes = Json::array();
        for (const GemmRate& g : r.m.gemms)
            shapes.push(
                Json::object().set("shape", g.gemm.shape()).set("gflops", g.gflops).set("used_by", g.gemm.what));
        j.set("shapes", shapes);
    }
    return j;
}

// Every result and the configuration as one JSON document.
Json results_json(const std::vector<Result>& results, const Options& o, const Setup& setup) {
    Json list = Json::array();
    for (const Result& r : results) list.push(result_json(r));
    Json threads = Json::array();
    for (int t : o.threads) threads.push(t);
    Json j = Json::object();
    j.set("program", "tinyrank").set("blas", blas_info()).set("cores", cores()).set("threads", threads);
    j.set("batch", setup.batch).set("reps", setup.reps).set("quick", o.quick);
    j.set("train_images", setup.train.size()).set("test_images", setup.test.size());
    return j.set("results", list);
}

// The amount of work per workload that the options ask for, with MNIST loaded.
Setup make_setup(const Options& o) {
    Setup s;
    s.train = load_mnist(o.data, Split::train);
    s.test = load_mnist(o.data, Split::test);
    s.batch = o.batch;
    s.reps = o.reps;
    if (o.quick) {
        s.test = slice(s.test, 0, std::min<int64_t>(o.batch, s.test.size()));
        s.train_batches = 3;
        s.warmup_batches = 1;
        s.warmup_images = 16;
        s.sgemm_n = 256;
        s.shape_seconds = 0.0;
    }
    return s;
}

// Measures every selected workload at every thread count, printing each line as it comes.
std::vector<Result> measure(const std::vector<Workload>& workloads, const Options& o, const Setup& setup) {
    std::vector<Result> results;
    std::printf("  %-34s %2s %11s  %-17s  %15s  %6s  %s\n", "workload", "t", "median", "[min–max]", "rate",
                "of sgemm", "peak RSS (+ over base)  note");
    for (int threads : o.threads) {
        double ceiling = 0.0;
        for (const Workload& w : workloads) {
            Result r{w, threads, run_in_child(threads, [&](Report& report) { run_workload(w, setup, report); }), 0.0};
            if (w.kind == Kind::sgemm && r.m.error.empty())  // the fastest run: what the machine can do
                ceiling = r.m.flops / *std::min_element(r.m.seconds.begin(), r.m.seconds.end()) / 1e9;
            r.ceiling_gflops = ceiling;
            print_result(r);
            if (w.kind == Kind::sgemm && r.m.error.empty()) print_shapes(r);
            std::fflush(stdout);
            results.push_back(r);
        }
    }
    return results;
}

// The whole program: options, data, measurements, JSON.
int run(int argc, char** argv) {
    const Options o = parse(argc, argv);
    const std::vector<Workload> workloads = selected_workloads(o);
    if (o.list) {
        for (const Workload& w : all_workloads()) std::printf("%s\n", w.name.c_str());
        return 0;
    }
    const Setup setup = make_setup(o);
    std::string threads;
    for (int t : o.threads) threads += (threads.empty() ? "" : ", ") + std::to_string(t);
    std::printf("tinyrank bench: %s by default; measuring with %s thread(s) (%d cores)\n", blas_info().c_str(),
                threads.c_str(), cores());
    std::printf("MNIST from %s: %lld training, %lld test images; batch %lld; median of %d repetition(s) after a "
                "warm-up%s\n",
                o.data.c_str(), static_cast<long long>(setup.train.size()), static_cast<long long>(setup.test.size()),
                static_cast<long long>(setup.batch), setup.reps, o.quick ? " (--quick: a few batches each)" : "");
    const std::vector<Result> results = measure(workloads, o, setup);
    bool failed = false;
    for (const Result& r : results) failed = failed || !r.m.error.empty();
    if (!o.json.empty()) {
        write_json(o.json, results_json(results, o, setup));
        std::printf("wrote %s\n", o.json.c_str());
    }
    return failed ? 1 : 0;
}

}  // namespace

}  // namespace tinyrank::bench

// Exit status 0, 1 when a workload failed, 2 on a wrong option or unreadable data.
int main(int argc, char** argv) {
    tinyrank::restart_with_passive_waiting(argv);
    try {
        return tinyrank::bench::run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "tinyrank_bench: %s\n", e.what());
        return 2;
    }
}
