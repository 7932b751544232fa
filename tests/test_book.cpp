// The book quotes the sources: every quoted block must equal its region, and the parser
// that checks this (tools/book_quotes.hpp) is tested on small strings.
#include <doctest/doctest.h>

#include <map>
#include <string>

#include "book_quotes.hpp"

using namespace book_quotes;

namespace {

// Sources held in memory: path → text.
Sources memory_sources(const std::map<std::string, std::string>& files) {
    return Sources([files](const std::string& path, std::string& text) {
        auto it = files.find(path);
        if (it == files.end()) return false;
        text = it->second;
        return true;
    });
}

const std::string kSource =
    "int main() {\n"
    "    // region: body\n"
    "    int x = 1;\n"
    "\n"
    "        return x;\n"
    "    // endregion: body\n"
    "}\n";

const std::string kCurrentBlock =
    "```cpp\n"
    "int x = 1;\n"
    "\n"
    "    return x;\n"
    "```\n";

std::string chapter_with(const std::string& target, const std::string& block) {
    return "# A chapter\n\nSome prose.\n\n<!-- quote: " + target + " -->\n" + block + "<!-- end quote -->\n\nMore prose.\n";
}

}  // namespace

TEST_SUITE("ch00_book") {
TEST_CASE("every quote in book/*.md names an existing region and equals it") {
    const BookResult book = check_book(TINYRANK_SOURCE_DIR, /*write=*/false);
    for (const Problem& p : book.errors) FAIL_CHECK(p.str());
    for (const Problem& p : book.stale)
        FAIL_CHECK(p.str() << " — the source changed; run `make book-quotes` to refresh the book");
    MESSAGE(book.quotes << " quotes in " << book.chapters.size() << " chapters checked");
}

TEST_CASE("a region is the lines between its markers; the quote removes their common indentation") {
    const SourceRegions found = find_regions(kSource, "a.cpp");
    CHECK(found.problems.empty());
    REQUIRE(found.regions.count("body") == 1);
    const Region& r = found.regions.at("body");
    CHECK(r.open_line == 2);
    CHECK(r.close_line == 6);
    CHECK(r.lines == std::vector<std::string>{"    int x = 1;", "", "        return x;"});
    CHECK(render_block(r.lines, "cpp") == split_lines(kCurrentBlock));
}

TEST_CASE("nested regions leave every marker line out") {
    const SourceRegions found = find_regions(
        "// region: outer\na\n// region: inner\nb\n// endregion: inner\nc\n// endregion: outer\n", "n.cpp");
    CHECK(found.problems.empty());
    CHECK(found.regions.at("outer").lines == std::vector<std::string>{"a", "b", "c"});
    CHECK(found.regions.at("inner").lines == std::vector<std::string>{"b"});
}

TEST_CASE("a region opened but never closed is an error, also where it is quoted") {
    const SourceRegions found = find_regions("x\n// region: open-ended\ny\n", "u.cpp");
    REQUIRE(found.problems.size() == 1);
    CHECK(found.problems[0].str() == "u.cpp:2: region 'open-ended' is opened but never closed");
    CHECK(found.regions.empty());

    Sources sources = memory_sources({{"u.cpp", "x\n// region: open-ended\ny\n"}});
    const ChapterResult chapter = refresh(chapter_with("u.cpp#open-ended", "```cpp\ny\n```\n"), "book/t.md", sources);
    REQUIRE(chapter.errors.size() == 2);
    CHECK(chapter.errors[0].str() == "u.cpp:2: region 'open-ended' is opened but never closed");
    CHECK(chapter.errors[1].str() == "book/t.md:5: region 'open-ended' in u.cpp (line 2) is opened but never closed");
}

TEST_CASE("an endregion without a region, and a repeated region, are errors") {
    const SourceRegions found = find_regions("// endregion: a\n// region: b\n// endregion: b\n// region: b\n// endregion: b\n", "r.cpp");
    REQUIRE(found.problems.size() == 3);
    CHECK(found.problems[0].str() == "r.cpp:1: endregion 'a' has no matching region");
    CHECK(found.problems[1].str() == "r.cpp:4: region 'b' is opened a second time");
}

TEST_CASE("a missing region and a missing file are reported at the quote's line") {
    Sources sources = memory_sources({{"src/a.cpp", kSource}});
    const ChapterResult missing_region = refresh(chapter_with("src/a.cpp#nope", kCurrentBlock), "book/t.md", sources);
    REQUIRE(missing_region.errors.size() == 1);
    CHECK(missing_region.errors[0].str() == "book/t.md:5: region 'nope' not found in src/a.cpp");
    CHECK(missing_region.stale.empty());

    const ChapterResult missing_file = refresh(chapter_with("src/b.cpp#body", kCurrentBlock), "book/t.md", sources);
    REQUIRE(missing_file.errors.size() == 1);
    CHECK(missing_file.errors[0].str() == "book/t.md:5: file src/b.cpp not found");
}

TEST_CASE("a current quote passes and leaves the chapter byte for byte") {
    Sources sources = memory_sources({{"src/a.cpp", kSource}});
    const std::string md = chapter_with("src/a.cpp#body", kCurrentBlock);
    const ChapterResult chapter = refresh(md, "book/t.md", sources);
    CHECK(chapter.quotes == 1);
    CHECK(chapter.errors.empty());
    CHECK(chapter.stale.empty());
    CHECK(chapter.text == md);
}

TEST_CASE("a stale block is detected, and writing makes it current") {
    Sources sources = memory_sources({{"src/a.cpp", kSource}});
    const std::string md = chapter_with("src/a.cpp#body", "```cpp\nint x = 2;  // edited by hand\n```\n");
    const ChapterResult chapter = refresh(md, "book/t.md", sources);
    REQUIRE(chapter.stale.size() == 1);
    CHECK(chapter.stale[0].line == 5);
    CHECK(chapter.text == chapter_with("src/a.cpp#body", kCurrentBlock));

    const ChapterResult again = refresh(chapter.text, "book/t.md", sources);
    CHECK(again.stale.empty());
    CHECK(again.errors.empty());
    CHECK(again.text == chapter.text);
}

TEST_CASE("an empty or missing block is filled in, and other code blocks are left alone") {
    Sources sources = memory_sources({{"src/a.cpp", kSource}});
    const std::string md =
        "```md\n<!-- quote: src/a.cpp#not-a-quote -->\n```\n"  // the syntax shown, not used
        "<!-- quote: src/a.cpp#body -->\n<!-- end quote -->\n";
    const ChapterResult chapter = refresh(md, "book/t.md", sources);
    CHECK(chapter.quotes == 1);
    CHECK(chapter.errors.empty());
    REQUIRE(chapter.stale.size() == 1);
    CHECK(chapter.text == "```md\n<!-- quote: src/a.cpp#not-a-quote -->\n```\n<!-- quote: src/a.cpp#body -->\n" +
                              kCurrentBlock + "<!-- end quote -->\n");
}

TEST_CASE("malformed quotes are reported") {
    Sources sources = memory_sources({{"src/a.cpp", kSource}});
    const ChapterResult no_region = refresh("<!-- quote: src/a.cpp -->\n<!-- end quote -->\n", "book/t.md", sources);
    REQUIRE(no_region.errors.size() == 1);
    CHECK(no_region.errors[0].line == 1);

    const ChapterResult no_end = refresh("<!-- quote: src/a.cpp#body -->\n```cpp\nx\n```\n", "book/t.md", sources);
    REQUIRE(no_end.errors.size() == 1);
    CHECK(no_end.errors[0].str() == "book/t.md:1: quote of src/a.cpp#body has no <!-- end quote -->");

    const ChapterResult outside = refresh("../secret.cpp\n<!-- quote: ../x.cpp#body -->\n<!-- end quote -->\n", "book/t.md", sources);
    REQUIRE(outside.errors.size() == 1);
    CHECK(outside.errors[0].line == 2);
}

TEST_CASE("the fence language comes from the existing block, else from the file name") {
    CHECK(language_for("tutorials/ch01_tensors.cpp") == "cpp");
    CHECK(language_for("book/figures/01-matmul-speed.gp") == "gnuplot");
    Sources sources = memory_sources({{"src/a.cpp", kSource}});
    const std::string md = chapter_with("src/a.cpp#body", "```c++\nint x = 1;\n\n    return x;\n```\n");
    CHECK(refresh(md, "book/t.md", sources).stale.empty());
}
}
