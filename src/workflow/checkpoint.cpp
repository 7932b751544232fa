// Checkpoints: saving a model with its description and metadata, reading one back with every
// check, and rebuilding the model. The byte layout is documented in include/tinyrank/io.hpp.
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <set>

#include "io_bytes.hpp"
#include "tinyrank/error.hpp"
#include "tinyrank/io.hpp"
#include "tinyrank/lowrank.hpp"
#include "tinyrank/random.hpp"
#include "tinyrank/tape.hpp"

namespace tinyrank {

namespace {

constexpr char kMagic[8] = {'T', 'I', 'N', 'Y', 'R', 'A', 'N', 'K'};
constexpr char kKindCheckpoint = 'C';

// Upper limits far beyond any model this library builds. A corrupt length field that
// exceeds one is reported as implausible before anything is allocated for it.
constexpr uint32_t kMaxStringBytes = 1u << 20;  // names, types, metadata values
constexpr uint32_t kMaxEntries = 1u << 16;      // layers, options, metadata entries, tensors
constexpr uint32_t kMaxDimensions = 8;
constexpr uint64_t kMaxElements = uint64_t(1) << 32;  // per tensor (16 GiB of float32)

std::string hex16(uint64_t value) {
    char text[24];
    std::snprintf(text, sizeof text, "0x%016" PRIx64, value);
    return text;
}

// ---- Writing ----------------------------------------------------------------------------------

// Appends the fields of the format to a byte buffer.
class Writer {
public:
    explicit Writer(const std::string& path) : path_(path) {}
    void u32(uint64_t value, const std::string& what) {
        if (value > UINT32_MAX) fail(what + " " + std::to_string(value) + " does not fit in 32 bits");
        detail::put_le(bytes, value, 4);
    }
    void u64(uint64_t value) { detail::put_le(bytes, value, 8); }
    void f64(double value) {
        uint64_t bits;
        std::memcpy(&bits, &value, sizeof bits);
        u64(bits);
    }
    void string(const std::string& text, const std::string& what) {
        // The reader refuses longer strings, so refuse to write a file that could not be read.
        if (text.size() > kMaxStringBytes)
            fail(what + " is " + std::to_string(text.size()) + " bytes long, at most " +
                 std::to_string(kMaxStringBytes) + " can be stored");
        u32(text.size(), what + " length");
        bytes += text;
    }
    void count(size_t n, const std::string& what) {
        if (n > kMaxEntries)
            fail(std::to_string(n) + " " + what + ", at most " + std::to_string(kMaxEntries) + " can be stored");
        u32(n, what);
    }
    [[noreturn]] void fail(const std::string& message) const { throw Error(path_ + ": cannot save checkpoint: " + message); }

    std::string bytes;

private:
    const std::string& path_;
};

// ---- Reading ----------------------------------------------------------------------------------

// Walks the bytes of a checkpoint, checking each length before it is used.
class Reader {
public:
    Reader(const std::string& path, const std::string& bytes) : path_(path), bytes_(bytes) {}

    size_t offset() const { return offset_; }
    size_t remaining() const { return bytes_.size() - offset_; }

    // Throws "truncated" unless `n` more bytes are there for `what`.
    void need(uint64_t n, const std::string& what) const {
        if (n > remaining())
            fail("truncated (expected " + std::to_string(n) + " more bytes at offset " + std::to_string(offset_) +
                 " for " + what + ", found " + std::to_string(remaining()) + ")");
    }
    const char* take(uint64_t n, const std::string& what) {
        need(n, what);
        const char* p = bytes_.data() + offset_;
        offset_ += n;
        return p;
    }
    uint32_t u32(const std::string& what) { return static_cast<uint32_t>(detail::get_le(take(4, what), 4)); }
    uint64_t u64(const std::string& what) { return detail::get_le(take(8, what), 8); }
    double f64(const std::string& what) {
        const uint64_t bits = u64(what);
        double value;
        std::memcpy(&value, &bits, sizeof value);
        return value;
    }
    std::string string(const std::string& what) {
        const uint32_t size = u32("the length of " + what);
        if (size > kMaxStringBytes) implausible("the length of " + what, size, kMaxStringBytes, offset_ - 4);
        return std::string(take(size, what), size);
    }
    uint32_t count(const std::string& what) {
        const uint32_t n = u32("the number of " + what);
        if (n > kMaxEntries) implausible("the number of " + what, n, kMaxEntries, offset_ - 4);
        return n;
    }
    [[noreturn]] void implausible(const std::string& what, uint64_t value, uint64_t limit, size_t at) const {
        fail("implausible size: " + what + " is " + std::to_string(value) + " at offset " + std::to_string(at) +
             " (at most " + std::to_string(limit) + " expected; the file is probably corrupt)");
    }
    [[noreturn]] void fail(const std::string& message) const { throw Error(path_ + ": " + message); }

private:
    const std::string& path_;
    const std::string& bytes_;
    size_t offset_ = 0;
};

std::string quoted(const std::string& name) { return "'" + name + "'"; }

}  // namespace

uint64_t fnv1a64(const void* data, size_t size) {
    // FNV-1a: for each byte, xor it in, then multiply by the FNV prime.
    uint64_t hash = 0xcbf29ce484222325ull;  // the 64-bit offset basis
    const unsigned char* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < size; ++i) {
        hash ^= p[i];
        hash *= 0x100000001b3ull;  // the 64-bit FNV prime
    }
    return hash;
}

