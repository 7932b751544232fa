// Averaging the runs over seeds, deciding the six claims, writing the result files
// (book §10.4; book/method.md §5).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>

#include "tinyrank/error.hpp"
#include "tinyrank/io.hpp"
#include "tinyrank/reproduce.hpp"

namespace tinyrank {

Stat statistics(const std::vector<double>& values) {
    Stat s;
    s.n = static_cast<int64_t>(values.size());
    if (values.empty()) return s;
    for (double v : values) s.mean += v;
    s.mean /= static_cast<double>(values.size());
    if (values.size() > 1) {
        double squares = 0.0;
        for (double v : values) squares += (v - s.mean) * (v - s.mean);
        s.std = std::sqrt(squares / static_cast<double>(values.size() - 1));
    }
    return s;
}

std::string cell_key(const std::string& attack, float eps) { return attack + "@" + format_number(eps); }

namespace {

const std::vector<std::string> kMethods{"dense", "dlrt", "robust-dlrt"};

// Statistics per key of the maps gathered from several seeds.
std::map<std::string, Stat> per_key(const std::vector<std::map<std::string, double>>& maps) {
    std::map<std::string, std::vector<double>> values;
    for (const auto& m : maps)
        for (const auto& [key, value] : m) values[key].push_back(value);
    std::map<std::string, Stat> out;
    for (const auto& [key, list] : values) out[key] = statistics(list);
    return out;
}

// The summary row of `model` × `method`, or null.
const MethodSummary* find(const Summary& s, const std::string& model, const std::string& method) {
    for (const MethodSummary& m : s.methods)
        if (m.model == model && m.method == method) return &m;
    return nullptr;
}

// The models of the summary, in order of appearance.
std::vector<std::string> models_of(const Summary& s) {
    std::vector<std::string> models;
    for (const MethodSummary& m : s.methods)
        if (std::find(models.begin(), models.end(), m.model) == models.end()) models.push_back(m.model);
    return models;
}

// Splits "attack@eps".
std::pair<std::string, float> split_key(const std::string& key) {
    const size_t at = key.rfind('@');
    return {key.substr(0, at), std::stof(key.substr(at + 1))};
}

// Whether an attack is crafted on the evaluated model itself (white-box).
bool white_box(const std::string& attack) { return attack.find("transfer") == std::string::npos; }

// A fraction as a percentage with one decimal.
std::string percent(double fraction) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f%%", 100.0 * fraction);
    return text;
}

// A number with two decimals.
std::string fixed2(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.2f", value);
    return text;
}

// Percentage points with a sign.
std::string points(double difference) {
    char text[32];
    std::snprintf(text, sizeof text, "%+.1f pt", 100.0 * difference);
    return text;
}

std::string display_name(const std::string& method) {
    if (method == "dense") return "dense";
    if (method == "dlrt") return "DLRT (β = 0)";
    return "RobustDLRT";
}

}  // namespace

Summary summarize(const std::vector<RunRecord>& runs, const std::vector<ResultRow>& rows) {
    Summary s;
    std::vector<std::string> models;
    for (const RunRecord& r : runs)
        if (std::find(models.begin(), models.end(), r.model) == models.end()) models.push_back(r.model);
    for (const std::string& model : models)
        for (const std::string& method : kMethods) {
            MethodSummary m;
            m.model = model;
            m.method = method;
            std::vector<double> clean, compression;
            std::vector<std::map<std::string, double>> ranks, first, last;
            for (const RunRecord& r : runs) {
                if (r.model != model || r.method != method) continue;
                m.beta = r.beta;
                clean.push_back(r.test_accuracy);
                compression.push_back(r.compression_rate);
                ranks.push_back(r.ranks);
                first.push_back(r.kappa_first);
                last.push_back(r.kappa_last);
            }
            if (clean.empty()) continue;
            m.clean = statistics(clean);
            m.compression = statistics(compression);
            m.ranks = per_key(ranks);
            m.kappa_first = per_key(first);
            m.kappa_last = per_key(last);
            std::map<std::string, std::vector<double>> robust;
            for (const ResultRow& row : rows)
                if (row.model == model && row.method == method)
                    robust[cell_key(row.attack, row.eps)].push_back(row.robust_accuracy);
            for (const auto& [key, values] : robust) m.robust[key] = statistics(values);
            s.methods.push_back(m);
        }
    return s;
}

