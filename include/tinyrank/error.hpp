// tinyrank/error.hpp — the one exception type of the library.
//
// Every failure on bad input (a shape mismatch, a corrupt file, a LAPACK status code)
// throws tinyrank::Error with a message that says where it happened, what was expected
// and what was found. Programs turn it into one line on stderr and a non-zero exit.
#pragma once

#include <stdexcept>
#include <string>

namespace tinyrank {

// An error with a human-readable, one-line message.
class Error : public std::runtime_error {
public:
    // Wraps `message` (one line: where, what was expected, what was found).
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace tinyrank
