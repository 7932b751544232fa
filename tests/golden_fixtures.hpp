// tests/golden_fixtures.hpp — reads the PyTorch reference values in tests/golden/*.golden.
//
// A fixture file is a list of named cases; each case names the operation (or layer,
// optimiser, attack) it checks and holds named tensors, named integer lists and named
// floats. The format (tests/golden/README.md) is plain text so that this reader needs only
// the standard library:
//
//     tinyrank-golden 1 torch 1.13.0a0     first line: magic, format version, producer
//     # a comment line
//     case conv2d_s2_p1 conv2d             case <name> <op>
//     int stride 2                         int <key> <value>
//     ints labels 3 0 4 1                  ints <key> <count> <values…>
//     float slope 0.2                      float <key> <value>
//     tensor x 4 3 2 7 5                   tensor <key> <ndim> <dims…>, then the values
//     -0.98680228 1.0428313 …              (row-major, %.9g, any number per line)
//     end
//
// Values printed with %.9g and read with strtof are the exact float32 that PyTorch held.
// When the file is missing or has another format version, load_fixtures throws an Error
// that says how to regenerate it (`make golden`).
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tinyrank/error.hpp"
#include "tinyrank/tensor.hpp"

namespace tinyrank::golden {

// The format version this reader understands; tests/golden/make_golden.py writes it.
inline constexpr int kFormatVersion = 1;

// How to rebuild the fixtures, appended to every error about a missing or stale file.
inline const char* const kRegenerateHint =
    "regenerate the fixtures with `make golden` (runs /usr/bin/python3 tests/golden/make_golden.py; "
    "needs python3-torch, see tests/golden/README.md)";

// One named case: the op it checks and its named tensors, integer lists and floats.
struct Case {
    std::string name;  // unique within a file, e.g. "conv2d_s2_p1"
    std::string op;    // what it checks, e.g. "conv2d"
    std::map<std::string, Tensor> tensors;
    std::map<std::string, std::vector<int64_t>> ints;  // `int k v` is stored as a one-element list
    std::map<std::string, float> floats;

    // True when the case has a tensor called `key`.
    bool has_tensor(const std::string& key) const { return tensors.count(key) > 0; }
    // True when the case has an integer (or integer list) called `key`.
    bool has_int(const std::string& key) const { return ints.count(key) > 0; }
    // True when the case has a float called `key`.
    bool has_float(const std::string& key) const { return floats.count(key) > 0; }

    // The tensor called `key`; throws naming the case and the key when it is absent.
    const Tensor& tensor(const std::string& key) const {
        const auto it = tensors.find(key);
        if (it == tensors.end()) throw Error(where() + ": has no tensor '" + key + "'");
        return it->second;
    }
    // The single integer called `key`; throws when it is absent or a list of another length.
    int64_t integer(const std::string& key) const {
        const std::vector<int64_t>& values = int_list(key);
        if (values.size() != 1)
            throw Error(where() + ": expected one integer '" + key + "', found " + std::to_string(values.size()));
        return values[0];
    }
    // The integer called `key`, or `fallback` when the case does not have it.
    int64_t integer_or(const std::string& key, int64_t fallback) const {
        return has_int(key) ? integer(key) : fallback;
    }
    // The integer list called `key`; throws when it is absent.
    const std::vector<int64_t>& int_list(const std::string& key) const {
        const auto it = ints.find(key);
        if (it == ints.end()) throw Error(where() + ": has no integer '" + key + "'");
        return it->second;
    }
    // The float called `key`; throws when it is absent.
    float real(const std::string& key) const {
        const auto it = floats.find(key);
        if (it == floats.end()) throw Error(where() + ": has no float '" + key + "'");
        return it->second;
    }

private:
    std::string where() const { return "golden case '" + name + "' (" + op + ")"; }
};

// The cases of one fixture file, in file order, with its header.
struct Fixtures {
    std::string path;
    int version = 0;
    std::map<std::string, std::string> producer;  // header pairs after the version, e.g. torch → 1.13.0
    std::vector<Case> cases;

    // The case called `name`; throws when there is none.
    const Case& find(const std::string& name) const {
        for (const Case& c : cases)
            if (c.name == name) return c;
        throw Error(path + ": has no case '" + name + "'; " + kRegenerateHint);
    }
    // Every case that checks `op`, in file order (possibly none).
    std::vector<const Case*> cases_of(const std::string& op) const {
        std::vector<const Case*> found;
        for (const Case& c : cases)
            if (c.op == op) found.push_back(&c);
        return found;
    }
};

namespace detail {

// Splits a fixture file into whitespace-separated tokens with their line numbers;
// a line whose first token starts with '#' is a comment.
class Tokens {
public:
    Tokens(std::istream& in, std::string path) : path_(std::move(path)) {
        std::string line;
        int number = 0;
        while (std::getline(in, line)) {
            ++number;
            std::istringstream words(line);
            std::string word;
            bool first = true;
            while (words >> word) {
                if (first && word[0] == '#') break;
                first = false;
                tokens_.push_back({word, number});
            }
        }
    }

    bool at_end() const { return next_ >= tokens_.size(); }
    int line() const { return next_ < tokens_.size() ? tokens_[next_].line : last_line(); }

