"""Scaled dot-product attention (Vaswani et al., 2017) and sinusoidal positional encodings.

Written only with primitives (matmul and the fused stable softmax with a mask), so the engine
supplies every derivative. The masked softmax gives masked-out scores weight exactly 0 and rows
that may attend to nothing all-zero weights (a fully masked row gives a zero output and a zero
gradient, with no NaN and no NumPy warning).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from chainrule import backend, ops
from chainrule.functional.dropout import _check_p, dropout
from chainrule.tensor import Tensor

__all__ = ["scaled_dot_product_attention", "sinusoidal_positional_encoding"]


def _float_tensor(op: str, name: str, x: Any) -> Tensor:
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if not backend.is_floating(x.dtype):
        raise TypeError(f"{op}: {name} must be a floating-point tensor, got dtype {x.dtype} (shape {x.shape})")
    return x


def _mask_parts(op: str, mask: Any, shape: tuple[int, ...], dtype: Any, *, true_means_keep: bool) -> tuple[Any, Any]:
    """Split a mask into (allowed: bool ndarray or None, additive: Tensor or None).

    A bool mask says which scores are kept (``true_means_keep``; MultiheadAttention's masks use
    the opposite convention). A float mask is added to the scores; its ``-inf`` entries are read
    as "not allowed" and replaced by 0 in the additive part, so no infinity reaches the softmax.
    The mask must broadcast to ``shape`` (the scores' shape (..., L, S)).
    """
    if mask is None:
        return None, None
    raw = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    try:
        ok = np.broadcast_shapes(raw.shape, shape) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"{op}: attention mask of shape {raw.shape} does not broadcast to the attention scores' shape {shape}"
        )
    if raw.dtype == np.bool_:
        return (raw if true_means_keep else ~raw), None
    if raw.dtype.kind != "f":
        raise TypeError(f"{op}: attention mask must be bool or floating point, got dtype {raw.dtype}")
    m = mask if isinstance(mask, Tensor) else Tensor(raw)
    if m.dtype != dtype:
        m = m.astype(dtype)
    blocked = np.isneginf(raw)
    if not blocked.any():
        return None, m
    return ~blocked, ops.where(blocked, 0.0, m)


def _combine(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return a & b if isinstance(a, np.ndarray) else a + b


def _attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    allowed: np.ndarray | None,
    additive: Tensor | None,
    dropout_p: float,
    scale: float,
    training: bool,
    generator: np.random.Generator | None,
) -> tuple[Tensor, Tensor]:
    """Attention output and the (post-dropout) weights, masks already split and checked."""
    # (Q s) Kᵀ rather than (Q Kᵀ) s: the same scores, scaling L·E numbers instead of L·S.
    scores = ops.matmul(q * scale, k.mT)
    if additive is not None:
        scores = scores + additive
    # Masked entries (and rows that may attend to nothing) get weight exactly 0 inside the fused
    # softmax, with no NaN, and their gradient is 0.
    weights = ops.softmax(scores, dim=-1, mask=allowed)
    if dropout_p > 0.0 and training:
        weights = dropout(weights, dropout_p, True, generator=generator)
    return ops.matmul(weights, v), weights


def scaled_dot_product_attention(
    query: Any,
    key: Any,
    value: Any,
    attn_mask: Any = None,
    is_causal: bool = False,
    dropout_p: float = 0.0,
    scale: float | None = None,
    training: bool = True,
    *,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """Attention(Q, K, V) = softmax(Q Kᵀ · s + M) V, with s = ``scale`` (default 1/√E).

    Shapes: ``query`` (..., L, E), ``key`` (..., S, E), ``value`` (..., S, Ev) → (..., L, Ev);
    leading (batch) axes broadcast. ``attn_mask`` broadcasts to (..., L, S): a bool mask keeps
    the scores where it is True (PyTorch's convention for this function); a float mask M is
    added to the scores (``-inf`` entries mask out). ``is_causal`` keeps only key positions
    j ≤ i for query i (the upper-left aligned lower triangle, as in PyTorch); it cannot be
    combined with ``attn_mask``. Dropout with probability ``dropout_p`` is applied to the
    attention weights when ``training`` (PyTorch's functional form always drops; pass
    ``training=False`` to turn it off), drawing from ``generator`` or chainrule's global one.

    Derivative (with P = softmax(S), S = Q Kᵀ s + M, G = dL/dOut):
    dL/dV = Pᵀ G,  dL/dP = G Vᵀ,  dL/dS = P ⊙ (dL/dP - rowsum(dL/dP ⊙ P)),
    dL/dQ = dL/dS · K s,  dL/dK = dL/dSᵀ · Q s  (all by the engine from the primitives).

    Deviation from PyTorch: a query row whose every key is masked gives a zero output (and a
    zero gradient) instead of NaN.
    """
    op = "scaled_dot_product_attention"
    q = _float_tensor(op, "query", query)
    k = _float_tensor(op, "key", key)
    v = _float_tensor(op, "value", value)
    for name, t in (("query", q), ("key", k), ("value", v)):
        if t.ndim < 2:
            raise ValueError(f"{op}: {name} must have at least 2 dimensions (..., seq, features), got shape {t.shape}")
    if not q.dtype == k.dtype == v.dtype:
        raise TypeError(f"{op}: query, key and value must share a dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"{op}: query and key must have the same embedding size E, got query {q.shape} and key {k.shape}"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"{op}: key and value must have the same sequence length S, got key {k.shape} and value {v.shape}"
        )
    try:
        batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(
            f"{op}: the batch dimensions of query {q.shape}, key {k.shape} and value {v.shape} do not broadcast"
        ) from None
    p = _check_p(op, dropout_p)
    if scale is None:
        s = 1.0 / math.sqrt(q.shape[-1]) if q.shape[-1] > 0 else 1.0
    elif isinstance(scale, bool) or not isinstance(scale, numbers.Real):
        raise TypeError(f"{op}: scale must be a float or None, got {scale!r}")
    else:
        s = float(scale)
    L, S = q.shape[-2], k.shape[-2]
    scores_shape = (*batch, L, S)
    if is_causal:
        if attn_mask is not None:
            raise ValueError(f"{op}: pass either attn_mask or is_causal=True, not both (as in PyTorch)")
        allowed, additive = np.tril(np.ones((L, S), dtype=bool)), None
    else:
        allowed, additive = _mask_parts(op, attn_mask, scores_shape, q.dtype, true_means_keep=True)
    out, _ = _attention(q, k, v, allowed, additive, p, s, training, generator)
    return out


def sinusoidal_positional_encoding(length: int, d_model: int, dtype: Any = None, base: float = 10000.0) -> Tensor:
    """The fixed encodings of Vaswani et al. (2017), shape (length, d_model).

    PE[pos, 2i] = sin(pos / base^(2i/d_model)),  PE[pos, 2i+1] = cos(pos / base^(2i/d_model)).
    For an odd ``d_model`` the last column is a sine. A constant (no gradient).
    """
    for name, val in (("length", length), ("d_model", d_model)):
        if isinstance(val, bool) or not isinstance(val, numbers.Integral):
            raise TypeError(f"sinusoidal_positional_encoding: {name} must be an int, got {val!r}")
        if val < 0:
            raise ValueError(f"sinusoidal_positional_encoding: {name} must be >= 0, got {val}")
    d = backend.get_default_dtype() if dtype is None else backend.as_dtype(dtype)
    if not backend.is_floating(d):
        raise TypeError(f"sinusoidal_positional_encoding: dtype must be floating, got {d}")
    pos = np.arange(length, dtype=np.float64)[:, None]
    two_i = np.arange(0, d_model, 2, dtype=np.float64)
    angle = pos / np.power(float(base), two_i / max(d_model, 1))
    pe = np.zeros((length, d_model), dtype=np.float64)
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle[:, : d_model // 2])
    return Tensor(pe.astype(d))
