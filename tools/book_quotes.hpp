// tools/book_quotes.hpp — keeps the code quoted in book/*.md identical to the sources.
//
// A *region* of a source file is the run of lines between a line containing
// `// region: NAME` and a line containing `// endregion: NAME`, NAME being [a-z0-9-]+.
// Marker lines are never part of a region, not even of an enclosing one, so regions may
// nest. A *quote* in a chapter is
//
//     <!-- quote: tutorials/ch01_tensors.cpp#naive-matmul -->
//     ```cpp
//     ...the region's lines exactly, with their common leading indentation removed...
//     ```
//     <!-- end quote -->
//
// where the path is relative to the repository root. refresh() compares every quote of
// one chapter with its region and reports the stale ones, or rewrites them; check_book()
// does that for every book/*.md under a root. Everything is in this header so that the
// tests (tests/test_book.cpp) and the program (tools/book_quotes.cpp) share one parser.
#pragma once

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace book_quotes {

// One thing wrong, located like a compiler diagnostic.
struct Problem {
    std::string file;     // as the reader sees it, e.g. "book/02-autodiff.md"
    int line = 0;         // 1-based; 0 when it concerns the whole file
    std::string message;  // e.g. "region 'x' not found in src/autodiff/tape.cpp"

    // "book/02-autodiff.md:40: region 'x' not found in src/autodiff/tape.cpp"
    std::string str() const {
        return line > 0 ? file + ":" + std::to_string(line) + ": " + message : file + ": " + message;
    }
};

// ---- Text helpers ------------------------------------------------------------------------

// Splits `text` at '\n' (a trailing '\r' is dropped); a final newline adds no empty line.
inline std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::string current;
    for (char c : text) {
        if (c == '\n') {
            if (!current.empty() && current.back() == '\r') current.pop_back();
            lines.push_back(current);
            current.clear();
        } else {
            current += c;
        }
    }
    if (!current.empty()) {
        if (current.back() == '\r') current.pop_back();
        lines.push_back(current);
    }
    return lines;
}

// `s` without leading and trailing blanks (spaces, tabs, '\r').
inline std::string trim(const std::string& s) {
    const size_t first = s.find_first_not_of(" \t\r");
    if (first == std::string::npos) return "";
    const size_t last = s.find_last_not_of(" \t\r");
    return s.substr(first, last - first + 1);
}

// True for a line that is empty or holds only blanks.
inline bool is_blank(const std::string& line) { return line.find_first_not_of(" \t\r") == std::string::npos; }

// The lines with their common leading indentation (spaces or tabs) removed; blank lines
// become empty.
inline std::vector<std::string> dedent(const std::vector<std::string>& lines) {
    size_t common = std::string::npos;
    for (const std::string& line : lines)
        if (!is_blank(line)) common = std::min(common, line.find_first_not_of(" \t"));
    std::vector<std::string> out;
    for (const std::string& line : lines) out.push_back(is_blank(line) ? std::string() : line.substr(common));
    return out;
}

// ---- Regions in a source file ------------------------------------------------------------

// A named region of a source file.
struct Region {
    std::string name;
    int open_line = 0;   // 1-based line of `// region: NAME`
    int close_line = 0;  // 1-based line of `// endregion: NAME`
    std::vector<std::string> lines;  // the lines in between, as written (marker lines left out)
};

// Everything found in one source file.
struct SourceRegions {
    std::map<std::string, Region> regions;      // the well-formed regions, by name
    std::map<std::string, int> unclosed;        // name → line of a `region:` never closed
    std::vector<Problem> problems;              // unclosed, unopened or repeated regions
};

// If `line` holds `// KEYWORD: NAME` with NAME in [a-z0-9-]+, stores NAME and returns
// true. KEYWORD is "region" or "endregion"; blanks around the parts may vary.
inline bool parse_marker(const std::string& line, const std::string& keyword, std::string& name) {
    for (size_t at = line.find("//"); at != std::string::npos; at = line.find("//", at + 2)) {
        size_t p = line.find_first_not_of(" \t", at + 2);
        if (p == std::string::npos || line.compare(p, keyword.size(), keyword) != 0) continue;
        p += keyword.size();
        if (p >= line.size() || line[p] != ':') continue;
        p = line.find_first_not_of(" \t", p + 1);
        if (p == std::string::npos) continue;
        size_t end = p;
        while (end < line.size() &&
               ((line[end] >= 'a' && line[end] <= 'z') || (line[end] >= '0' && line[end] <= '9') || line[end] == '-'))
            ++end;
        if (end == p || (end < line.size() && line[end] != ' ' && line[end] != '\t' && line[end] != '\r')) continue;
        name = line.substr(p, end - p);
        return true;
    }
    return false;
}