// region: claims
std::vector<Claim> evaluate_claims(const Summary& summary) {
    std::vector<Claim> claims{
        {1, "compression >= 94% of the factorised layers' weights", true, ""},
        {2, "clean accuracy within 1 point of dense", true, ""},
        {3, "RobustDLRT beats DLRT at every eps > 0, by a margin that grows with eps", true, ""},
        {4, "RobustDLRT recovers (within 1 point) or exceeds the dense network's robust accuracy", true, ""},
        {5, "kappa(S) falls during training with beta > 0 and grows with beta = 0", true, ""},
        {6, "the rank found is about the same (within 20% or 1) with and without the regulariser", true, ""}};
    std::vector<std::ostringstream> evidence(claims.size());
    const auto fail = [&](size_t i) { claims[i].holds = false; };
    for (const std::string& model : models_of(summary)) {
        const MethodSummary* dense = find(summary, model, "dense");
        const MethodSummary* dlrt = find(summary, model, "dlrt");
        const MethodSummary* robust = find(summary, model, "robust-dlrt");
        if (dense == nullptr || dlrt == nullptr || robust == nullptr)
            throw Error("claims: " + model + " lacks one of dense, dlrt, robust-dlrt");
        for (auto& e : evidence) e << (e.tellp() > 0 ? "; " : "") << model << ": ";

        // 1. Compression of both low-rank methods.
        if (dlrt->compression.mean < 0.94 || robust->compression.mean < 0.94) fail(0);
        evidence[0] << "DLRT " << percent(dlrt->compression.mean) << ", RobustDLRT " << percent(robust->compression.mean);

        // 2. Clean accuracy of both low-rank methods against dense.
        const double gap_dlrt = dlrt->clean.mean - dense->clean.mean, gap_robust = robust->clean.mean - dense->clean.mean;
        if (gap_dlrt < -0.01 || gap_robust < -0.01) fail(1);
        evidence[1] << "dense " << percent(dense->clean.mean) << ", DLRT " << points(gap_dlrt) << ", RobustDLRT "
                    << points(gap_robust);

        // 3. and 4. Every white-box cell, attack by attack in order of ε.
        std::map<std::string, std::vector<std::pair<float, std::string>>> by_attack;
        for (const auto& [key, stat] : robust->robust) {
            const auto [attack, eps] = split_key(key);
            if (white_box(attack) && eps > 0.0f) by_attack[attack].push_back({eps, key});
        }
        int wins = 0, cells = 0;
        double worst_against_dense = 1.0;
        std::string worst_cell;
        for (auto& [attack, list] : by_attack) {
            std::sort(list.begin(), list.end());
            double first_margin = 0.0, last_margin = 0.0;
            for (size_t i = 0; i < list.size(); ++i) {
                const std::string& key = list[i].second;
                if (!dlrt->robust.count(key) || !dense->robust.count(key))
                    throw Error("claims: " + model + " has no " + key + " for every method");
                const double margin = robust->robust.at(key).mean - dlrt->robust.at(key).mean;
                const double against_dense = robust->robust.at(key).mean - dense->robust.at(key).mean;
                ++cells;
                if (margin > 0.0) ++wins;
                if (i == 0) first_margin = margin;
                last_margin = margin;
                if (against_dense < worst_against_dense) {
                    worst_against_dense = against_dense;
                    worst_cell = key;
                }
            }
            if (list.size() > 1 && !(last_margin > first_margin)) fail(2);
            evidence[2] << attack << " margin " << points(first_margin) << " at eps " << format_number(list.front().first)
                        << " → " << points(last_margin) << " at eps " << format_number(list.back().first) << ", ";
        }
        if (wins < cells) fail(2);
        evidence[2] << "RobustDLRT ahead in " << wins << " of " << cells << " cells";
        if (worst_against_dense < -0.01) fail(3);
        evidence[3] << "smallest difference to dense " << points(worst_against_dense) << " (" << worst_cell << ")";

        // 5. κ(S) from the first cycle to the end, layer by layer.
        for (const auto& [layer, first] : robust->kappa_first) {
            const double end = robust->kappa_last.at(layer).mean;
            if (!(end < first.mean)) fail(4);
            evidence[4] << layer << " beta>0 " << fixed2(first.mean) << " → " << fixed2(end) << ", ";
        }
        for (const auto& [layer, first] : dlrt->kappa_first) {
            const double end = dlrt->kappa_last.at(layer).mean;
            if (!(end > first.mean)) fail(4);
            evidence[4] << layer << " beta=0 " << fixed2(first.mean) << " → " << fixed2(end) << ", ";
        }

        // 6. Final ranks with and without the regulariser.
        for (const auto& [layer, r0] : dlrt->ranks) {
            const double r1 = robust->ranks.at(layer).mean;
            if (std::fabs(r1 - r0.mean) > std::max(1.0, 0.2 * r0.mean)) fail(5);
            evidence[5] << layer << " " << fixed2(r0.mean) << " vs " << fixed2(r1) << ", ";
        }
    }
    for (size_t i = 0; i < claims.size(); ++i) {
        std::string text = evidence[i].str();
        while (!text.empty() && (text.back() == ' ' || text.back() == ',')) text.pop_back();
        claims[i].evidence = text;
    }
    return claims;
}
// endregion: claims

