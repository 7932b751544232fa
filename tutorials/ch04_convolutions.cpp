// Chapter 4 — convolutions: im2col on a tiny image, a convolution as one matrix product
// checked against the six nested loops of its definition, max pooling forward and
// backward, and LeNet-5 on MNIST: its shapes, its parameters, one epoch of training.
//
//   ch04_convolutions [--quick] [--out DIR]
//
// Runs in about 30 seconds on 2 cores, most of it the training epoch of LeNet-5 (--quick:
// 80 batches and 2000 test images, under 10 seconds). Reads MNIST from datasets/mnist
// (run it from the repository root). Writes DIR/conv1_filters.csv, DIR/conv1_maps.csv and
// DIR/digit.csv (default out/ch04) for the figure of book/04-convolutions.md.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "tinyrank/tinyrank.hpp"
#include "tutorial.hpp"

using namespace tinyrank;
using tutorial::Options;
using tutorial::show;

namespace {

// region: naive-conv2d
// The definition, loop by loop: y[n, o, a, b] = bias[o] + Σ_c Σ_i Σ_j w[o, c, i, j] ·
// x[n, c, a·s − p + i, b·s − p + j], with x = 0 outside the image (zero padding).
Tensor naive_conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, int64_t s, int64_t p) {
    const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
    const int64_t O = w.size(0), k = w.size(2);
    const int64_t Ho = (H + 2 * p - k) / s + 1, Wo = (W + 2 * p - k) / s + 1;
    Tensor y = Tensor::empty({N, O, Ho, Wo});
    for (int64_t n = 0; n < N; ++n)
        for (int64_t o = 0; o < O; ++o)              // one output channel (one filter)
            for (int64_t a = 0; a < Ho; ++a)         // one output pixel …
                for (int64_t b = 0; b < Wo; ++b) {
                    float acc = bias[o];
                    for (int64_t c = 0; c < C; ++c)  // … is a dot product over its receptive field
                        for (int64_t i = 0; i < k; ++i)
                            for (int64_t j = 0; j < k; ++j) {
                                const int64_t h = a * s - p + i, v = b * s - p + j;
                                if (h < 0 || h >= H || v < 0 || v >= W) continue;  // padding: x = 0
                                acc += w[((o * C + c) * k + i) * k + j] * x[((n * C + c) * H + h) * W + v];
                            }
                    y[((n * O + o) * Ho + a) * Wo + b] = acc;
                }
    return y;
}
// endregion: naive-conv2d

// region: conv-by-im2col
// The same convolution as im2col, one matrix product, and a reordering of the result.
Tensor conv2d_by_im2col(const Tensor& x, const Tensor& w, const Tensor& bias, int64_t s, int64_t p) {
    const int64_t N = x.size(0), O = w.size(0), k = w.size(2);
    const int64_t Ho = (x.size(2) + 2 * p - k) / s + 1, Wo = (x.size(3) + 2 * p - k) / s + 1;
    Tape tape;
    NoGrad no_grad(tape);
    const Var cols = im2col(tape.input(x), k, k, s, p);              // [C·k·k, N·Ho·Wo]
    const Tensor w_mat = w.reshape({O, -1});                          // [O, C·k·k]: one filter per row
    const Tensor y_mat = matmul(w_mat, cols.value());                 // [O, N·Ho·Wo]
    return columns_to_images(tape.input(y_mat), tape.input(bias), N, Ho, Wo).value();  // [N, O, Ho, Wo]
}
// endregion: conv-by-im2col

// Section 1: im2col on a 4×4 image, and a 3×3 filter applied as a matrix product.
void im2col_on_a_tiny_image() {
    std::printf("\n== 1. im2col: every receptive field becomes a column ==\n\n");
    const Tensor x = Tensor::arange(1.0f, 17.0f, 1.0f).reshape({1, 1, 4, 4});
    show("x, one 4x4 image with one channel, shape", x, " %4.0f");
    // region: tiny-im2col
    Tape tape;
    NoGrad no_grad(tape);
    const Tensor cols = im2col(tape.input(x), 3, 3).value();  // 3x3 windows, stride 1, no padding
    // endregion: tiny-im2col
    std::printf("\n  A 3x3 window fits in 2x2 places, so the output is 2x2 and im2col makes 4 columns of 9:\n"
                "  row (i, j) holds the pixel at offset (i, j) inside each window, column (a, b) is the window\n"
                "  of output pixel (a, b).\n\n");
    std::printf("   (i,j) \\ (a,b)  (0,0) (0,1) (1,0) (1,1)\n");
    for (int64_t r = 0; r < 9; ++r) {
        std::printf("      (%lld,%lld)      ", static_cast<long long>(r / 3), static_cast<long long>(r % 3));
        for (int64_t q = 0; q < 4; ++q) std::printf(" %5.0f", static_cast<double>(cols[r * 4 + q]));
        std::printf("\n");
    }
    const Tensor edge({1, 1, 3, 3}, {-1, 0, 1, -1, 0, 1, -1, 0, 1});  // left-to-right difference
    const Tensor y_mat = matmul(edge.reshape({1, 9}), cols);          // [1, 9] x [9, 4] = [1, 4]
    const Tensor direct = conv2d(tape.input(x), tape.input(edge)).value();
    std::printf("\n  The filter [-1 0 1] on three rows, flattened to a row of 9, times this matrix:\n");
    show("w_mat cols", y_mat, " %4.0f");
    std::printf("  conv2d(x, w) gives the same 2x2 image: %g %g / %g %g. Each window's right column\n"
                "  exceeds its left one by 2 in each of three rows, hence 6 everywhere.\n",
                static_cast<double>(direct[0]), static_cast<double>(direct[1]), static_cast<double>(direct[2]),
                static_cast<double>(direct[3]));
}

