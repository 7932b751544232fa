// The tinyrank program end to end: bad calls, a short training run, eval, export, predict.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include "test_support.hpp"
#include "tinyrank/attacks.hpp"
#include "tinyrank/data.hpp"
#include "tinyrank/io.hpp"
#include "tinyrank/models.hpp"
#include "tinyrank/random.hpp"

using namespace tinyrank;
using namespace tinyrank::test_support;
namespace fs = std::filesystem;

namespace {

struct Run {
    int status = -1;
    std::string output;  // stdout and stderr together
};

// Runs the tinyrank program with `arguments` (1 BLAS thread) and captures what it prints.
Run tinyrank_cli(const std::string& arguments) {
    const std::string log = (fs::temp_directory_path() / "tinyrank_cli_test.log").string();
    const std::string command = "TINYRANK_THREADS=1 " + std::string(TINYRANK_BINARY_DIR) + "/tinyrank " + arguments +
                                " > " + log + " 2>&1";
    Run run;
    const int raw = std::system(command.c_str());
    run.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    run.output = text.str();
    return run;
}

// A fresh, empty temporary folder for one test.
fs::path fresh_dir(const std::string& name) {
    const fs::path dir = fs::temp_directory_path() / ("tinyrank_cli_" + name);
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

}  // namespace

TEST_SUITE("ch03_learning") {
TEST_CASE("bad calls get one line on stderr and exit status 2") {
    const Run none = tinyrank_cli("");
    CHECK(none.status == 2);
    const Run unknown_command = tinyrank_cli("fly");
    CHECK(unknown_command.status == 2);
    CHECK(contains(unknown_command.output, "unknown command 'fly'"));
    const Run unknown_flag = tinyrank_cli("train --out /tmp/x --bogus 3");
    CHECK(unknown_flag.status == 2);
    CHECK(contains(unknown_flag.output, "unknown flag --bogus"));
    const Run missing_value = tinyrank_cli("train --out /tmp/x --epochs");
    CHECK(missing_value.status == 2);
    CHECK(contains(missing_value.output, "--epochs expects a value"));
    const Run bad_number = tinyrank_cli("train --out /tmp/x --epochs ten");
    CHECK(bad_number.status == 2);
    CHECK(contains(bad_number.output, "found 'ten'"));
    const Run bad_model = tinyrank_cli("train --out /tmp/x --model resnet");
    CHECK(bad_model.status == 2);
    CHECK(contains(bad_model.output, "mlp|lenet5"));
    const Run missing_required = tinyrank_cli("eval");
    CHECK(missing_required.status == 2);
    CHECK(contains(missing_required.output, "--checkpoint FILE is required"));
    for (const Run& r : {none, unknown_command, unknown_flag, missing_value, bad_number, bad_model, missing_required})
        CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
}

TEST_CASE("help is printed for the program and for each command") {
    const Run top = tinyrank_cli("--help");
    CHECK(top.status == 0);
    CHECK(contains(top.output, "train"));
    for (const char* command : {"train", "eval", "predict", "export"}) {
        const Run r = tinyrank_cli(std::string(command) + " --help");
        CHECK(r.status == 0);
        CHECK(contains(r.output, std::string("usage: tinyrank ") + command));
    }
}

TEST_CASE("unreadable files are runtime errors with exit status 1") {
    const fs::path dir = fresh_dir("errors");
    const Run missing = tinyrank_cli("eval --checkpoint " + (dir / "none.ckpt").string());
    CHECK(missing.status == 1);
    CHECK(contains(missing.output, "none.ckpt"));
    std::ofstream(dir / "junk.ckpt") << "this is not a checkpoint";
    const Run junk = tinyrank_cli("eval --checkpoint " + (dir / "junk.ckpt").string());
    CHECK(junk.status == 1);
    CHECK(contains(junk.output, "junk.ckpt"));
    const Run no_data = tinyrank_cli("train --max-batches 1 --epochs 1 --data " + (dir / "nowhere").string() +
                                     " --out " + (dir / "run").string());
    CHECK(no_data.status == 1);
    CHECK(contains(no_data.output, "nowhere"));
}

TEST_CASE("a short MLP run learns MNIST, and eval, export and predict use its checkpoint") {
    const fs::path dir = fresh_dir("train");
    const fs::path run_dir = dir / "run";
    const Run train = tinyrank_cli("train --model mlp --epochs 2 --max-batches 150 --seed 3 --out " + run_dir.string());
    INFO(train.output);
    REQUIRE(train.status == 0);
    REQUIRE(fs::exists(run_dir / "model.ckpt"));
    CHECK_FALSE(fs::exists(run_dir / "model.ckpt.tmp"));

    // history.csv: a header and one row per epoch; the loss falls, the accuracy beats 90%.
    std::ifstream history(run_dir / "history.csv");
    std::string header, first, second;
    std::getline(history, header);
    std::getline(history, first);
    std::getline(history, second);
    CHECK(header == "epoch,train_loss,train_accuracy,test_accuracy,seconds");
    auto field = [](const std::string& row, int k) {
        std::stringstream s(row);
        std::string item;
        for (int i = 0; i <= k; ++i) std::getline(s, item, ',');
        return std::stod(item);
    };
    CHECK(field(second, 1) < field(first, 1));
    CHECK(field(second, 3) > 0.90);

    std::ifstream metrics_file(run_dir / "metrics.json");
    std::stringstream metrics;
    metrics << metrics_file.rdbuf();
    for (const char* key : {"\"model\": \"mlp\"", "\"epochs\": 2", "\"seed\": 3", "\"test_accuracy\"",
                            "\"train_seconds\"", "\"parameters\": 648010"})
        CHECK(contains(metrics.str(), key));

    const Run eval = tinyrank_cli("eval --json --checkpoint " + (run_dir / "model.ckpt").string());
    CHECK(eval.status == 0);
    CHECK(contains(eval.output, "\"test_accuracy\":" + format_number(field(second, 3))));

    const Run exported = tinyrank_cli("export --checkpoint " + (run_dir / "model.ckpt").string() + " --npy " +
                                      (dir / "npy").string());
    CHECK(exported.status == 0);
    CHECK(read_npy((dir / "npy" / "fc1.weight.npy").string()).shape() == Shape{500, 784});
    CHECK(fs::exists(dir / "npy" / "manifest.json"));

    // A test digit written as a PNG (dark on white, as drawn on paper) is read back and classified.
    const Dataset test = load_mnist(std::string(TINYRANK_SOURCE_DIR) + "/datasets/mnist", Split::test);
    unsigned char pixels[28 * 28];
    for (int i = 0; i < 28 * 28; ++i) pixels[i] = static_cast<unsigned char>(255.0f - 255.0f * test.images[i] + 0.5f);
    const std::string png = (dir / "seven.png").string();
    REQUIRE(stbi_write_png(png.c_str(), 28, 28, 1, pixels, 28) != 0);
    const Run predict = tinyrank_cli("predict --invert --checkpoint " + (run_dir / "model.ckpt").string() +
                                     " --image " + png);
    CHECK(predict.status == 0);
    CHECK(contains(predict.output, "prediction: 7"));  // test image 0 is a 7
}
}

TEST_SUITE("ch07_training_low_rank") {
TEST_CASE("low-rank training writes ranks and compression; inspect and compress read checkpoints") {
    const fs::path dir = fresh_dir("lowrank");
    const fs::path run_dir = dir / "run";
    const Run train = tinyrank_cli("train --model mlp --lowrank --beta 0.05 --rank-init 8 --epochs 2 --max-batches 40 "
                                   "--out " + run_dir.string());
    INFO(train.output);
    REQUIRE(train.status == 0);
    std::ifstream history(run_dir / "history.csv");
    std::string header;
    std::getline(history, header);
    CHECK(header ==
          "epoch,train_loss,train_accuracy,test_accuracy,seconds,rank_fc1,kappa_fc1,R_fc1,rank_fc2,kappa_fc2,R_fc2");
    std::ifstream metrics_file(run_dir / "metrics.json");
    std::stringstream metrics;
    metrics << metrics_file.rdbuf();
    for (const char* key : {"\"lowrank\": true", "\"compression_rate\"", "\"compression_rate_total\"", "\"ranks\"",
                            "\"fc1\"", "\"condition_numbers\""})
        CHECK(contains(metrics.str(), key));

    const Run inspect = tinyrank_cli("inspect --checkpoint " + (run_dir / "model.ckpt").string());
    CHECK(inspect.status == 0);
    CHECK(contains(inspect.output, "LowRankLinear"));
    CHECK(contains(inspect.output, "kappa"));

    // compress wants a dense model: a low-rank one is refused with a runtime error.
    const Run refused = tinyrank_cli("compress --checkpoint " + (run_dir / "model.ckpt").string() + " --out " +
                                     (dir / "x.ckpt").string());
    CHECK(refused.status == 1);
    CHECK(contains(refused.output, "expected a dense model"));

    const Run dense = tinyrank_cli("train --model mlp --epochs 1 --max-batches 30 --out " + (dir / "dense").string());
    REQUIRE(dense.status == 0);
    const Run compressed = tinyrank_cli("compress --tau 0.5 --checkpoint " + (dir / "dense" / "model.ckpt").string() +
                                        " --out " + (dir / "svd.ckpt").string());
    INFO(compressed.output);
    CHECK(compressed.status == 0);
    CHECK(contains(compressed.output, "compression"));
    const Run eval = tinyrank_cli("eval --checkpoint " + (dir / "svd.ckpt").string());
    CHECK(eval.status == 0);

    // attack: a JSON list, one object per eps; eps = 0 is the clean accuracy.
    const Run attack = tinyrank_cli("attack --json --limit 200 --attack pgd-linf --steps 3 --eps 0,0.1 --checkpoint " +
                                    (run_dir / "model.ckpt").string() + " --source-checkpoint " +
                                    (dir / "dense" / "model.ckpt").string());
    INFO(attack.output);
    CHECK(attack.status == 0);
    CHECK(contains(attack.output, "\"attack\":\"pgd-linf\",\"eps\":0,\"steps\":3"));
    CHECK(contains(attack.output, "\"robust_accuracy\""));
    CHECK(tinyrank_cli("attack --attack cw --checkpoint " + (run_dir / "model.ckpt").string()).status == 2);
    CHECK(tinyrank_cli("train --beta 0.1 --out " + (dir / "x").string()).status == 2);  // --beta needs --lowrank
}
}

TEST_SUITE("ch08_adversarial_attacks") {
TEST_CASE("attack --save-examples writes a PNG grid per eps and captions.csv") {
    const fs::path dir = fresh_dir("examples");
    const std::string checkpoint = (dir / "mlp.ckpt").string();
    Rng rng(5);
    std::unique_ptr<Sequential> model = mlp(rng);  // untrained: enough to attack
    save_checkpoint(checkpoint, *model, "mlp", {});
    const fs::path examples = dir / "pictures";  // created by the command

    const Run run = tinyrank_cli("attack --limit 40 --eps 0,0.1 --examples 5 --checkpoint " + checkpoint +
                                 " --save-examples " + examples.string());
    INFO(run.output);
    REQUIRE(run.status == 0);
    CHECK(contains(run.output, "wrote 2 PNG grids"));
    for (const char* name : {"fgsm-eps0.png", "fgsm-eps0.1.png"}) {
        int w = 0, h = 0, channels = 0;
        REQUIRE(stbi_info((examples / name).string().c_str(), &w, &h, &channels) == 1);
        CHECK(w == 5 * 28 + 4);  // 5 images and the gaps between them
        CHECK(h == 3 * 28 + 2);  // originals, adversarial images, x' - x
        CHECK(channels == 1);
    }

    // The grid is what the library draws for the same model, images and seed, byte for byte.
    const Dataset test = slice(mnist_test(), 0, 40);
    AttackOptions fgsm;
    fgsm.eps = 0.1f;
    const AttackExamples e = attack_examples(*load_model(checkpoint), test, 5, fgsm, 1);
    write_png((dir / "expected.png").string(), e.grid(), 5);
    CHECK(read_file((examples / "fgsm-eps0.1.png").string()) == read_file((dir / "expected.png").string()));

    // At eps = 0 nothing changes: the adversarial row repeats the originals, the third row is gray.
    int w = 0, h = 0, channels = 0;
    unsigned char* p = stbi_load((examples / "fgsm-eps0.png").string().c_str(), &w, &h, &channels, 1);
    REQUIRE(p != nullptr);
    int differing = 0, not_gray = 0;
    for (int y = 0; y < 28; ++y)
        for (int x = 0; x < w; ++x) {
            differing += p[y * w + x] != p[(y + 29) * w + x];
            not_gray += (x % 29 != 28) && p[(y + 58) * w + x] != 128;
        }
    stbi_image_free(p);
    CHECK(differing == 0);
    CHECK(not_gray == 0);

    // captions.csv: one row per image and eps, with the label and both predictions.
    std::ifstream captions(examples / "captions.csv");
    std::string line;
    std::vector<std::string> lines;
    while (std::getline(captions, line)) lines.push_back(line);
    REQUIRE(lines.size() == 11);
    CHECK(lines[0] == "file,image,label,clean_prediction,adversarial_prediction,largest_change");
    CHECK(lines[1].rfind("fgsm-eps0.png,0,7,", 0) == 0);  // test image 0 is a 7
    CHECK(lines[6] == "fgsm-eps0.1.png,0,7," + std::to_string(e.clean_predictions[0]) + "," +
                          std::to_string(e.adversarial_predictions[0]) + "," + format_number(e.largest_change));

    // JSON names the picture of each eps.
    const Run json = tinyrank_cli("attack --json --limit 20 --eps 0.05 --examples 2 --checkpoint " + checkpoint +
                                  " --save-examples " + examples.string());
    CHECK(json.status == 0);
    CHECK(contains(json.output, "\"examples\":\"" + (examples / "fgsm-eps0.05.png").string() + "\""));

    // A folder that cannot be made is one line and exit status 1, before any attack runs.
    const Run blocked = tinyrank_cli("attack --limit 20 --checkpoint " + checkpoint + " --save-examples " +
                                     (examples / "captions.csv" / "x").string());
    CHECK(blocked.status == 1);
    CHECK(contains(blocked.output, "expected a folder for --save-examples"));
    CHECK(!contains(blocked.output, "eps"));  // no table: it stopped first
}
}
