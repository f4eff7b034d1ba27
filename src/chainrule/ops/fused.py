"""Fused primitives: logsumexp, softmax, log_softmax (for stability), GELU and the LSTM cell (for speed).

The first three could be written from exp, sum and log, but the composite overflows for inputs
near ±1000 (exp(1000) = inf) and spends several graph nodes where one suffices. The max-shift
makes every exponent ≤ 0, so values and gradients stay finite.

GELU's composite is nine elementwise nodes (tanh form) whose backward pass adds a dozen more
passes over the largest activation of a Transformer (N·T × 4·d_model); one node with its
derivative written once is 1.3x faster forward + backward on (16, 128, 512) float32 (5.2 against
7.0 ms; section (d) of ``benchmarks/bench_sequence.py``), and the masked softmax 1.6x faster than
select → softmax → select on causal attention scores. Tests compare each fused primitive against
its composite.

The LSTM cell's composite is a split and nine elementwise nodes per time step, on arrays as small
as (batch, hidden): at those sizes the engine's per-node cost, not the arithmetic, sets the pace
of a recurrent network, so the cell is one node whose backward is one rule (section (a) of
``benchmarks/bench_sequence.py`` measures the layer).
"""

from __future__ import annotations

import math
from typing import Any

import scipy.special as sp

from chainrule.backend import xp
from chainrule.ops.axes import normalize_axis, reduce_args
from chainrule.ops.reduction import _keep
from chainrule.ops.registry import elementwise, general
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
    lambda ns, g, needs, x, *, out, axis, mask=None: (_softmax_jv(ns, g, out, axis),),
    lambda ns, tangents, x, *, out, axis, mask=None: _softmax_jv(ns, tangents[0], out, axis),
    saves=(),
    saves_out=True,
)
def softmax_(x, *, axis, mask=None):
    """Softmax along one axis, stable for any finite input, optionally over a subset of entries.

    Forward:     yᵢ = exp(xᵢ - m) / Σⱼ exp(xⱼ - m)
                 with a boolean ``mask`` (broadcast to x; True = kept): the sums run over kept
                 entries only, yᵢ = 0 where mᵢ is False, and a slice with nothing kept is all 0
    Derivative:  J = ∂y/∂x = diag(y) - y yᵀ (symmetric), so x̄ = y ⊙ (ȳ - ⟨ȳ, y⟩) and
                 ẏ = y ⊙ (ẋ - ⟨ẋ, y⟩), the inner products taken along the axis; the same formula
                 covers the mask, since y = 0 on every dropped entry
    The mask is what attention needs: one node instead of a select, a softmax and a select
    (benchmarks/bench_sequence.py), and no -inf or NaN ever reaches the arithmetic.
    """
    if mask is None:
        e = x - _shift(x, (axis,))
    else:
        e = xp.where(mask, x, -xp.inf)
        e -= _shift(e, (axis,))  # a fully masked slice has shift 0 and stays -inf
    xp.exp(e, out=e)
    total = xp.add.reduce(e, axis=axis, keepdims=True)
    if mask is not None:
        total[total == 0] = 1  # nothing kept: 0 / 1 = 0
    e /= total
    return e


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


# --- GELU ------------------------------------------------------------------------------------

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_A = 0.044715


def _gelu_d(ns, x, out, approximate):
    if approximate == "tanh":
        x2 = x * x
        t = ns.tanh((x + _GELU_A * x2 * x) * _SQRT_2_OVER_PI)
        return 0.5 * (1.0 + t) + (0.5 * _SQRT_2_OVER_PI) * x * (1.0 - t * t) * (1.0 + (3.0 * _GELU_A) * x2)
    return 0.5 * (1.0 + ns.erf(x * _SQRT_HALF)) + _INV_SQRT_2PI * x * ns.exp(-0.5 * x * x)


