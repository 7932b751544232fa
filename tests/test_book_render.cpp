// The rendered book: scripts/render-book (what `make book` runs after refreshing the quotes)
// must give one page per file of book/ and book.html, in which every image exists, every
// quote holds its code, every equation is MathML with its number, and every link lands.
// Skipped, with a message, when pandoc is not installed.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

#include "book_quotes.hpp"

namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& path) {
    std::string text;
    book_quotes::read_text_file(path, text);
    return text;
}

size_t count(const std::string& text, const std::string& needle) {
    size_t n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
    return n;
}

// The values of `attribute` in every `<tag …>` of an HTML text, in order.
std::vector<std::string> attribute_values(const std::string& html, const std::string& tag, const std::string& attribute) {
    std::vector<std::string> values;
    const std::string open = "<" + tag;
    for (size_t at = html.find(open); at != std::string::npos; at = html.find(open, at + 1)) {
        const size_t after = at + open.size();
        if (after >= html.size() || (html[after] != ' ' && html[after] != '\n' && html[after] != '>')) continue;
        const size_t end = html.find('>', after);
        const std::string inside = html.substr(after, end - after);
        for (size_t p = inside.find(attribute + "=\""); p != std::string::npos; p = inside.find(attribute + "=\"", p + 1)) {
            if (p > 0 && inside[p - 1] != ' ' && inside[p - 1] != '\n') continue;  // e.g. data-src= is not src=
            const size_t begin = p + attribute.size() + 2;
            values.push_back(inside.substr(begin, inside.find('"', begin) - begin));
            break;
        }
    }
    return values;
}

// Every id="…" of an HTML text, with how often each occurs (pandoc may break a tag's line
// before an attribute).
std::map<std::string, int> ids_of(const std::string& html) {
    std::map<std::string, int> ids;
    for (size_t at = html.find("id=\""); at != std::string::npos; at = html.find("id=\"", at + 1)) {
        if (at == 0 || (html[at - 1] != ' ' && html[at - 1] != '\n')) continue;
        const size_t begin = at + 4;
        ++ids[html.substr(begin, html.find('"', begin) - begin)];
    }
    return ids;
}

bool is_external(const std::string& href) {
    return href.rfind("http://", 0) == 0 || href.rfind("https://", 0) == 0 || href.rfind("mailto:", 0) == 0;
}

// The book's files in reading order, as render-book finds them: NN-*.md, then the method,
// the glossary and the bibliography.
std::vector<std::string> book_stems(const fs::path& book) {
    std::vector<std::string> stems;
    for (const auto& entry : fs::directory_iterator(book)) {
        const std::string name = entry.path().filename().string();
        if (entry.path().extension() == ".md" && name.size() > 3 && std::isdigit(static_cast<unsigned char>(name[0])) &&
            std::isdigit(static_cast<unsigned char>(name[1])) && name[2] == '-')
            stems.push_back(entry.path().stem().string());
    }
    std::sort(stems.begin(), stems.end());
    for (const char* back : {"method", "glossary", "bibliography"})
        if (fs::exists(book / (std::string(back) + ".md"))) stems.push_back(back);
    return stems;
}

// Checks one rendered page: images, links, ids, math and quotes; `quotes` and `tags` are
// how many quotes and numbered equations its sources hold, `has_math` whether they hold
// display math.
void check_page(const fs::path& out, const std::string& name, const std::string& html,
                const std::map<std::string, std::map<std::string, int>>& ids, size_t quotes, size_t tags, bool has_math) {
    INFO("in " << (out / name).string());
    CHECK(html.find("<!-- quote:") == std::string::npos);  // every quote resolved into a <div class="quote">
    CHECK(count(html, "<div class=\"quote\"") == quotes);
    CHECK(count(html, "class=\"eqno\"") == tags);
    CHECK(html.find("class=\"math") == std::string::npos);  // pandoc's fallback when TeX is not turned into MathML
    if (has_math) CHECK(html.find("<math") != std::string::npos);
    CHECK(html.find("<script") == std::string::npos);

    // A quote holds code: its block has at least one non-blank character.
    for (size_t at = html.find("<div class=\"quote\""); at != std::string::npos; at = html.find("<div class=\"quote\"", at + 1)) {
        const size_t code = html.find("<code", at);
        const size_t begin = html.find('>', code) + 1, end = html.find("</code>", begin);
        const bool empty = code == std::string::npos || end == std::string::npos ||
                           html.substr(begin, end - begin).find_first_not_of(" \n") == std::string::npos;
        CHECK_MESSAGE(!empty, "an empty quote at offset " << at);
    }
    for (const auto& [id, n] : ids.at(name)) CHECK_MESSAGE(n == 1, "id '" << id << "' occurs " << n << " times");

    for (const std::string& src : attribute_values(html, "img", "src")) {
        CHECK_MESSAGE(!is_external(src), "image from the network: " << src);
        CHECK_MESSAGE(fs::exists(out / src), "missing image " << src);
    }
    for (const std::string& href : attribute_values(html, "link", "href")) {
        const bool local = !is_external(href) && fs::exists(out / href);
        CHECK_MESSAGE(local, "style sheet " << href << " is not a file of the book");
    }
    for (const std::string& href : attribute_values(html, "a", "href")) {
        if (is_external(href)) continue;
        const size_t hash = href.find('#');
        const std::string file = hash == std::string::npos ? href : href.substr(0, hash);
        const std::string anchor = hash == std::string::npos ? "" : href.substr(hash + 1);
        const std::string page = file.empty() ? name : file;
        if (ids.count(page)) {
            const bool lands = anchor.empty() || ids.at(page).count(anchor) > 0;
            CHECK_MESSAGE(lands, "broken link " << href);
        } else {
            CHECK_MESSAGE(anchor.empty(), "link into a page that was not rendered: " << href);
            CHECK_MESSAGE(fs::exists(out / file), "broken link " << href);
        }
    }
}

}  // namespace