void save_checkpoint(const std::string& path, Sequential& model, const std::string& architecture,
                     const std::map<std::string, std::string>& metadata) {
    Writer out(path);
    out.bytes.append(kMagic, sizeof kMagic);
    out.bytes.push_back(kKindCheckpoint);
    out.u32(kCheckpointVersion, "the version");
    out.string(architecture, "the architecture name");

    const std::vector<LayerSpec> specs = layer_specs(model);
    out.count(specs.size(), "layers");
    for (const LayerSpec& spec : specs) {
        out.string(spec.name, "a layer name");
        out.string(spec.type, "the type of layer " + quoted(spec.name));
        out.count(spec.options.size(), "options of layer " + quoted(spec.name));
        for (const auto& [key, value] : spec.options) {
            out.string(key, "an option name of layer " + quoted(spec.name));
            out.f64(value);
        }
    }

    out.count(metadata.size(), "metadata entries");
    for (const auto& [key, value] : metadata) {
        out.string(key, "a metadata key");
        out.string(value, "metadata " + quoted(key));
    }

    const std::vector<Parameter*> parameters = model.parameters();
    out.count(parameters.size(), "tensors");
    for (const Parameter* p : parameters) {
        const Tensor& value = p->value;
        out.string(p->name, "a parameter name");
        out.u32(value.shape().size(), "the number of dimensions of " + quoted(p->name));
        for (int64_t extent : value.shape()) out.u64(static_cast<uint64_t>(extent));
        detail::put_floats(out.bytes, value.data(), value.numel());
    }

    out.u64(fnv1a64(out.bytes.data(), out.bytes.size()));
    write_file_atomically(path, out.bytes);
}

