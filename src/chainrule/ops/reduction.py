"""Reductions: sum, mean, max, min, cumsum, plus the composites built on them (var, std, norm).

Reductions take ``axis`` (a normalised tuple of axes, or None for all) and ``keepdims``. In the
math, ``keep(ȳ)`` reshapes a reduced gradient so it broadcasts against x (size 1 on reduced axes).
"""

from __future__ import annotations

import builtins
import math
from typing import Any

from chainrule.backend import xp
from chainrule.ops.axes import keep_shape, reduce_args
from chainrule.ops.registry import general, linear
from chainrule.tensor import Tensor


def _keep(ns, g, shape, axis, keepdims):
    """Reshape a reduced gradient to keepdims form so that it broadcasts against the input."""
    return g if keepdims else ns.reshape(g, keep_shape(shape, axis))


def _sum_t(ns, g, needs, x, *, out, axis, keepdims):
    return (ns.broadcast_to(_keep(ns, g, x.shape, axis, keepdims), x.shape),)


@linear(_sum_t)
def sum_(x, *, axis, keepdims):
    """Sum over axes.

    Forward:     y = Σ_{i ∈ axes} x_i
    Derivative:  ∂y/∂x = 1 (a row of ones), so x̄ = broadcast(keep(ȳ)); ẏ = Σ ẋ
    """
    return xp.add.reduce(x, axis=axis, keepdims=keepdims)


def _count(shape, axis):
    return math.prod(shape) if axis is None else math.prod(shape[a] for a in axis)


def _mean_t(ns, g, needs, x, *, out, axis, keepdims):
    n = _count(x.shape, axis)
    return (ns.broadcast_to(_keep(ns, g, x.shape, axis, keepdims) * (1.0 / builtins.max(n, 1)), x.shape),)


@linear(_mean_t)
def mean_(x, *, axis, keepdims):
    """Mean over axes (n elements reduced).

    Forward:     y = (1/n) Σ_{i ∈ axes} x_i
    Derivative:  x̄ = broadcast(keep(ȳ)) / n; ẏ = (1/n) Σ ẋ
    """
    n = _count(x.shape, axis)
    return xp.add.reduce(x, axis=axis, keepdims=keepdims) / n if n else xp.mean(x, axis=axis, keepdims=keepdims)


def _tie_weights(ns, x, out, axis, keepdims):
    """w = 1[x = y] / #ties: the derivative of max/min, ties sharing the gradient equally."""
    hit = ns.mask(x == _keep(ns, out, x.shape, axis, keepdims), x)
    return hit / ns.sum(hit, axis, True)


def _extreme_vjp(ns, g, needs, x, *, out, axis, keepdims):
    w = _tie_weights(ns, x, out, axis, keepdims)
    return (w * _keep(ns, g, x.shape, axis, keepdims),)


def _extreme_jvp(ns, tangents, x, *, out, axis, keepdims):
    w = _tie_weights(ns, x, out, axis, keepdims)
    return ns.sum(w * tangents[0], axis, keepdims)


@general(_extreme_vjp, _extreme_jvp, saves_out=True)
def max_(x, *, axis, keepdims):
    """Maximum over axes.

    Forward:     y = max_{i ∈ axes} x_i
    Derivative:  ∂y/∂x_i = w_i = 1[x_i = y] / #{j : x_j = y}; x̄ = w ⊙ keep(ȳ); ẏ = Σ w ⊙ ẋ
    Convention:  tied maxima share the gradient equally (as JAX; PyTorch's amax does the same).
    """
    return xp.max(x, axis=axis, keepdims=keepdims)


@general(_extreme_vjp, _extreme_jvp, saves_out=True)
def min_(x, *, axis, keepdims):
    """Minimum over axes.

    Forward:     y = min_{i ∈ axes} x_i
    Derivative:  ∂y/∂x_i = w_i = 1[x_i = y] / #{j : x_j = y}; x̄ = w ⊙ keep(ȳ); ẏ = Σ w ⊙ ẋ
    Convention:  tied minima share the gradient equally.
    """
    return xp.min(x, axis=axis, keepdims=keepdims)


def _cumsum_t(ns, g, needs, x, *, out, axis):
    return (ns.flip(ns.cumsum(ns.flip(g, (axis,)), axis), (axis,)),)


@linear(_cumsum_t)
def cumsum_(x, *, axis):
    """Cumulative sum along one axis.

    Forward:     y_k = Σ_{i ≤ k} x_i  (y = L x with L lower-triangular ones)
    Derivative:  x̄ = Lᵀ ȳ, the reversed cumulative sum: x̄_i = Σ_{k ≥ i} ȳ_k; ẏ = cumsum(ẋ)
    """
    return xp.cumsum(x, axis=axis)


# --- public functions ------------------------------------------------------------------------


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def sum(x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None) -> Any:
    """Sum of elements over ``axis``/``dim`` (all when None)."""
    x = _t(x)
    ax, kd = reduce_args("sum", x.ndim, axis, keepdims, dim, keepdim)
    return sum_(x, axis=ax, keepdims=kd)


def mean(x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None) -> Any:
    """Arithmetic mean over ``axis``/``dim``."""
    x = _t(x)
    if x.dtype.kind not in "f":
        raise TypeError(f"mean: needs a floating tensor, got dtype {x.dtype}")
    ax, kd = reduce_args("mean", x.ndim, axis, keepdims, dim, keepdim)
    return mean_(x, axis=ax, keepdims=kd)


