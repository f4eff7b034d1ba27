"""Convolution, pooling and channel dropout, written with primitives only.

A convolution is im2col plus one matrix product: every window of the (padded) input is
gathered into cols of shape (C·∏K, N·L), and with the weight W reshaped to (O, C·∏K) the
output is Y = W · cols (one GEMM; with groups, one GEMM per group). The fused ``conv``
primitive computes exactly that, batch chunk by batch chunk so the columns stay in cache; its
reverse rules are the two other products, W̄ = Ȳ · colsᵀ (``conv_weight_grad``) and
x̄ = fold(Wᵀ · Ȳ) (``conv_input_grad``: the adjoint of im2col, a convolution of Ȳ with the
flipped kernel). The bias gradient is Ȳ summed over every axis but the channel axis.

Pooling reduces each window: max pooling is a max over the window axes of the unfolded input,
average pooling a sum divided by the window size (both linear or piecewise linear in x, so
their derivatives come from the ``max``/``sum`` primitives and ``fold``). Adaptive average
pooling uses PyTorch's windows [⌊i·n/o⌋, ⌈(i+1)·n/o⌉) and is a product with an averaging
matrix along each axis.

Shapes: (N, C, L) for the 1-d functions and (N, C, H, W) for the 2-d ones; the unbatched forms
(C, L) and (C, H, W) are accepted as in PyTorch.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.creation import as_tensor
from chainrule.functional.dropout import _check_p
from chainrule.ops import matmul, where
from chainrule.ops.convolution import conv_, fold, ntuple, unfold, unfold_
from chainrule.ops.reduction import max_, mean_, sum_
from chainrule.ops.shape import getitem_, pad_, reshape_, swapaxes
from chainrule.tensor import Tensor

__all__ = [
    "conv1d",
    "conv2d",
    "max_pool1d",
    "max_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "adaptive_avg_pool2d",
    "dropout2d",
    "unfold",
    "fold",
]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
_SPATIAL = {1: "L", 2: "H, W"}


# --- argument checks -----------------------------------------------------------------------------


def _float_tensor(op: str, name: str, x: Any) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}")
    if not backend.is_floating(x.dtype):
        raise TypeError(f"{op}: {name} must be a floating-point tensor, got dtype {x.dtype} (shape {x.shape})")
    return x


def _batched(op: str, x: Any, d: int) -> tuple[Tensor, bool]:
    """The input as (N, C, *spatial), and whether it came with a batch axis."""
    x = _float_tensor(op, "input", x)
    if x.ndim == d + 2:
        return x, True
    if x.ndim == d + 1:
        return reshape_(x, shape=(1, *x.shape)), False
    sp = _SPATIAL[d]
    raise ValueError(
        f"{op}: expected a {d + 1}-d (C, {sp}) or {d + 2}-d (N, C, {sp}) input, got a {x.ndim}-d input of shape {x.shape}"
    )


def _unbatch(y: Tensor, batched: bool) -> Tensor:
    return y if batched else reshape_(y, shape=y.shape[1:])


def _dilated(kernel: tuple[int, ...], dilation: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(dl * (k - 1) + 1 for k, dl in zip(kernel, dilation, strict=True))


def _conv_padding(op: str, padding: Any, kernel, stride, dilation, d: int) -> tuple[tuple[int, int], ...]:
    """(before, after) zero padding per spatial axis, from an int, a tuple, "valid" or "same"."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * d
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions (stride {stride})")
            # Total padding d·(k - 1) keeps the size; an odd total puts the extra element after, as PyTorch.
            totals = [dl * (k - 1) for k, dl in zip(kernel, dilation, strict=True)]
            return tuple((t // 2, t - t // 2) for t in totals)
        raise ValueError(f"{op}: padding must be 'valid', 'same', an int or a tuple of {d} ints, got {padding!r}")
    return tuple((p, p) for p in ntuple(op, "padding", padding, d, 0))


def _check_fits(op: str, x: Tensor, pads, kernel, dilation) -> None:
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[2:], pads, strict=True))
    eff = _dilated(kernel, dilation)
    if any(e > n for e, n in zip(eff, padded, strict=True)):
        dil = f" (dilated to {eff})" if eff != kernel else ""
        raise ValueError(
            f"{op}: kernel size {kernel}{dil} is larger than the padded input {padded} "
            f"(input shape {x.shape}, padding {tuple(pads)})"
        )


