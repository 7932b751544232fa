// The figures of a reproduction: their data as CSV, rendered by book/figures/10-*.gp with
// gnuplot when it is installed (book §10.5).
#include <cstdlib>
#include <filesystem>
#include <map>
#include <ostream>

#include "tinyrank/io.hpp"
#include "tinyrank/reproduce.hpp"

namespace fs = std::filesystem;

namespace tinyrank {

namespace {

// `text` in single quotes for a shell command line.
std::string shell_quote(const std::string& text) {
    std::string out = "'";
    for (const char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// One file of seed 1's low-rank runs, with the method prepended to every row.
void gather(const std::string& out, const std::string& model, const std::string& file, const std::string& path) {
    CsvTable all;
    for (const std::string method : {"dlrt", "robust-dlrt"}) {
        const std::string source = out + "/runs/" + model + "/" + method + "-seed1/" + file;
        if (!fs::exists(source)) continue;
        const CsvTable t = read_csv(source);
        if (all.header.empty()) {
            all.header = t.header;
            all.header.insert(all.header.begin(), "method");
        }
        for (auto row : t.rows) {
            row.insert(row.begin(), method);
            all.rows.push_back(row);
        }
    }
    if (!all.header.empty()) write_csv(path, all.header, all.rows);
}

}  // namespace

void write_robust_vs_eps(const std::string& path, const std::string& model, const std::vector<ResultRow>& rows) {
    std::map<std::tuple<std::string, std::string, float>, std::vector<double>> cells;
    for (const ResultRow& r : rows) {
        if (r.model != model) continue;
        cells[{r.method, r.attack, r.eps}].push_back(r.robust_accuracy);
        std::vector<double>& clean = cells[{r.method, r.attack, 0.0f}];  // once per seed: every ε has the same clean
        if (clean.size() < static_cast<size_t>(r.seed)) clean.push_back(r.clean_accuracy);
    }
    std::vector<std::vector<std::string>> table;
    for (const auto& [key, values] : cells) {
        const Stat s = statistics(values);
        table.push_back({std::get<0>(key), std::get<1>(key), format_number(std::get<2>(key)), format_number(s.mean),
                         format_number(s.std)});
    }
    write_csv(path, {"method", "attack", "eps", "mean", "std"}, table);
}

void write_figures(const ReproduceOptions& o, const std::vector<ResultRow>& rows, std::ostream& log) {
    for (const std::string& model : o.preset.models) {
        const std::string data = o.out + "/figures-data/" + model, figures = o.out + "/figures/" + model;
        fs::create_directories(data);
        fs::create_directories(figures);
        fs::remove(figures + "/gnuplot.log");
        write_robust_vs_eps(data + "/robust_vs_eps.csv", model, rows);
        gather(o.out, model, "trace.csv", data + "/trace.csv");
        gather(o.out, model, "spectra.csv", data + "/spectra.csv");
        if (!o.render_figures) continue;
        if (std::system("command -v gnuplot > /dev/null 2>&1") != 0) {
            log << "gnuplot is not installed: the figures' data is in " << data << " (make deps installs gnuplot)\n";
            continue;
        }
        for (const char* name : {"10-robust-vs-eps", "10-kappa", "10-ranks", "10-spectra"}) {
            const std::string script = o.figure_scripts + "/" + name + ".gp";
            const std::string command = "gnuplot -e " + shell_quote("datadir='" + data + "'; outdir='" + figures +
                                                                     "'; model='" + model + "'") +
                                        " " + shell_quote(script) + " >> " + shell_quote(figures + "/gnuplot.log") +
                                        " 2>&1";
            if (std::system(command.c_str()) != 0)
                log << "gnuplot failed on " << script << " (figure skipped; see " << figures << "/gnuplot.log)\n";
        }
    }
}

}  // namespace tinyrank
