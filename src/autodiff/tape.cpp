// The tape: recording, the reverse sweep, and printing the Wengert list (book chapter 2).
#include "tinyrank/tape.hpp"

#include <iomanip>
#include <ostream>
#include <sstream>

#include "tinyrank/error.hpp"

namespace tinyrank {

Parameter::Parameter(std::string name_, Tensor value_)
    : name(std::move(name_)), value(std::move(value_)), grad(Tensor::zeros(value.shape())) {}

Tape& Var::tape() const {
    if (tape_ == nullptr) throw Error("Var: this handle is not attached to a tape");
    return *tape_;
}

bool Var::requires_grad() const {
    return tape_ != nullptr && index_ >= 0 && tape_->nodes_[static_cast<size_t>(index_)].requires_grad;
}

const Tensor& Var::grad() const { return tape().grad(*this); }

Tensor& Var::grad_buffer() const {
    if (!requires_grad()) throw Error("grad_buffer: this value does not require a gradient");
    Node& node = tape_->nodes_[static_cast<size_t>(index_)];
    if (node.grad.is_empty() && node.value.numel() > 0) node.grad = Tensor::zeros(node.value.shape());
    return node.grad;
}

Var Tape::input(const Tensor& value, bool requires_grad, const std::string& label) {
    if (!recording_) return Var(this, -1, value);
    Node node;
    node.op = "input";
    node.label = label;
    node.value = value;
    node.requires_grad = requires_grad;
    nodes_.push_back(std::move(node));
    return Var(this, static_cast<int>(nodes_.size()) - 1, value);
}

Var Tape::param(Parameter& parameter) {
    if (!recording_) return Var(this, -1, parameter.value);
    if (parameters_frozen_) return input(parameter.value, /*requires_grad=*/false, parameter.name);
    if (parameter.grad.shape() != parameter.value.shape()) parameter.grad = Tensor::zeros(parameter.value.shape());
    Node node;
    node.op = "param";
    node.label = parameter.name;
    node.value = parameter.value;
    node.grad = parameter.grad;  // shares storage: backward accumulates into parameter.grad
    node.requires_grad = true;
    nodes_.push_back(std::move(node));
    return Var(this, static_cast<int>(nodes_.size()) - 1, parameter.value);
}

// region: record
Var Tape::record(const char* op, const Tensor& value, const std::vector<Var>& inputs, BackwardFn backward) {
    if (!recording_) return Var(this, -1, value);
    Node node;
    node.op = op;
    node.value = value;
    for (const Var& in : inputs) {
        if (in.index() < 0) continue;  // made under NoGrad: a constant here
        if (&in.tape() != this) throw Error(std::string(op) + ": inputs were recorded on different tapes");
        node.inputs.push_back(in.index());
        node.requires_grad = node.requires_grad || in.requires_grad();
    }
    if (node.requires_grad) node.backward = std::move(backward);
    nodes_.push_back(std::move(node));
    return Var(this, static_cast<int>(nodes_.size()) - 1, value);
}
// endregion: record

void Tape::backward(const Var& loss) {
    if (loss.value().numel() != 1)
        throw Error("backward: the loss must have one element, found shape " + to_string(loss.shape()) +
                    " (use backward(output, seed) for a non-scalar output)");
    backward(loss, Tensor::ones(loss.shape()));
}

// region: backward
void Tape::backward(const Var& output, const Tensor& seed) {
    if (output.index() < 0 || &output.tape() != this)
        throw Error("backward: the output was not recorded on this tape (was it computed under NoGrad?)");
    check_same_shape("backward: seed vs output", seed.shape(), output.shape());
    if (!output.requires_grad()) throw Error("backward: the output does not depend on anything that requires a gradient");
    // Gradients of intermediate values start from zero on every sweep; leaves accumulate.
    for (int i = 0; i <= output.index(); ++i) {
        Node& node = nodes_[static_cast<size_t>(i)];
        if (node.backward) node.grad = Tensor();
    }
    axpy(1.0f, seed, output.grad_buffer());
    for (int i = output.index(); i >= 0; --i) {
        Node& node = nodes_[static_cast<size_t>(i)];
        if (node.backward && !node.grad.is_empty()) node.backward(node.grad);
    }
}
// endregion: backward

const Tensor& Tape::grad(const Var& v) const {
    if (v.index() < 0 || v.index() >= static_cast<int>(nodes_.size()))
        throw Error("grad: this value is not on the tape (made under NoGrad, or the tape was cleared)");
    const Node& node = nodes_[static_cast<size_t>(v.index())];
    if (!node.requires_grad) throw Error("grad: node " + std::to_string(v.index()) + " (" + node.op + ") does not require a gradient");
    if (node.grad.is_empty()) throw Error("grad: node " + std::to_string(v.index()) + " (" + node.op + ") has no gradient yet; run backward first");
    return node.grad;
}

void Tape::clear() { nodes_.clear(); }

void Tape::print(std::ostream& out) const {
    out << std::left << std::setw(5) << "#" << std::setw(16) << "op" << std::setw(18) << "shape" << std::setw(14)
        << "inputs"
        << "name\n";
    for (size_t i = 0; i < nodes_.size(); ++i) {
        const Node& n = nodes_[i];
        std::ostringstream inputs, line;
        for (size_t k = 0; k < n.inputs.size(); ++k) inputs << (k ? " " : "") << '%' << n.inputs[k];
        std::string name = n.label;
        if (!n.requires_grad) name += name.empty() ? "(constant)" : " (constant)";
        line << std::left << std::setw(5) << ('%' + std::to_string(i)) << std::setw(16) << n.op << std::setw(18)
             << to_string(n.value.shape()) << std::setw(14) << inputs.str() << name;
        std::string text = line.str();
        text.erase(text.find_last_not_of(' ') + 1);  // no padding after the last column
        out << text << '\n';
    }
}

}  // namespace tinyrank