def _extreme(op, prim, x, axis, keepdims, dim, keepdim):
    x = _t(x)
    ax, kd = reduce_args(op, x.ndim, axis, keepdims, dim, keepdim)
    if x.size == 0:
        raise ValueError(f"{op}: reduction of an empty tensor of shape {x.shape}")
    return prim(x, axis=ax, keepdims=kd)


def max(x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None) -> Any:
    """Maximum over ``axis``/``dim``; ties share the gradient equally. Values only (see argmax)."""
    return _extreme("max", max_, x, axis, keepdims, dim, keepdim)


def min(x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None) -> Any:
    """Minimum over ``axis``/``dim``; ties share the gradient equally. Values only (see argmin)."""
    return _extreme("min", min_, x, axis, keepdims, dim, keepdim)


amax = max
amin = min


def _arg(op, fn, x, axis, keepdims, dim, keepdim):
    x = _t(x)
    if dim is not None:
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    if axis is None:
        return Tensor(fn(x.data.reshape(-1)), dtype="int64")
    return Tensor(fn(x.data, axis=int(axis), keepdims=bool(keepdims)), dtype="int64")


def argmax(x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None) -> Any:
    """Index of the maximum (first one on ties); flat index when axis is None. Not differentiable."""
    return _arg("argmax", xp.argmax, x, axis, keepdims, dim, keepdim)


def argmin(x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None) -> Any:
    """Index of the minimum (first one on ties); flat index when axis is None. Not differentiable."""
    return _arg("argmin", xp.argmin, x, axis, keepdims, dim, keepdim)


def var(
    x: Any,
    axis: Any = None,
    keepdims: bool = False,
    *,
    dim: Any = None,
    keepdim: Any = None,
    correction: int = 0,
    unbiased: bool | None = None,
    ddof: int | None = None,
) -> Any:
    """Variance, Σ(x - mean)² / (n - correction).

    The default correction is 0 (NumPy's ``ddof=0``); PyTorch users pass ``unbiased=True`` or
    ``correction=1`` for the sample variance.
    """
    x = _t(x)
    ax, kd = reduce_args("var", x.ndim, axis, keepdims, dim, keepdim)
    if unbiased is not None:
        correction = 1 if unbiased else 0
    if ddof is not None:
        correction = ddof
    n = _count(x.shape, ax)
    centered = x - mean_(x, axis=ax, keepdims=True)
    return sum_(centered * centered, axis=ax, keepdims=kd) / builtins.max(n - correction, 0)


def std(x: Any, *args: Any, **kwargs: Any) -> Any:
    """Standard deviation, the square root of ``var`` (same arguments)."""
    from chainrule.ops.elementwise import sqrt

    return sqrt(var(x, *args, **kwargs))


def cumsum(x: Any, axis: Any = None, *, dim: Any = None) -> Any:
    """Cumulative sum along ``axis``/``dim`` (over the flattened tensor when None)."""
    from chainrule.ops.axes import normalize_axis
    from chainrule.ops.shape import reshape

    x = _t(x)
    if dim is not None:
        axis = dim
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    return cumsum_(x, axis=normalize_axis("cumsum", x.ndim, axis))


def norm(
    x: Any, ord: Any = 2, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None
) -> Any:
    """Vector p-norm over ``axis`` (all elements when None): (Σ|x|^p)^(1/p); inf gives max |x|."""
    from chainrule.ops.elementwise import abs as abs_
    from chainrule.ops.elementwise import sqrt

    x = _t(x)
    ax, kd = reduce_args("norm", x.ndim, axis, keepdims, dim, keepdim)
    if ord == 2:
        return sqrt(sum_(x * x, axis=ax, keepdims=kd))
    if ord == 1:
        return sum_(abs_(x), axis=ax, keepdims=kd)
    if ord == math.inf:
        return max_(abs_(x), axis=ax, keepdims=kd)
    return sum_(abs_(x) ** ord, axis=ax, keepdims=kd) ** (1.0 / ord)


def prod(x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None) -> Any:
    """Product over ``axis``, as exp(Σ log|x|)·sign — differentiable where no factor is zero."""
    from chainrule.ops.elementwise import abs as abs_
    from chainrule.ops.elementwise import exp, log

    x = _t(x)
    ax, kd = reduce_args("prod", x.ndim, axis, keepdims, dim, keepdim)
    if not x.requires_grad:
        return Tensor(xp.prod(x.data, axis=ax, keepdims=kd))
    sign = Tensor(xp.prod(xp.sign(x.data), axis=ax, keepdims=kd))
    return sign * exp(sum_(log(abs_(x)), axis=ax, keepdims=kd))


def all(x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None) -> Any:
    x = _t(x)
    ax, kd = reduce_args("all", x.ndim, axis, keepdims, dim, keepdim)
    return Tensor(xp.all(x.data, axis=ax, keepdims=kd))


def any(x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None) -> Any:
    x = _t(x)
    ax, kd = reduce_args("any", x.ndim, axis, keepdims, dim, keepdim)
    return Tensor(xp.any(x.data, axis=ax, keepdims=kd))
