"""Convolution primitives: im2col (``unfold``), col2im (``fold``) and the fused convolution.

A convolution is a matrix product once the input is rearranged. For an input x of shape
(N, C, *S) and a kernel of size K (per spatial axis), im2col gathers every window of the
zero-padded input into

    cols[n, c, k, o] = x[n, c, o·s + k·d - lo]        (stride s, dilation d, padding lo per axis)

and the convolution with a weight W of shape (O, C, *K) is ONE matrix product,

    Y[o, (n, l)] = Σ_{(c, k)} W[o, (c, k)] · cols[(c, k), (n, l)],   i.e. Y = W · cols,

whose derivatives are the matrix-calculus pair W̄ = Ȳ · colsᵀ and cols̄ = Wᵀ · Ȳ. ``unfold`` is
a linear map x ↦ U x (U a 0/1 matrix, at most one 1 per row); its transpose Uᵀ is ``fold``,
which scatter-adds every patch entry back to the input position it was read from. So the
gradient of a convolution with respect to its input is x̄ = fold(Wᵀ · Ȳ): the adjoint of im2col
applied to Wᵀ Ȳ, the same as a (transposed) convolution of Ȳ with the flipped kernel.

Primitives:

* ``unfold`` and ``fold``: linear, each the other's transpose (pooling and the public
  ``unfold``/``fold`` are built on them).
* ``conv`` (Y = W · unfold(x)), ``conv_input_grad`` (fold(Wᵀ · G)) and ``conv_weight_grad``
  (G · unfold(x)ᵀ): the convolution fused, three bilinear maps whose reverse rules are each
  other (as JAX's convolution and its two transposes), so every derivative order stays fused.
  They compute exactly ``W · unfold(x)`` and its two products, batch chunk by batch chunk:
  the chunk's columns stay in cache and one scratch buffer is reused, instead of writing and
  re-reading an im2col matrix ∏K times the size of x (benchmarks/bench_conv.py shows the
  difference; tests compare them with the unfold + matmul composite).
"""

from __future__ import annotations

import itertools
import math
import numbers
from typing import Any

from chainrule.backend import xp
from chainrule.ops.registry import bilinear, linear
from chainrule.ops.shape import reshape_
from chainrule.tensor import Tensor

# --- shapes and argument normalisation -------------------------------------------------------


def conv_output_size(size: int, kernel: int, stride: int, dilation: int) -> int:
    """Number of window positions along one axis: ⌊(size - d·(k - 1) - 1) / s⌋ + 1."""
    return (size - dilation * (kernel - 1) - 1) // stride + 1


def ntuple(op: str, name: str, value: Any, n: int, minimum: int) -> tuple[int, ...]:
    """An int or a length-``n`` sequence of ints, each ≥ ``minimum``, as a tuple of ``n`` ints."""
    items = value if isinstance(value, (tuple, list)) else (value,) * n
    if len(items) != n or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) for v in items):
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    if any(v < minimum for v in items):
        raise ValueError(f"{op}: {name} must be >= {minimum} in every dimension, got {value!r}")
    return tuple(int(v) for v in items)


def _out_shape(size, kernel, stride, dilation, padding) -> tuple[int, ...]:
    return tuple(
        conv_output_size(n + lo + hi, k, s, dl)
        for n, k, s, dl, (lo, hi) in zip(size, kernel, stride, dilation, padding, strict=True)
    )


def _check_fits(size, kernel, dilation, padding) -> None:
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(size, padding, strict=True))
    eff = tuple(dl * (k - 1) + 1 for k, dl in zip(kernel, dilation, strict=True))
    if any(e > p for e, p in zip(eff, padded, strict=True)):
        raise ValueError(f"the dilated kernel {eff} does not fit in the padded spatial size {padded}")


def _window_slices(offsets, stride, dilation, out) -> tuple[slice, ...]:
    """The (padded) input positions o·s + k·d, o = 0 … out-1, read by kernel offset k, per axis."""
    return tuple(
        slice(k * dl, k * dl + s * (m - 1) + 1, s) for k, s, dl, m in zip(offsets, stride, dilation, out, strict=True)
    )