def _pad_index(n: int, lo: int, hi: int, mode: str) -> np.ndarray:
    """Source positions of a reflect/replicate/circular padded axis (np.pad applied to 0…n-1)."""
    return np.pad(np.arange(n), (lo, hi), mode={"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode])


def _pad(op: str, x: Tensor, pads, mode: str) -> Tensor:
    """Reflect/replicate/circular padding of the spatial axes, by indexing: a gather whose adjoint
    scatter-adds the border gradients back onto the positions they copy."""
    for axis, (n, (lo, hi)) in enumerate(zip(x.shape[2:], pads, strict=True)):
        limit = n - 1 if mode == "reflect" else n
        if lo > limit or hi > limit:
            raise ValueError(
                f"{op}: padding {(lo, hi)} is too large for padding_mode={mode!r} on a spatial axis of size {n} "
                f"(at most {limit}; input shape {x.shape})"
            )
        if lo or hi:
            index = (slice(None),) * (axis + 2) + (_pad_index(n, lo, hi, mode),)
            x = getitem_(x, index=index)
    return x


# --- convolution ---------------------------------------------------------------------------------


def _conv(
    op: str,
    x: Any,
    weight: Any,
    bias: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: Any,
    d: int,
    padding_mode: str = "zeros",
) -> Tensor:
    """An N-d convolution (cross-correlation, as in every deep-learning library) via im2col."""
    x, batched = _batched(op, x, d)
    w = _float_tensor(op, "weight", weight)
    if w.ndim != d + 2:
        raise ValueError(
            f"{op}: expected a {d + 2}-d weight (out_channels, in_channels/groups, {_SPATIAL[d]}), got shape {w.shape}"
        )
    if w.dtype != x.dtype:
        raise TypeError(f"{op}: input dtype {x.dtype} does not match weight dtype {w.dtype}")
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    groups = int(groups)
    out_c, cg = w.shape[:2]
    kernel = tuple(w.shape[2:])
    if out_c % groups:
        raise ValueError(f"{op}: out_channels {out_c} (weight shape {w.shape}) is not divisible by groups={groups}")
    if x.shape[1] != cg * groups:
        raise ValueError(
            f"{op}: expected input with {cg * groups} channels (weight of shape {w.shape}, groups={groups}), "
            f"got {x.shape[1]} channels (input shape {x.shape if batched else x.shape[1:]})"
        )
    b = None
    if bias is not None:
        b = _float_tensor(op, "bias", bias)
        if b.shape != (out_c,):
            raise ValueError(f"{op}: bias must have shape ({out_c},) (out_channels), got {b.shape}")
        if b.dtype != x.dtype:
            raise TypeError(f"{op}: bias dtype {b.dtype} does not match input dtype {x.dtype}")
    s = ntuple(op, "stride", stride, d, 1)
    dl = ntuple(op, "dilation", dilation, d, 1)
    pads = _conv_padding(op, padding, kernel, s, dl, d)
    _check_fits(op, x, pads, kernel, dl)
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"{op}: padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")

    if padding_mode != "zeros":
        x, pads = _pad(op, x, pads, padding_mode), ((0, 0),) * d
    # Y = W · unfold(x) with zero padding inside: the fused primitive (one GEMM per group and
    # batch chunk); laid out in memory as (O, N, *O_sp), so the bias add below streams.
    y = conv_(x, w, stride=s, dilation=dl, padding=pads, groups=groups)
    if b is not None:
        y = y + reshape_(b, shape=(1, out_c) + (1,) * d)
    return _unbatch(y, batched)


def conv1d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int] = 1,
    padding: int | tuple[int] | str = 0,
    dilation: int | tuple[int] = 1,
    groups: int = 1,
) -> Tensor:
    """1-d convolution (cross-correlation) of (N, C_in, L) or (C_in, L) with a weight (C_out, C_in/groups, K).

    y[n, o, l] = b[o] + Σ_{c ∈ group(o)} Σ_k W[o, c, k] · x_pad[n, c, l·s + k·d]. Computed by
    im2col (the fused ``conv`` primitive): cols = unfold(x_pad), Y = W · cols (one matrix
    product); derivatives W̄ = Ȳ colsᵀ,
    x̄ = fold(Wᵀ Ȳ) (cropped by the padding), b̄ = Σ_{n,l} Ȳ. ``padding`` is an int, "valid"
    (none) or "same" (output length = input length; stride 1 only, an odd total puts the extra
    zero at the end, as PyTorch). Output length ⌊(L + 2p - d(K - 1) - 1)/s⌋ + 1.
    """
    return _conv("conv1d", x, weight, bias, stride, padding, dilation, groups, 1)


def conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> Tensor:
    """2-d convolution (cross-correlation) of (N, C_in, H, W) or (C_in, H, W) with a weight (C_out, C_in/groups, kH, kW).

    y[n, o, i, j] = b[o] + Σ_{c ∈ group(o)} Σ_{p,q} W[o, c, p, q] · x_pad[n, c, i·s₁ + p·d₁, j·s₂ + q·d₂].
    Computed by im2col (the fused ``conv`` primitive, batch chunk by batch chunk): cols = unfold(x_pad)
    of shape (C·kH·kW, N·H_out·W_out) and Y = W · cols with
    W reshaped to (C_out, C·kH·kW): one GEMM (one per group with ``groups`` > 1; groups = C_in is a
    depthwise convolution). Derivatives: W̄ = Ȳ · colsᵀ, x̄ = fold(Wᵀ · Ȳ) (the adjoint of im2col,
    equal to a convolution of Ȳ with the flipped kernel), b̄ = Σ_{n,i,j} Ȳ.
    ``padding``: int, (pH, pW), "valid" or "same" (stride 1 only; an odd total padding puts the
    extra zero after, as PyTorch). Output size ⌊(H + 2p - d(k - 1) - 1)/s⌋ + 1 per axis.
    """
    return _conv("conv2d", x, weight, bias, stride, padding, dilation, groups, 2)


# --- pooling -------------------------------------------------------------------------------------


def _pool_args(op: str, x: Tensor, kernel_size, stride, padding, dilation, ceil_mode, d: int):
    """Kernel, stride, padding, dilation, output size and right-hand padding (ceil mode) of a pooling."""
    k = ntuple(op, "kernel_size", kernel_size, d, 1)
    no_stride = stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)
    s = k if no_stride else ntuple(op, "stride", stride, d, 1)  # PyTorch: stride defaults to the kernel
    p = ntuple(op, "padding", padding, d, 0)
    dl = ntuple(op, "dilation", dilation, d, 1)
    if any(2 * q > kk for q, kk in zip(p, k, strict=True)):
        raise ValueError(f"{op}: padding {p} should be at most half of kernel_size {k}")
    out = []
    for n, kk, ss, q, dd in zip(x.shape[2:], k, s, p, dl, strict=True):
        span = n + 2 * q - dd * (kk - 1) - 1
        o = (span + (ss - 1 if ceil_mode else 0)) // ss + 1
        if ceil_mode and (o - 1) * ss >= n + q:  # the last window must start inside the input or left padding
            o -= 1
        out.append(o)
    if any(o < 1 for o in out):
        raise ValueError(
            f"{op}: kernel_size {k} (dilation {dl}) is larger than the padded input "
            f"{tuple(n + 2 * q for n, q in zip(x.shape[2:], p, strict=True))} (input shape {x.shape}, padding {p})"
        )
    # Ceil mode may need a partial last window: extend the right padding to cover it.
    eff = _dilated(k, dl)
    hi = tuple(max(q, (o - 1) * ss + e - n - q) for n, q, o, ss, e in zip(x.shape[2:], p, out, s, eff, strict=True))
    return k, s, p, dl, tuple(out), hi


