// Parsing and checking flags; every mistake becomes one UsageError line.
#include "args.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace tinyrank::cli {

Args::Args(const std::string& command, const std::vector<Flag>& flags, int argc, char** argv, int first)
    : command_(command), flags_(flags) {
    for (int i = first; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            help_ = true;
            continue;
        }
        if (arg.rfind("--", 0) != 0)
            throw UsageError(command + ": unexpected argument '" + arg + "' (flags start with --; see tinyrank " +
                             command + " --help)");
        std::string name = arg.substr(2), value;
        const size_t eq = name.find('=');
        const bool inline_value = eq != std::string::npos;
        if (inline_value) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
        }
        const Flag& f = flag(name);
        if (values_.count(name)) throw UsageError(command + ": --" + name + " was given twice");
        if (f.value_name.empty()) {
            if (inline_value) throw UsageError(command + ": --" + name + " takes no value, found '" + value + "'");
            value = "1";
        } else if (!inline_value) {
            if (i + 1 >= argc || std::string(argv[i + 1]).rfind("--", 0) == 0)
                throw UsageError(command + ": --" + name + " expects a value (" + f.value_name + "), found none");
            value = argv[++i];
        }
        values_[name] = value;
    }
    if (help_) return;
    for (const Flag& f : flags_)
        if (f.required && !values_.count(f.name))
            throw UsageError(command + ": --" + f.name + " " + f.value_name + " is required (see tinyrank " + command +
                             " --help)");
}

const Flag& Args::flag(const std::string& name) const {
    for (const Flag& f : flags_)
        if (f.name == name) return f;
    throw UsageError(command_ + ": unknown flag --" + name + " (see tinyrank " + command_ + " --help)");
}

bool Args::has(const std::string& name) const {
    flag(name);
    return values_.count(name) > 0;
}

std::string Args::text(const std::string& name) const {
    const auto it = values_.find(name);
    return it != values_.end() ? it->second : flag(name).default_value;
}

int64_t Args::integer(const std::string& name, int64_t min, int64_t max) const {
    const std::string value = text(name);
    char* end = nullptr;
    errno = 0;
    const long long n = std::strtoll(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || errno != 0 || n < min || n > max)
        throw UsageError(command_ + ": --" + name + " expects an integer in [" + std::to_string(min) + ", " +
                         std::to_string(max) + "], found '" + value + "'");
    return n;
}

namespace {
bool parse_number(const std::string& text, double& out) {
    char* end = nullptr;
    errno = 0;
    out = std::strtod(text.c_str(), &end);
    return !text.empty() && *end == '\0' && errno == 0 && std::isfinite(out);
}
}  // namespace

double Args::number(const std::string& name, double min, double max) const {
    const std::string value = text(name);
    double x = 0;
    if (!parse_number(value, x) || x < min || x > max) {
        std::ostringstream range;
        range << "[" << min << ", " << max << "]";
        throw UsageError(command_ + ": --" + name + " expects a number in " + range.str() + ", found '" + value + "'");
    }
    return x;
}

std::vector<double> Args::numbers(const std::string& name, double min, double max) const {
    const std::string value = text(name);
    std::vector<double> list;
    std::stringstream stream(value);
    std::string item;
    while (std::getline(stream, item, ',')) {
        double x = 0;
        if (!parse_number(item, x) || x < min || x > max) {
            std::ostringstream range;
            range << "[" << min << ", " << max << "]";
            throw UsageError(command_ + ": --" + name + " expects comma-separated numbers in " + range.str() +
                             ", found '" + item + "' in '" + value + "'");
        }
        list.push_back(x);
    }
    if (list.empty()) throw UsageError(command_ + ": --" + name + " expects at least one number, found '" + value + "'");
    return list;
}

std::string Args::choice(const std::string& name, const std::vector<std::string>& choices) const {
    const std::string value = text(name);
    std::string options;
    for (const std::string& c : choices) {
        if (c == value) return value;
        options += (options.empty() ? "" : "|") + c;
    }
    throw UsageError(command_ + ": --" + name + " expects one of " + options + ", found '" + value + "'");
}

std::string usage(const std::string& command, const std::string& summary, const std::vector<Flag>& flags) {
    std::ostringstream out;
    out << "usage: tinyrank " << command;
    for (const Flag& f : flags)
        if (f.required) out << " --" << f.name << ' ' << f.value_name;
    out << " [options]\n\n" << summary << "\n\noptions:\n";
    std::vector<Flag> rows = flags;
    rows.push_back({"help", "", "this text", ""});
    for (const Flag& f : rows) {
        std::string left = "  --" + f.name + (f.value_name.empty() ? "" : " " + f.value_name);
        if (left.size() < 26) left += std::string(26 - left.size(), ' ');
        out << left << ' ' << f.help;
        if (!f.default_value.empty()) out << " (default " << f.default_value << ")";
        if (f.required) out << " (required)";
        out << '\n';
    }
    return out.str();
}

}  // namespace tinyrank::cli
