"""Activation functions, written with chainrule's primitives (no derivative code here).

Each docstring states the function and its derivative for the reader; the engine computes the
derivative from the primitives, to any order and in both modes. Where an activation has a kink,
the convention is PyTorch's, and the docstring says which side the derivative takes.

Stability: nothing here evaluates ``exp`` of a large positive number. Branches that would
overflow are fed a masked input (``where(mask, x, 0)``) before the exponential, so values and
gradients stay finite at x = ±1000 and NumPy raises no warning.
"""

from __future__ import annotations

from typing import Any

from chainrule import ops
from chainrule.ops import fused
from chainrule.tensor import Tensor

__all__ = [
    "sigmoid",
    "tanh",
    "relu",
    "relu6",
    "hardtanh",
    "leaky_relu",
    "prelu",
    "elu",
    "gelu",
    "silu",
    "swish",
    "mish",
    "softplus",
    "logsigmoid",
    "softmax",
    "log_softmax",
]


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _floating(op: str, x: Tensor) -> None:
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point tensor, got dtype {x.dtype} (shape {x.shape})")


def sigmoid(x: Any) -> Tensor:
    """Logistic sigmoid (the primitive ``chainrule.sigmoid``), stable for any |x|.

    Forward:     σ(x) = 1 / (1 + exp(-x))
    Derivative:  σ'(x) = σ(x)(1 - σ(x))
    """
    return ops.sigmoid(x)


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent (the primitive ``chainrule.tanh``).

    Forward:     tanh(x) = (eˣ - e⁻ˣ) / (eˣ + e⁻ˣ)
    Derivative:  1 - tanh²(x)
    """
    return ops.tanh(x)


def relu(x: Any) -> Tensor:
    """Rectified linear unit (the primitive ``chainrule.relu``).

    Forward:     relu(x) = max(x, 0)
    Derivative:  1[x > 0]   (0 at the kink x = 0, as PyTorch)
    """
    return ops.relu(x)


def hardtanh(x: Any, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """Hard tanh: the identity clipped to [min_val, max_val].

    Forward:     hardtanh(x) = min(max(x, min_val), max_val)
    Derivative:  1[min_val < x < max_val]   (0 on the bounds themselves, as PyTorch)
    """
    x = _t(x)
    _floating("hardtanh", x)
    if not min_val < max_val:
        raise ValueError(f"hardtanh: min_val must be below max_val, got min_val={min_val}, max_val={max_val}")
    lo, hi = float(min_val), float(max_val)
    # Selecting the constant at the bound (not the identity) gives PyTorch's 0 there.
    return ops.where(x <= lo, lo, ops.where(x >= hi, hi, x))


def relu6(x: Any) -> Tensor:
    """ReLU capped at 6: ``hardtanh(x, 0, 6)``.

    Forward:     relu6(x) = min(max(x, 0), 6)
    Derivative:  1[0 < x < 6]
    """
    return hardtanh(x, 0.0, 6.0)


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """Leaky ReLU.

    Forward:     y = x for x > 0, negative_slope·x otherwise
    Derivative:  1 for x > 0, negative_slope for x ≤ 0   (the slope at x = 0, as PyTorch)
    """
    x = _t(x)
    _floating("leaky_relu", x)
    return ops.where(x > 0, x, x * float(negative_slope))


def prelu(x: Any, weight: Any) -> Tensor:
    """Parametric ReLU with a learnable slope ``weight`` (PyTorch semantics).

    Forward:     y = x for x > 0, a·x otherwise, where a = weight[0] shared by every element
                 (weight of shape (1,)) or a = weight[c] for channel c on axis 1 (shape (C,))
    Derivative:  ∂y/∂x = 1 for x > 0, a for x ≤ 0;  ∂L/∂a_c = Σ over channel c of ȳ·x·1[x ≤ 0]
    An input with fewer than 2 axes has no channel axis, so its weight must have one element.
    The weight is cast to the input's dtype (the cast is differentiable), so float32 stays float32.
    """
    x = _t(x)
    w = _t(weight)
    _floating("prelu", x)
    _floating("prelu", w)
    w = w.astype(x.dtype)
    if w.ndim > 1:
        raise ValueError(f"prelu: weight must be 0-d or 1-d (shape (1,) or (C,)), got shape {w.shape}")
    n = w.size
    if n != 1:
        channels = x.shape[1] if x.ndim >= 2 else 1
        if n != channels:
            raise ValueError(
                f"prelu: weight has {n} elements but the input of shape {x.shape} has {channels} "
                "channel(s) on axis 1; expected shape (1,) or (channels,)"
            )
        w = ops.reshape(w, (n,) + (1,) * (x.ndim - 2))
    elif w.ndim == 1:
        w = ops.reshape(w, ())
    return ops.where(x > 0, x, w * x)


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    """Exponential linear unit.

    Forward:     y = x for x > 0, α(eˣ - 1) otherwise
    Derivative:  1 for x > 0, α·eˣ for x ≤ 0   (α at x = 0, as PyTorch)
    """
    x = _t(x)
    _floating("elu", x)
    pos = x > 0
    # The exponential sees 0 where x > 0, so a large positive x cannot overflow it.
    neg = ops.expm1(ops.where(pos, 0.0, x)) * float(alpha)
    return ops.where(pos, x, neg)


def gelu(x: Any, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit: x·Φ(x), Φ the standard normal CDF.

    Forward (``approximate="none"``):
                 y = ½·x·(1 + erf(x/√2))
    Derivative:  Φ(x) + x·φ(x) = ½(1 + erf(x/√2)) + x·exp(-x²/2)/√(2π)
    Forward (``approximate="tanh"``):
                 y = ½·x·(1 + tanh(u)),  u = √(2/π)·(x + 0.044715·x³)
    Derivative:  ½(1 + tanh u) + ½·x·(1 - tanh² u)·√(2/π)·(1 + 3·0.044715·x²)
    One fused primitive (``ops.fused.gelu_``): its composite from erf/tanh, mul and add is
    several times slower, and the tests check the two agree.
    """
    x = _t(x)
    _floating("gelu", x)
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return fused.gelu_(x, approximate=approximate)