@elementwise(_gelu_d)
def gelu_(x, *, approximate):
    """Gaussian error linear unit x·Φ(x) (Φ the standard normal CDF), or its tanh approximation.

    Forward:     y = ½·x·(1 + erf(x/√2))                               (approximate="none")
                 y = ½·x·(1 + tanh u),  u = √(2/π)·(x + 0.044715·x³)   (approximate="tanh")
    Derivative:  ∂y/∂x = Φ(x) + x·φ(x) = ½(1 + erf(x/√2)) + x·exp(-x²/2)/√(2π)       ("none")
                 ∂y/∂x = ½(1 + tanh u) + ½·x·(1 - tanh² u)·√(2/π)·(1 + 3·0.044715·x²)  ("tanh")
    """
    # In place on one buffer (``out=`` keeps 0-d inputs arrays, where ``x * x`` gives a scalar).
    u = xp.empty_like(x)
    if approximate == "tanh":
        xp.multiply(x, x, out=u)
        u *= _GELU_A * x
        u += x
        u *= _SQRT_2_OVER_PI
        xp.tanh(u, out=u)
        u += 1.0
        u *= 0.5 * x
        return u
    xp.multiply(x, _SQRT_HALF, out=u)
    sp.erf(u, out=u)
    u += 1.0
    u *= 0.5 * x
    return u


# --- LSTM cell -------------------------------------------------------------------------------
# All four gates come from one tanh over the whole (…, 4H) array: σ(a) = ½(1 + tanh(a/2)) is the
# same function, and NumPy's float32 tanh is about 5x faster than scipy's expit here. Its tails
# carry absolute (not relative) error ≤ eps/2, harmless in gates that multiply values; the
# ``sigmoid`` primitive keeps expit for its relative accuracy.


def _lstm_scale(gates, hidden):
    """s = (½, ½, 1, ½) per block: act = s ⊙ tanh(s ⊙ a) + (1 - s) gives (i, f, g, o) at once."""
    s = xp.full(4 * hidden, 0.5, dtype=gates.dtype)
    s[2 * hidden : 3 * hidden] = 1.0
    return s


def _lstm_blocks(x, hidden):
    return [x[..., k * hidden : (k + 1) * hidden] for k in range(4)]


def _lstm_recompute(ns, gates, c, out):
    """What both rules read: s, t = tanh(s ⊙ a), the gates (i, f, g, o) and tanh(c')."""
    hidden = c.shape[-1]
    s = _lstm_scale(gates, hidden)
    t = ns.tanh(gates * s)
    return hidden, s, t, _lstm_blocks(t * s + (1.0 - s), hidden), ns.tanh(out[..., hidden:])


def _lstm_cell_vjp(ns, g, needs, gates, c, *, out):
    hidden, s, t, (i, f, u, o), t_c = _lstm_recompute(ns, gates, c, out)
    g_h = g[..., :hidden]
    g_c = g[..., hidden:] + g_h * o * (1.0 - t_c * t_c)
    g_gates = None
    if needs[0]:
        # ∂act/∂a = s² (1 - t²): σ' = σ(1 - σ) = ¼(1 - t²) and tanh' = 1 - t²
        g_act = ns.concatenate([g_c * u, g_c * c, g_c * i, g_h * t_c], -1)
        g_gates = g_act * (s * s) * (1.0 - t * t)
    return g_gates, (g_c * f if needs[1] else None)


def _lstm_cell_jvp(ns, tangents, gates, c, *, out):
    hidden, s, t, (i, f, u, o), t_c = _lstm_recompute(ns, gates, c, out)
    t_gates, t_c_in = tangents
    dc = None if t_c_in is None else f * t_c_in
    if t_gates is not None:
        d_i, d_f, d_g, d_o = _lstm_blocks(t_gates * (s * s) * (1.0 - t * t), hidden)
        term = u * d_i + c * d_f + i * d_g
        dc = term if dc is None else dc + term
    dh = o * (1.0 - t_c * t_c) * dc
    if t_gates is not None:
        dh = dh + t_c * d_o
    return ns.concatenate([dh, dc], -1)


