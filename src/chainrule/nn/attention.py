"""Multi-head attention and positional encodings (sinusoidal and learned)."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from chainrule import ops
from chainrule.creation import empty
from chainrule.functional.attention import _attention, _combine, _mask_parts, sinusoidal_positional_encoding
from chainrule.functional.dropout import _check_p
from chainrule.nn import init
from chainrule.nn.linear import Linear, _check_size, _float_dtype
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor

__all__ = ["MultiheadAttention", "SinusoidalPositionalEncoding", "LearnedPositionalEncoding"]


def _tensor_input(module: Module, name: str, x: Any, dtype: Any) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{module._label()}: {name} must be a Tensor, got {type(x).__name__}")
    if x.dtype != dtype:
        raise TypeError(
            f"{module._label()}: {name} dtype {x.dtype} does not match the parameters' dtype {dtype} "
            "(cast the input, or the module with .to(dtype))"
        )
    return x


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al., 2017) with PyTorch's parameters and conventions.

    With E = ``embed_dim``, H = ``num_heads`` and d = E/H, the projections
    [Q; K; V] = [query W_qᵀ + b_q; key W_kᵀ + b_k; value W_vᵀ + b_v] use the stacked
    ``in_proj_weight`` = [W_q; W_k; W_v] of shape (3E, E) and ``in_proj_bias`` (3E,); each is split
    into H heads of width d, head h computes Aₕ = softmax(Qₕ Kₕᵀ/√d + M) Vₕ, and the output is
    ``out_proj``([A₁ … A_H]). Parameter names and shapes match ``torch.nn.MultiheadAttention``,
    so its state_dict loads unchanged. Init (PyTorch's): xavier_uniform_ on ``in_proj_weight``,
    zero biases, ``out_proj.weight`` as a Linear.

    Shapes: (L, N, E) query and (S, N, E) key/value, or (N, L, E)/(N, S, E) with ``batch_first``,
    or unbatched (L, E)/(S, E). ``key_padding_mask`` (N, S) or (S,): bool True = ignore that key,
    float = added. ``attn_mask`` (L, S) or (N·H, L, S): bool True = NOT allowed, float = added.
    Returns ``(output, weights)``: weights (N, L, S) averaged over heads (or (N, H, L, S) with
    ``average_attn_weights=False``), or None when ``need_weights`` is False.

    Deviations from PyTorch: ``kdim``/``vdim``, ``add_bias_kv`` and ``add_zero_attn`` are not
    offered; a query row with every key masked gives zeros (not NaN); ``is_causal=True`` without
    an ``attn_mask`` builds the causal mask here (PyTorch requires the mask and treats the flag
    as a hint; with a mask given, the mask is used, as in PyTorch).
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        batch_first: bool = False,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        e = _check_size("MultiheadAttention", "embed_dim", embed_dim)
        h = _check_size("MultiheadAttention", "num_heads", num_heads)
        if e == 0 or h == 0 or e % h:
            raise ValueError(
                f"MultiheadAttention: embed_dim ({embed_dim}) must be positive and divisible by num_heads ({num_heads})"
            )
        self.embed_dim = e
        self.num_heads = h
        self.head_dim = e // h
        self.dropout = _check_p("MultiheadAttention", dropout)
        self.batch_first = bool(batch_first)
        d = _float_dtype("MultiheadAttention", dtype)
        self.in_proj_weight = Parameter(empty(3 * e, e, dtype=d))
        if bias:
            self.in_proj_bias = Parameter(empty(3 * e, dtype=d))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(e, e, bias=bias, dtype=d)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """xavier_uniform_ on in_proj_weight; zero in_proj_bias and out_proj.bias."""
        init.xavier_uniform_(self.in_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
        if self.out_proj.bias is not None:
            init.zeros_(self.out_proj.bias)

    def _project(self, x: Tensor, i: int) -> Tensor:
        e = self.embed_dim
        y = ops.matmul(x, self.in_proj_weight[i * e : (i + 1) * e].mT)
        if self.in_proj_bias is not None:
            y = y + self.in_proj_bias[i * e : (i + 1) * e]
        return y

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Any = None,
        need_weights: bool = True,
        attn_mask: Any = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        label = self._label()
        dt = self.in_proj_weight.dtype
        q = _tensor_input(self, "query", query, dt)
        k = _tensor_input(self, "key", key, dt)
        v = _tensor_input(self, "value", value, dt)
        if q.ndim not in (2, 3) or k.ndim != q.ndim or v.ndim != q.ndim:
            raise ValueError(
                f"{label}: query, key and value must all be 3-d (batched) or 2-d (unbatched), got shapes "
                f"{q.shape}, {k.shape}, {v.shape}"
            )
        for name, t in (("query", q), ("key", k), ("value", v)):
            if t.shape[-1] != self.embed_dim:
                raise ValueError(
                    f"{label}: {name} has embedding size {t.shape[-1]}, expected embed_dim={self.embed_dim}"
                )
        batched = q.ndim == 3
        if not batched:
            q, k, v = q[None], k[None], v[None]
        elif not self.batch_first:
            # Work batch-first internally: (L, N, E) -> (N, L, E).
            q, k, v = ops.swapaxes(q, 0, 1), ops.swapaxes(k, 0, 1), ops.swapaxes(v, 0, 1)
        n, L = q.shape[0], q.shape[1]
        S = k.shape[1]
        if k.shape[0] != n or v.shape[0] != n or v.shape[1] != S:
            layout = "(N, L, E)" if self.batch_first or not batched else "(L, N, E)"
            raise ValueError(
                f"{label}: query {query.shape}, key {key.shape} and value {value.shape} disagree on batch size or "
                f"key/value length (layout {layout})"
            )
        H, hd = self.num_heads, self.head_dim
        scores_shape = (n, H, L, S)

        allowed, additive = None, None
        if key_padding_mask is not None:
            kpm = key_padding_mask.data if isinstance(key_padding_mask, Tensor) else np.asarray(key_padding_mask)
            want = (n, S) if batched else (S,)
            if kpm.shape != want:
                raise ValueError(f"{label}: key_padding_mask must have shape {want}, got {kpm.shape}")
            mask = key_padding_mask if isinstance(key_padding_mask, Tensor) else Tensor(kpm)
            allowed, additive = _mask_parts(
                label, ops.reshape(mask, (n, 1, 1, S)), scores_shape, dt, true_means_keep=False
            )
        if attn_mask is not None:
            am = attn_mask.data if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
            if am.shape == (L, S):
                shaped = am.shape
            elif am.shape == (n * H, L, S):
                shaped = (n, H, L, S)
            else:
                raise ValueError(
                    f"{label}: attn_mask must have shape (L, S) = {(L, S)} or (N·num_heads, L, S) = {(n * H, L, S)}, "
                    f"got {am.shape}"
                )
            mask = attn_mask if isinstance(attn_mask, Tensor) else Tensor(am)
            a2, d2 = _mask_parts(label, ops.reshape(mask, shaped), scores_shape, dt, true_means_keep=False)
            allowed, additive = _combine(allowed, a2), _combine(additive, d2)
        elif is_causal:
            allowed = _combine(allowed, np.tril(np.ones((L, S), dtype=bool)))

        def heads(x: Tensor, m: int) -> Tensor:
            return ops.permute(ops.reshape(x, (n, m, H, hd)), (0, 2, 1, 3))

        qh, kh, vh = heads(self._project(q, 0), L), heads(self._project(k, 1), S), heads(self._project(v, 2), S)
        out, weights = _attention(qh, kh, vh, allowed, additive, self.dropout, 1.0 / math.sqrt(hd), self.training, None)
        out = self.out_proj(ops.reshape(ops.permute(out, (0, 2, 1, 3)), (n, L, self.embed_dim)))
        if not batched:
            out = out[0]
        elif not self.batch_first:
            out = ops.swapaxes(out, 0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = ops.mean(weights, axis=1)
        if not batched:
            weights = weights[0]
        return out, weights

    def extra_repr(self) -> str:
        return (
            f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, "
            f"bias={self.in_proj_bias is not None}, batch_first={self.batch_first}"
        )


def _check_len(op: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{op}: {name} must be an int, got {value!r}")
    if value <= 0:
        raise ValueError(f"{op}: {name} must be positive, got {value}")
    return int(value)


def _add_positions(module: Module, x: Any, table: Tensor, batch_first: bool) -> Tensor:
    """x + table[:T], T the sequence axis: -2 when ``batch_first`` (or x is 2-d), else 0 of (T, N, D)."""
    label = module._label()
    if not isinstance(x, Tensor):
        raise TypeError(f"{label}: expected a Tensor input, got {type(x).__name__}")
    if x.ndim < 2 or x.shape[-1] != table.shape[1]:
        raise ValueError(f"{label}: expected an input of shape (..., T, {table.shape[1]}), got {x.shape}")
    seq_first = not batch_first and x.ndim == 3
    t = x.shape[0] if seq_first else x.shape[-2]
    if t > table.shape[0]:
        raise ValueError(f"{label}: sequence length {t} exceeds max_len={table.shape[0]}")
    pe = table[:t]
    return x + (pe[:, None, :] if seq_first else pe)


class SinusoidalPositionalEncoding(Module):
    """y = x + PE[:T] with the fixed sinusoids of ``chainrule.functional.sinusoidal_positional_encoding``.

    Input (N, T, d_model) or (T, d_model); with ``batch_first=False`` a 3-d input is (T, N, d_model).
    The table (``max_len``, d_model) is a non-persistent buffer: no parameters, no state_dict entry.
    """

    def __init__(self, d_model: int, max_len: int = 5000, batch_first: bool = True, dtype: Any = None) -> None:
        super().__init__()
        self.d_model = _check_len("SinusoidalPositionalEncoding", "d_model", d_model)
        self.max_len = _check_len("SinusoidalPositionalEncoding", "max_len", max_len)
        self.batch_first = bool(batch_first)
        d = _float_dtype("SinusoidalPositionalEncoding", dtype)
        self.register_buffer(
            "pe", sinusoidal_positional_encoding(self.max_len, self.d_model, dtype=d), persistent=False
        )

    def forward(self, x: Tensor) -> Tensor:
        return _add_positions(self, x, self.pe, self.batch_first)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}, batch_first={self.batch_first}"


class LearnedPositionalEncoding(Module):
    """y = x + P[:T] with a learned table P (``weight``, shape (max_len, d_model)), as in GPT.

    Init: P ~ N(0, 0.02²) (GPT-2's). Input layout as in ``SinusoidalPositionalEncoding``.
    dL/dP[t] = Σ over the batch of dL/dy[..., t, :] for t < T, and 0 for later rows.
    """

    def __init__(self, max_len: int, d_model: int, batch_first: bool = True, dtype: Any = None) -> None:
        super().__init__()
        self.max_len = _check_len("LearnedPositionalEncoding", "max_len", max_len)
        self.d_model = _check_len("LearnedPositionalEncoding", "d_model", d_model)
        self.batch_first = bool(batch_first)
        d = _float_dtype("LearnedPositionalEncoding", dtype)
        self.weight = Parameter(empty(self.max_len, self.d_model, dtype=d))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Redraw P ~ N(0, 0.02²)."""
        init.normal_(self.weight, 0.0, 0.02)

    def forward(self, x: Tensor) -> Tensor:
        return _add_positions(self, x, self.weight, self.batch_first)

    def extra_repr(self) -> str:
        return f"max_len={self.max_len}, d_model={self.d_model}, batch_first={self.batch_first}"