Checkpoint read_checkpoint(const std::string& path) {
    const std::string bytes = read_file(path);
    Reader in(path, bytes);

    if (bytes.size() < sizeof kMagic || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
        in.fail("not a tinyrank checkpoint (expected the magic bytes \"TINYRANK\" at offset 0)");
    in.take(sizeof kMagic, "the magic");
    const char kind = *in.take(1, "the format kind");
    if (kind != kKindCheckpoint) {
        char found[8];
        std::snprintf(found, sizeof found, "0x%02x", static_cast<unsigned char>(kind));
        in.fail(std::string("not a tinyrank checkpoint (format kind ") + found + " at offset 8, expected 0x43 'C')");
    }
    const uint32_t version = in.u32("the format version");
    if (version != kCheckpointVersion)
        in.fail("unsupported checkpoint version " + std::to_string(version) + " (expected " +
                std::to_string(kCheckpointVersion) + ")");

    Checkpoint checkpoint;
    checkpoint.architecture = in.string("the architecture name");

    const uint32_t layer_count = in.count("layers");
    for (uint32_t i = 0; i < layer_count; ++i) {
        LayerSpec spec;
        spec.name = in.string("the name of layer " + std::to_string(i));
        spec.type = in.string("the type of layer " + quoted(spec.name));
        const uint32_t option_count = in.count("options of layer " + quoted(spec.name));
        for (uint32_t k = 0; k < option_count; ++k) {
            const std::string key = in.string("an option name of layer " + quoted(spec.name));
            const double value = in.f64("option " + quoted(key) + " of layer " + quoted(spec.name));
            if (!spec.options.emplace(key, value).second)
                in.fail("layer " + quoted(spec.name) + " has option " + quoted(key) + " twice");
        }
        checkpoint.layers.push_back(std::move(spec));
    }

    const uint32_t metadata_count = in.count("metadata entries");
    for (uint32_t i = 0; i < metadata_count; ++i) {
        std::string key = in.string("a metadata key");
        std::string value = in.string("metadata " + quoted(key));
        if (!checkpoint.metadata.emplace(key, std::move(value)).second)
            in.fail("metadata key " + quoted(key) + " appears twice");
    }

    const uint32_t tensor_count = in.count("tensors");
    std::set<std::string> seen;
    for (uint32_t i = 0; i < tensor_count; ++i) {
        const std::string name = in.string("the name of tensor " + std::to_string(i));
        if (!seen.insert(name).second) in.fail("tensor " + quoted(name) + " appears twice");
        const uint32_t ndim = in.u32("the number of dimensions of " + quoted(name));
        if (ndim > kMaxDimensions)
            in.implausible("the number of dimensions of " + quoted(name), ndim, kMaxDimensions, in.offset() - 4);
        Shape shape;
        uint64_t numel = 1;
        for (uint32_t d = 0; d < ndim; ++d) {
            const uint64_t extent = in.u64("extent " + std::to_string(d) + " of " + quoted(name));
            // Checked one extent at a time, so the running product cannot overflow.
            if (extent != 0 && numel > kMaxElements / extent)
                in.implausible("extent " + std::to_string(d) + " of " + quoted(name), extent, kMaxElements / numel,
                               in.offset() - 8);
            numel *= extent;
            shape.push_back(static_cast<int64_t>(extent));
        }
        const char* data = in.take(4 * numel, "the " + std::to_string(numel) + " values of " + quoted(name));
        Tensor tensor = Tensor::empty(shape);
        detail::get_floats(data, tensor.data(), tensor.numel());
        checkpoint.tensors.emplace_back(name, std::move(tensor));
    }

    const size_t checksummed = in.offset();
    const uint64_t stored = in.u64("the checksum");
    const uint64_t computed = fnv1a64(bytes.data(), checksummed);
    if (stored != computed)
        in.fail("checksum mismatch (stored " + hex16(stored) + ", computed " + hex16(computed) +
                " over the first " + std::to_string(checksummed) + " bytes; the file is corrupt)");
    if (in.remaining() != 0)
        in.fail(std::to_string(in.remaining()) + " trailing bytes after the checksum at offset " +
                std::to_string(in.offset()) + " (expected the file to end there)");
    return checkpoint;
}

std::unique_ptr<Module> rebuild_layer(const LayerSpec& spec, Rng& rng) {
    // Low-rank layers first (nn cannot know about them), then the layers of nn.
    if (std::unique_ptr<Module> layer = make_lowrank_layer(spec, rng)) return layer;
    return make_layer(spec, rng);
}

std::unique_ptr<Sequential> load_model(const Checkpoint& checkpoint) {
    // The initial values are overwritten below, so any seed will do.
    Rng rng(0);
    std::unique_ptr<Sequential> model = make_sequential(checkpoint.layers, rng, rebuild_layer);

    std::map<std::string, const Tensor*> stored;
    for (const auto& [name, tensor] : checkpoint.tensors) stored.emplace(name, &tensor);
    const std::string where = "checkpoint of " + quoted(checkpoint.architecture);
    for (Parameter* p : model->parameters()) {
        const auto it = stored.find(p->name);
        if (it == stored.end())
            throw Error(where + ": expected a tensor for parameter " + quoted(p->name) + " of shape " +
                        to_string(p->value.shape()) + ", found none");
        if (it->second->shape() != p->value.shape())
            throw Error(where + ": tensor " + quoted(p->name) + " has shape " + to_string(it->second->shape()) +
                        ", the model expects " + to_string(p->value.shape()));
        p->value.copy_from(*it->second);
        stored.erase(it);
    }
    if (!stored.empty())
        throw Error(where + ": tensor " + quoted(stored.begin()->first) + " matches no parameter of the model (" +
                    std::to_string(stored.size()) + " unknown tensor" + (stored.size() == 1 ? "" : "s") + ")");
    return model;
}

std::unique_ptr<Sequential> load_model(const std::string& path) {
    const Checkpoint checkpoint = read_checkpoint(path);
    try {
        return load_model(checkpoint);
    } catch (const Error& e) {
        throw Error(path + ": " + e.what());
    }
}

}  // namespace tinyrank
