// Saving and loading: checkpoints (round trip, corruption, temporary file), .npy files and
// the export manifest, JSON and CSV.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "test_support.hpp"
#include "tinyrank/error.hpp"
#include "tinyrank/io.hpp"
#include "tinyrank/models.hpp"
#include "tinyrank/random.hpp"
#include "tinyrank/tape.hpp"

using namespace tinyrank;
using namespace tinyrank::test_support;
namespace fs = std::filesystem;

namespace {

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Same shape and the very same bits in every element.
bool bit_equal(const Tensor& a, const Tensor& b) {
    return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), sizeof(float) * size_t(a.numel())) == 0;
}

void check_same_specs(const std::vector<LayerSpec>& a, const std::vector<LayerSpec>& b) {
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        CHECK(a[i].name == b[i].name);
        CHECK(a[i].type == b[i].type);
        CHECK(a[i].options == b[i].options);  // doubles compared exactly
    }
}

// A small model with every kind of layer and option: stride, padding, no bias, a slope.
std::unique_ptr<Sequential> small_model(Rng& rng) {
    return make_sequential({{"conv1", "Conv2d", {{"in_channels", 1}, {"out_channels", 3}, {"kernel", 3},
                                                 {"stride", 2}, {"padding", 1}, {"bias", 1}}},
                            {"act1", "LeakyReLU", {{"slope", double(0.01f)}}},
                            {"pool1", "MaxPool2d", {{"kernel", 2}, {"stride", 2}}},
                            {"flatten", "Flatten", {}},
                            {"fc1", "Linear", {{"in_features", 12}, {"out_features", 5}, {"bias", 0}}},
                            {"relu1", "ReLU", {}},
                            {"fc2", "Linear", {{"in_features", 5}, {"out_features", 2}, {"bias", 1}}}},
                           rng);
}

// A layer whose options are doubles that no float can hold, to see them stored exactly.
class Probe : public Module {
public:
    Var forward(const Var& x) override { return x; }
    LayerSpec spec() const override {
        return {name(), "Probe", {{"alpha", 0.1}, {"tiny", 1e-300}, {"third", 1.0 / 3.0}, {"minus_zero", -0.0}}};
    }
};

}  // namespace