@general(_lstm_cell_vjp, _lstm_cell_jvp, saves_out=True)
def lstm_cell_(gates, c):
    """One LSTM step after the matrix products: the new hidden and cell state, side by side.

    Forward:     [a_i, a_f, a_g, a_o] = gates (…, 4H), split in PyTorch's order; c (…, H)
                 i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o)
                 c' = f ⊙ c + i ⊙ g,   h' = o ⊙ tanh(c'),   y = [h', c'] (…, 2H)
    Derivative:  with t = tanh(c') and ȳ = [h̄, c̄']: the total cell gradient
                 ĉ = c̄' + h̄ ⊙ o ⊙ (1 - t²), then
                 ā_i = ĉ ⊙ g ⊙ i(1 - i),  ā_f = ĉ ⊙ c ⊙ f(1 - f),  ā_g = ĉ ⊙ i ⊙ (1 - g²),
                 ā_o = h̄ ⊙ t ⊙ o(1 - o),  c̄ = ĉ ⊙ f
                 forward mode: ċ' = f ⊙ ċ + c ⊙ ḟ + g ⊙ i̇ + i ⊙ ġ (ḟ = f(1 - f) ⊙ ȧ_f, …),
                 ḣ' = o ⊙ (1 - t²) ⊙ ċ' + t ⊙ o(1 - o) ⊙ ȧ_o
    """
    hidden = c.shape[-1]
    s = _lstm_scale(gates, hidden)
    act = gates * s
    xp.tanh(act, out=act)
    act *= s
    act += 1.0 - s
    i, f, g, o = _lstm_blocks(act, hidden)
    out = xp.empty((*c.shape[:-1], 2 * hidden), dtype=xp.result_type(gates, c))
    h_new, c_new = out[..., :hidden], out[..., hidden:]
    xp.multiply(f, c, out=c_new)
    g *= i
    c_new += g
    xp.tanh(c_new, out=h_new)
    h_new *= o
    return out


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


def softmax(x: Any, axis: Any = None, *, dim: Any = None, mask: Any = None) -> Tensor:
    """Softmax along ``axis``/``dim`` (default: the last axis).

    ``mask``: an optional boolean array broadcastable to x; the softmax runs over the True
    entries only, the others (and slices with no True entry) get weight 0.
    """
    x = _t(x)
    ax = _one_axis("softmax", x, axis, dim)
    if mask is None:
        return softmax_(x, axis=ax)
    m = mask.data if isinstance(mask, Tensor) else xp.asarray(mask)
    if m.dtype != xp.bool_:
        raise TypeError(f"softmax: mask must be a boolean array, got dtype {m.dtype}")
    try:
        fits = xp.broadcast_shapes(m.shape, x.shape) == x.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"softmax: mask of shape {m.shape} does not broadcast to the input's shape {x.shape}")
    return softmax_(x, axis=ax, mask=m)


def log_softmax(x: Any, axis: Any = None, *, dim: Any = None) -> Tensor:
    """Log-softmax along ``axis``/``dim`` (default: the last axis)."""
    x = _t(x)
    return log_softmax_(x, axis=_one_axis("log_softmax", x, axis, dim))


def lstm_cell(gates: Any, c: Any) -> tuple[Tensor, Tensor]:
    """The LSTM update (h', c') from the gate pre-activations ``gates`` (…, 4H) = W_ih x + b_ih +
    W_hh h + b_hh (PyTorch's order i, f, g, o) and the cell state ``c`` (…, H).

    One fused primitive (``lstm_cell_``, formulas in its docstring) computes y = [h', c'];
    h' and c' are its two halves.
    """
    gates, c = _t(gates), _t(c)
    if gates.ndim == 0 or c.ndim == 0 or gates.shape != (*c.shape[:-1], 4 * c.shape[-1]):
        raise ValueError(
            f"lstm_cell: gates must have shape (..., 4*H) for a cell state of shape (..., H); "
            f"got gates {gates.shape} and c {c.shape}"
        )
    if gates.dtype != c.dtype or not xp.issubdtype(gates.dtype, xp.floating):
        raise TypeError(f"lstm_cell: gates and c must share one floating dtype, got {gates.dtype} and {c.dtype}")
    y = lstm_cell_(gates, c)
    hidden = c.shape[-1]
    return y[..., :hidden], y[..., hidden:]
