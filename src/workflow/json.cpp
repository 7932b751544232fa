// A small JSON builder and writer, and number formatting that round-trips.
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "tinyrank/error.hpp"
#include "tinyrank/io.hpp"

namespace tinyrank {

namespace {

// The text of a non-finite number, or "" for a finite one.
std::string non_finite_text(double value) {
    if (std::isnan(value)) return "nan";
    if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
    return "";
}

// Whole numbers print without an exponent ("100", not "1e+02") while that stays exact.
bool prints_as_integer(double value) { return value == std::floor(value) && std::fabs(value) < 1e15; }

std::string integer_text(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.0f", value);
    return text;
}

}  // namespace

std::string format_number(float value) {
    if (!std::isfinite(value)) return non_finite_text(value);
    if (prints_as_integer(value)) return integer_text(value);
    // Try 1, 2, … significant digits until the text reads back as the same float; 9 always
    // suffices for binary32.
    char text[32];
    for (int digits = 1; digits < 9; ++digits) {
        std::snprintf(text, sizeof text, "%.*g", digits, static_cast<double>(value));
        if (std::strtof(text, nullptr) == value) return text;
    }
    std::snprintf(text, sizeof text, "%.9g", static_cast<double>(value));
    return text;
}

std::string format_number(double value) {
    if (!std::isfinite(value)) return non_finite_text(value);
    if (prints_as_integer(value)) return integer_text(value);
    // As above; 17 significant digits always suffice for binary64.
    char text[40];
    for (int digits = 1; digits < 17; ++digits) {
        std::snprintf(text, sizeof text, "%.*g", digits, value);
        if (std::strtod(text, nullptr) == value) return text;
    }
    std::snprintf(text, sizeof text, "%.17g", value);
    return text;
}

std::string json_quote(const std::string& text) {
    std::string out = "\"";
    for (const char c : text) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {  // other control characters
                    char escape[8];
                    std::snprintf(escape, sizeof escape, "\\u%04x", static_cast<unsigned>(c));
                    out += escape;
                } else {
                    out += c;  // printable ASCII and UTF-8 bytes pass through
                }
        }
    }
    return out + "\"";
}

// ---- Json ----------------------------------------------------------------------------------------

Json::Json(bool value) : kind_(Kind::boolean), text_(value ? "true" : "false") {}

Json::Json(float value) {
    if (std::isfinite(value)) {
        kind_ = Kind::number;
        text_ = format_number(value);
    }
}

Json::Json(double value) {
    if (std::isfinite(value)) {
        kind_ = Kind::number;
        text_ = format_number(value);
    }
}

Json::Json(const char* value) : kind_(Kind::string), text_(value) {}

Json::Json(std::string value) : kind_(Kind::string), text_(std::move(value)) {}

Json Json::array() {
    Json value;
    value.kind_ = Kind::array;
    return value;
}

Json Json::object() {
    Json value;
    value.kind_ = Kind::object;
    return value;
}

Json& Json::push(Json value) {
    if (kind_ != Kind::array) throw Error("Json::push: expected an array, found another kind of value");
    items_.push_back(std::move(value));
    return *this;
}

Json& Json::set(const std::string& key, Json value) {
    if (kind_ != Kind::object) throw Error("Json::set(\"" + key + "\"): expected an object, found another kind of value");
    for (auto& member : members_)
        if (member.first == key) {
            member.second = std::move(value);
            return *this;
        }
    members_.emplace_back(key, std::move(value));
    return *this;
}

std::string Json::dump(int indent) const {
    std::string out;
    dump_to(out, indent, 0);
    return out;
}

void Json::dump_to(std::string& out, int indent, int depth) const {
    switch (kind_) {
        case Kind::null: out += "null"; return;
        case Kind::boolean:
        case Kind::number: out += text_; return;
        case Kind::string: out += json_quote(text_); return;
        case Kind::array:
        case Kind::object: break;
    }
    const bool is_object = kind_ == Kind::object;
    const size_t count = is_object ? members_.size() : items_.size();
    out += is_object ? '{' : '[';
    // Pretty-printing puts each entry on its own line, except in an array of plain values
    // (numbers, strings), which reads better on one line: "shape": [20, 1, 5, 5].
    bool one_line = indent <= 0 || count == 0;
    if (!is_object && !one_line) {
        one_line = true;
        for (const Json& item : items_) one_line = one_line && item.kind_ != Kind::array && item.kind_ != Kind::object;
    }
    const std::string inner = one_line ? "" : "\n" + std::string(size_t(indent) * (depth + 1), ' ');
    for (size_t i = 0; i < count; ++i) {
        if (i > 0) out += (one_line && indent > 0) ? ", " : ",";
        out += inner;
        if (is_object) {
            out += json_quote(members_[i].first);
            out += indent > 0 ? ": " : ":";
            members_[i].second.dump_to(out, indent, depth + 1);
        } else {
            items_[i].dump_to(out, indent, depth + 1);
        }
    }
    if (!one_line) out += "\n" + std::string(size_t(indent) * depth, ' ');
    out += is_object ? '}' : ']';
}

void write_json(const std::string& path, const Json& value) { write_file_atomically(path, value.dump(2) + "\n"); }

}  // namespace tinyrank