// Finds the regions of a source file; `path` only labels the problems.
inline SourceRegions find_regions(const std::string& text, const std::string& path) {
    SourceRegions found;
    std::vector<Region> open;  // in order of opening
    const std::vector<std::string> lines = split_lines(text);
    for (size_t i = 0; i < lines.size(); ++i) {
        const int line_no = static_cast<int>(i) + 1;
        std::string name;
        if (parse_marker(lines[i], "region", name)) {
            const bool repeated = found.regions.count(name) > 0 ||
                                  std::any_of(open.begin(), open.end(), [&](const Region& r) { return r.name == name; });
            if (repeated) {
                found.problems.push_back({path, line_no, "region '" + name + "' is opened a second time"});
            } else {
                Region r;
                r.name = name;
                r.open_line = line_no;
                open.push_back(r);
            }
        } else if (parse_marker(lines[i], "endregion", name)) {
            auto it = std::find_if(open.begin(), open.end(), [&](const Region& r) { return r.name == name; });
            if (it == open.end()) {
                found.problems.push_back({path, line_no, "endregion '" + name + "' has no matching region"});
            } else {
                it->close_line = line_no;
                found.regions[name] = *it;
                open.erase(it);
            }
        } else {
            for (Region& r : open) r.lines.push_back(lines[i]);
        }
    }
    for (const Region& r : open) {
        found.unclosed[r.name] = r.open_line;
        found.problems.push_back({path, r.open_line, "region '" + r.name + "' is opened but never closed"});
    }
    return found;
}

// ---- Quotes in a chapter -------------------------------------------------------------------

// One `<!-- quote: PATH#REGION -->` … `<!-- end quote -->` of a chapter.
struct Quote {
    int line = 0;              // 1-based line of the opening marker
    std::string path;          // source file, relative to the root
    std::string region;        // region name
    size_t body_begin = 0;     // index (0-based) of the first line after the opening marker
    size_t body_end = 0;       // index of the `<!-- end quote -->` line
    std::string language;      // the info string of the block's fence, if it has one
};

// Everything found in one chapter.
struct ChapterQuotes {
    std::vector<Quote> quotes;
    std::vector<Problem> problems;  // malformed or unterminated quotes
};

// If `line` opens or closes a fenced code block, the fence (``` or ~~~, maybe longer).
inline std::string fence_of(const std::string& line) {
    const std::string t = trim(line);
    if (t.size() < 3 || (t[0] != '`' && t[0] != '~')) return "";
    size_t n = 0;
    while (n < t.size() && t[n] == t[0]) ++n;
    return n >= 3 ? t.substr(0, n) : "";
}

// True when `line` closes a block opened with `fence`.
inline bool closes_fence(const std::string& line, const std::string& fence) {
    const std::string t = trim(line);
    return t.size() >= fence.size() && t.find_first_not_of(fence[0]) == std::string::npos;
}

// The index of the line closing the fence opened at `open`, or lines.size() if none.
inline size_t fence_end(const std::vector<std::string>& lines, size_t open) {
    const std::string fence = fence_of(lines[open]);
    for (size_t j = open + 1; j < lines.size(); ++j)
        if (closes_fence(lines[j], fence)) return j;
    return lines.size();
}

inline bool is_quote_open(const std::string& line) {
    const std::string t = trim(line);
    return t.rfind("<!-- quote:", 0) == 0 && t.size() >= 15 && t.compare(t.size() - 3, 3, "-->") == 0;
}

inline bool is_quote_end(const std::string& line) { return trim(line) == "<!-- end quote -->"; }

// Finds the quotes of a chapter given as lines; `md_path` only labels the problems.
// Code blocks that are not quotes are skipped, so a chapter may show the syntax itself.
inline ChapterQuotes find_quotes(const std::vector<std::string>& lines, const std::string& md_path) {
    ChapterQuotes found;
    for (size_t i = 0; i < lines.size(); ++i) {
        if (!fence_of(lines[i]).empty()) {  // an ordinary code block: skip it whole
            i = fence_end(lines, i);
            continue;
        }
        if (is_quote_end(lines[i])) {
            found.problems.push_back({md_path, static_cast<int>(i) + 1, "<!-- end quote --> without an opening quote"});
            continue;
        }
        if (!is_quote_open(lines[i])) continue;
        Quote q;
        q.line = static_cast<int>(i) + 1;
        const std::string t = trim(lines[i]);
        const std::string target = trim(t.substr(11, t.size() - 11 - 3));
        const size_t hash = target.find('#');
        const bool well_formed = hash != std::string::npos && hash > 0 && hash + 1 < target.size();
        if (well_formed) {
            q.path = target.substr(0, hash);
            q.region = target.substr(hash + 1);
        }
        q.body_begin = i + 1;
        // The body: normally one fenced block; its contents are never read as markers.
        size_t j = i + 1;
        bool terminated = false;
        for (; j < lines.size(); ++j) {
            if (is_quote_end(lines[j])) {
                terminated = true;
                break;
            }
            if (is_quote_open(lines[j])) break;
            if (!fence_of(lines[j]).empty()) {
                if (j == i + 1) q.language = trim(trim(lines[j]).substr(fence_of(lines[j]).size()));
                j = fence_end(lines, j);
                if (j == lines.size()) break;
            }
        }
        if (!terminated) {
            found.problems.push_back({md_path, q.line, "quote of " + target + " has no <!-- end quote -->"});
            i = j == lines.size() ? j : j - 1;
            continue;
        }
        q.body_end = j;
        if (well_formed)
            found.quotes.push_back(q);
        else
            found.problems.push_back({md_path, q.line, "expected <!-- quote: PATH#REGION -->, found '" + t + "'"});
        i = j;
    }
    return found;
}

