"""Fused, numerically stable primitives: logsumexp, softmax, log_softmax.

Each could be written from exp, sum and log, but the composite overflows for inputs near ±1000
(exp(1000) = inf) and spends several graph nodes where one suffices. The max-shift makes every
exponent ≤ 0, so values and gradients stay finite; tests compare each against its composite.
"""

from __future__ import annotations

from typing import Any

from chainrule.backend import xp
from chainrule.ops.axes import normalize_axis, reduce_args
from chainrule.ops.reduction import _keep
from chainrule.ops.registry import general
from chainrule.tensor import Tensor


def _shift(x, axis):
    """Per-slice max, with non-finite maxima replaced by 0 so that x - m never makes NaN."""
    m = xp.max(x, axis=axis, keepdims=True)
    return xp.where(xp.isfinite(m), m, 0)


def _lse_weights(ns, x, out, axis, keepdims):
    """∂ logsumexp/∂x = softmax(x) = exp(x - y)."""
    return ns.exp(x - _keep(ns, out, x.shape, axis, keepdims))


def _lse_vjp(ns, g, needs, x, *, out, axis, keepdims):
    return (_lse_weights(ns, x, out, axis, keepdims) * _keep(ns, g, x.shape, axis, keepdims),)


def _lse_jvp(ns, tangents, x, *, out, axis, keepdims):
    return ns.sum(_lse_weights(ns, x, out, axis, keepdims) * tangents[0], axis, keepdims)


@general(_lse_vjp, _lse_jvp, saves_out=True)
def logsumexp_(x, *, axis, keepdims):
    """Log-sum-exp, stable for any finite input.

    Forward:     y = log Σᵢ exp(xᵢ) = m + log Σᵢ exp(xᵢ - m),  m = maxᵢ xᵢ
    Derivative:  ∂y/∂x = softmax(x) = exp(x - y); x̄ = exp(x - y) ⊙ keep(ȳ); ẏ = Σ exp(x - y) ⊙ ẋ
    """
    m = _shift(x, axis)
    with xp.errstate(divide="ignore"):  # log(0) = -inf when every input is -inf
        s = xp.log(xp.add.reduce(xp.exp(x - m), axis=axis, keepdims=True)) + m
    return s if keepdims else s.squeeze(axis)


def _softmax_jv(ns, v, y, axis):
    """J v for J = diag(y) - y yᵀ (symmetric, so also Jᵀ v)."""
    return y * (v - ns.sum(v * y, (axis,), True))


@general(
    lambda ns, g, needs, x, *, out, axis: (_softmax_jv(ns, g, out, axis),),
    lambda ns, tangents, x, *, out, axis: _softmax_jv(ns, tangents[0], out, axis),
    saves=(),
    saves_out=True,
)
def softmax_(x, *, axis):
    """Softmax along one axis, stable for any finite input.

    Forward:     yᵢ = exp(xᵢ - m) / Σⱼ exp(xⱼ - m)
    Derivative:  J = ∂y/∂x = diag(y) - y yᵀ (symmetric), so x̄ = y ⊙ (ȳ - ⟨ȳ, y⟩) and
                 ẏ = y ⊙ (ẋ - ⟨ẋ, y⟩), the inner products taken along the axis
    """
    e = xp.exp(x - _shift(x, (axis,)))
    return e / xp.add.reduce(e, axis=axis, keepdims=True)


def _log_softmax_vjp(ns, g, needs, x, *, out, axis):
    return (g - ns.exp(out) * ns.sum(g, (axis,), True),)


def _log_softmax_jvp(ns, tangents, x, *, out, axis):
    t = tangents[0]
    return t - ns.sum(ns.exp(out) * t, (axis,), True)


@general(_log_softmax_vjp, _log_softmax_jvp, saves=(), saves_out=True)
def log_softmax_(x, *, axis):
    """Log-softmax along one axis, stable for any finite input.

    Forward:     yᵢ = xᵢ - logsumexp(x)
    Derivative:  J = I - 1 sᵀ with s = softmax(x) = exp(y), so x̄ = ȳ - s ⟨ȳ, 1⟩ and
                 ẏ = ẋ - ⟨s, ẋ⟩ 1
    """
    z = x - _shift(x, (axis,))
    with xp.errstate(divide="ignore"):
        return z - xp.log(xp.add.reduce(xp.exp(z), axis=axis, keepdims=True))


# --- public functions ------------------------------------------------------------------------


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None) -> Tensor:
    """log Σ exp(x) over ``axis``/``dim`` (all when None), computed stably."""
    x = _t(x)
    ax, kd = reduce_args("logsumexp", x.ndim, axis, keepdims, dim, keepdim)
    return logsumexp_(x, axis=ax, keepdims=kd)


def _one_axis(op: str, x: Tensor, axis: Any, dim: Any) -> int:
    if dim is not None:
        axis = dim
    if x.ndim == 0:
        raise ValueError(f"{op}: needs at least one dimension, got a 0-d tensor")
    return normalize_axis(op, x.ndim, -1 if axis is None else axis)


def softmax(x: Any, axis: Any = None, *, dim: Any = None) -> Tensor:
    """Softmax along ``axis``/``dim`` (default: the last axis)."""
    x = _t(x)
    return softmax_(x, axis=_one_axis("softmax", x, axis, dim))


def log_softmax(x: Any, axis: Any = None, *, dim: Any = None) -> Tensor:
    """Log-softmax along ``axis``/``dim`` (default: the last axis)."""
    x = _t(x)
    return log_softmax_(x, axis=_one_axis("log_softmax", x, axis, dim))