TEST_SUITE("ch03_learning") {
TEST_CASE("a checkpoint round trip restores mlp and lenet5 bit for bit") {
    TempDir dir("roundtrip");
    for (const std::string name : {"mlp", "lenet5"}) {
        CAPTURE(name);
        Rng rng(7);
        auto model = make_model(name, rng);
        const std::map<std::string, std::string> metadata = {
            {"epoch", "3"}, {"seed", "7"}, {"test_accuracy", "0.9912"}, {"note", "free text, with \"quotes\"\nand a newline"}};
        const std::string path = dir / (name + ".ckpt");
        save_checkpoint(path, *model, name, metadata);

        const Checkpoint checkpoint = read_checkpoint(path);
        CHECK(checkpoint.architecture == name);
        CHECK(checkpoint.metadata == metadata);
        check_same_specs(checkpoint.layers, layer_specs(*model));
        const std::vector<Parameter*> parameters = model->parameters();
        REQUIRE(checkpoint.tensors.size() == parameters.size());
        for (size_t i = 0; i < parameters.size(); ++i) {
            CHECK(checkpoint.tensors[i].first == parameters[i]->name);
            CHECK(bit_equal(checkpoint.tensors[i].second, parameters[i]->value));
        }

        auto reloaded = load_model(path);
        const std::vector<Parameter*> reloaded_parameters = reloaded->parameters();
        REQUIRE(reloaded_parameters.size() == parameters.size());
        for (size_t i = 0; i < parameters.size(); ++i) {
            CHECK(reloaded_parameters[i]->name == parameters[i]->name);
            CHECK(bit_equal(reloaded_parameters[i]->value, parameters[i]->value));
        }
        const Tensor batch = Tensor::uniform({4, 1, 28, 28}, rng);
        const Tensor expected = output_of(*model, batch);
        CHECK(bit_equal(output_of(*reloaded, batch), expected));
        // The comparison can tell models apart: one with other weights answers differently.
        Rng other_rng(8);
        auto other = make_model(name, other_rng);
        CHECK_FALSE(bit_equal(output_of(*other, batch), expected));
    }
}

TEST_CASE("every layer option survives a checkpoint exactly, and bias-less layers load") {
    TempDir dir("options");
    Rng rng(3);
    auto model = small_model(rng);
    const std::string path = dir / "small.ckpt";
    save_checkpoint(path, *model, "small", {});
    const Checkpoint checkpoint = read_checkpoint(path);
    check_same_specs(checkpoint.layers, layer_specs(*model));
    CHECK(checkpoint.layers[1].options.at("slope") == double(0.01f));
    CHECK(checkpoint.metadata.empty());
    auto reloaded = load_model(checkpoint);
    const Tensor batch = Tensor::uniform({2, 1, 8, 8}, rng);
    CHECK(bit_equal(output_of(*reloaded, batch), output_of(*model, batch)));

    // Options are stored as the bits of the double: nothing is rounded, not even the sign of zero.
    Sequential probe;
    probe.add("probe", std::make_unique<Probe>());
    save_checkpoint(path, probe, "probe", {});
    const std::map<std::string, double> stored = read_checkpoint(path).layers.at(0).options;
    CHECK(stored == probe.layer(0).spec().options);
    CHECK(std::signbit(stored.at("minus_zero")));
}

TEST_CASE("corrupt checkpoints are refused with a one-line message naming the file") {
    TempDir dir("corrupt");
    Rng rng(5);
    auto model = small_model(rng);
    const std::string good_path = dir / "good.ckpt";
    save_checkpoint(good_path, *model, "small", {{"epoch", "1"}});
    const std::string good = read_file(good_path);
    const std::string path = dir / "bad.ckpt";

    // Writes `bytes` to bad.ckpt and returns read_checkpoint's message, checking its form.
    auto refusal = [&](const std::string& bytes) {
        write_bytes(path, bytes);
        const std::string message = error_message([&] { read_checkpoint(path); });
        CHECK(message.find(path) != std::string::npos);
        CHECK(message.find('\n') == std::string::npos);
        return message;
    };

    CHECK(error_message([&] { read_checkpoint(good_path); }).empty());

    SUBCASE("one flipped bit in the parameter values breaks the checksum") {
        std::string bytes = good;
        bytes[bytes.size() - 8 - 6] ^= 0x10;  // inside fc2.bias, the last tensor
        CHECK(refusal(bytes).find("checksum mismatch (stored 0x") != std::string::npos);
    }
    SUBCASE("a flipped bit in the checksum itself is caught too") {
        std::string bytes = good;
        bytes[bytes.size() - 1] ^= 0x01;
        CHECK(refusal(bytes).find("checksum mismatch") != std::string::npos);
    }
    SUBCASE("truncation anywhere is reported with the offset") {
        for (const size_t keep : {size_t(11), size_t(13), size_t(20), good.size() / 2, good.size() - 9,
                                  good.size() - 8, good.size() - 1}) {
            CAPTURE(keep);
            const std::string message = refusal(good.substr(0, keep));
            CHECK(message.find("truncated (expected ") != std::string::npos);
            CHECK(message.find("at offset ") != std::string::npos);
        }
        const std::string message = refusal(good.substr(0, good.size() - 8));
        CHECK(message.find("expected 8 more bytes at offset " + std::to_string(good.size() - 8) +
                           " for the checksum, found 0") != std::string::npos);
    }
    SUBCASE("a wrong magic, an empty file or another kind of file is not a checkpoint") {
        std::string bytes = good;
        bytes[0] = 'X';
        CHECK(refusal(bytes).find("not a tinyrank checkpoint") != std::string::npos);
        CHECK(refusal("").find("not a tinyrank checkpoint") != std::string::npos);
        bytes = good;
        bytes[8] = 'Z';
        CHECK(refusal(bytes).find("not a tinyrank checkpoint (format kind 0x5a") != std::string::npos);
    }
    SUBCASE("a newer version is refused by number") {
        std::string bytes = good;
        bytes[9] = 2;
        CHECK(refusal(bytes).find("unsupported checkpoint version 2 (expected 1)") != std::string::npos);
    }
    SUBCASE("bytes after the checksum are refused") {
        const std::string message = refusal(good + "abc");
        CHECK(message.find("3 trailing bytes after the checksum at offset " + std::to_string(good.size())) !=
              std::string::npos);
    }
    SUBCASE("an absurd length is refused before anything is allocated") {
        std::string bytes = good;
        for (int i = 13; i < 17; ++i) bytes[i] = '\xff';  // the architecture name's length
        const std::string message = refusal(bytes);
        CHECK(message.find("implausible size: the length of the architecture name is 4294967295 at offset 13") !=
              std::string::npos);
    }
    SUBCASE("a missing file says so") {
        const std::string missing = dir / "missing.ckpt";
        const std::string message = error_message([&] { read_checkpoint(missing); });
        CHECK(message.find(missing + ": cannot open") == 0);
    }
}

TEST_CASE("load_model names the tensor that does not fit the model") {
    TempDir dir("mismatch");
    Rng rng(9);
    auto model = small_model(rng);
    const std::string path = dir / "small.ckpt";
    save_checkpoint(path, *model, "small", {});
    const Checkpoint good = read_checkpoint(path);
    CHECK(error_message([&] { load_model(good); }).empty());

    Checkpoint wrong_shape = good;
    wrong_shape.tensors[2].second = Tensor({5, 3});  // fc1.weight is [5, 12]
    CHECK(error_message([&] { load_model(wrong_shape); }) ==
          "checkpoint of 'small': tensor 'fc1.weight' has shape [5, 3], the model expects [5, 12]");

    Checkpoint missing = good;
    missing.tensors.erase(missing.tensors.begin() + 1);  // conv1.bias
    CHECK(error_message([&] { load_model(missing); }) ==
          "checkpoint of 'small': expected a tensor for parameter 'conv1.bias' of shape [3], found none");

    Checkpoint extra = good;
    extra.tensors.emplace_back("fc9.weight", Tensor({1}));
    CHECK(error_message([&] { load_model(extra); }).find("tensor 'fc9.weight' matches no parameter") != std::string::npos);

    Checkpoint unknown_layer = good;
    unknown_layer.layers[1].type = "Dropout";
    CHECK(error_message([&] { load_model(unknown_layer); }).find("unknown type 'Dropout'") != std::string::npos);
}

TEST_CASE("saving writes a temporary file and renames it") {
    TempDir dir("atomic");
    Rng rng(11);
    auto model = small_model(rng);
    const std::string path = dir / "model.ckpt";
    save_checkpoint(path, *model, "small", {{"epoch", "1"}});
    CHECK(fs::exists(path));
    CHECK_FALSE(fs::exists(path + ".tmp"));

    SUBCASE("a directory that does not exist is named, and nothing is left behind") {
        const std::string nowhere = (dir / "missing") + "/model.ckpt";
        const std::string message = error_message([&] { save_checkpoint(nowhere, *model, "small", {}); });
        CHECK(message.find(nowhere + ": cannot open") == 0);
        CHECK_FALSE(fs::exists(dir / "missing"));
        size_t entries = 0;
        for (const auto& entry : fs::directory_iterator(dir.path)) entries += entry.is_regular_file();
        CHECK(entries == 1);  // model.ckpt only
    }
    SUBCASE("a failed save leaves the previous checkpoint as it was") {
        const std::string before = read_file(path);
        fs::create_directory(path + ".tmp");  // the temporary file cannot be opened now
        Rng other_rng(12);
        auto other = small_model(other_rng);
        const std::string message = error_message([&] { save_checkpoint(path, *other, "small", {{"epoch", "2"}}); });
        CHECK(message.find(path + ": cannot open '" + path + ".tmp' for writing") == 0);
        CHECK(read_file(path) == before);
        CHECK(read_checkpoint(path).metadata.at("epoch") == "1");
    }
}

TEST_CASE("write_npy writes the header NumPy writes, and read_npy reads it back bit for bit") {
    TempDir dir("npy");
    const std::string path = dir / "a.npy";
    const float denormal = std::strtof("1e-45", nullptr);
    const Tensor a({2, 3}, {0.1f, -0.0f, denormal, 3.4028235e38f, std::nanf(""), -2.5f});
    write_npy(path, a);
    const std::string bytes = read_file(path);

    // np.save(f, np.array(..., dtype='<f4').reshape(2, 3)) writes exactly this 128-byte header.
    const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    const std::string expected_header =
        std::string("\x93NUMPY\x01\x00\x76\x00", 10) + dict + std::string(128 - 10 - dict.size() - 1, ' ') + "\n";
    REQUIRE(bytes.size() == 128 + 6 * 4);
    CHECK(bytes.substr(0, 128) == expected_header);
    const Tensor back = read_npy(path);
    CHECK(bit_equal(back, a));
    CHECK_FALSE(fs::exists(path + ".tmp"));

    // Other ranks: the header always ends with '\n' at a multiple of 64 bytes.
    for (const Shape& shape : {Shape{}, Shape{5}, Shape{20, 1, 5, 5}, Shape{500, 800}}) {
        CAPTURE(to_string(shape));
        Rng rng(1);
        const Tensor t = Tensor::uniform(shape, rng);
        write_npy(path, t);
        const std::string file = read_file(path);
        const size_t header_length = static_cast<unsigned char>(file[8]) + 256u * static_cast<unsigned char>(file[9]);
        CHECK((10 + header_length) % 64 == 0);
        CHECK(file[10 + header_length - 1] == '\n');
        CHECK(file.size() == 10 + header_length + 4 * size_t(t.numel()));
        CHECK(bit_equal(read_npy(path), t));
    }
    const std::string scalar_header = "{'descr': '<f4', 'fortran_order': False, 'shape': (), }";
    write_npy(path, Tensor::full({}, 1.5f));
    CHECK(read_file(path).substr(10, scalar_header.size()) == scalar_header);
    write_npy(path, Tensor({5}));
    CHECK(read_file(path).find("'shape': (5,), }") != std::string::npos);
}

TEST_CASE("read_npy refuses what it cannot read, naming the file") {
    TempDir dir("npy_bad");
    const std::string path = dir / "a.npy";
    write_npy(path, Tensor({2, 2}, {1, 2, 3, 4}));
    const std::string good = read_file(path);

    auto refusal = [&](const std::string& bytes) {
        write_bytes(path, bytes);
        const std::string message = error_message([&] { read_npy(path); });
        CHECK(message.find(path + ": ") == 0);
        return message;
    };
    std::string f8 = good;
    f8.replace(f8.find("<f4"), 3, "<f8");
    CHECK(refusal(f8).find("dtype '<f8' is not supported (expected '<f4'") != std::string::npos);
    std::string fortran = good;
    fortran.replace(fortran.find("False"), 5, "True ");
    CHECK(refusal(fortran).find("Fortran order") != std::string::npos);
    CHECK(refusal(good.substr(0, good.size() - 1)).find("needs 16 bytes, found 15") != std::string::npos);
    CHECK(refusal("PK\x03\x04 not numpy").find("not a .npy file") != std::string::npos);
}

TEST_CASE("export_npy writes one .npy per parameter and a manifest naming every layer and file") {
    TempDir dir("export");
    Rng rng(2);
    auto model = lenet5(rng);
    const std::string out = dir / "lenet5_npy";  // created by export_npy
    export_npy(out, *model, "lenet5");

    for (const Parameter* p : model->parameters()) {
        CAPTURE(p->name);
        const std::string file = out + "/" + p->name + ".npy";
        REQUIRE(fs::exists(file));
        CHECK(bit_equal(read_npy(file), p->value));
    }
    CHECK(read_npy(out + "/conv1.weight.npy").shape() == Shape{20, 1, 5, 5});  // [out, in, kh, kw]
    CHECK(read_npy(out + "/fc1.weight.npy").shape() == Shape{500, 800});       // [out, in]

    const std::string manifest = read_file(out + "/manifest.json");
    CHECK(manifest.find("\"architecture\": \"lenet5\"") != std::string::npos);
    CHECK(manifest.find("\"version\": 1") != std::string::npos);
    // Every layer appears, in order, with its type.
    size_t at = 0;
    for (const LayerSpec& spec : layer_specs(*model)) {
        CAPTURE(spec.name);
        at = manifest.find("\"name\": \"" + spec.name + "\"", at);
        REQUIRE(at != std::string::npos);
        CHECK(manifest.compare(manifest.find("\"type\": ", at), 10 + spec.type.size(),
                               "\"type\": \"" + spec.type + "\"") == 0);
    }
    CHECK(manifest.find("\"weight\": \"conv1.weight.npy\"") != std::string::npos);
    CHECK(manifest.find("\"bias\": \"fc2.bias.npy\"") != std::string::npos);
    CHECK(manifest.find("\"kernel\": 5") != std::string::npos);
    CHECK(manifest.find("\"in_features\": 800") != std::string::npos);
    size_t files = 0;
    for (const auto& entry : fs::directory_iterator(out)) files += entry.path().extension() == ".npy";
    CHECK(files == model->parameters().size());
}

TEST_CASE("JSON: escaped strings, insertion order, numbers that read back exactly") {
    CHECK(json_quote("say \"hi\"\\ \n\t\x01") == "\"say \\\"hi\\\"\\\\ \\n\\t\\u0001\"");
    CHECK(json_quote("π ok") == "\"π ok\"");

    CHECK(Json(0.1f).dump() == "0.1");
    CHECK(std::strtof(Json(0.1f).dump().c_str(), nullptr) == 0.1f);
    CHECK(Json(0.1).dump() == "0.1");
    CHECK(Json(100.0).dump() == "100");
    CHECK(Json(int64_t(-9007199254740993)).dump() == "-9007199254740993");
    CHECK(Json(std::nan("")).dump() == "null");
    Rng rng(4);
    for (int i = 0; i < 20000; ++i) {
        const uint32_t bits = rng.next_u32();
        float f;
        std::memcpy(&f, &bits, sizeof f);
        if (!std::isfinite(f)) continue;
        const std::string text = format_number(f);
        const float back = std::strtof(text.c_str(), nullptr);
        if (std::memcmp(&back, &f, sizeof f) != 0) FAIL("float " << text << " does not read back");
        const double d = double(f) * 1.000000123456789;
        if (std::strtod(format_number(d).c_str(), nullptr) != d) FAIL("double " << format_number(d) << " does not read back");
    }

    Json result = Json::object();
    result.set("model", "lenet5").set("accuracy", 0.9912f).set("epochs", Json::array().push(1).push(2));
    result.set("ok", true).set("layers", Json::array().push(Json::object().set("name", "fc1"))).set("none", Json());
    result.set("model", "mlp");  // replaced in place, the order stays
    CHECK(result.dump() ==
          "{\n"
          "  \"model\": \"mlp\",\n"
          "  \"accuracy\": 0.9912,\n"
          "  \"epochs\": [1, 2],\n"
          "  \"ok\": true,\n"
          "  \"layers\": [\n"
          "    {\n"
          "      \"name\": \"fc1\"\n"
          "    }\n"
          "  ],\n"
          "  \"none\": null\n"
          "}");
    CHECK(result.dump(0) ==
          "{\"model\":\"mlp\",\"accuracy\":0.9912,\"epochs\":[1,2],\"ok\":true,\"layers\":[{\"name\":\"fc1\"}],\"none\":null}");
    CHECK(Json::array().dump() == "[]");
    CHECK_THROWS_AS(Json::array().set("x", 1), Error);

    TempDir dir("json");
    write_json(dir / "r.json", result);
    CHECK(read_file(dir / "r.json") == result.dump() + "\n");
    CHECK_FALSE(fs::exists(dir / "r.json.tmp"));
}

TEST_CASE("CSV: a header row, quoted fields, and an atomic write") {
    CHECK(to_csv({"epoch", "loss", "note"}, {{"1", "0.5", "plain"}, {"2", "0.25", "a, \"b\"\nc"}}) ==
          "epoch,loss,note\n1,0.5,plain\n2,0.25,\"a, \"\"b\"\"\nc\"\n");
    TempDir dir("csv");
    const std::string path = dir / "log.csv";
    write_csv(path, {"epoch", "accuracy"}, {{"1", format_number(0.975f)}});
    CHECK(read_file(path) == "epoch,accuracy\n1,0.975\n");
    CHECK_FALSE(fs::exists(path + ".tmp"));
    CHECK(error_message([&] { write_csv(path, {"a", "b"}, {{"1"}}); }) ==
          path + ": csv: row 1 has 1 cells, expected 2 (as many as the header)");
    CHECK(read_file(path) == "epoch,accuracy\n1,0.975\n");
}
}