namespace {

Json stat_json(const Stat& s) { return Json::object().set("mean", s.mean).set("std", s.std).set("n", s.n); }

Json stats_json(const std::map<std::string, Stat>& stats) {
    Json object = Json::object();
    for (const auto& [key, s] : stats) object.set(key, stat_json(s));
    return object;
}

// "98.9 ± 0.1" in percent.
std::string cell(const Stat& s) {
    char text[48];
    if (s.n > 1) std::snprintf(text, sizeof text, "%.1f ± %.1f", 100.0 * s.mean, 100.0 * s.std);
    else std::snprintf(text, sizeof text, "%.1f", 100.0 * s.mean);
    return text;
}

// The table's columns: every cell key of the model's methods, attack by attack in order of ε.
std::vector<std::string> columns_of(const Summary& s, const std::string& model) {
    std::vector<std::pair<std::string, float>> keys;
    for (const MethodSummary& m : s.methods)
        if (m.model == model)
            for (const auto& entry : m.robust) {
                const auto k = split_key(entry.first);
                if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
            }
    std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) {
        const bool ta = !white_box(a.first), tb = !white_box(b.first);
        return std::tie(ta, a.first, a.second) < std::tie(tb, b.first, b.second);
    });
    std::vector<std::string> out;
    for (const auto& [attack, eps] : keys) out.push_back(cell_key(attack, eps));
    return out;
}

}  // namespace