def _inner(size, padding) -> tuple[slice, ...]:
    """Where the unpadded array sits inside the padded one."""
    return tuple(slice(lo, lo + n) for n, (lo, _) in zip(size, padding, strict=True))


_EVERY = (slice(None), slice(None))


def _padded_cn(x, padding):
    """x (N, C, *S) as a zero-padded array laid out (C, N, *S_padded): the order windows are
    read in (a view when there is no padding; one copy is cheaper than clipping every window)."""
    n, c, *size = x.shape
    if not any(lo or hi for lo, hi in padding):
        return xp.swapaxes(x, 0, 1)
    xs = xp.zeros((c, n, *(s + lo + hi for s, (lo, hi) in zip(size, padding, strict=True))), dtype=x.dtype)
    xs[_EVERY + _inner(size, padding)] = xp.swapaxes(x, 0, 1)
    return xs


def _im2col_into(buf, xs, kernel, stride, dilation, out) -> None:
    """buf (C, *K, B, *O) ← the windows of xs (C, B, *S_padded), one strided copy per kernel offset."""
    for offsets in itertools.product(*(range(k) for k in kernel)):
        buf[(slice(None), *offsets)] = xs[_EVERY + _window_slices(offsets, stride, dilation, out)]


def _col2im_add(res, ys, kernel, stride, dilation, out) -> None:
    """res (C, B, *S_padded) += the windows ys (C, *K, B, *O) added back where they were read.

    Overlapping windows (stride < dilated kernel) add into the same positions: one vectorised
    add per kernel offset accumulates them without a scatter.
    """
    for offsets in itertools.product(*(range(k) for k in kernel)):
        res[_EVERY + _window_slices(offsets, stride, dilation, out)] += ys[(slice(None), *offsets)]


def _unfold(x, kernel, stride, dilation, padding):
    """Raw im2col; the result is shaped (N, C, *K, *O) and laid out in memory as (C, *K, N, *O)."""
    n, c, *size = x.shape
    d = len(kernel)
    _check_fits(size, kernel, dilation, padding)
    out = _out_shape(size, kernel, stride, dilation, padding)
    # (C, *K, N, *O) in memory: the channel-and-kernel axes first, so that a weight contraction
    # over (C, K) is one GEMM on a free reshape to (C·K, N·O) (or (G, C/G·K, N·O) with groups).
    buf = xp.empty((c, *kernel, n, *out), dtype=x.dtype)
    _im2col_into(buf, _padded_cn(x, padding), kernel, stride, dilation, out)
    return xp.transpose(buf, (d + 1, 0, *range(1, d + 1), *range(d + 2, 2 * d + 2)))


def _fold(y, size, stride, dilation, padding):
    """Raw col2im: scatter-add the patches y (N, C, *K, *O) into zeros of shape (N, C, *size),
    dropping the entries that fall in the padding. Laid out in memory as (C, N, *size)."""
    d = len(size)
    n, c = y.shape[:2]
    kernel = y.shape[2 : 2 + d]
    out = y.shape[2 + d :]
    want = _out_shape(size, kernel, stride, dilation, padding)
    if tuple(out) != want or any(m < 1 for m in want):
        raise ValueError(
            f"patches of shape {y.shape} (kernel {tuple(kernel)}, {tuple(out)} windows) do not tile a spatial "
            f"size {tuple(size)} with stride {tuple(stride)}, dilation {tuple(dilation)} and padding "
            f"{tuple(padding)} (expected {want} windows)"
        )
    res = xp.zeros((c, n, *(s + lo + hi for s, (lo, hi) in zip(size, padding, strict=True))), dtype=y.dtype)
    ys = xp.transpose(y, (1, *range(2, 2 + d), 0, *range(2 + d, 2 + 2 * d)))
    _col2im_add(res, ys, kernel, stride, dilation, out)
    return xp.swapaxes(res[_EVERY + _inner(size, padding)], 0, 1)


# --- the fused convolution, raw ---------------------------------------------------------------

#: Bytes of im2col columns processed at once: small enough to stay in cache, large enough that
#: each chunk's matrix product is an efficient GEMM.
CHUNK_BYTES = 4 << 20


