"""Layer normalization and batch normalization, written with primitives only.

Both standardise activations, x̂ = (x - μ) / √(σ² + ε), then apply an optional per-feature affine
map y = γ ⊙ x̂ + β. They differ in which axes μ and σ² are taken over: layer norm over the
trailing ``normalized_shape`` axes of each sample (Ba et al., 2016), batch norm over the batch
and every axis but the channel axis 1 (Ioffe & Szegedy, 2015). The gradients, including the
terms through μ and σ² that make batch norm couple the samples of a batch, come from the engine.
"""

from __future__ import annotations

import numbers
from typing import Any

from chainrule import backend
from chainrule.autograd import state
from chainrule.ops import mean, reshape, rsqrt
from chainrule.tensor import Tensor

__all__ = ["layer_norm", "batch_norm"]


def _as_float_tensor(op: str, name: str, x: Any) -> Tensor:
    t = x if isinstance(x, Tensor) else Tensor(x)
    if not backend.is_floating(t.dtype):
        raise TypeError(f"{op}: {name} must be a floating-point tensor, got dtype {t.dtype} (shape {t.shape})")
    return t


def _check_param(op: str, name: str, p: Any, shape: tuple[int, ...], dtype: Any) -> Tensor | None:
    """An optional affine parameter or running statistic: of exactly ``shape`` (and ``dtype`` when given)."""
    if p is None:
        return None
    t = _as_float_tensor(op, name, p)
    if t.shape != shape:
        raise ValueError(f"{op}: {name} must have shape {shape}, got {t.shape}")
    if dtype is not None and t.dtype != dtype:
        raise TypeError(f"{op}: {name} has dtype {t.dtype} but the input has dtype {dtype}")
    return t


def _check_eps(op: str, eps: Any) -> float:
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not float(eps) >= 0.0:
        raise ValueError(f"{op}: eps must be a real number >= 0, got {eps!r}")
    return float(eps)


def _normalized_shape(op: str, normalized_shape: Any) -> tuple[int, ...]:
    """``normalized_shape`` as a tuple of positive ints (an int n means (n,))."""
    shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else normalized_shape
    try:
        shape = tuple(shape)
    except TypeError:
        raise TypeError(
            f"{op}: normalized_shape must be an int or a sequence of ints, got {normalized_shape!r}"
        ) from None
    if not shape or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s <= 0 for s in shape):
        raise ValueError(
            f"{op}: normalized_shape must be a non-empty sequence of positive ints, got {normalized_shape!r}"
        )
    return tuple(int(s) for s in shape)


def _layer_norm(op: str, x: Any, normalized_shape: Any, weight: Any, bias: Any, eps: float) -> Tensor:
    shape = _normalized_shape(op, normalized_shape)
    x = _as_float_tensor(op, "input", x)
    k = len(shape)
    if x.shape[x.ndim - k :] != shape or x.ndim < k:
        raise ValueError(
            f"{op}: expected an input whose trailing dimensions are {shape} (normalized_shape), got shape {x.shape}"
        )
    w = _check_param(op, "weight", weight, shape, x.dtype)
    b = _check_param(op, "bias", bias, shape, x.dtype)
    e = _check_eps(op, eps)
    axes = tuple(range(x.ndim - k, x.ndim))
    centered = x - mean(x, axis=axes, keepdims=True)
    var = mean(centered * centered, axis=axes, keepdims=True)
    y = centered * rsqrt(var + e)
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y


