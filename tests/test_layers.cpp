// The house plan, enforced: every #include in include/ and src/ points to its own layer or a
// lower one, as src/README.md writes the layers down (DESIGN: "a lower layer never includes a
// higher one"). The checker is tested on a small tree with an upward include, then run on the
// real one.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace fs = std::filesystem;

namespace {

// The layer table of src/README.md: which layer each public header and each src/ folder is in.
struct LayerTable {
    std::map<std::string, int> header_layer;  // "tensor.hpp" → 0
    std::map<std::string, int> folder_layer;  // "numerics" → 0
    std::map<int, std::string> names;         // 0 → "numerics"
};

// The text of a file ("" when it cannot be read).
std::string read_text(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// The words written in backticks in `cell`, without the backticks.
std::vector<std::string> backticked(const std::string& cell) {
    std::vector<std::string> words;
    static const std::regex word("`([^`]+)`");
    for (std::sregex_iterator it(cell.begin(), cell.end(), word), end; it != end; ++it) words.push_back((*it)[1]);
    return words;
}

// Reads the rows "| 0 | numerics | `src/numerics/` | `error.hpp` … |" of the table in `readme`.
LayerTable read_layer_table(const fs::path& readme) {
    LayerTable table;
    std::istringstream lines(read_text(readme));
    static const std::regex row(R"(^\|\s*(\d+)\s*\|\s*([a-z]+)\s*\|([^|]*)\|([^|]*)\|)");
    std::smatch m;
    for (std::string line; std::getline(lines, line);) {
        if (!std::regex_search(line, m, row)) continue;
        const int layer = std::stoi(m[1]);
        table.names[layer] = m[2];
        for (std::string folder : backticked(m[3])) {
            folder = folder.substr(folder.find('/') + 1);                   // "src/numerics/" → "numerics/"
            table.folder_layer[folder.substr(0, folder.find('/'))] = layer;  // → "numerics"
        }
        for (const std::string& header : backticked(m[4])) table.header_layer[header] = layer;
    }
    return table;
}

// The checker: the layers of a source tree and the includes that break them.
struct Layering {
    fs::path root;
    LayerTable table;

    // The layer of a file of the tree, or −1 with `problem` set when the table does not place it.
    int layer_of(const fs::path& file, std::string& problem) const {
        const fs::path relative = file.lexically_relative(root);
        const std::string first = relative.begin()->string();
        if (first == "include") {
            auto it = table.header_layer.find(relative.filename().string());
            if (it != table.header_layer.end()) return it->second;
            problem = relative.string() + " has no layer: add it to a row of src/README.md";
            return -1;
        }
        const std::string folder = std::next(relative.begin())->string();
        auto it = table.folder_layer.find(folder);
        if (it != table.folder_layer.end()) return it->second;
        problem = relative.string() + " is in folder src/" + folder + ", which src/README.md does not place in a layer";
        return -1;
    }

    // "layer 4 (method)".
    std::string describe(int layer) const {
        auto it = table.names.find(layer);
        return "layer " + std::to_string(layer) + " (" + (it != table.names.end() ? it->second : "?") + ")";
    }

    // Every problem: a file or include without a layer, or an include that points upward.
    std::vector<std::string> problems() const {
        std::vector<std::string> found;
        std::vector<fs::path> files;
        for (const char* top : {"include", "src"})
            for (const auto& entry : fs::recursive_directory_iterator(root / top)) {
                const std::string ext = entry.path().extension().string();
                if (entry.is_regular_file() && (ext == ".hpp" || ext == ".cpp")) files.push_back(entry.path());
            }
        std::sort(files.begin(), files.end());
        static const std::regex include_line(R"(^\s*#\s*include\s*\"([^\"]+)\")");
        for (const fs::path& file : files) {
            std::string problem;
            const int own = layer_of(file, problem);
            if (own < 0) {
                found.push_back(problem);
                continue;
            }
            std::istringstream lines(read_text(file));
            std::smatch m;
            int line_number = 0;
            for (std::string line; std::getline(lines, line);) {
                ++line_number;
                if (!std::regex_search(line, m, include_line)) continue;
                const std::string target = m[1];
                // "tinyrank/…" is a public header; anything else is private to src/, found next to
                // the file or from src/ ("numerics/storage_pool.hpp"), as the compiler finds it.
                fs::path resolved = root / "include" / target;
                if (target.rfind("tinyrank/", 0) != 0)
                    resolved = fs::exists(file.parent_path() / target) ? file.parent_path() / target : root / "src" / target;
                const std::string where = file.lexically_relative(root).string() + ":" + std::to_string(line_number);
                if (!fs::exists(resolved)) {
                    found.push_back(where + " includes \"" + target + "\", which is not in include/, next to it or in src/");
                    continue;
                }
                const int theirs = layer_of(resolved, problem);
                if (theirs < 0) found.push_back(where + ": " + problem);
                else if (theirs > own)
                    found.push_back(where + " includes \"" + target + "\": " + describe(own) +
                                    " must not include " + describe(theirs));
            }
        }
        return found;
    }
};

// Layering of the tree at `root`, with its table read from root/src/README.md.
Layering layering(const fs::path& root) { return {root, read_layer_table(root / "src" / "README.md")}; }

// Writes `text` to root/relative, creating folders.
void write_file(const fs::path& root, const std::string& relative, const std::string& text) {
    fs::create_directories((root / relative).parent_path());
    std::ofstream(root / relative) << text;
}

}  // namespace

TEST_SUITE("ch00_layers") {
TEST_CASE("the checker names an upward include, a header without a layer and an unplaced folder") {
    tinyrank::test_support::TempDir dir("layers");
    write_file(dir.path, "src/README.md",
               "| layer | name | folder | public headers (`include/tinyrank/`) | book |\n"
               "| --- | --- | --- | --- | --- |\n"
               "| 0 | numerics | `src/numerics/` | `tensor.hpp` | 1 |\n"
               "| 3 | learning | `src/learning/` | `nn.hpp` | 3 |\n");
    write_file(dir.path, "include/tinyrank/tensor.hpp", "#pragma once\n");
    write_file(dir.path, "include/tinyrank/nn.hpp", "#include \"tinyrank/tensor.hpp\"\n");
    write_file(dir.path, "src/numerics/pool.hpp", "#pragma once\n");
    write_file(dir.path, "src/numerics/tensor.cpp", "#include \"tinyrank/tensor.hpp\"\n#include \"pool.hpp\"\n");
    write_file(dir.path, "src/learning/nn.cpp", "#include \"tinyrank/nn.hpp\"\n#include \"tinyrank/tensor.hpp\"\n");
    CHECK(layering(dir.path).problems().empty());

    write_file(dir.path, "src/numerics/tensor.cpp", "#include \"tinyrank/tensor.hpp\"\n  #  include \"tinyrank/nn.hpp\"\n");
    write_file(dir.path, "include/tinyrank/extra.hpp", "#pragma once\n");
    write_file(dir.path, "src/misc/thing.cpp", "int x;\n");
    const std::vector<std::string> problems = layering(dir.path).problems();
    REQUIRE(problems.size() == 3);
    CHECK(problems[0] == "include/tinyrank/extra.hpp has no layer: add it to a row of src/README.md");
    CHECK(problems[1] == "src/misc/thing.cpp is in folder src/misc, which src/README.md does not place in a layer");
    CHECK(problems[2] ==
          "src/numerics/tensor.cpp:2 includes \"tinyrank/nn.hpp\": layer 0 (numerics) must not include layer 3 (learning)");
}

TEST_CASE("no file of include/ or src/ includes a higher layer") {
    const Layering tree = layering(TINYRANK_SOURCE_DIR);
    REQUIRE(tree.table.names.size() == 8);  // numerics … apps
    const std::vector<std::string> problems = tree.problems();
    for (const std::string& problem : problems) MESSAGE(problem);
    CHECK(problems.empty());
}
}