class _Geometry:
    """Shapes of a grouped convolution: x (N, C, *S), w (O, C/G, *K), y (N, O, *O_sp)."""

    def __init__(self, n, c, size, o, kernel, stride, dilation, padding, groups):
        self.n, self.c, self.size, self.o = n, c, tuple(size), o
        self.kernel, self.stride, self.dilation, self.padding = tuple(kernel), stride, dilation, padding
        self.groups = groups
        if c % groups or o % groups:
            raise ValueError(f"channels in {c} and out {o} must both be divisible by groups={groups}")
        _check_fits(self.size, self.kernel, dilation, padding)
        self.out = _out_shape(self.size, self.kernel, stride, dilation, padding)
        self.l = math.prod(self.out)
        self.ck = c // groups * math.prod(self.kernel)  # rows of one group's im2col matrix
        self.og = o // groups

    def chunks(self, itemsize):
        """Batch ranges [n0, n1) whose im2col columns take about CHUNK_BYTES, and their size B
        (callers reuse one scratch buffer of B samples for every chunk, a smaller one for the last)."""
        b = max(1, min(self.n, CHUNK_BYTES // max(self.c * math.prod(self.kernel) * self.l * itemsize, 1)))
        return [(n0, min(self.n, n0 + b)) for n0 in range(0, self.n, b)], b

    def scratch(self, m, dtype):
        return xp.empty((self.c, *self.kernel, m, *self.out), dtype=dtype)

    def as_gemm(self, buf):
        """A (C, *K, m, *O_sp) buffer as the (G, C/G·K, m·L) GEMM operand (a free reshape)."""
        m = buf.shape[1 + len(self.kernel)]
        return buf.reshape(self.groups, self.ck, m * self.l)

    def grad_rows(self, g_on, n0, n1):
        """Ȳ's batch rows [n0, n1) as (G, O/G, m·L), from Ȳ viewed as (O, N, *O_sp)."""
        return g_on[:, n0:n1].reshape(self.groups, self.og, (n1 - n0) * self.l)


def _geometry_from(x_shape, w_shape, stride, dilation, padding, groups) -> _Geometry:
    n, c, *size = x_shape
    o, cg, *kernel = w_shape
    if cg * groups != c:
        raise ValueError(
            f"the weight {tuple(w_shape)} with groups={groups} expects {cg * groups} input channels, got {c}"
        )
    return _Geometry(n, c, size, o, kernel, stride, dilation, padding, groups)


def _conv_raw(x, w, stride, dilation, padding, groups):
    """Y = W · unfold(x), chunk by chunk; shaped (N, O, *O_sp), laid out in memory as (O, N, *O_sp)."""
    geo = _geometry_from(x.shape, w.shape, stride, dilation, padding, groups)
    xs = _padded_cn(x, padding)
    y = xp.empty((geo.groups, geo.og, geo.n, geo.l), dtype=xp.result_type(x, w))
    w3 = w.reshape(geo.groups, geo.og, geo.ck)
    ranges, b = geo.chunks(x.itemsize)
    buf = geo.scratch(b, x.dtype)
    for n0, n1 in ranges:
        cols = buf if n1 - n0 == b else geo.scratch(n1 - n0, x.dtype)
        _im2col_into(cols, xs[:, n0:n1], geo.kernel, stride, dilation, geo.out)
        xp.matmul(w3, geo.as_gemm(cols), out=y[:, :, n0:n1].reshape(geo.groups, geo.og, (n1 - n0) * geo.l))
    return xp.swapaxes(y.reshape(geo.o, geo.n, *geo.out), 0, 1)


def _conv_input_grad_raw(g, w, size, stride, dilation, padding, groups):
    """fold(Wᵀ · G) chunk by chunk: (N, O, *O_sp) → (N, C, *size), laid out as (C, N, *size)."""
    n, o = g.shape[:2]
    geo = _Geometry(n, w.shape[1] * groups, size, o, w.shape[2:], stride, dilation, padding, groups)
    if tuple(g.shape[2:]) != geo.out or w.shape[0] != o:
        raise ValueError(f"gradient of shape {g.shape} does not match weight {w.shape} and output size {geo.out}")
    dtype = xp.result_type(g, w)
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(size, padding, strict=True))
    res = xp.zeros((geo.c, n, *padded), dtype=dtype)
    w3t = xp.swapaxes(w.reshape(geo.groups, geo.og, geo.ck), 1, 2)  # (G, C/G·K, O/G)
    g_on = xp.swapaxes(g, 0, 1)
    ranges, b = geo.chunks(res.itemsize)
    buf = geo.scratch(b, dtype)
    for n0, n1 in ranges:
        dcols = buf if n1 - n0 == b else geo.scratch(n1 - n0, dtype)
        xp.matmul(w3t, geo.grad_rows(g_on, n0, n1), out=geo.as_gemm(dcols))
        _col2im_add(res[:, n0:n1], dcols, geo.kernel, stride, dilation, geo.out)
    return xp.swapaxes(res[_EVERY + _inner(size, padding)], 0, 1)


def _conv_weight_grad_raw(x, g, kernel, stride, dilation, padding, groups):
    """G · unfold(x)ᵀ chunk by chunk: the weight-shaped (O, C/G, *K) sum over the batch."""
    n, c, *size = x.shape
    o = g.shape[1]
    geo = _Geometry(n, c, size, o, kernel, stride, dilation, padding, groups)
    if g.shape[0] != n or tuple(g.shape[2:]) != geo.out:
        raise ValueError(f"gradient of shape {g.shape} does not match input {x.shape} and output size {geo.out}")
    xs = _padded_cn(x, padding)
    g_on = xp.swapaxes(g, 0, 1)
    acc = xp.zeros((geo.groups, geo.og, geo.ck), dtype=xp.result_type(x, g))
    ranges, b = geo.chunks(x.itemsize)
    buf = geo.scratch(b, x.dtype)
    for n0, n1 in ranges:
        cols = buf if n1 - n0 == b else geo.scratch(n1 - n0, x.dtype)
        _im2col_into(cols, xs[:, n0:n1], geo.kernel, stride, dilation, geo.out)
        acc += geo.grad_rows(g_on, n0, n1) @ xp.swapaxes(geo.as_gemm(cols), 1, 2)
    return acc.reshape(o, c // groups, *geo.kernel)


# --- primitives -------------------------------------------------------------------------------


def _unfold_t(ns, g, needs, x, *, out, kernel, stride, dilation, padding):
    return (ns.fold(g, x.shape[2:], stride, dilation, padding),)


@linear(_unfold_t)
def unfold_(x, *, kernel, stride, dilation, padding):
    """Sliding windows (im2col): every kernel-sized patch of the zero-padded x, side by side.

    Forward:     y[n, c, k, o] = x[n, c, o·s + k·d - lo]  (0 where that falls in the padding)
                 for x of shape (N, C, *S), kernel K, stride s, dilation d and (lo, hi) zero
                 padding per spatial axis (k, o, s, d are tuples, one entry per axis); y has shape
                 (N, C, *K, *O) with O = ⌊(S + lo + hi - d·(K - 1) - 1) / s⌋ + 1 windows per axis.
                 y = U x with U a 0/1 matrix, at most one 1 per row (each entry copies one input
                 or is padding). A convolution is then one matrix product: Y = W · y over (C, K).
    Derivative:  linear: ẏ = unfold(ẋ); the transpose Uᵀ is fold (col2im), which scatter-adds
                 every patch entry back to the position it came from and drops the padding:
                 x̄ = fold(ȳ). Hence for Y = W · unfold(x): W̄ = Ȳ · unfold(x)ᵀ and
                 x̄ = fold(Wᵀ · Ȳ) (a convolution of Ȳ with the flipped kernel).
    Layout:      the result is laid out in memory as (C, *K, N, *O), so that grouping channels
                 and flattening to (C·K, N·O) for that single GEMM are free reshapes.
    """
    return _unfold(x, tuple(kernel), tuple(stride), tuple(dilation), tuple(padding))


def _fold_t(ns, g, needs, y, *, out, size, stride, dilation, padding):
    return (ns.unfold(g, y.shape[2 : 2 + len(size)], stride, dilation, padding),)


@linear(_fold_t)
def fold_(y, *, size, stride, dilation, padding):
    """Scatter-add of patches (col2im): the transpose of unfold.

    Forward:     x[n, c, i] = Σ_{(k, o) : o·s + k·d - lo = i} y[n, c, k, o]  for patches y of shape
                 (N, C, *K, *O) and a spatial output size S (x = Uᵀ y: overlapping windows add
                 up, entries that fall in the padding are dropped)
    Derivative:  linear: ẋ = fold(ẏ); the transpose of Uᵀ is U: ȳ = unfold(x̄), reading every
                 window of the incoming gradient (zeros in the padding).
    """
    return _fold(y, tuple(size), tuple(stride), tuple(dilation), tuple(padding))


def _conv_vjp(ns, g, needs, x, w, *, out, stride, dilation, padding, groups):
    gx = ns.conv_input_grad(g, w, x.shape[2:], stride, dilation, padding, groups) if needs[0] else None
    gw = ns.conv_weight_grad(x, g, w.shape[2:], stride, dilation, padding, groups) if needs[1] else None
    return gx, gw


@bilinear(_conv_vjp)
def conv_(x, w, *, stride, dilation, padding, groups):
    """Convolution (cross-correlation), fused: im2col and one matrix product per group.

    Forward:     Y = W · unfold(x): y[n, o, l] = Σ_{c ∈ group(o), k} W[o, c, k] · x_pad[n, c, l·s + k·d]
                 for x (N, C, *S), W (O, C/G, *K), G groups, (lo, hi) zero padding; y (N, O, *O_sp).
                 Computed batch chunk by chunk (the columns of a chunk stay in cache).
    Derivative:  bilinear: Ẏ = conv(ẋ, W) + conv(x, Ẇ); x̄ = fold(Wᵀ · Ȳ) = conv_input_grad(Ȳ, W),
                 W̄ = Ȳ · unfold(x)ᵀ = conv_weight_grad(x, Ȳ) (per group).
    """
    return _conv_raw(x, w, tuple(stride), tuple(dilation), tuple(padding), groups)


def _conv_input_grad_vjp(ns, h, needs, g, w, *, out, size, stride, dilation, padding, groups):
    gg = ns.conv(h, w, stride, dilation, padding, groups) if needs[0] else None
    gw = ns.conv_weight_grad(h, g, w.shape[2:], stride, dilation, padding, groups) if needs[1] else None
    return gg, gw


@bilinear(_conv_input_grad_vjp)
def conv_input_grad_(g, w, *, size, stride, dilation, padding, groups):
    """The input gradient of a convolution (a transposed convolution), fused.

    Forward:     X = fold(Wᵀ · G): x[n, c, i] = Σ_{(o, k, l) : l·s + k·d - lo = i} W[o, c, k] · g[n, o, l]
                 for G (N, O, *O_sp), W (O, C/G, *K) per group; X (N, C, *size).
    Derivative:  bilinear, the transpose of conv in its first argument: Ḡ = conv(X̄, W),
                 W̄ = conv_weight_grad(X̄, G) = G · unfold(X̄)ᵀ; Ẋ = fold(Wᵀ Ġ) + fold(Ẇᵀ G).
    """
    return _conv_input_grad_raw(g, w, tuple(size), tuple(stride), tuple(dilation), tuple(padding), groups)


def _conv_weight_grad_vjp(ns, h, needs, x, g, *, out, kernel, stride, dilation, padding, groups):
    gx = ns.conv_input_grad(g, h, x.shape[2:], stride, dilation, padding, groups) if needs[0] else None
    gg = ns.conv(x, h, stride, dilation, padding, groups) if needs[1] else None
    return gx, gg


@bilinear(_conv_weight_grad_vjp)
def conv_weight_grad_(x, g, *, kernel, stride, dilation, padding, groups):
    """The weight gradient of a convolution, fused: a correlation of the input with G.

    Forward:     V = G · unfold(x)ᵀ: v[o, c, k] = Σ_{n, l} g[n, o, l] · x_pad[n, c, l·s + k·d]
                 (c within o's group) for x (N, C, *S), G (N, O, *O_sp); V (O, C/G, *kernel).
    Derivative:  bilinear: x̄ = fold(V̄ᵀ · G) = conv_input_grad(G, V̄), Ḡ = V̄ · unfold(x) = conv(x, V̄);
                 V̇ = Ġ unfold(x)ᵀ + G unfold(ẋ)ᵀ.
    """
    return _conv_weight_grad_raw(x, g, tuple(kernel), tuple(stride), tuple(dilation), tuple(padding), groups)


# --- public functions ------------------------------------------------------------------------


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _spatial_args(op, d, kernel_size, dilation, padding, stride):
    k = ntuple(op, "kernel_size", kernel_size, d, 1)
    dl = ntuple(op, "dilation", dilation, d, 1)
    p = ntuple(op, "padding", padding, d, 0)
    s = ntuple(op, "stride", stride, d, 1)
    return k, dl, p, s


def unfold(x: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1) -> Tensor:
    """Extract sliding windows, as PyTorch's ``torch.nn.functional.unfold``: (N, C, *S) → (N, C·∏K, L).

    x is zero-padded by ``padding`` on both sides of each spatial axis; column l of the result
    holds the window at position l (row-major over the O = ⌊(S + 2p - d·(K - 1) - 1) / s⌋ + 1
    positions per axis, L = ∏O), its C·∏K entries ordered (c, k₁, …, k_d). Any number of spatial
    axes d = x.ndim - 2 ≥ 1 is accepted (PyTorch's takes 4-d input only).
    The derivative is ``fold`` (see the ``unfold`` primitive).
    """
    x = _t(x)
    if x.ndim < 3:
        raise ValueError(f"unfold: expected an input of shape (N, C, *spatial) with at least 3 dims, got {x.shape}")
    d = x.ndim - 2
    k, dl, p, s = _spatial_args("unfold", d, kernel_size, dilation, padding, stride)
    padded = tuple(n + 2 * q for n, q in zip(x.shape[2:], p, strict=True))
    out = tuple(conv_output_size(n, *a) for n, *a in zip(padded, k, s, dl, strict=True))
    if any(m < 1 for m in out):
        raise ValueError(
            f"unfold: the dilated kernel {tuple(q * (a - 1) + 1 for a, q in zip(k, dl, strict=True))} is larger "
            f"than the padded input {padded} (input shape {x.shape}, padding {p})"
        )
    cols = unfold_(x, kernel=k, stride=s, dilation=dl, padding=tuple((q, q) for q in p))
    n, c = x.shape[:2]
    return reshape_(cols, shape=(n, c * math.prod(k), math.prod(out)))


def fold(x: Any, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1) -> Tensor:
    """Sum sliding windows back into an image, as PyTorch's ``torch.nn.functional.fold``.

    The transpose of ``unfold`` with the same arguments: x of shape (N, C·∏K, L) → (N, C, *output_size),
    every window entry added at the position it would have been read from (overlaps add up;
    entries that fall in the padding are dropped). d = len(output_size) spatial axes; an int
    output_size means (output_size, output_size), as PyTorch's (which is 2-d only).
    """
    x = _t(x)
    d = len(output_size) if isinstance(output_size, (tuple, list)) else 2
    size = ntuple("fold", "output_size", output_size, d, 1)
    k, dl, p, s = _spatial_args("fold", d, kernel_size, dilation, padding, stride)
    padded = tuple(n + 2 * q for n, q in zip(size, p, strict=True))
    out = tuple(conv_output_size(n, *a) for n, *a in zip(padded, k, s, dl, strict=True))
    kk = math.prod(k)
    if x.ndim != 3 or x.shape[1] % kk or x.shape[2] != math.prod(out) or any(m < 1 for m in out):
        raise ValueError(
            f"fold: expected an input of shape (N, C·{kk}, {math.prod(out)}) for output_size {size}, kernel {k}, "
            f"dilation {dl}, padding {p}, stride {s}; got {x.shape}"
        )
    n, ck = x.shape[:2]
    pads = tuple((q, q) for q in p)
    return fold_(reshape_(x, shape=(n, ck // kk, *k, *out)), size=size, stride=s, dilation=dl, padding=pads)
