// NumPy's .npy format, and exporting a model as one .npy per parameter plus a manifest.
//
// A .npy file (format 1.0) is:
//   6 bytes   the magic "\x93NUMPY"
//   2 bytes   the format version, major then minor: 1, 0
//   2 bytes   HEADER_LEN, little-endian u16
//   HEADER_LEN bytes   an ASCII Python dict literal such as
//             {'descr': '<f4', 'fortran_order': False, 'shape': (20, 1, 5, 5), }
//             padded with spaces and ended by '\n' so that the data starts at a multiple of 64
//   then      the values, here little-endian float32 in C (row-major) order.
// We write the header exactly as numpy.save does, spare growth spaces included, so the files
// are byte-for-byte what NumPy itself would write for the same array.
#include <cctype>
#include <cstring>
#include <filesystem>

#include "io_bytes.hpp"
#include "tinyrank/error.hpp"
#include "tinyrank/io.hpp"
#include "tinyrank/tape.hpp"

namespace tinyrank {

namespace {

const char kNpyMagic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};
constexpr size_t kNpyAlign = 64;
// NumPy leaves room for the first extent to grow to this many digits (numpy/lib/format.py).
constexpr size_t kGrowthAxisMaxDigits = 21;

// Python's repr of a shape tuple: "()", "(5,)", "(2, 3)".
std::string shape_repr(const Shape& shape) {
    std::string text = "(";
    for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
    return text + (shape.size() == 1 ? ",)" : ")");
}

// The header dict of a .npy file, parsed just enough for our own files and NumPy's.
struct NpyHeader {
    std::string descr;
    bool fortran_order = false;
    Shape shape;
};

// Reads the value after `'key':` in a Python dict literal; throws naming the file if absent.
class HeaderParser {
public:
    HeaderParser(const std::string& path, const std::string& text) : path_(path), text_(text) {}

    // Moves to just after `'key':` (or `"key":`) and skips spaces.
    void find(const std::string& key) {
        size_t at = text_.find("'" + key + "'");
        if (at == std::string::npos) at = text_.find("\"" + key + "\"");
        if (at == std::string::npos) fail("has no '" + key + "' entry");
        pos_ = at + key.size() + 2;
        skip_spaces();
        if (pos_ >= text_.size() || text_[pos_] != ':') fail("expected ':' after '" + key + "'");
        ++pos_;
        skip_spaces();
    }
    std::string quoted_string() {
        if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) fail("expected a quoted string");
        const char quote = text_[pos_++];
        const size_t end = text_.find(quote, pos_);
        if (end == std::string::npos) fail("unterminated string");
        std::string value = text_.substr(pos_, end - pos_);
        pos_ = end + 1;
        return value;
    }
    bool boolean() {
        if (text_.compare(pos_, 4, "True") == 0) {
            pos_ += 4;
            return true;
        }
        if (text_.compare(pos_, 5, "False") == 0) {
            pos_ += 5;
            return false;
        }
        fail("expected True or False for 'fortran_order'");
    }
    Shape tuple() {
        if (pos_ >= text_.size() || text_[pos_] != '(') fail("expected a tuple for 'shape'");
        ++pos_;
        Shape shape;
        for (;;) {
            skip_spaces();
            if (pos_ < text_.size() && text_[pos_] == ')') {
                ++pos_;
                return shape;
            }
            size_t digits = 0;
            int64_t extent = 0;
            while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
                if (++digits > 15) fail("an extent of 'shape' is implausibly large");
                extent = extent * 10 + (text_[pos_++] - '0');
            }
            if (digits == 0) fail("expected a non-negative integer in 'shape'");
            shape.push_back(extent);
            skip_spaces();
            if (pos_ < text_.size() && text_[pos_] == ',') ++pos_;
        }
    }
    [[noreturn]] void fail(const std::string& what) const {
        throw Error(path_ + ": .npy header " + what + " (header: " + text_ + ")");
    }

private:
    void skip_spaces() {
        while (pos_ < text_.size() && text_[pos_] == ' ') ++pos_;
    }
    const std::string& path_;
    const std::string& text_;
    size_t pos_ = 0;
};

// True when a parameter name is safe to use as a file name inside the export directory.
bool safe_file_name(const std::string& name) {
    return !name.empty() && name[0] != '.' && name.find('/') == std::string::npos &&
           name.find('\\') == std::string::npos;
}

}  // namespace

void write_npy(const std::string& path, const Tensor& tensor) {
    const Shape& shape = tensor.shape();
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_repr(shape) + ", }";
    if (!shape.empty()) {
        const size_t digits = std::to_string(shape[0]).size();
        header.append(digits < kGrowthAxisMaxDigits ? kGrowthAxisMaxDigits - digits : 0, ' ');
    }
    // Pad with spaces so that magic (6) + version (2) + length (2) + header + '\n' is a
    // multiple of 64; like NumPy, a header that is already aligned gets 64 more.
    const size_t unpadded = sizeof kNpyMagic + 2 + 2 + header.size() + 1;
    header.append(kNpyAlign - unpadded % kNpyAlign, ' ');
    header += '\n';
    if (header.size() > 0xffff) throw Error(path + ": .npy header of " + to_string(shape) + " too long for format 1.0");

    std::string bytes(kNpyMagic, sizeof kNpyMagic);
    bytes += '\x01';  // major version
    bytes += '\x00';  // minor version
    detail::put_le(bytes, header.size(), 2);
    bytes += header;
    detail::put_floats(bytes, tensor.data(), tensor.numel());
    write_file_atomically(path, bytes);
}

