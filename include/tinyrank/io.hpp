// tinyrank/io.hpp — saving and loading: checkpoints, NumPy export, JSON and CSV results.
//
// Every writer here builds the whole file in memory, writes it to `path + ".tmp"` and then
// renames that onto `path`. A rename within one directory replaces the old file in one step,
// so a save that is interrupted (Ctrl-C, a full disk, an exception) leaves the previous file
// untouched instead of half-written.
//
// ---- The checkpoint format, version 1 ------------------------------------------------------
//
// All integers are unsigned little-endian; u32 = 4 bytes, u64 = 8 bytes. A "string" is a u32
// byte count followed by that many bytes (UTF-8, no terminating zero).
//
//   offset  size        field
//   0       8           magic: the ASCII bytes "TINYRANK"
//   8       1           format kind: 'C' (0x43) for a checkpoint
//   9       4           format version: u32 = 1
//   13      string      architecture name, e.g. "lenet5"
//           u32         number of layers L, then L times:
//             string      layer name ("conv1")
//             string      layer type ("Conv2d")
//             u32         number of options K, then K times:
//               string      option key ("kernel")
//               8           option value: the IEEE-754 binary64 bit pattern as a u64
//                           (exact, so 0.01 comes back as the very same double)
//           u32         number of metadata entries M, then M times:
//             string      key ("epoch", "seed", "test_accuracy", …)
//             string      value (free text)
//           u32         number of tensors T, then T times:
//             string      parameter name ("conv1.weight")
//             u32         number of dimensions D (0 for a scalar)
//             D × u64     the extents, outermost first
//             4·numel     the values, row-major, each an IEEE-754 binary32 bit pattern as a u32
//           u64         checksum: FNV-1a 64 of every byte above, from offset 0
//
// The file ends right after the checksum. The reader checks, in this order: the magic, the
// kind, the version, every length against the bytes that remain (and against generous upper
// limits, so a corrupt length never triggers a huge allocation), the checksum, and that no
// bytes trail. Each failure is one line naming the file and what was expected.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tinyrank/models.hpp"
#include "tinyrank/nn.hpp"
#include "tinyrank/tensor.hpp"

