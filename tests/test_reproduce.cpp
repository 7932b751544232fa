// The reproduction: statistics, the claims decided from the numbers, the quick preset's
// outputs and resuming (book chapter 10; book/method.md §5).
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "test_support.hpp"
#include "tinyrank/io.hpp"
#include "tinyrank/reproduce.hpp"

using namespace tinyrank;
using namespace tinyrank::test_support;

namespace {

// One method of a fixture summary: ranks and κ for two layers, robust accuracy per FGSM ε.
MethodSummary method(const std::string& name, float beta, double clean, double compression,
                     std::vector<double> fgsm, double kappa_first, double kappa_last, double rank) {
    MethodSummary m;
    m.model = "lenet5";
    m.method = name;
    m.beta = beta;
    m.clean = {clean, 0.001, 3};
    m.compression = {compression, 0.0, 3};
    const std::vector<float> eps{0.05f, 0.1f, 0.2f};
    for (size_t i = 0; i < eps.size(); ++i) m.robust[cell_key("fgsm", eps[i])] = {fgsm[i], 0.01, 3};
    if (name != "dense")
        for (const std::string layer : {"conv2", "fc1"}) {
            m.ranks[layer] = {rank, 0.0, 3};
            m.kappa_first[layer] = {kappa_first, 0.1, 3};
            m.kappa_last[layer] = {kappa_last, 0.1, 3};
        }
    return m;
}

// A summary in which every claim holds.
Summary all_claims_hold() {
    Summary s;
    s.methods = {method("dense", 0.0f, 0.990, 0.0, {0.90, 0.70, 0.20}, 0, 0, 0),
                 method("dlrt", 0.0f, 0.985, 0.947, {0.85, 0.60, 0.10}, 3.0, 9.0, 12),
                 method("robust-dlrt", 0.05f, 0.984, 0.947, {0.90, 0.70, 0.25}, 3.0, 1.5, 13)};
    return s;
}

std::vector<bool> verdicts(const Summary& s) {
    std::vector<bool> out;
    for (const Claim& c : evaluate_claims(s)) out.push_back(c.holds);
    return out;
}

MethodSummary& find(Summary& s, const std::string& method) {
    for (MethodSummary& m : s.methods)
        if (m.method == method) return m;
    throw Error("no " + method);
}

std::string text_of(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

TEST_SUITE("ch10_reproduction") {
TEST_CASE("statistics: the mean and the sample standard deviation") {
    const Stat s = statistics({1.0, 2.0, 3.0, 4.0});
    CHECK(s.mean == doctest::Approx(2.5));
    CHECK(s.std == doctest::Approx(1.2909944));  // √(5/3)
    CHECK(s.n == 4);
    CHECK(statistics({0.7}).std == 0.0);
    CHECK(statistics({}).n == 0);
}

TEST_CASE("every claim's verdict is computed from the numbers: change one, and it flips") {
    const Summary base = all_claims_hold();
    CHECK(verdicts(base) == std::vector<bool>(6, true));
    for (const Claim& c : evaluate_claims(base)) CHECK(!c.evidence.empty());

    Summary s = base;
    find(s, "dlrt").compression.mean = 0.93;  // 1: below 94%
    CHECK(verdicts(s) == std::vector<bool>{false, true, true, true, true, true});

    s = base;
    find(s, "robust-dlrt").clean.mean = 0.975;  // 2: 1.5 points below dense
    CHECK(verdicts(s)[1] == false);

    s = base;
    find(s, "robust-dlrt").robust[cell_key("fgsm", 0.1f)].mean = 0.59;  // 3: behind DLRT at one ε
    CHECK(verdicts(s)[2] == false);
    s = base;
    find(s, "robust-dlrt").robust[cell_key("fgsm", 0.2f)].mean = 0.12;  // 3: ahead, but the margin shrinks
    CHECK(verdicts(s)[2] == false);

    s = base;
    find(s, "robust-dlrt").robust[cell_key("fgsm", 0.1f)].mean = 0.68;  // 4: 2 points below dense
    CHECK(verdicts(s)[3] == false);
    find(s, "robust-dlrt").robust[cell_key("fgsm", 0.1f)].mean = 0.695;  // within 1 point: recovered
    CHECK(verdicts(s)[3] == true);

    s = base;
    find(s, "robust-dlrt").kappa_last["fc1"].mean = 3.5;  // 5: κ rose with β > 0
    CHECK(verdicts(s)[4] == false);
    s = base;
    find(s, "dlrt").kappa_last["conv2"].mean = 2.0;  // 5: κ fell without the regulariser
    CHECK(verdicts(s)[4] == false);

    s = base;
    find(s, "robust-dlrt").ranks["conv2"].mean = 20;  // 6: rank 20 against 12
    CHECK(verdicts(s) == std::vector<bool>{true, true, true, true, true, false});
}

TEST_CASE("claims need all three methods of a model") {
    Summary s = all_claims_hold();
    s.methods.pop_back();
    CHECK(contains(error_message([&] { evaluate_claims(s); }), "lacks one of dense, dlrt, robust-dlrt"));
}

TEST_CASE("presets: the three names, and a clear error for another") {
    for (const std::string& name : preset_names()) {
        const Preset p = preset(name);
        CHECK(p.name == name);
        CHECK(!p.attacks.empty());
        CHECK(!p.expected_time.empty());
    }
    CHECK(preset("full").models.size() == 2);
    CHECK(contains(error_message([] { preset("huge"); }), "expected a preset quick, standard or full, found 'huge'"));
}

TEST_CASE("the quick preset on a reduced budget writes every output, and a second run resumes") {
    TempDir dir("reproduce");
    ReproduceOptions o;
    o.preset = preset("quick");
    o.preset.max_batches = 3;
    o.preset.betas = {0.05f};
    o.preset.validation_size = 1000;
    o.preset.attack_limit = 100;
    o.out = dir / "results";
    o.data_dir = mnist_dir();
    o.figure_scripts = std::string(TINYRANK_SOURCE_DIR) + "/book/figures";
    std::ostringstream log;
    const Summary first = reproduce(o, log);
    INFO(log.str());

    // results.csv: dense has 3 FGSM cells, each low-rank method 3 FGSM + 3 transfer cells.
    const CsvTable results = read_csv(o.out + "/results.csv");
    CHECK(results.header.front() == "model");
    REQUIRE(results.rows.size() == 3 + 6 + 6);
    std::set<std::string> cells;
    for (const auto& row : results.rows) {
        cells.insert(row[1] + "/" + row[4] + "/" + row[5]);
        const double clean = std::stod(row[7]), robust = std::stod(row[8]);
        CHECK((0.0 <= robust && robust <= 1.0 && 0.0 <= clean && clean <= 1.0));
    }
    CHECK(cells.size() == results.rows.size());  // one row per method × attack × ε
    CHECK(cells.count("robust-dlrt/fgsm-transfer/0.2") == 1);

    // summary.json and summary.md carry the table, the sweep and six verdicts.
    const std::string json = text_of(o.out + "/summary.json"), md = text_of(o.out + "/summary.md");
    CHECK(contains(json, "\"claims\""));
    CHECK(contains(json, "\"beta_sweep\""));
    CHECK(first.claims.size() == 6);
    CHECK(first.chosen_beta.at("lenet5") == 0.05f);
    CHECK(contains(md, "| RobustDLRT | 0.05 |"));
    for (const Claim& c : first.claims) CHECK(contains(md, c.statement + ": **" + (c.holds ? "holds" : "does not hold")));
    for (const char* data : {"robust_vs_eps.csv", "trace.csv", "spectra.csv"})
        CHECK(read_csv(o.out + "/figures-data/lenet5/" + data).rows.size() > 0);
    if (std::system("command -v gnuplot > /dev/null 2>&1") == 0)
        for (const char* figure : {"10-robust-vs-eps", "10-kappa", "10-ranks", "10-spectra"})
            CHECK(std::filesystem::file_size(o.out + "/figures/lenet5/" + figure + ".png") > 1000);

    // A second run trains and attacks nothing and reports the same numbers.
    std::ostringstream again;
    const auto start = std::chrono::steady_clock::now();
    const Summary second = reproduce(o, again);
    CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 10.0);
    CHECK(contains(again.str(), "trained before"));
    CHECK(!contains(again.str(), "training 1 epoch"));
    CHECK(read_csv(o.out + "/results.csv").rows == results.rows);
    CHECK(second.methods.size() == first.methods.size());

    // A folder of another recipe is refused, not mixed in.
    o.preset.epochs = 2;
    CHECK(contains(error_message([&] { std::ostringstream quiet; reproduce(o, quiet); }), "use another --out"));
}
}
