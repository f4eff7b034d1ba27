"""Parameter initialisation, with PyTorch's names and semantics (``torch.nn.init``).

Each function fills a tensor in place and returns it. The write is not recorded on any graph
(as PyTorch's ``torch.no_grad()`` block) and bumps the tensor's version counter, so a backward
through a graph that saved the old values raises instead of silently using the new ones.
Random draws use chainrule's global generator (``chainrule.manual_seed``) unless a NumPy
``Generator`` is given as ``generator=``; they are drawn in float64 and cast to the tensor's dtype.

Why the scales: for a layer y = W x with n_in inputs of unit variance and independent weights of
variance σ², Var(yᵢ) = n_in σ². Keeping activations (forward) or gradients (backward) at unit
variance through many layers asks for σ² = 1/fan, times a gain that undoes the variance a
nonlinearity removes (ReLU halves E[y²], hence gain² = 2). Xavier/Glorot balances the two
directions with σ² = 2/(fan_in + fan_out).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import scipy.special as sp

from chainrule import backend
from chainrule.autograd import state
from chainrule.backend import xp
from chainrule.tensor import Tensor

__all__ = [
    "calculate_gain",
    "uniform_",
    "normal_",
    "trunc_normal_",
    "constant_",
    "zeros_",
    "ones_",
    "eye_",
    "xavier_uniform_",
    "xavier_normal_",
    "glorot_uniform_",
    "glorot_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "he_uniform_",
    "he_normal_",
    "orthogonal_",
]

_LINEAR_FNS = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain g for a nonlinearity (std of the init is g / √fan).

    ========================= =====================
    nonlinearity              gain
    ========================= =====================
    linear, conv*, sigmoid    1
    tanh                      5/3
    relu                      √2
    leaky_relu                √(2 / (1 + slope²))  (``param`` is the slope, default 0.01)
    selu                      3/4
    ========================= =====================
    """
    if not isinstance(nonlinearity, str):
        raise TypeError(f"calculate_gain: nonlinearity must be a str, got {type(nonlinearity).__name__}")
    if nonlinearity in _LINEAR_FNS or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, numbers.Real) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1.0 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4.0
    supported = ", ".join((*_LINEAR_FNS, "sigmoid", "tanh", "relu", "leaky_relu", "selu"))
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; supported: {supported}")


# --- helpers ---------------------------------------------------------------------------------


def _check_tensor(op: str, tensor: Any, floating: bool = True) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(tensor).__name__}")
    if floating and not backend.is_floating(tensor.dtype):
        raise TypeError(f"{op}: expected a floating-point tensor, got dtype {tensor.dtype} (shape {tensor.shape})")
    if not tensor.data.flags.writeable:
        raise ValueError(f"{op}: the tensor of shape {tensor.shape} is a read-only view (from expand/broadcast_to)")
    return tensor


def _write(tensor: Tensor, values: Any) -> Tensor:
    """Copy ``values`` into the tensor's memory (cast to its dtype), off the graph, and bump its version."""
    with state.no_grad():
        tensor.data[...] = values
        tensor._version[0] += 1
    return tensor


def _gen(generator: np.random.Generator | None) -> np.random.Generator:
    if generator is None:
        return backend.generator()
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"init: generator must be a numpy.random.Generator, got {type(generator).__name__}")
    return generator


def _real(op: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: {name} must be a real number, got {value!r}")
    v = float(value)
    if math.isnan(v):
        raise ValueError(f"{op}: {name} is NaN")
    return v


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) = (shape[1]·r, shape[0]·r), r = ∏ shape[2:] (the receptive field).

    A Linear weight has shape (out, in); a Conv weight (out, in, *kernel), so each output sees
    in·r inputs and each input feeds out·r outputs.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"_calculate_fan_in_and_fan_out: expected a Tensor, got {type(tensor).__name__}")
    if tensor.ndim < 2:
        raise ValueError(
            f"fan in and fan out cannot be computed for a tensor with fewer than 2 dimensions (shape {tensor.shape})"
        )
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _calculate_correct_fan(op: str, tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{op}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


# --- plain distributions ---------------------------------------------------------------------


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: np.random.Generator | None = None) -> Tensor:
    """Fill with samples of U(a, b)."""
    _check_tensor("uniform_", tensor)
    lo, hi = _real("uniform_", "a", a), _real("uniform_", "b", b)
    if lo > hi:
        raise ValueError(f"uniform_: expected a <= b, got a={a}, b={b}")
    return _write(tensor, _gen(generator).uniform(lo, hi, size=tensor.shape))


def normal_(
    tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: np.random.Generator | None = None
) -> Tensor:
    """Fill with samples of N(mean, std²)."""
    _check_tensor("normal_", tensor)
    m, s = _real("normal_", "mean", mean), _real("normal_", "std", std)
    if s < 0:
        raise ValueError(f"normal_: std must be >= 0, got {std}")
    return _write(tensor, _gen(generator).normal(m, s, size=tensor.shape))