def _max_pool(op, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, d):
    x, batched = _batched(op, x, d)
    k, s, p, dl, out, hi = _pool_args(op, x, kernel_size, stride, padding, dilation, ceil_mode, d)
    xp = x
    widths = tuple(zip(p, hi, strict=True))
    if any(a or b for a, b in widths):
        # Pad with -inf, so that padding never wins a max (PyTorch's semantics).
        inside = np.pad(np.ones(x.shape[2:], dtype=bool), widths)
        xp = where(inside, pad_(x, widths=((0, 0), (0, 0), *widths)), -math.inf)
    cols = unfold_(xp, kernel=k, stride=s, dilation=dl, padding=((0, 0),) * d)
    y = max_(cols, axis=tuple(range(2, 2 + d)), keepdims=False)
    if not return_indices:
        return _unbatch(y, batched)
    # Index of the (first) maximum of each window, flattened over the input's spatial axes.
    n, c = x.shape[:2]
    flat = np.asarray(cols.data).reshape(n, c, math.prod(k), *out).argmax(axis=2)
    offsets = np.unravel_index(flat, k)
    grids = np.meshgrid(*(np.arange(o) for o in out), indexing="ij")
    pos = [g * ss - q + o * dd for g, ss, q, o, dd in zip(grids, s, p, offsets, dl, strict=True)]
    idx = np.ravel_multi_index(tuple(pos), x.shape[2:]).astype(np.int64)
    return _unbatch(y, batched), _unbatch(Tensor(idx), batched)