    std::string word(const std::string& what) {
        if (at_end()) fail("expected " + what + ", found the end of the file");
        return tokens_[next_++].text;
    }
    int64_t integer(const char* what) {
        const int at = line();
        const std::string text = word(what);
        char* end = nullptr;
        errno = 0;
        const long long value = std::strtoll(text.c_str(), &end, 10);
        if (errno != 0 || end == text.c_str() || *end != '\0')
            fail(std::string("expected ") + what + " (an integer), found '" + text + "'", at);
        return value;
    }
    float real(const char* what) {
        const int at = line();
        const std::string text = word(what);
        char* end = nullptr;
        errno = 0;
        const float value = std::strtof(text.c_str(), &end);  // nan/inf are accepted as written
        if (end == text.c_str() || *end != '\0')
            fail(std::string("expected ") + what + " (a number), found '" + text + "'", at);
        return value;
    }
    // The remaining tokens on the line of the last token read.
    std::vector<std::string> rest_of_line() {
        std::vector<std::string> words;
        const int at = next_ > 0 ? tokens_[next_ - 1].line : 0;
        while (!at_end() && tokens_[next_].line == at) words.push_back(tokens_[next_++].text);
        return words;
    }
    [[noreturn]] void fail(const std::string& message, int at = -1) const {
        throw Error(path_ + ":" + std::to_string(at >= 0 ? at : line()) + ": " + message);
    }

private:
    struct Token {
        std::string text;
        int line;
    };
    int last_line() const { return tokens_.empty() ? 1 : tokens_.back().line; }
    std::vector<Token> tokens_;
    size_t next_ = 0;
    std::string path_;
};

}  // namespace detail

// Reads a fixture file; throws Error naming the file and line on any problem, and saying
// how to regenerate the file when it is missing or of another format version.
inline Fixtures load_fixtures(const std::string& path) {
    std::ifstream in(path);
    if (!in)
        throw Error("golden fixtures: cannot open " + path + " (missing?); " + kRegenerateHint);
    detail::Tokens tokens(in, path);
    Fixtures fixtures;
    fixtures.path = path;

    if (tokens.at_end() || tokens.word("the header") != "tinyrank-golden")
        tokens.fail(std::string("not a tinyrank golden fixture file (expected the first line "
                                "'tinyrank-golden <version> …'); ") + kRegenerateHint, 1);
    fixtures.version = static_cast<int>(tokens.integer("the format version"));
    if (fixtures.version != kFormatVersion)
        tokens.fail("format version " + std::to_string(fixtures.version) + ", but this reader expects version " +
                        std::to_string(kFormatVersion) + "; " + kRegenerateHint,
                    1);
    const std::vector<std::string> pairs = tokens.rest_of_line();
    for (size_t i = 0; i + 1 < pairs.size(); i += 2) fixtures.producer[pairs[i]] = pairs[i + 1];

    while (!tokens.at_end()) {
        const int case_line = tokens.line();
        if (tokens.word("'case'") != "case") tokens.fail("expected 'case <name> <op>'", case_line);
        Case c;
        c.name = tokens.word("a case name");
        c.op = tokens.word("an op name");
        for (const Case& earlier : fixtures.cases)
            if (earlier.name == c.name) tokens.fail("case '" + c.name + "' appears twice", case_line);
        for (;;) {
            const int at = tokens.line();
            const std::string kind = tokens.word("a record or 'end' in case '" + c.name + "'");
            if (kind == "end") break;
            const std::string key = tokens.word("a key");
            if (c.tensors.count(key) || c.ints.count(key) || c.floats.count(key))
                tokens.fail("case '" + c.name + "' defines '" + key + "' twice", at);
            if (kind == "int") {
                c.ints[key] = {tokens.integer("an integer value")};
            } else if (kind == "ints") {
                const int64_t count = tokens.integer("the number of integers");
                if (count < 0) tokens.fail("negative count for ints '" + key + "'", at);
                std::vector<int64_t> values;
                for (int64_t i = 0; i < count; ++i) values.push_back(tokens.integer("an integer value"));
                c.ints[key] = std::move(values);
            } else if (kind == "float") {
                c.floats[key] = tokens.real("a float value");
            } else if (kind == "tensor") {
                const int64_t ndim = tokens.integer("the number of dimensions");
                if (ndim < 0 || ndim > 8)
                    tokens.fail("tensor '" + key + "' has " + std::to_string(ndim) + " dimensions", at);
                Shape shape;
                for (int64_t d = 0; d < ndim; ++d) {
                    shape.push_back(tokens.integer("a dimension"));
                    if (shape.back() < 0) tokens.fail("tensor '" + key + "' has a negative dimension", at);
                }
                Tensor t = Tensor::empty(shape);
                for (int64_t i = 0; i < t.numel(); ++i) t[i] = tokens.real("a tensor value");
                c.tensors[key] = t;
            } else {
                tokens.fail("unknown record '" + kind + "' in case '" + c.name +
                                "' (expected int, ints, float, tensor or end)",
                            at);
            }
        }
        fixtures.cases.push_back(std::move(c));
    }
    return fixtures;
}

// The path of a fixture file in the source tree's tests/golden/ directory.
inline std::string fixture_path(const std::string& file) {
#ifdef TINYRANK_SOURCE_DIR
    return std::string(TINYRANK_SOURCE_DIR) + "/tests/golden/" + file;
#else
    return "tests/golden/" + file;
#endif
}

// The fixtures of `file` in tests/golden/, read once per test binary and shared by every test
// that asks for them.
inline const Fixtures& cached_fixtures(const std::string& file) {
    static std::map<std::string, Fixtures> loaded;
    auto it = loaded.find(file);
    if (it == loaded.end()) it = loaded.emplace(file, load_fixtures(fixture_path(file))).first;
    return it->second;
}

}  // namespace tinyrank::golden