// The fence language for a source path when the chapter's block names none.
inline std::string language_for(const std::string& path) {
    const std::string name = std::filesystem::path(path).filename().string();
    const std::string ext = std::filesystem::path(path).extension().string();
    if (ext == ".cpp" || ext == ".hpp" || ext == ".h" || ext == ".cc") return "cpp";
    if (ext == ".gp") return "gnuplot";
    if (ext == ".py") return "python";
    if (ext == ".sh" || name == "install-deps") return "sh";
    if (ext == ".cmake" || name == "CMakeLists.txt") return "cmake";
    if (name == "Makefile") return "make";
    return "";
}

// The fenced block a quote of `region_lines` must hold: the dedented lines between a
// fence line with `language` and a closing fence (longer fences if the code holds ```).
inline std::vector<std::string> render_block(const std::vector<std::string>& region_lines, const std::string& language) {
    const std::vector<std::string> body = dedent(region_lines);
    std::string fence = "```";
    for (const std::string& line : body)
        while (trim(line).rfind(fence, 0) == 0) fence += '`';
    std::vector<std::string> out{fence + language};
    out.insert(out.end(), body.begin(), body.end());
    out.push_back(fence);
    return out;
}

// ---- Sources, read once ------------------------------------------------------------------

// Reads source files through `read` and remembers their regions.
class Sources {
public:
    // Reads `path` (relative to the root) into `text`; false when it cannot be read.
    using ReadFile = std::function<bool(const std::string& path, std::string& text)>;

    explicit Sources(ReadFile read) : read_(std::move(read)) {}

    // The regions of `path`, or nullptr when the file cannot be read.
    const SourceRegions* regions(const std::string& path) {
        auto it = cache_.find(path);
        if (it == cache_.end()) {
            std::string text;
            std::unique_ptr<SourceRegions> found;
            if (read_(path, text)) found = std::make_unique<SourceRegions>(find_regions(text, path));
            it = cache_.emplace(path, std::move(found)).first;
        }
        return it->second.get();
    }

    // The problems of `path`'s markers the first time they are asked for, then none.
    std::vector<Problem> new_problems(const std::string& path) {
        const SourceRegions* r = regions(path);
        if (r == nullptr || !reported_.insert(path).second) return {};
        return r->problems;
    }

private:
    ReadFile read_;
    std::map<std::string, std::unique_ptr<SourceRegions>> cache_;
    std::set<std::string> reported_;
};

// ---- One chapter ---------------------------------------------------------------------------

// The outcome of refreshing one chapter.
struct ChapterResult {
    std::string text;              // the chapter with every stale quote rewritten
    int quotes = 0;                // quotes found
    std::vector<Problem> stale;    // quotes whose block differs from their region
    std::vector<Problem> errors;   // missing files or regions, malformed quotes or markers
};