def max_pool1d(
    x: Tensor,
    kernel_size: int | tuple[int],
    stride: int | tuple[int] | None = None,
    padding: int | tuple[int] = 0,
    dilation: int | tuple[int] = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """1-d max pooling of (N, C, L) or (C, L): y[n, c, l] = max_k x_pad[n, c, l·s + k·d].

    The input is padded with -inf (``padding`` ≤ kernel_size / 2); ``stride`` defaults to
    ``kernel_size``; ``ceil_mode`` rounds the output length up (a last, partial window that starts
    inside the input). Derivative: the gradient of each output goes to the maximum of its window.
    Convention: tied maxima within a window SHARE the gradient equally (the ``max`` primitive's
    rule); PyTorch gives all of it to one of them. ``return_indices`` also returns the position
    of the first maximum in the flattened input (int64, as PyTorch).
    """
    return _max_pool("max_pool1d", x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1)


def max_pool2d(
    x: Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """2-d max pooling of (N, C, H, W) or (C, H, W): y[n, c, i, j] = max_{p,q} x_pad[n, c, i·s₁ + p·d₁, j·s₂ + q·d₂].

    A max over the window axes of the unfolded (im2col) input, padded with -inf (``padding`` ≤
    kernel_size / 2); ``stride`` defaults to ``kernel_size``; ``ceil_mode`` rounds the output size
    up. Derivative: x̄ = fold(w ⊙ ȳ) with w the indicator of the window maximum. Convention: tied
    maxima within a window SHARE the gradient equally (the ``max`` primitive's rule); PyTorch
    gives all of it to one of them. ``return_indices`` also returns the position of the first
    maximum in the flattened H·W input (int64, as PyTorch).
    """
    return _max_pool("max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2)


def _window_counts(n: int, k: int, s: int, p: int, out: int, include_pad: bool) -> np.ndarray:
    """How many positions of each window lie inside the padded input (include_pad) or the input."""
    start = np.arange(out) * s - p
    end = np.minimum(start + k, n + p)
    if include_pad:
        return end - start
    return np.minimum(end, n) - np.maximum(start, 0)


def _avg_pool(op, x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, d):
    x, batched = _batched(op, x, d)
    k, s, p, dl, out, hi = _pool_args(op, x, kernel_size, stride, padding, 1, ceil_mode, d)
    if divisor_override is not None and (
        isinstance(divisor_override, bool)
        or not isinstance(divisor_override, numbers.Integral)
        or divisor_override == 0
    ):
        raise ValueError(f"{op}: divisor_override must be a nonzero int or None, got {divisor_override!r}")
    cols = unfold_(x, kernel=k, stride=s, dilation=dl, padding=tuple(zip(p, hi, strict=True)))
    total = sum_(cols, axis=tuple(range(2, 2 + d)), keepdims=False)
    if divisor_override is not None:
        y = total / float(divisor_override)
    else:
        counts = [
            _window_counts(n, kk, ss, q, o, bool(count_include_pad))
            for n, kk, ss, q, o in zip(x.shape[2:], k, s, p, out, strict=True)
        ]
        divisor = counts[0]
        for c in counts[1:]:
            divisor = np.multiply.outer(divisor, c)
        if np.all(divisor == divisor.flat[0]):
            y = total / float(divisor.flat[0])
        else:
            y = total / Tensor(divisor.astype(x.dtype))
    return _unbatch(y, batched)


def avg_pool1d(
    x: Tensor,
    kernel_size: int | tuple[int],
    stride: int | tuple[int] | None = None,
    padding: int | tuple[int] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """1-d average pooling of (N, C, L) or (C, L): y[n, c, l] = (1/m_l) Σ_k x_pad[n, c, l·s + k].

    Linear in x: y = sum over the window axes of unfold(x_pad), divided by m_l, so
    x̄ = fold(ȳ / m) (cropped by the padding). m_l is the kernel size, or with
    ``count_include_pad=False`` the number of window positions inside the input; with
    ``ceil_mode`` a partial last window counts only its positions inside the padded input, as
    PyTorch. ``stride`` defaults to ``kernel_size``; ``padding`` ≤ kernel_size / 2 (zeros).
    """
    return _avg_pool("avg_pool1d", x, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1)


def avg_pool2d(
    x: Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """2-d average pooling of (N, C, H, W) or (C, H, W): y[n, c, i, j] = (1/m_ij) Σ_{p,q} x_pad[n, c, i·s₁ + p, j·s₂ + q].

    Linear in x: y = (sum over the window axes of unfold(x_pad)) / m, so x̄ = fold(ȳ / m)
    (cropped by the padding). m_ij is kH·kW, or with ``count_include_pad=False`` the number of
    window positions inside the input, or ``divisor_override``; a partial last window in
    ``ceil_mode`` counts only its positions inside the padded input, as PyTorch. ``stride``
    defaults to ``kernel_size``; ``padding`` ≤ kernel_size / 2 (zeros).
    """
    return _avg_pool("avg_pool2d", x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, 2)


def _adaptive_size(op: str, output_size: Any, spatial: tuple[int, ...]) -> tuple[int, ...]:
    d = len(spatial)
    items = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * d
    if len(items) != d:
        raise ValueError(f"{op}: output_size must be an int or a tuple of {d} ints (or None), got {output_size!r}")
    out = []
    for o, n in zip(items, spatial, strict=True):
        if o is None:
            out.append(n)
        elif isinstance(o, bool) or not isinstance(o, numbers.Integral) or o < 1:
            raise ValueError(f"{op}: output_size must hold positive ints (or None), got {output_size!r}")
        else:
            out.append(int(o))
    return tuple(out)


def _adaptive_mean_axis(x: Tensor, axis: int, o: int) -> Tensor:
    """Adaptive average along one axis: y_i = mean of x over [⌊i·n/o⌋, ⌈(i+1)·n/o⌉)."""
    n = x.shape[axis]
    if n == o:
        return x
    if n % o == 0:  # equal, disjoint windows: a free reshape and a mean
        return mean_(
            reshape_(x, shape=(*x.shape[:axis], o, n // o, *x.shape[axis + 1 :])), axis=(axis + 1,), keepdims=False
        )
    # Windows of unequal size, possibly overlapping: y = x A ᵀ with the averaging matrix A (o, n).
    start = (np.arange(o) * n) // o
    end = -((-(np.arange(o) + 1) * n) // o)
    cols = np.arange(n)
    avg = ((cols >= start[:, None]) & (cols < end[:, None])) / (end - start)[:, None]
    last = x.ndim - 1
    xt = swapaxes(x, axis, last) if axis != last else x
    shp = xt.shape
    y = matmul(reshape_(xt, shape=(math.prod(shp[:-1]), n)), Tensor(avg.T.astype(x.dtype)))
    y = reshape_(y, shape=(*shp[:-1], o))
    return swapaxes(y, axis, last) if axis != last else y


def adaptive_avg_pool2d(x: Tensor, output_size: int | tuple[int | None, int | None]) -> Tensor:
    """Average pooling to a fixed output size (oH, oW), as PyTorch; input (N, C, H, W) or (C, H, W).

    Output cell (i, j) averages the window rows [⌊i·H/oH⌋, ⌈(i+1)·H/oH⌉) and columns
    [⌊j·W/oW⌋, ⌈(j+1)·W/oW⌉) (PyTorch's start/end formula; windows may overlap). The average over a
    rectangle is separable, so y = A_H · x · A_Wᵀ with averaging matrices A (rows 1/window length
    on each window), linear in x: x̄ = A_Hᵀ · ȳ · A_W. A ``None`` entry keeps that input size;
    when the size divides evenly the windows are disjoint and a reshape + mean does it.
    """
    return _adaptive_avg_pool2d("adaptive_avg_pool2d", x, output_size)


def _adaptive_avg_pool2d(op: str, x: Any, output_size: Any) -> Tensor:
    x, batched = _batched(op, x, 2)
    oh, ow = _adaptive_size(op, output_size, x.shape[2:])
    y = _adaptive_mean_axis(x, 3, ow)
    y = _adaptive_mean_axis(y, 2, oh)
    return _unbatch(y, batched)


# --- channel dropout -----------------------------------------------------------------------------


def dropout2d(x: Tensor, p: float = 0.5, training: bool = True, generator: np.random.Generator | None = None) -> Tensor:
    """Channel dropout: zero whole feature maps of (N, C, H, W) or (C, H, W) with probability p.

    y[n, c] = x[n, c] · m_{n,c} / (1 - p), m_{n,c} ~ Bernoulli(1 - p) drawn once per channel (so
    neighbouring, correlated activations are dropped together; Tompson et al., 2015). Identity
    when not training or p = 0. Derivative: x̄ = ȳ ⊙ m / (1 - p). Randomness comes from
    chainrule's global generator unless ``generator`` is given.

    Deviations from PyTorch: a 3-d input is treated as one unbatched (C, H, W) sample, as
    PyTorch's documentation states (PyTorch itself currently warns and treats it as (N, C, L));
    p = 1 is rejected and there is no ``inplace`` flag (see ``dropout``).
    """
    q = _check_p("dropout2d", p)
    x = x if isinstance(x, Tensor) else Tensor(x)
    if not backend.is_floating(x.dtype):
        raise TypeError(f"dropout2d: expected a floating-point tensor, got dtype {x.dtype} (shape {x.shape})")
    if x.ndim not in (3, 4):
        raise ValueError(
            f"dropout2d: expected a 3-d (C, H, W) or 4-d (N, C, H, W) input, got a {x.ndim}-d input of shape {x.shape}"
        )
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError(f"dropout2d: generator must be a numpy.random.Generator, got {type(generator).__name__}")
    if not training or q == 0.0:
        return x
    gen = backend.generator() if generator is None else generator
    keep = gen.random((*x.shape[:-2], 1, 1), dtype=np.float32) >= q
    mask = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - q))
    return x * as_tensor(mask)