def trunc_normal_(
    tensor: Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """Fill with samples of N(mean, std²) conditioned on [a, b] (absolute bounds, as PyTorch).

    Inverse-CDF sampling: u ~ U(Φ(α), Φ(β)) with α = (a - mean)/std, β = (b - mean)/std, then
    x = mean + std·Φ⁻¹(u), clipped to [a, b] against rounding.
    """
    _check_tensor("trunc_normal_", tensor)
    m, s = _real("trunc_normal_", "mean", mean), _real("trunc_normal_", "std", std)
    lo, hi = _real("trunc_normal_", "a", a), _real("trunc_normal_", "b", b)
    if s <= 0:
        raise ValueError(f"trunc_normal_: std must be > 0, got {std}")
    if lo >= hi:
        raise ValueError(f"trunc_normal_: expected a < b, got a={a}, b={b}")
    cdf_lo, cdf_hi = sp.ndtr((lo - m) / s), sp.ndtr((hi - m) / s)
    u = _gen(generator).uniform(cdf_lo, cdf_hi, size=tensor.shape)
    return _write(tensor, xp.clip(m + s * sp.ndtri(u), lo, hi))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with the constant ``val``."""
    _check_tensor("constant_", tensor, floating=False)
    if not isinstance(val, numbers.Number):
        raise TypeError(f"constant_: val must be a number, got {type(val).__name__}")
    return _write(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0."""
    _check_tensor("zeros_", tensor, floating=False)
    return _write(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    _check_tensor("ones_", tensor, floating=False)
    return _write(tensor, 1)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-d tensor with the identity (ones on the main diagonal, zeros elsewhere)."""
    _check_tensor("eye_", tensor, floating=False)
    if tensor.ndim != 2:
        raise ValueError(f"eye_: only 2-d tensors are supported, got shape {tensor.shape}")
    return _write(tensor, xp.eye(*tensor.shape))


# --- variance-scaling initialisers -----------------------------------------------------------


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: np.random.Generator | None = None) -> Tensor:
    """Glorot & Bengio (2010): U(-a, a) with a = gain·√(6 / (fan_in + fan_out)).

    The std is then gain·√(2 / (fan_in + fan_out)) (a uniform on [-a, a] has std a/√3).
    """
    _check_tensor("xavier_uniform_", tensor)
    g = _real("xavier_uniform_", "gain", gain)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    if fan_in + fan_out == 0:
        return tensor
    bound = math.sqrt(3.0) * g * math.sqrt(2.0 / (fan_in + fan_out))
    return _write(tensor, _gen(generator).uniform(-bound, bound, size=tensor.shape))


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: np.random.Generator | None = None) -> Tensor:
    """Glorot & Bengio (2010): N(0, std²) with std = gain·√(2 / (fan_in + fan_out))."""
    _check_tensor("xavier_normal_", tensor)
    g = _real("xavier_normal_", "gain", gain)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    if fan_in + fan_out == 0:
        return tensor
    std = g * math.sqrt(2.0 / (fan_in + fan_out))
    return _write(tensor, _gen(generator).normal(0.0, abs(std), size=tensor.shape))


def _kaiming_std(op: str, tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float | None:
    _check_tensor(op, tensor)
    slope = _real(op, "a", a)
    fan = _calculate_correct_fan(op, tensor, mode)
    gain = calculate_gain(nonlinearity, slope)
    if fan == 0:  # a zero-element tensor: nothing to fill (PyTorch warns and returns)
        return None
    return gain / math.sqrt(fan)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: np.random.Generator | None = None,
) -> Tensor:
    """He et al. (2015): U(-bound, bound) with bound = √3 · gain / √fan.

    ``gain = calculate_gain(nonlinearity, a)`` (``a`` is the negative slope of a leaky ReLU);
    ``fan`` is fan_in (preserves the forward variance) or fan_out (the backward one).
    """
    std = _kaiming_std("kaiming_uniform_", tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return _write(tensor, _gen(generator).uniform(-bound, bound, size=tensor.shape))


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: np.random.Generator | None = None,
) -> Tensor:
    """He et al. (2015): N(0, std²) with std = gain / √fan (see ``kaiming_uniform_``)."""
    std = _kaiming_std("kaiming_normal_", tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    return _write(tensor, _gen(generator).normal(0.0, std, size=tensor.shape))


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator: np.random.Generator | None = None) -> Tensor:
    """Saxe et al. (2013): a (semi-)orthogonal matrix times ``gain``.

    The tensor is viewed as a matrix of shape (rows, cols) = (shape[0], ∏ shape[1:]). A Gaussian
    matrix A (transposed when rows < cols, so that it is tall) is factored A = QR; multiplying
    each column of Q by sign(Rᵢᵢ) makes Q Haar-distributed (uniform over orthogonal matrices).
    Afterwards QᵀQ = I when rows ≥ cols and QQᵀ = I when rows < cols.
    """
    _check_tensor("orthogonal_", tensor)
    g = _real("orthogonal_", "gain", gain)
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, got shape {tensor.shape}")
    if tensor.size == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.size // rows
    flat = _gen(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = xp.linalg.qr(flat)
    d = xp.diagonal(r)
    q = q * xp.where(d >= 0, 1.0, -1.0)
    if rows < cols:
        q = q.T
    return _write(tensor, (g * q).reshape(tensor.shape))


glorot_uniform_ = xavier_uniform_
glorot_normal_ = xavier_normal_
he_uniform_ = kaiming_uniform_
he_normal_ = kaiming_normal_