Tensor read_npy(const std::string& path) {
    const std::string bytes = read_file(path);
    if (bytes.size() < 10 || std::memcmp(bytes.data(), kNpyMagic, sizeof kNpyMagic) != 0)
        throw Error(path + ": not a .npy file (expected the magic \"\\x93NUMPY\" at offset 0)");
    const int major = static_cast<unsigned char>(bytes[6]);
    const int minor = static_cast<unsigned char>(bytes[7]);
    // Version 1.0 stores the header length in 2 bytes; 2.0 and 3.0 in 4.
    size_t length_bytes;
    if (major == 1 && minor == 0) length_bytes = 2;
    else if ((major == 2 || major == 3) && minor == 0) length_bytes = 4;
    else
        throw Error(path + ": unsupported .npy version " + std::to_string(major) + "." + std::to_string(minor) +
                    " (expected 1.0, 2.0 or 3.0)");
    const size_t header_start = 8 + length_bytes;
    if (bytes.size() < header_start) throw Error(path + ": truncated .npy file (no header length)");
    const uint64_t header_length = detail::get_le(bytes.data() + 8, static_cast<int>(length_bytes));
    if (header_length > bytes.size() - header_start)
        throw Error(path + ": truncated .npy file (header of " + std::to_string(header_length) + " bytes, only " +
                    std::to_string(bytes.size() - header_start) + " follow)");
    const std::string header = bytes.substr(header_start, header_length);

    HeaderParser parser(path, header);
    NpyHeader h;
    parser.find("descr");
    h.descr = parser.quoted_string();
    parser.find("fortran_order");
    h.fortran_order = parser.boolean();
    parser.find("shape");
    h.shape = parser.tuple();
    if (h.descr != "<f4")
        throw Error(path + ": .npy dtype '" + h.descr + "' is not supported (expected '<f4', little-endian float32)");
    if (h.fortran_order)
        throw Error(path + ": .npy array is in Fortran order (expected C order, fortran_order False)");

    const uint64_t data_start = header_start + header_length;
    const uint64_t numel = static_cast<uint64_t>(shape_numel(h.shape));
    const uint64_t data_bytes = bytes.size() - data_start;
    if (data_bytes != 4 * numel)
        throw Error(path + ": .npy data of shape " + to_string(h.shape) + " needs " + std::to_string(4 * numel) +
                    " bytes, found " + std::to_string(data_bytes));
    Tensor tensor = Tensor::empty(h.shape);
    detail::get_floats(bytes.data() + data_start, tensor.data(), tensor.numel());
    return tensor;
}

void export_npy(const std::string& dir, Sequential& model, const std::string& architecture) {
    namespace fs = std::filesystem;
    std::error_code error;
    fs::create_directories(dir, error);
    if (error) throw Error(dir + ": cannot create the export directory (" + error.message() + ")");

    Json layers = Json::array();
    for (size_t i = 0; i < model.size(); ++i) {
        Module& layer = model.layer(i);
        const LayerSpec spec = layer.spec();
        Json options = Json::object();
        for (const auto& [key, value] : spec.options) options.set(key, value);
        Json files = Json::object();
        for (const Parameter* p : layer.parameters()) {
            if (!safe_file_name(p->name))
                throw Error(dir + ": parameter name '" + p->name + "' cannot be used as a file name");
            // "conv1.weight" → key "weight", file "conv1.weight.npy".
            const std::string prefix = spec.name + ".";
            const std::string key = p->name.compare(0, prefix.size(), prefix) == 0 ? p->name.substr(prefix.size()) : p->name;
            const std::string file = p->name + ".npy";
            write_npy((fs::path(dir) / file).string(), p->value);
            files.set(key, file);
        }
        layers.push(Json::object()
                        .set("name", spec.name)
                        .set("type", spec.type)
                        .set("lowrank", spec.type.rfind("LowRank", 0) == 0)
                        .set("options", std::move(options))
                        .set("parameters", std::move(files)));
    }

    Json manifest = Json::object();
    manifest.set("format", "tinyrank-npy-export")
        .set("version", 1)
        .set("architecture", architecture)
        .set("dtype", "float32")
        .set("layout",
             "PyTorch's: Linear weight [out_features, in_features] with y = x W^T + b; "
             "Conv2d weight [out_channels, in_channels, kernel, kernel]; images NCHW; "
             "LowRankLinear/LowRankConv2d store W = U S V^T with U [out, r], S [r, r], V [in, r] "
             "(for a convolution W is the kernel reshaped to [out_channels, in_channels*kernel*kernel])")
        .set("layers", std::move(layers));
    write_json((fs::path(dir) / "manifest.json").string(), manifest);
}

}  // namespace tinyrank
