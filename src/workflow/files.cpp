// Reading a whole file, and writing one atomically (temporary file, then rename).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "tinyrank/error.hpp"
#include "tinyrank/io.hpp"

namespace tinyrank {

namespace {
struct FileCloser {
    void operator()(std::FILE* file) const { std::fclose(file); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

std::string errno_text() { return std::strerror(errno); }
}  // namespace

std::string read_file(const std::string& path) {
    File file(std::fopen(path.c_str(), "rb"));
    if (!file) throw Error(path + ": cannot open for reading (" + errno_text() + ")");
    std::string bytes;
    char buffer[1 << 16];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) bytes.append(buffer, n);
    if (std::ferror(file.get())) throw Error(path + ": read error after " + std::to_string(bytes.size()) + " bytes");
    return bytes;
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
    const std::string temporary = path + ".tmp";
    std::FILE* file = std::fopen(temporary.c_str(), "wb");
    if (file == nullptr)
        throw Error(path + ": cannot open '" + temporary + "' for writing (" + errno_text() + ")");
    const size_t written = std::fwrite(bytes.data(), 1, bytes.size(), file);
    const bool flushed = std::fflush(file) == 0;
    const std::string reason = errno_text();
    const bool closed = std::fclose(file) == 0;  // fclose may be where a full disk shows up
    if (written != bytes.size() || !flushed || !closed) {
        std::remove(temporary.c_str());
        throw Error(path + ": short write (" + std::to_string(written) + " of " + std::to_string(bytes.size()) +
                    " bytes written: " + reason + "); the previous file, if any, is unchanged");
    }
    // Within one directory, rename replaces `path` in a single step: a reader sees either the
    // old file or the new one, never a mixture.
    if (std::rename(temporary.c_str(), path.c_str()) != 0) {
        const std::string rename_reason = errno_text();
        std::remove(temporary.c_str());
        throw Error(path + ": cannot rename '" + temporary + "' onto it (" + rename_reason + ")");
    }
}

}  // namespace tinyrank
