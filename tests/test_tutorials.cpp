// Every tutorial runs with --quick, exits 0 and tells its story (book chapters 1–11).
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace fs = std::filesystem;

TEST_SUITE("ch00_book") {
TEST_CASE("every tutorial runs with --quick and writes its figure data") {
    const fs::path tutorials = fs::path(TINYRANK_SOURCE_DIR) / "tutorials";
    int count = 0;
    for (const auto& entry : fs::directory_iterator(tutorials)) {
        const std::string stem = entry.path().stem().string();
        if (entry.path().extension() != ".cpp" || stem.rfind("ch", 0) != 0) continue;
        ++count;
        const fs::path program = fs::path(TINYRANK_BINARY_DIR) / "tutorials" / stem;
        const fs::path out = fs::temp_directory_path() / ("tinyrank_tutorial_" + stem);
        const fs::path log = out / "stdout.txt";
        fs::remove_all(out);
        fs::create_directories(out);
        // From the repository root, as a learner runs it; one BLAS thread for repeatability.
        const std::string command = "cd " + std::string(TINYRANK_SOURCE_DIR) + " && TINYRANK_THREADS=1 " +
                                    program.string() + " --quick --out " + (out / "data").string() + " > " +
                                    log.string() + " 2>&1";
        const int status = std::system(command.c_str());
        std::ifstream in(log);
        std::stringstream text;
        text << in.rdbuf();
        INFO(stem << " printed:\n" << text.str());
        CHECK(status == 0);
        CHECK(text.str().size() > 200);  // a story, not a bare number
        bool wrote_csv = false;
        if (fs::exists(out / "data"))
            for (const auto& f : fs::recursive_directory_iterator(out / "data"))
                wrote_csv = wrote_csv || f.path().extension() == ".csv";
        CHECK(wrote_csv);
        fs::remove_all(out);
    }
    CHECK(count >= 2);
}
}