// Section 2: the definition's loops, im2col + sgemm, and the library's conv2d agree.
void convolution_three_ways(Rng& rng) {
    std::printf("\n== 2. A convolution three ways: six loops, im2col + matmul, conv2d ==\n\n");
    const Tensor x = Tensor::normal({2, 3, 8, 8}, rng), w = Tensor::normal({4, 3, 3, 3}, rng);
    const Tensor bias = Tensor::normal({4}, rng);
    Tape tape;
    NoGrad no_grad(tape);
    for (const auto& sp : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {2, 0}}) {
        const int64_t s = sp.first, p = sp.second;
        const Tensor loops = naive_conv2d(x, w, bias, s, p);
        const Tensor by_im2col = conv2d_by_im2col(x, w, bias, s, p);
        const Tensor library = conv2d(tape.input(x), tape.input(w), tape.input(bias), s, p).value();
        std::printf("  x [2, 3, 8, 8], w [4, 3, 3, 3], stride %lld, padding %lld -> %s;\n"
                    "    largest |loops - im2col| %.1e, |loops - conv2d| %.1e\n",
                    static_cast<long long>(s), static_cast<long long>(p), to_string(loops.shape()).c_str(),
                    static_cast<double>(max_abs(loops - by_im2col)), static_cast<double>(max_abs(loops - library)));
    }
    std::printf("  The differences are float rounding: sgemm adds the 27 products in another order.\n\n");

    // LeNet's second convolution on a batch of 64, timed.
    const Tensor xb = Tensor::normal({64, 20, 12, 12}, rng), wb = Tensor::normal({50, 20, 5, 5}, rng, 0.0f, 0.05f);
    const Tensor bb = Tensor::zeros({50});
    Tensor y_loops, y_library;
    const double t_loops = tutorial::fastest_of(3, [&] { y_loops = naive_conv2d(xb, wb, bb, 1, 0); });
    const double t_library =
        tutorial::fastest_of(3, [&] { y_library = conv2d(tape.input(xb), tape.input(wb), tape.input(bb)).value(); });
    const double flops = 2.0 * 64 * 50 * 8 * 8 * 20 * 5 * 5;
    std::printf("  LeNet's conv2 on a batch of 64 ([64, 20, 12, 12] -> [64, 50, 8, 8], %.0f MFLOP):\n"
                "    six loops   %7.1f ms  (%5.1f GFLOP/s)\n"
                "    conv2d      %7.1f ms  (%5.1f GFLOP/s), %.0fx faster; largest difference %.1e\n",
                flops * 1e-6, 1e3 * t_loops, flops / t_loops * 1e-9, 1e3 * t_library, flops / t_library * 1e-9,
                t_loops / t_library, static_cast<double>(max_abs(y_loops - y_library)));
}