namespace tinyrank {

// ---- Files ---------------------------------------------------------------------------------

// The whole content of the file at `path`; throws naming the path if it cannot be read.
std::string read_file(const std::string& path);
// Writes `bytes` to path + ".tmp", then renames it onto `path`; on any failure removes the
// temporary file, leaves `path` as it was and throws naming the path.
void write_file_atomically(const std::string& path, const std::string& bytes);

// ---- Checkpoints -----------------------------------------------------------------------------

// The format version this library writes and reads.
constexpr uint32_t kCheckpointVersion = 1;

// Everything a checkpoint file holds, as read back by read_checkpoint().
struct Checkpoint {
    std::string architecture;                              // "lenet5"
    std::vector<LayerSpec> layers;                         // in the model's order
    std::map<std::string, std::string> metadata;           // epoch, seed, test_accuracy, …
    std::vector<std::pair<std::string, Tensor>> tensors;   // parameter name → value, in order
};

// The 64-bit FNV-1a hash of `size` bytes (the checkpoint checksum).
uint64_t fnv1a64(const void* data, size_t size);
// Saves the model's layer specs, `metadata` and every parameter to `path` (atomically).
void save_checkpoint(const std::string& path, Sequential& model, const std::string& architecture,
                     const std::map<std::string, std::string>& metadata);
// Reads and validates a checkpoint; throws a one-line Error naming the file on any problem.
Checkpoint read_checkpoint(const std::string& path);
// Builds one layer from its spec: the single place where stored layer types become modules.
std::unique_ptr<Module> rebuild_layer(const LayerSpec& spec, Rng& rng);
// Rebuilds the model from the checkpoint's specs and copies every tensor into its parameter;
// throws naming the tensor if one is missing, unknown or of the wrong shape.
std::unique_ptr<Sequential> load_model(const Checkpoint& checkpoint);
// Reads the checkpoint at `path` and rebuilds its model (errors name the file).
std::unique_ptr<Sequential> load_model(const std::string& path);

// ---- NumPy export ----------------------------------------------------------------------------

// Writes `tensor` as a NumPy .npy file (format 1.0, '<f4', C order), atomically.
void write_npy(const std::string& path, const Tensor& tensor);
// Reads a .npy file of little-endian float32 in C order; throws naming the file otherwise.
Tensor read_npy(const std::string& path);
// Writes every parameter to `dir/<name>.npy` (PyTorch layouts) and `dir/manifest.json`
// describing the layers, their hyperparameters and files; creates `dir` if needed.
void export_npy(const std::string& dir, Sequential& model, const std::string& architecture);

// ---- JSON --------------------------------------------------------------------------------------

// The shortest decimal text that reads back (strtof) to exactly `value`; "nan"/"inf" if not finite.
std::string format_number(float value);
// The shortest decimal text that reads back (strtod) to exactly `value`; "nan"/"inf" if not finite.
std::string format_number(double value);

// A JSON value to build and print: null, true/false, a number, a string, an array or an
// object. Objects keep their keys in insertion order, so files read the way they were built.
//
//     Json result = Json::object();
//     result.set("model", "lenet5").set("accuracy", 0.9912f);
//     result.set("epochs", Json::array().push(1).push(2));
//     write_json("results.json", result);
class Json {
public:
    // null.
    Json() = default;
    // true or false.
    Json(bool value);
    // A number, printed with the fewest digits that read back as the same float (null if
    // not finite: JSON has no NaN or infinity).
    Json(float value);
    // A number, printed with the fewest digits that read back as the same double (null if
    // not finite).
    Json(double value);
    // An integer, printed exactly.
    template <class Integer, class = std::enable_if_t<std::is_integral<Integer>::value>>
    Json(Integer value) : kind_(Kind::number), text_(std::to_string(value)) {}
    // A string.
    Json(const char* value);
    // A string.
    Json(std::string value);

    // An empty array.
    static Json array();
    // An empty object.
    static Json object();

    // Appends `value` to this array and returns the array.
    Json& push(Json value);
    // Sets `key` in this object (replacing an existing value in place) and returns the object.
    Json& set(const std::string& key, Json value);

    // The JSON text; indent > 0 pretty-prints with that many spaces per level, 0 gives one line.
    std::string dump(int indent = 2) const;

private:
    enum class Kind { null, boolean, number, string, array, object };
    void dump_to(std::string& out, int indent, int depth) const;

    Kind kind_ = Kind::null;
    std::string text_;  // a number's digits, a string's characters, or "true"/"false"
    std::vector<Json> items_;                                 // array items
    std::vector<std::pair<std::string, Json>> members_;       // object members, in order
};

// `text` as a JSON string literal: quoted, with quotes, backslashes and control characters escaped.
std::string json_quote(const std::string& text);
// Writes `value` (pretty-printed, with a final newline) to `path`, atomically.
void write_json(const std::string& path, const Json& value);

// ---- CSV ---------------------------------------------------------------------------------------

// The header and rows as CSV text (RFC 4180: fields with commas, quotes or line breaks are
// quoted); throws if a row's width differs from the header's.
std::string to_csv(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);
// Writes the header and rows as CSV to `path`, atomically.
void write_csv(const std::string& path, const std::vector<std::string>& header,
               const std::vector<std::vector<std::string>>& rows);

// A CSV file read back: the header and the rows, every row as wide as the header.
struct CsvTable {
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;
};
// Parses CSV text (RFC 4180 quoting; \n or \r\n); errors name `name` and the line.
CsvTable parse_csv(const std::string& text, const std::string& name);
// Reads the CSV file at `path` (as written by write_csv); throws naming the file on a problem.
CsvTable read_csv(const std::string& path);

}  // namespace tinyrank
