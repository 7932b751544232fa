// Command-line flags for the tinyrank program: a table per command, parsed and checked in
// one place so that every command reports bad flags the same way (one line, exit status 2).
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace tinyrank::cli {

// A mistake in how the program was called: printed as one line, exit status 2.
class UsageError : public std::runtime_error {
public:
    explicit UsageError(const std::string& message) : std::runtime_error(message) {}
};

// One flag a command accepts.
struct Flag {
    std::string name;           // without dashes: "epochs"
    std::string value_name;     // "N"; empty for a switch that takes no value
    std::string help;           // one line
    std::string default_value;  // shown in --help; empty when the flag is required or has no default
    bool required = false;
};

// The parsed flags of one command.
class Args {
public:
    // Parses argv[first..] against `flags` for `command`; throws UsageError on unknown flags,
    // missing values, repeated flags and missing required ones. --help is left to the caller.
    Args(const std::string& command, const std::vector<Flag>& flags, int argc, char** argv, int first);

    // True when the flag was given (or, for switches, set).
    bool has(const std::string& name) const;
    // The flag's text, or its default.
    std::string text(const std::string& name) const;
    // The flag as an integer in [min, max].
    int64_t integer(const std::string& name, int64_t min, int64_t max) const;
    // The flag as a finite number in [min, max].
    double number(const std::string& name, double min, double max) const;
    // The flag as a comma-separated list of finite numbers, each in [min, max].
    std::vector<double> numbers(const std::string& name, double min, double max) const;
    // The flag's text, which must be one of `choices`.
    std::string choice(const std::string& name, const std::vector<std::string>& choices) const;
    // The flag as one of the library's `kinds` (an enum), matched by the names `name_of` gives them.
    template <class Kind>
    Kind choice(const std::string& name, const std::vector<Kind>& kinds, std::string (*name_of)(Kind)) const {
        std::vector<std::string> names;
        for (Kind kind : kinds) names.push_back(name_of(kind));
        const std::string value = choice(name, names);
        size_t i = 0;
        while (names[i] != value) ++i;  // choice() returned one of the names
        return kinds[i];
    }
    // True when --help was given.
    bool help() const { return help_; }

private:
    const Flag& flag(const std::string& name) const;
    std::string command_;
    std::vector<Flag> flags_;
    std::map<std::string, std::string> values_;
    bool help_ = false;
};

// The --help text of a command: usage line, summary, and the flag table.
std::string usage(const std::string& command, const std::string& summary, const std::vector<Flag>& flags);

}  // namespace tinyrank::cli