// Section 3: max pooling forward and backward on a 4×4 example; ReLU and max-pool commute.
void max_pooling(Rng& rng) {
    std::printf("\n== 3. Max pooling: forward picks, backward routes ==\n\n");
    // region: pool-tiny
    Tape tape;
    Var x = tape.input(Tensor({1, 1, 4, 4}, {1, 3, 2, 0,
                                             5, 2, 1, 4,
                                             0, -1, 7, 7,
                                             -2, 6, 3, 1}),
                       /*requires_grad=*/true, "x");
    Var y = max_pool2d(x, 2);                                  // 2x2 windows, stride 2 → [1, 1, 2, 2]
    tape.backward(y, Tensor({1, 1, 2, 2}, {10, 20, 30, 40}));  // pretend ∂L/∂y is this
    // endregion: pool-tiny
    show("x", x.value(), " %4.0f");
    show("y = max_pool2d(x, 2)", y.value(), " %4.0f");
    show("dL/dx for dL/dy = [[10, 20], [30, 40]]", x.grad(), " %4.0f");
    std::printf("  Each window passes its gradient to the pixel that won it and nothing to the other three.\n"
                "  The bottom-right window has a tie (7, 7): the first maximum, in row-major order, wins.\n\n");

    // region: relu-pool-commute
    const Tensor maps = Tensor::normal({8, 20, 24, 24}, rng);
    Tape t;
    NoGrad no_grad(t);
    const Tensor pool_then_relu = relu(max_pool2d(t.input(maps), 2)).value();
    const Tensor relu_then_pool = max_pool2d(relu(t.input(maps)), 2).value();
    // endregion: relu-pool-commute
    std::printf("  max-pool then ReLU against ReLU then max-pool on [8, 20, 24, 24]: largest difference %.1f.\n"
                "  max(a, b, c, d) then max(., 0) equals the max of the four max(., 0): ReLU is increasing.\n"
                "  Pooling first lets ReLU touch %lld values instead of %lld, which is why LeNet-5 pools first.\n",
                static_cast<double>(max_abs(pool_then_relu - relu_then_pool)),
                static_cast<long long>(pool_then_relu.numel()), static_cast<long long>(maps.numel()));
}

// Section 4: LeNet-5's layers, their output shapes, receptive fields and parameters.
void lenet_shapes(Sequential& model, const Tensor& images) {
    std::printf("\n== 4. LeNet-5, layer by layer, on a batch of %lld images ==\n\n", static_cast<long long>(images.size(0)));
    std::printf("    %-8s %-10s %-18s %12s %12s\n", "layer", "type", "output shape", "sees", "parameters");
    std::printf("    %-8s %-10s %-18s %12s %12s\n", "input", "", to_string(images.shape()).c_str(), "1x1", "");
    const auto row = [](const std::string& name, const std::string& type, const Shape& shape, const std::string& field,
                        int64_t parameters) {
        std::printf("    %-8s %-10s %-18s %12s %12lld\n", name.c_str(), type.c_str(), to_string(shape).c_str(),
                    field.c_str(), static_cast<long long>(parameters));
    };
    int64_t field = 1, jump = 1;  // the receptive field of one pixel, and the input step between neighbours
    // region: lenet-shapes
    Tape tape;
    NoGrad no_grad(tape);
    Var h = tape.input(images);
    for (size_t i = 0; i < model.size(); ++i) {
        Module& layer = model.layer(i);
        h = layer.forward(h);
        const LayerSpec spec = layer.spec();
        if (spec.type == "Conv2d" || spec.type == "MaxPool2d") {  // r ← r + (k − 1)·j,  j ← j·s
            field += (spec.integer("kernel") - 1) * jump;
            jump *= spec.integer("stride");
        }
        const bool image = h.value().ndim() == 4;
        row(layer.name(), spec.type, h.shape(), image ? std::to_string(field) + "x" + std::to_string(field) : "all",
            layer.parameter_count());
    }
    // endregion: lenet-shapes
    std::printf("    %-8s %-10s %-18s %12s %12lld\n", "total", "", "", "", static_cast<long long>(model.parameter_count()));
    std::printf("\n  conv1: 20 filters of 1x5x5 + 20 biases = 520; conv2: 50 filters of 20x5x5 + 50 = 25050;\n"
                "  fc1: 800x500 + 500 = 400500; fc2: 500x10 + 10 = 5010. The convolutions hold 6%% of the\n"
                "  parameters and do most of the arithmetic; fc1 holds 93%%.\n");

    std::printf("\n  What im2col costs in memory for a batch of 128 (float32):\n");
    struct ConvShape {
        const char* name;
        int64_t channels, size, kernel, out;
    };
    for (const ConvShape& c : {ConvShape{"conv1", 1, 28, 5, 24}, ConvShape{"conv2", 20, 12, 5, 8}}) {
        const double input = 128.0 * c.channels * c.size * c.size;
        const double cols = double(c.channels * c.kernel * c.kernel) * (128.0 * c.out * c.out);
        std::printf("    %s: input %7.2f MB, im2col matrix [%lld, %lld] %6.2f MB, %.1fx the input\n", c.name,
                    4.0 * input / 1e6, static_cast<long long>(c.channels * c.kernel * c.kernel),
                    static_cast<long long>(128 * c.out * c.out), 4.0 * cols / 1e6, cols / input);
    }
}