def layer_norm(
    x: Tensor,
    normalized_shape: int | tuple[int, ...],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Layer normalization over the trailing ``normalized_shape`` axes of ``x``.

    With the D = ∏ normalized_shape elements of one sample: μ = (1/D) Σ xᵢ,
    σ² = (1/D) Σ (xᵢ - μ)² (biased), x̂ = (x - μ) / √(σ² + ε), y = γ ⊙ x̂ + β (γ, β of shape
    ``normalized_shape``, each optional). The same computation in training and evaluation.
    """
    return _layer_norm("layer_norm", x, normalized_shape, weight, bias, eps)


def _check_batch_norm(
    op: str,
    x: Any,
    running_mean: Any,
    running_var: Any,
    weight: Any,
    bias: Any,
    training: bool,
    momentum: Any,
    eps: Any,
    allowed_ndims: tuple[int, ...] | None = None,
) -> tuple[Tensor, Tensor | None, Tensor | None, Tensor | None, Tensor | None, float, float]:
    """Every check of ``batch_norm``, run before anything is computed or updated."""
    x = _as_float_tensor(op, "input", x)
    if allowed_ndims is not None and x.ndim not in allowed_ndims:
        raise ValueError(
            f"{op}: expected a 2-d (N, C) or 3-d (N, C, L) input, got a {x.ndim}-d input of shape {x.shape}"
        )
    if x.ndim < 2:
        raise ValueError(f"{op}: expected an input of shape (N, C, *), got shape {x.shape}")
    c = x.shape[1]
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{op}: give both running_mean and running_var, or neither")
    rm = _check_param(op, "running_mean", running_mean, (c,), None)
    rv = _check_param(op, "running_var", running_var, (c,), None)
    w = _check_param(op, "weight", weight, (c,), x.dtype)
    b = _check_param(op, "bias", bias, (c,), x.dtype)
    e = _check_eps(op, eps)
    if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0.0 <= float(momentum) <= 1.0:
        raise ValueError(f"{op}: momentum must be a real number in [0, 1], got {momentum!r}")
    if training:
        n = x.size // c if c else 0
        if n <= 1:
            raise ValueError(
                f"{op}: expected more than 1 value per channel when training, got input of shape {x.shape} "
                f"({n} value(s) per channel)"
            )
        for name, t in (("running_mean", rm), ("running_var", rv)):
            if t is not None and not t.data.flags.writeable:
                raise ValueError(f"{op}: {name} is a read-only view and cannot be updated")
    elif rm is None:
        raise ValueError(f"{op}: evaluation mode (training=False) needs running_mean and running_var")
    return x, rm, rv, w, b, float(momentum), e


def _batch_norm(
    x: Tensor,
    rm: Tensor | None,
    rv: Tensor | None,
    w: Tensor | None,
    b: Tensor | None,
    training: bool,
    momentum: float,
    eps: float,
) -> Tensor:
    """``batch_norm`` on checked arguments."""
    c = x.shape[1]
    stat_shape = (1, c) + (1,) * (x.ndim - 2)
    if training:
        axes = (0, *range(2, x.ndim))
        mu = mean(x, axis=axes, keepdims=True)
        centered = x - mu
        var = mean(centered * centered, axis=axes, keepdims=True)
        y = centered * rsqrt(var + eps)
        if rm is not None:
            n = x.size // c
            with state.no_grad():
                batch_mean = reshape(mu.detach(), (c,))
                # The running variance estimates the population variance, hence Bessel's n/(n-1).
                batch_var = reshape(var.detach(), (c,)) * (n / (n - 1))
                rm.copy_(rm * (1.0 - momentum) + batch_mean.astype(rm.dtype) * momentum)
                rv.copy_(rv * (1.0 - momentum) + batch_var.astype(rv.dtype) * momentum)
    else:
        mu_r = reshape(rm.astype(x.dtype), stat_shape)
        var_r = reshape(rv.astype(x.dtype), stat_shape)
        y = (x - mu_r) * rsqrt(var_r + eps)
    if w is not None:
        y = y * reshape(w, stat_shape)
    if b is not None:
        y = y + reshape(b, stat_shape)
    return y


def batch_norm(
    x: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalization of ``x`` of shape (N, C) or (N, C, L) (any (N, C, *) works) per channel.

    Training: over the m = N·L values of each channel c, μ_c = (1/m) Σ x, σ²_c = (1/m) Σ (x - μ_c)²
    (biased), x̂ = (x - μ_c) / √(σ²_c + ε), and the gradient flows through μ_c and σ²_c. Given
    running statistics are updated in place, off the graph, as PyTorch does:
    running_mean ← (1 - momentum)·running_mean + momentum·μ_c and
    running_var ← (1 - momentum)·running_var + momentum·σ²_c·m/(m - 1) (the unbiased variance).
    Evaluation: x̂ = (x - running_mean) / √(running_var + ε). Then y = γ ⊙ x̂ + β per channel.
    """
    args = _check_batch_norm("batch_norm", x, running_mean, running_var, weight, bias, training, momentum, eps)
    x, rm, rv, w, b, m, e = args
    return _batch_norm(x, rm, rv, w, b, bool(training), m, e)
