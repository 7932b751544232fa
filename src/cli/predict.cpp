// tinyrank predict: classifies one picture of a digit.
#include <cmath>
#include <cstdio>
#include <iostream>

#include "commands.hpp"
#include "tinyrank/io.hpp"
#include "tinyrank/runtime.hpp"
#include "tinyrank/ops.hpp"

namespace tinyrank::cli {

int predict_command(int argc, char** argv, int first) {
    const std::vector<Flag> flags = {{"checkpoint", "FILE", "a model.ckpt written by tinyrank train", "", true},
                                     {"image", "FILE", "a PNG, JPEG or BMP picture of one digit", "", true},
                                     {"invert", "", "the digit is dark on light paper (MNIST is light on dark)", ""}};
    const Args args("predict", flags, argc, argv, first);
    if (args.help()) {
        std::cout << usage("predict", "Classifies one picture with a trained model.", flags);
        return 0;
    }
    std::cout << blas_info() << '\n';
    std::unique_ptr<Sequential> model = load_model(args.text("checkpoint"));
    model->eval();
    const Tensor image = load_image(args.text("image"), 28, 28, args.has("invert"));
    Tape tape;
    NoGrad no_grad(tape);
    const Tensor log_p = log_softmax(model->forward(tape.input(image))).value();
    const int64_t best = argmax(log_p, 1)[0];
    std::printf("prediction: %lld (probability %.3f)\n", static_cast<long long>(best), std::exp(log_p[best]));
    for (int64_t k = 0; k < log_p.numel(); ++k) std::printf("  %lld: %.4f\n", static_cast<long long>(k), std::exp(log_p[k]));
    return 0;
}

}  // namespace tinyrank::cli
