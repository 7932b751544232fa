// Writing tables as CSV (RFC 4180), atomically.
#include "tinyrank/error.hpp"
#include "tinyrank/io.hpp"

namespace tinyrank {

namespace {

// One field: quoted, with quotes doubled, when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& text) {
    if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

void append_row(std::string& out, const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) {
        if (i > 0) out += ',';
        out += csv_field(cells[i]);
    }
    out += '\n';
}

}  // namespace

std::string to_csv(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
    std::string out;
    append_row(out, header);
    for (size_t r = 0; r < rows.size(); ++r) {
        if (rows[r].size() != header.size())
            throw Error("csv: row " + std::to_string(r + 1) + " has " + std::to_string(rows[r].size()) +
                        " cells, expected " + std::to_string(header.size()) + " (as many as the header)");
        append_row(out, rows[r]);
    }
    return out;
}

void write_csv(const std::string& path, const std::vector<std::string>& header,
               const std::vector<std::vector<std::string>>& rows) {
    std::string text;
    try {
        text = to_csv(header, rows);
    } catch (const Error& e) {
        throw Error(path + ": " + e.what());
    }
    write_file_atomically(path, text);
}

}  // namespace tinyrank

namespace tinyrank {

CsvTable parse_csv(const std::string& text, const std::string& name) {
    std::vector<std::vector<std::string>> records;
    std::vector<std::string> record;
    std::string field;
    bool quoted = false, pending = false;  // inside quotes; a record has started
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (quoted) {
            if (c != '"') field += c;
            else if (i + 1 < text.size() && text[i + 1] == '"') field += text[++i];
            else quoted = false;
            continue;
        }
        pending = true;
        if (c == '"') quoted = true;
        else if (c == ',') record.push_back(std::move(field)), field.clear();
        else if (c == '\n' || c == '\r') {
            if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
            record.push_back(std::move(field));
            field.clear();
            records.push_back(std::move(record));
            record.clear();
            pending = false;
        } else field += c;
    }
    if (quoted) throw Error(name + ": a quoted CSV field is not closed");
    if (pending) {
        record.push_back(std::move(field));
        records.push_back(std::move(record));
    }
    if (records.empty()) throw Error(name + ": expected a CSV header line, found an empty file");
    CsvTable table{records.front(), {}};
    for (size_t r = 1; r < records.size(); ++r) {
        if (records[r].size() != table.header.size())
            throw Error(name + ": line " + std::to_string(r + 1) + " has " + std::to_string(records[r].size()) +
                        " cells, expected " + std::to_string(table.header.size()) + " (as many as the header)");
        table.rows.push_back(std::move(records[r]));
    }
    return table;
}

CsvTable read_csv(const std::string& path) { return parse_csv(read_file(path), path); }

}  // namespace tinyrank