def silu(x: Any) -> Tensor:
    """Sigmoid linear unit (swish with β = 1).

    Forward:     y = x·σ(x)
    Derivative:  σ(x)(1 + x(1 - σ(x)))
    """
    x = _t(x)
    _floating("silu", x)
    return x * ops.sigmoid(x)


def swish(x: Any, beta: Any = 1.0) -> Tensor:
    """Swish, x·σ(βx); ``beta`` may be a float or a (learnable) tensor that broadcasts with x.

    A tensor ``beta`` is cast to the input's dtype (differentiably).

    Forward:     y = x·σ(βx)
    Derivative:  ∂y/∂x = σ(βx) + βx·σ(βx)(1 - σ(βx));  ∂y/∂β = x²·σ(βx)(1 - σ(βx))
    """
    x = _t(x)
    _floating("swish", x)
    if isinstance(beta, Tensor):
        _floating("swish", beta)
        return x * ops.sigmoid(x * beta.astype(x.dtype))
    b = float(beta)
    return x * ops.sigmoid(x if b == 1.0 else x * b)


def _softplus1(z: Tensor) -> Tensor:
    """log(1 + eᶻ) without overflow, with the exact derivative σ(z) at every z (z = 0 included).

    log(1 + eᶻ) = max(z, 0) + log1p(exp(-|z|)). Writing max(z, 0) and -|z| with ``where``
    instead of relu and abs keeps their kinks from cancelling wrongly at z = 0 (relu'(0) = 0 and
    abs'(0) = 0 would give a derivative of 0 there instead of ½).
    """
    pos = z > 0
    return ops.where(pos, z, 0.0) + ops.log1p(ops.exp(ops.where(pos, -z, z)))


def softplus(x: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """Softplus, a smooth ReLU, stable for any |x| (no overflow at ±1000, no warnings).

    Forward:     y = (1/β)·log(1 + exp(βx)), computed as (max(βx, 0) + log1p(exp(-|βx|)))/β;
                 y = x where βx > threshold (PyTorch's switch to the identity)
    Derivative:  σ(βx) (and 1 where βx > threshold)
    """
    x = _t(x)
    _floating("softplus", x)
    b = float(beta)
    if b == 0.0:
        raise ValueError("softplus: beta must be non-zero, got 0")
    z = x if b == 1.0 else x * b
    sp = _softplus1(z)
    if b != 1.0:
        sp = sp * (1.0 / b)
    return ops.where(z > float(threshold), x, sp)


def logsigmoid(x: Any) -> Tensor:
    """Log of the sigmoid, stable for any |x|.

    Forward:     y = log σ(x) = -softplus(-x)
    Derivative:  1 - σ(x) = σ(-x)
    """
    x = _t(x)
    _floating("logsigmoid", x)
    return -_softplus1(-x)


def mish(x: Any) -> Tensor:
    """Mish, x·tanh(softplus(x)).

    Forward:     y = x·tanh(s), s = log(1 + eˣ)
    Derivative:  tanh(s) + x·σ(x)·(1 - tanh²(s))
    """
    x = _t(x)
    _floating("mish", x)
    return x * ops.tanh(_softplus1(x))


def softmax(x: Any, dim: int = -1) -> Tensor:
    """Softmax along ``dim`` (the fused, stable primitive ``chainrule.softmax``).

    Forward:     yᵢ = exp(xᵢ) / Σⱼ exp(xⱼ)   (max-shifted, so finite for any finite x)
    Derivative:  ∂y/∂x = diag(y) - y yᵀ
    PyTorch's ``dim=None`` guesses an axis (deprecated there); here the default is the last axis.
    """
    return ops.softmax(x, dim=dim)


def log_softmax(x: Any, dim: int = -1) -> Tensor:
    """Log-softmax along ``dim`` (the fused, stable primitive ``chainrule.log_softmax``).

    Forward:     yᵢ = xᵢ - log Σⱼ exp(xⱼ)
    Derivative:  ∂y/∂x = I - 1·softmax(x)ᵀ
    The default axis is the last one (see ``softmax``).
    """
    return ops.log_softmax(x, dim=dim)