// Compares every quote of `markdown` (the chapter at `md_path`) with its region, and
// returns the chapter with the stale blocks replaced. Quotes whose file or region is
// missing are reported and left as they are.
inline ChapterResult refresh(const std::string& markdown, const std::string& md_path, Sources& sources) {
    ChapterResult result;
    const std::vector<std::string> lines = split_lines(markdown);
    const ChapterQuotes found = find_quotes(lines, md_path);
    result.quotes = static_cast<int>(found.quotes.size());
    result.errors = found.problems;

    std::vector<std::string> out;
    size_t next = 0;  // the first line of `lines` not yet copied to `out`
    for (const Quote& q : found.quotes) {
        out.insert(out.end(), lines.begin() + static_cast<std::ptrdiff_t>(next),
                   lines.begin() + static_cast<std::ptrdiff_t>(q.body_begin));
        next = q.body_begin;
        const std::vector<std::string> current(lines.begin() + static_cast<std::ptrdiff_t>(q.body_begin),
                                               lines.begin() + static_cast<std::ptrdiff_t>(q.body_end));
        const Region* region = nullptr;
        const std::filesystem::path source(q.path);
        if (source.is_absolute() || std::find(source.begin(), source.end(), "..") != source.end()) {
            result.errors.push_back({md_path, q.line, "path '" + q.path + "' must be relative to the repository root"});
        } else if (const SourceRegions* file = sources.regions(q.path)) {
            for (const Problem& p : sources.new_problems(q.path)) result.errors.push_back(p);
            auto it = file->regions.find(q.region);
            if (it != file->regions.end()) {
                region = &it->second;
            } else if (file->unclosed.count(q.region)) {
                result.errors.push_back({md_path, q.line, "region '" + q.region + "' in " + q.path + " (line " +
                                                              std::to_string(file->unclosed.at(q.region)) +
                                                              ") is opened but never closed"});
            } else {
                result.errors.push_back({md_path, q.line, "region '" + q.region + "' not found in " + q.path});
            }
        } else {
            result.errors.push_back({md_path, q.line, "file " + q.path + " not found"});
        }
        if (region == nullptr) continue;  // left as it is; copied with the next stretch
        const std::vector<std::string> wanted =
            render_block(region->lines, q.language.empty() ? language_for(q.path) : q.language);
        if (wanted != current) {
            result.stale.push_back({md_path, q.line, "quote of " + q.path + "#" + q.region + " differs from " + q.path +
                                                         ":" + std::to_string(region->open_line + 1) + "-" +
                                                         std::to_string(region->close_line - 1)});
        }
        out.insert(out.end(), wanted.begin(), wanted.end());
        next = q.body_end;
    }
    out.insert(out.end(), lines.begin() + static_cast<std::ptrdiff_t>(next), lines.end());

    if (result.stale.empty()) {
        result.text = markdown;  // byte for byte, line endings included
    } else {
        for (const std::string& line : out) result.text += line + "\n";
        if (!markdown.empty() && markdown.back() != '\n' && !result.text.empty()) result.text.pop_back();
    }
    return result;
}

// ---- The whole book ------------------------------------------------------------------------

// Reads a whole file; false when it cannot be opened.
inline bool read_text_file(const std::filesystem::path& path, std::string& text) {
    std::ifstream in(path, std::ios::binary);
    if (!in || std::filesystem::is_directory(path)) return false;
    std::ostringstream buffer;
    buffer << in.rdbuf();
    text = buffer.str();
    return true;
}

// The outcome of checking or refreshing every chapter.
struct BookResult {
    std::vector<std::string> chapters;  // "book/01-tensors.md", … in name order
    int quotes = 0;
    std::vector<Problem> stale;   // stale quotes (rewritten when writing)
    std::vector<Problem> errors;  // missing files or regions, malformed quotes or markers
    std::vector<std::string> written;  // chapters rewritten
};

// Checks every quote of root/book/*.md against root's sources; with `write`, rewrites
// the chapters whose quotes are stale.
inline BookResult check_book(const std::filesystem::path& root, bool write) {
    BookResult result;
    const std::filesystem::path book = root / "book";
    std::error_code ec;
    if (!std::filesystem::is_directory(book, ec)) {
        result.errors.push_back({(root / "book").string(), 0, "no such directory"});
        return result;
    }
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(book, ec))
        if (entry.is_regular_file() && entry.path().extension() == ".md") names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());

    Sources sources([&root](const std::string& path, std::string& text) { return read_text_file(root / path, text); });
    for (const std::string& name : names) {
        const std::string md_path = "book/" + name;
        std::string markdown;
        if (!read_text_file(book / name, markdown)) {
            result.errors.push_back({md_path, 0, "cannot be read"});
            continue;
        }
        result.chapters.push_back(md_path);
        ChapterResult chapter = refresh(markdown, md_path, sources);
        result.quotes += chapter.quotes;
        result.stale.insert(result.stale.end(), chapter.stale.begin(), chapter.stale.end());
        result.errors.insert(result.errors.end(), chapter.errors.begin(), chapter.errors.end());
        if (write && chapter.text != markdown) {
            const std::filesystem::path target = book / name, temporary = book / (name + ".tmp");
            {
                std::ofstream out(temporary, std::ios::binary);
                out << chapter.text;
                if (!out) {
                    result.errors.push_back({md_path, 0, "cannot be written"});
                    continue;
                }
            }
            std::filesystem::rename(temporary, target, ec);
            if (ec) {
                result.errors.push_back({md_path, 0, "cannot be replaced: " + ec.message()});
                continue;
            }
            result.written.push_back(md_path);
        }
    }
    return result;
}

}  // namespace book_quotes