// Writes the first layer's filters, its feature maps of one digit, and the digit, as CSV.
void write_figure_data(Sequential& model, const Dataset& test, const Options& o) {
    Conv2d& conv1 = dynamic_cast<Conv2d&>(model.layer(0));
    // region: filters-csv
    std::vector<std::vector<std::string>> rows;
    const Tensor& w = conv1.weight.value;  // [20, 1, 5, 5]
    for (int64_t f = 0; f < w.size(0); ++f)
        for (int64_t r = 0; r < 5; ++r)
            for (int64_t c = 0; c < 5; ++c)
                rows.push_back({std::to_string(f), std::to_string(r), std::to_string(c),
                                format_number(w.at({f, 0, r, c}))});
    write_csv(tutorial::output_file(o, "conv1_filters.csv"), {"filter", "row", "col", "value"}, rows);
    // endregion: filters-csv

    const Tensor digit = slice(test, 0, 1).images;  // [1, 1, 28, 28]
    Tape tape;
    NoGrad no_grad(tape);
    const Tensor maps = conv1.forward(tape.input(digit)).value();  // [1, 20, 24, 24]
    rows.clear();
    for (int64_t m = 0; m < maps.size(1); ++m)
        for (int64_t r = 0; r < maps.size(2); ++r)
            for (int64_t c = 0; c < maps.size(3); ++c)
                rows.push_back({std::to_string(m), std::to_string(r), std::to_string(c),
                                format_number(maps.at({0, m, r, c}))});
    write_csv(tutorial::output_file(o, "conv1_maps.csv"), {"map", "row", "col", "value"}, rows);
    rows.clear();
    for (int64_t r = 0; r < 28; ++r)
        for (int64_t c = 0; c < 28; ++c)
            rows.push_back({std::to_string(r), std::to_string(c), format_number(digit.at({0, 0, r, c}))});
    write_csv(tutorial::output_file(o, "digit.csv"), {"row", "col", "value"}, rows);
    std::printf("  Wrote %s/conv1_filters.csv (filter, row, col, value), conv1_maps.csv (map, row, col,\n"
                "  value: conv1's 20 outputs for the first test image, a %lld) and digit.csv for the figure.\n",
                o.out.c_str(), static_cast<long long>(test.labels[0]));
}

// Section 5: one epoch of LeNet-5 with Adam and a cosine schedule.
void train_lenet(const Dataset& train_data, const Dataset& test, const Options& o) {
    Rng rng(1);
    std::unique_ptr<Sequential> model = lenet5(rng);
    lenet_shapes(*model, slice(test, 0, 128).images);

    std::printf("\n== 5. Training LeNet-5 for one epoch%s ==\n\n", o.quick ? " (--quick: 80 batches)" : "");
    std::vector<Tensor> initial;  // to measure how far training moves each layer
    for (Parameter* p : model->parameters()) initial.push_back(p->value.clone());
    // region: train-lenet
    TrainOptions options;
    options.epochs = 1;
    options.batch_size = 128;
    options.max_batches = o.quick ? 80 : 0;
    const int64_t steps = batches_per_epoch(train_data, options);
    Adam adam(model->parameters(), 1e-3f);
    const CosineSchedule schedule(1e-3f, steps);
    OptimizerStepper stepper(*model, adam, &schedule);
    std::printf("  %s, %lld batches of 128\n\n", stepper.describe().c_str(), static_cast<long long>(steps));
    const std::vector<EpochRecord> history = train(*model, stepper, train_data, test, options);
    // endregion: train-lenet
    const EpochRecord& r = history.back();
    std::printf("\n  Test accuracy %.2f%% on %lld images after %.1f s of training (%.0f images/s).\n",
                100.0 * r.test_accuracy, static_cast<long long>(test.size()), r.seconds,
                double(std::min<int64_t>(steps * 128, train_data.size())) / r.seconds);
    std::printf("  How far training moved each weight tensor from its start, |W - W0| / |W0|:\n   ");
    const std::vector<Parameter*> parameters = model->parameters();
    for (size_t i = 0; i < parameters.size(); i += 2)  // the weights; the biases sit in between
        std::printf(" %s %.2f%s", parameters[i]->name.c_str(),
                    static_cast<double>(norm(parameters[i]->value - initial[i]) / norm(initial[i])),
                    i + 2 < parameters.size() ? "," : "\n");
    write_figure_data(*model, test, o);
}

}  // namespace

int main(int argc, char** argv) {
    const Options options = tutorial::parse(argc, argv, "ch04_convolutions", "out/ch04");
    return tutorial::run(options, "Chapter 4: convolutions — im2col, pooling and LeNet-5 on MNIST.", [&] {
        Rng rng(4);
        im2col_on_a_tiny_image();
        convolution_three_ways(rng);
        max_pooling(rng);
        const Dataset train_data = tutorial::load_split(Split::train, options);
        const Dataset test = tutorial::load_test(options, 2000);
        train_lenet(train_data, test, options);
    });
}
