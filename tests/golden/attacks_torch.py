"""The attacks of include/tinyrank/attacks.hpp (METHOD §4) in plain float32 PyTorch.

Imported by make_attack_golden.py (the fixture for tests/test_attacks_golden.cpp) and by
check_attacks.py (robust accuracy of an exported model); not run on its own. Every attack
takes g = ∇_x of the batch-MEAN cross-entropy at the current x, works on a batch [B, ...]
of pixels in [0, 1] and returns x' with ‖x' − x0‖ ≤ ε and 0 ≤ x' ≤ 1:

    fgsm          x' = clip(x0 + ε sign(g), 0, 1)
    fgsm-scaled   x' = clip(x0 + ε g / ‖g‖_∞, 0, 1)                   (‖·‖ per sample)
    pgd-linf      k times: x ← clip(clamp(x + α sign(g), x0 − ε, x0 + ε), 0, 1)
    pgd-l2        k times: x ← x + α g / ‖g‖₂;  δ = x − x0;
                           x ← clip(x0 + min(1, ε / ‖δ‖₂) δ, 0, 1)     (‖·‖ per sample)

As in tinyrank, a sample whose gradient is exactly zero takes no scaled step, and PGD
starts at x0 unless given a torch.Generator for the random start: uniform in the ε-box
(ℓ∞), or uniform in the ε-ball (ℓ2: a normalised Gaussian direction, radius ε u^{1/n}),
then clipped (ℓ∞) or projected (ℓ2). The draws are torch's, not tinyrank's PCG32, so
two PGD runs with random starts agree only statistically.
"""

import torch
import torch.nn.functional as F

KINDS = ("fgsm", "fgsm-scaled", "pgd-linf", "pgd-l2")  # tinyrank's AttackOptions::kind names


def f32(value):
    """`value` rounded to float32, as a Python float (so torch's scalar arithmetic sees the
    same number as tinyrank's float)."""
    return torch.as_tensor(value, dtype=torch.float32).item()


def default_step(eps, steps):
    """PGD's α = 2.5 ε / k computed in float32, as tinyrank does when step_size is 0."""
    return f32(torch.tensor(2.5, dtype=torch.float32) * torch.tensor(eps, dtype=torch.float32) / steps)


def gradient(model, x, labels):
    """g = ∇_x of the batch-mean cross-entropy, and the loss."""
    x = x.detach().clone().requires_grad_(True)
    loss = F.cross_entropy(model(x), labels)
    (g,) = torch.autograd.grad(loss, [x])
    return g, loss.detach()


def per_sample(values, like):
    """A [B] tensor of per-sample values reshaped to broadcast against the batch `like`."""
    return values.reshape([-1] + [1] * (like.dim() - 1))


def scaled(g, norms):
    """g / norm per sample, and zero where the norm is zero (no step, as in tinyrank)."""
    norms = per_sample(norms, g)
    return torch.where(norms > 0, g / torch.where(norms > 0, norms, torch.ones_like(norms)), torch.zeros_like(g))


def fgsm(model, x0, labels, eps):
    g, _ = gradient(model, x0, labels)
    return (x0 + eps * torch.sign(g)).clamp(0.0, 1.0)


def fgsm_scaled(model, x0, labels, eps):
    g, _ = gradient(model, x0, labels)
    return (x0 + eps * scaled(g, g.abs().flatten(1).amax(dim=1))).clamp(0.0, 1.0)


def project_l2(x, x0, eps):
    """x projected on the ℓ2 ball of radius eps around x0 (per sample), then on [0, 1]."""
    delta = x - x0
    length = delta.flatten(1).norm(dim=1)
    shrink = torch.where(length > eps, eps / length, torch.ones_like(length))
    return (x0 + per_sample(shrink, x) * delta).clamp(0.0, 1.0)


def random_start(x0, eps, l2, generator):
    """A random point of the ε-box (ℓ∞) or ε-ball (ℓ2) around x0, inside [0, 1]."""
    if not l2:
        return (x0 + torch.empty_like(x0).uniform_(-eps, eps, generator=generator)).clamp(0.0, 1.0)
    direction = torch.empty_like(x0).normal_(generator=generator)
    n = direction[0].numel()
    u = torch.rand(x0.shape[0], generator=generator, dtype=torch.float64)
    radius = eps * u.pow(1.0 / n) / direction.flatten(1).double().norm(dim=1)
    return project_l2(x0 + per_sample(radius.float(), x0) * direction, x0, eps)


def pgd_linf(model, x0, labels, eps, steps, alpha, generator=None):
    x = x0.clone() if generator is None or eps == 0 else random_start(x0, eps, False, generator)
    for _ in range(steps):
        g, _ = gradient(model, x, labels)
        x = x + alpha * torch.sign(g)
        x = torch.min(torch.max(x, x0 - eps), x0 + eps).clamp(0.0, 1.0)
    return x


def pgd_l2(model, x0, labels, eps, steps, alpha, generator=None):
    x = x0.clone() if generator is None or eps == 0 else random_start(x0, eps, True, generator)
    for _ in range(steps):
        g, _ = gradient(model, x, labels)
        x = project_l2(x + alpha * scaled(g, g.flatten(1).norm(dim=1)), x0, eps)
    return x


def attack(kind, model, x0, labels, eps, steps=10, generator=None):
    """x' for tinyrank's attack `kind` at radius eps (rounded to float32), PGD with k = steps
    and the default α; `generator` draws PGD's random start (None: start at x0)."""
    eps = f32(eps)
    if kind == "fgsm":
        return fgsm(model, x0, labels, eps)
    if kind == "fgsm-scaled":
        return fgsm_scaled(model, x0, labels, eps)
    if kind == "pgd-linf":
        return pgd_linf(model, x0, labels, eps, steps, default_step(eps, steps), generator)
    if kind == "pgd-l2":
        return pgd_l2(model, x0, labels, eps, steps, default_step(eps, steps), generator)
    raise ValueError("unknown attack '%s' (expected one of %s)" % (kind, ", ".join(KINDS)))