std::string summary_markdown(const Summary& s) {
    std::ostringstream md;
    for (const std::string& model : models_of(s)) {
        const std::vector<std::string> columns = columns_of(s, model);
        const MethodSummary* any = find(s, model, "dense");
        const int64_t seeds = any ? any->clean.n : 0;
        md << "### " << model << " — accuracy in % (mean ± std over " << seeds << (seeds == 1 ? " seed" : " seeds")
           << ")\n\n";
        md << "| method | β | c.r. | clean";
        for (const std::string& c : columns) {
            const auto [attack, eps] = split_key(c);
            md << " | " << attack << " " << format_number(eps);
        }
        md << " |\n|---|---|---|---";
        for (size_t i = 0; i < columns.size(); ++i) md << "|---";
        md << "|\n";
        for (const MethodSummary& m : s.methods) {
            if (m.model != model) continue;
            md << "| " << display_name(m.method) << " | " << (m.method == "dense" ? "—" : format_number(m.beta)) << " | "
               << percent(m.compression.mean) << " | " << cell(m.clean);
            for (const std::string& c : columns) md << " | " << (m.robust.count(c) ? cell(m.robust.at(c)) : "—");
            md << " |\n";
        }
        md << "\n| method | layer | rank | κ(S) after the first cycle | κ(S) at the end |\n|---|---|---|---|---|\n";
        for (const MethodSummary& m : s.methods) {
            if (m.model != model) continue;
            for (const auto& [layer, rank] : m.ranks) {
                char line[256];
                std::snprintf(line, sizeof line, "| %s | %s | %.1f | %.2f | %.2f |\n", display_name(m.method).c_str(),
                              layer.c_str(), rank.mean, m.kappa_first.at(layer).mean, m.kappa_last.at(layer).mean);
                md << line;
            }
        }
        md << "\n";
    }
    if (!s.sweep.empty()) {
        md << "β sweep (validation split, never the test set):\n\n| model | β | clean | FGSM robust |\n|---|---|---|---|\n";
        for (const auto& row : s.sweep)
            md << "| " << row[0] << " | " << row[1] << " | " << percent(std::stod(row[2])) << " | "
               << percent(std::stod(row[3])) << " |\n";
        md << "\nChosen: ";
        for (const auto& [model, beta] : s.chosen_beta) md << model << " β = " << format_number(beta) << "  ";
        md << "\n\n";
    }
    md << "Claims (book/method.md §5), decided from the numbers above:\n\n";
    for (const Claim& c : s.claims)
        md << c.id << ". " << c.statement << ": **" << (c.holds ? "holds" : "does not hold") << "** — " << c.evidence
           << "\n";
    return md.str();
}

void write_results(const std::string& dir, const std::vector<ResultRow>& rows, const Summary& s) {
    std::vector<std::vector<std::string>> table;
    for (const ResultRow& r : rows)
        table.push_back({r.model, r.method, format_number(r.beta), std::to_string(r.seed), r.attack, format_number(r.eps),
                         std::to_string(r.steps), format_number(r.clean_accuracy), format_number(r.robust_accuracy),
                         format_number(r.compression_rate)});
    write_csv(dir + "/results.csv",
              {"model", "method", "beta", "seed", "attack", "eps", "steps", "clean_accuracy", "robust_accuracy",
               "compression_rate"},
              table);

    Json methods = Json::array();
    for (const MethodSummary& m : s.methods)
        methods.push(Json::object()
                         .set("model", m.model)
                         .set("method", m.method)
                         .set("beta", m.beta)
                         .set("clean_accuracy", stat_json(m.clean))
                         .set("compression_rate", stat_json(m.compression))
                         .set("ranks", stats_json(m.ranks))
                         .set("condition_numbers_first_cycle", stats_json(m.kappa_first))
                         .set("condition_numbers", stats_json(m.kappa_last))
                         .set("robust_accuracy", stats_json(m.robust)));
    Json betas = Json::object();
    for (const auto& [model, beta] : s.chosen_beta) betas.set(model, beta);
    Json sweep = Json::array();
    for (const auto& row : s.sweep)
        sweep.push(Json::object()
                       .set("model", row[0])
                       .set("beta", std::stod(row[1]))
                       .set("validation_clean_accuracy", std::stod(row[2]))
                       .set("validation_robust_accuracy", std::stod(row[3])));
    Json claims = Json::array();
    for (const Claim& c : s.claims)
        claims.push(Json::object().set("id", c.id).set("claim", c.statement).set("holds", c.holds).set("evidence", c.evidence));
    write_json(dir + "/summary.json", Json::object()
                                          .set("preset", s.preset)
                                          .set("seconds", s.seconds)
                                          .set("chosen_beta", betas)
                                          .set("beta_sweep", sweep)
                                          .set("methods", methods)
                                          .set("claims", claims));
    write_file_atomically(dir + "/summary.md", "# tinyrank reproduction — preset " + s.preset + "\n\n" +
                                                   summary_markdown(s));
}

}  // namespace tinyrank
