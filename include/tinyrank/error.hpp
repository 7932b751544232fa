// tinyrank/error.hpp — the one exception type of the library.
//
// Every failure on bad input (a shape mismatch, a corrupt file, a LAPACK status code)
// throws tinyrank::Error with a message that says where it happened, what was expected
// and what was found. Programs turn it into one line on stderr and a non-zero exit.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace tinyrank {

// An error with a human-readable, one-line message.
class Error : public std::runtime_error {
public:
    // Wraps `message` (one line: where, what was expected, what was found).
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// The one of `kinds` (an enum's values) whose name_of(kind) is `name`; anything else throws
// "expected <what> a, b or c, found '<name>'". Where text from a flag or a file becomes a
// library enum (attack kinds, optimisers, integrators).
template <class Kind>
Kind parse_choice(const std::string& what, const std::string& name, const std::vector<Kind>& kinds,
                  std::string (*name_of)(Kind)) {
    std::string expected;
    for (size_t i = 0; i < kinds.size(); ++i) {
        if (name_of(kinds[i]) == name) return kinds[i];
        expected += (i == 0 ? "" : i + 1 == kinds.size() ? " or " : ", ") + name_of(kinds[i]);
    }
    throw Error("expected " + what + " " + expected + ", found '" + name + "'");
}

}  // namespace tinyrank
