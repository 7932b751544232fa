// tinyrank/tape.hpp — reverse-mode automatic differentiation on a visible tape.
//
// The forward pass of a model is recorded as a Wengert list: one Node per operation, in
// the order they ran, each holding its value, the indices of its inputs and a backward
// closure that knows the local derivative. backward(loss) walks the list from the end and
// each closure adds its contribution to its inputs' gradients (the chain rule).
// Book chapter 2 derives every backward formula and shows tape.print().
//
//     Tape tape;
//     Var x = tape.input(x_value, /*requires_grad=*/true);
//     Var w = tape.param(weight);          // weight.grad receives ∂loss/∂w
//     Var loss = sum(mul(matmul(x, w), x2));
//     tape.backward(loss);
//     tape.grad(x);                        // ∂loss/∂x
//
// Var is a small handle: the tape it lives on, its node index (−1 when nothing was
// recorded) and its value (a Tensor handle, sharing storage with the node's).
#pragma once

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "tinyrank/tensor.hpp"

namespace tinyrank {

class Tape;

// A trainable tensor with its gradient, owned by a layer. The tape accumulates
// ∂loss/∂value into `grad`, which keeps its storage from step to step.
struct Parameter {
    std::string name;  // e.g. "fc1.weight"
    Tensor value;
    Tensor grad;  // same shape as value; zeroed by the optimiser, not by the tape

    Parameter() = default;
    // A parameter with the given name and value and a zero gradient of the same shape.
    Parameter(std::string name, Tensor value);
};

// A handle to a value recorded on a tape.
class Var {
public:
    Var() = default;
    // A handle to node `index` of `tape` (−1 when not recorded) whose value is `value`.
    Var(Tape* tape, int index, Tensor value) : tape_(tape), index_(index), value_(std::move(value)) {}

    // The forward value.
    const Tensor& value() const { return value_; }
    // The shape of the forward value.
    const Shape& shape() const { return value_.shape(); }
    // The tape this value was recorded on.
    Tape& tape() const;
    // The node index on the tape, or −1 if it was made in a no-grad scope.
    int index() const { return index_; }
    // True when backward() will compute a gradient for this value.
    bool requires_grad() const;
    // The accumulated gradient ∂loss/∂this (valid after backward); throws if there is none.
    const Tensor& grad() const;
    // The gradient buffer a backward closure adds into (zero-filled on first use).
    Tensor& grad_buffer() const;

private:
    Tape* tape_ = nullptr;
    int index_ = -1;
    Tensor value_;
};

// The local backward rule of one node: given ∂loss/∂output, add ∂loss/∂input to the
// gradient buffers of the inputs that require it.
using BackwardFn = std::function<void(const Tensor& grad_output)>;

// One entry of the Wengert list.
struct Node {
    std::string op;           // "matmul", "relu", "param", "input", …
    std::string label;        // a parameter or input name, for printing
    Tensor value;             // the forward value
    Tensor grad;              // ∂loss/∂value, filled during backward (empty until used)
    std::vector<int> inputs;  // indices of the nodes this one was computed from
    BackwardFn backward;      // empty for leaves
    bool requires_grad = false;
};

// The tape: records operations, then runs them backwards.
class Tape {
public:
    // A leaf holding `value`; with requires_grad its gradient is kept (attacks need ∂L/∂x).
    // Like a parameter's, a leaf's gradient accumulates over backward() calls on the same
    // tape: record a fresh input (or clear the tape) for each new gradient.
    Var input(const Tensor& value, bool requires_grad = false, const std::string& label = "");
    // A leaf for a trainable parameter: backward accumulates into parameter.grad (unless
    // the parameters are frozen, see freeze_parameters).
    Var param(Parameter& parameter);
    // From now on, records parameters as constants: backward computes no gradient for them
    // and skips their gemms (an attack needs only ∂L/∂x).
    void freeze_parameters() { parameters_frozen_ = true; }
    // Records an operation (called by the ops): its value, inputs and backward rule.
    Var record(const char* op, const Tensor& value, const std::vector<Var>& inputs, BackwardFn backward);

    // Seeds ∂loss/∂loss = 1 for a one-element `loss` and runs every backward rule in
    // reverse order of recording.
    void backward(const Var& loss);
    // Runs backward from `output` seeded with `seed` = ∂loss/∂output (same shape).
    void backward(const Var& output, const Tensor& seed);

    // The gradient of a recorded value after backward; throws if it has none.
    const Tensor& grad(const Var& v) const;
    // Forgets every node; keeps the list's capacity so the next step does not reallocate it.
    void clear();
    // The number of recorded nodes.
    size_t size() const { return nodes_.size(); }
    // Node `i` of the Wengert list.
    const Node& node(size_t i) const { return nodes_.at(i); }
    // Writes the Wengert list, one node per line: index, op, shape, inputs, label.
    void print(std::ostream& out) const;
    // True while operations are being recorded (false inside a NoGrad scope).
    bool recording() const { return recording_; }

private:
    friend class Var;
    friend class NoGrad;
    std::vector<Node> nodes_;
    bool recording_ = true;
    bool parameters_frozen_ = false;
};

// While alive, operations on `tape` compute values but record nothing (evaluation,
// attacks' projection steps, optimiser updates).
class NoGrad {
public:
    // Stops recording on `tape` until this guard is destroyed.
    explicit NoGrad(Tape& tape) : tape_(tape), previous_(tape.recording_) { tape.recording_ = false; }
    ~NoGrad() { tape_.recording_ = previous_; }
    NoGrad(const NoGrad&) = delete;
    NoGrad& operator=(const NoGrad&) = delete;

private:
    Tape& tape_;
    bool previous_;
};

}  // namespace tinyrank