TEST_SUITE("ch00_book") {
TEST_CASE("the rendered book has every page, and its images, quotes, math and links resolve") {
    if (std::system("command -v pandoc > /dev/null 2>&1") != 0) {
        MESSAGE("pandoc is not installed, so the rendered book is not checked (scripts/install-deps --missing installs it)");
        return;
    }
    const fs::path root = TINYRANK_SOURCE_DIR;
    const std::string unique = "tinyrank_book_render_" + std::to_string(getpid());  // test runs may overlap
    const fs::path out = fs::temp_directory_path() / unique;
    const fs::path log = fs::temp_directory_path() / (unique + ".log");
    fs::remove_all(out);
    const auto start = std::chrono::steady_clock::now();
    const std::string command = "cd " + root.string() + " && scripts/render-book --out " + out.string() + " --cache " +
                                std::string(TINYRANK_BINARY_DIR) + "/book-cache > " + log.string() + " 2>&1";
    const int status = std::system(command.c_str());
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    INFO("scripts/render-book printed:\n" << read_text(log));
    REQUIRE(status == 0);

    const std::vector<std::string> stems = book_stems(root / "book");
    REQUIRE(stems.size() >= 2);
    std::map<std::string, std::map<std::string, int>> ids;  // page → its ids
    std::map<std::string, std::string> pages;
    for (const std::string& name : {std::string("index.html"), std::string("book.html")}) {
        REQUIRE_MESSAGE(fs::exists(out / name), name << " was not written");
        pages[name] = read_text(out / name);
    }
    for (const std::string& stem : stems) {
        REQUIRE_MESSAGE(fs::exists(out / (stem + ".html")), "no page for book/" << stem << ".md");
        pages[stem + ".html"] = read_text(out / (stem + ".html"));
    }
    for (const auto& [name, html] : pages) ids[name] = ids_of(html);

    size_t all_quotes = 0, all_tags = 0;
    bool any_math = false;
    for (const std::string& stem : stems) {
        const std::string markdown = read_text(root / "book" / (stem + ".md"));
        const size_t quotes = book_quotes::find_quotes(book_quotes::split_lines(markdown), stem).quotes.size();
        const size_t tags = count(markdown, "\\tag{");
        const bool has_math = markdown.find("$$") != std::string::npos;  // display math, at least
        check_page(out, stem + ".html", pages[stem + ".html"], ids, quotes, tags, has_math);
        CHECK_MESSAGE(ids["book.html"].count(stem + ".md") == 1, "book.html does not hold book/" << stem << ".md");
        CHECK_MESSAGE(pages["index.html"].find("href=\"" + stem + ".html\"") != std::string::npos, "index.html misses " << stem);
        all_quotes += quotes;
        all_tags += tags;
        any_math = any_math || has_math;
    }
    check_page(out, "book.html", pages["book.html"], ids, all_quotes, all_tags, any_math);
    check_page(out, "index.html", pages["index.html"], ids, 0, 0, false);
    CHECK(pages["book.html"].find("<nav id=\"TOC\"") != std::string::npos);

    MESSAGE(stems.size() << " pages, book.html with " << all_quotes << " quotes and " << all_tags
                         << " numbered equations, rendered and checked in " << seconds << " s");
    fs::remove_all(out);
    fs::remove(log);
}
}
