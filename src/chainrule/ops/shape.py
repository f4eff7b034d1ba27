"""Shape and indexing primitives: reshape, permute, broadcast, getitem and its adjoint, setitem,
concatenate, pad, flip — and the composites built from them (squeeze, stack, split, gather ...).

All of these are linear maps; each states its transpose (adjoint), and forward mode applies the
primitive itself to the tangent.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.backend import xp
from chainrule.ops.axes import normalize_axes, normalize_axis, shape_args
from chainrule.ops.registry import linear
from chainrule.tensor import Tensor

# --- primitives -------------------------------------------------------------------------------


@linear(lambda ns, g, needs, x, *, out, shape: (ns.reshape(g, x.shape),), is_view=True)
def reshape_(x, *, shape):
    """Reshape (same elements, row-major order).

    Forward:     y = reshape(x, shape)
    Derivative:  x̄ = reshape(ȳ, shape of x); ẏ = reshape(ẋ, shape)
    """
    return x.reshape(shape)


@linear(lambda ns, g, needs, x, *, out, axes: (ns.permute(g, tuple(np.argsort(axes))),), is_view=True)
def permute_(x, *, axes):
    """Permute axes (transpose generalised to n-d).

    Forward:     y = permute(x, σ), y[i_σ(0), …] = x[i_0, …]
    Derivative:  the transpose is the inverse permutation: x̄ = permute(ȳ, σ⁻¹); ẏ = permute(ẋ, σ)
    """
    return x.transpose(axes)


@linear(lambda ns, g, needs, x, *, out, shape: (g,), is_view=True)
def broadcast_to_(x, *, shape):
    """Broadcast to a larger shape (NumPy rules).

    Forward:     y = broadcast(x, shape)  (copies along new and size-1 axes)
    Derivative:  x̄ = Σ over the broadcast axes of ȳ — done by the engine's un-broadcasting,
                 so the rule passes ȳ through; ẏ = broadcast(ẋ, shape)
    """
    return xp.broadcast_to(x, shape)


def _getitem_accumulate(*, index):
    """For a basic index (ints and slices select each element at most once): buf[index] += ȳ."""
    if not _is_basic(index):
        return None

    def add(buf, g):
        buf[index] += g

    return add


@linear(
    lambda ns, g, needs, x, *, out, index: (ns.index_add(g, index, x.shape),),
    is_view=True,
    accumulate=_getitem_accumulate,
)
def getitem_(x, *, index):
    """Indexing with ints, slices, None, Ellipsis and integer arrays (masks become arrays).

    Forward:     y = x[index]  (y = S x for a 0/1 selection matrix S)
    Derivative:  x̄ = Sᵀ ȳ: scatter ȳ into zeros shaped like x, ADDING where an index repeats;
                 ẏ = ẋ[index]
    """
    return x[index]


def _index_add(g, index, shape):
    if _is_basic(index):
        z = xp.zeros(shape, dtype=g.dtype)
        z[index] = g
        return z
    if len(index) == len(shape) and all(isinstance(i, np.ndarray) for i in index):
        # Every axis indexed by an array (x[rows, cols], the gather of cross-entropy): flatten the
        # positions and let bincount do the scatter-add, several times faster than ufunc.at.
        arrays = np.broadcast_arrays(*(i % n for i, n in zip(index, shape, strict=True)))
        flat = np.ravel_multi_index(arrays, shape).ravel()
        size = math.prod(shape)
        vals = np.broadcast_to(g, arrays[0].shape).ravel() if arrays else g
        return xp.bincount(flat, weights=vals, minlength=size).astype(g.dtype).reshape(shape)
    z = xp.zeros(shape, dtype=g.dtype)
    xp.add.at(z, index, g)
    return z


@linear(lambda ns, g, needs, v, *, out, index, shape: (g[index],))
def index_add_(v, *, index, shape):
    """Scatter-add into zeros: the adjoint of getitem.

    Forward:     y = Sᵀ v: zeros of ``shape`` with v added at ``index`` (repeats accumulate)
    Derivative:  v̄ = S ȳ = ȳ[index]; ẏ = Sᵀ v̇
    """
    return _index_add(v, index, shape)


def _index_put_t(ns, g, needs, x, v, *, out, index):
    return (ns.index_put(g, 0.0, index) if needs[0] else None, g[index] if needs[1] else None)


@linear(_index_put_t)
def index_put_(x, v, *, index):
    """Write v into a copy of x at index (the functional form of ``x[index] = v``).

    Forward:     y = x with y[index] = v
    Derivative:  x̄ = ȳ with zeros at index; v̄ = ȳ[index] (summed back to v's shape);
                 ẏ = ẋ with ẏ[index] = v̇
    Repeated indices are rejected when a gradient is tracked: which write wins is not defined,
    so neither is the derivative.
    """
    y = x.copy()
    y[index] = v
    return y


def _concat_t(ns, g, needs, *xs, out, axis):
    grads, start = [], 0
    for x, need in zip(xs, needs, strict=True):
        stop = start + x.shape[axis]
        if need:
            sl = (slice(None),) * axis + (slice(start, stop),)
            grads.append(g[sl])
        else:
            grads.append(None)
        start = stop
    return grads


@linear(_concat_t)
def concatenate_(*xs, axis):
    """Concatenate along an existing axis.

    Forward:     y = [x₁; x₂; …] along axis
    Derivative:  the transpose splits: x̄ₖ = ȳ[offsetₖ : offsetₖ + nₖ] along axis;
                 ẏ = [ẋ₁; ẋ₂; …]
    """
    return xp.concatenate(xs, axis=axis)


def _pad_t(ns, g, needs, x, *, out, widths):
    sl = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, x.shape, strict=True))
    return (g[sl],)


@linear(_pad_t)
def pad_(x, *, widths):
    """Zero padding; ``widths`` gives (before, after) per axis.

    Forward:     y = x placed inside zeros, y[lo : lo + n] = x on each axis
    Derivative:  the transpose crops: x̄ = ȳ[lo : lo + n, …]; ẏ = pad(ẋ)
    """
    return xp.pad(x, widths)


@linear(lambda ns, g, needs, x, *, out, axes: (ns.flip(g, axes),), is_view=True)
def flip_(x, *, axes):
    """Reverse the order of elements along axes.

    Forward:     y = x[::-1] along each axis in axes (a permutation matrix P with P = Pᵀ = P⁻¹)
    Derivative:  x̄ = flip(ȳ); ẏ = flip(ẋ)
    """
    return xp.flip(x, axes)


def _tri_t(ns, g, needs, x, *, out, k, upper):
    return (ns.tri(g, k, upper),)


@linear(_tri_t)
def tri_(x, *, k, upper):
    """Keep the lower (upper=False) or upper triangle of the last two axes, zeroing the rest.

    Forward:     y = M ⊙ x with M the 0/1 triangle mask (offset k)
    Derivative:  masking is self-adjoint: x̄ = M ⊙ ȳ; ẏ = M ⊙ ẋ
    """
    return xp.triu(x, k) if upper else xp.tril(x, k)


# --- index normalisation ----------------------------------------------------------------------


def _is_basic(index: tuple) -> bool:
    return all(isinstance(i, (int, slice)) or i is None or i is Ellipsis for i in index)


def normalize_index(x: Tensor, index: Any) -> tuple:
    """Index as a tuple of ints, slices, None, Ellipsis and int64 arrays (masks -> nonzero)."""
    if not isinstance(index, tuple):
        index = (index,)
    out: list[Any] = []
    for i in index:
        if isinstance(i, Tensor):
            i = i.data
        if isinstance(i, (bool, np.bool_)):
            raise TypeError(f"getitem: a bare bool index is not supported (tensor shape {x.shape})")
        if isinstance(i, (int, np.integer)):
            out.append(int(i))
        elif isinstance(i, slice) or i is None or i is Ellipsis:
            out.append(i)
        else:
            arr = np.asarray(i)
            if arr.dtype == np.bool_:
                out.extend(np.nonzero(arr))
            elif arr.dtype.kind in "iu" or arr.size == 0:
                out.append(arr.astype(np.int64))
            else:
                raise TypeError(f"getitem: index arrays must be integer or bool, got dtype {arr.dtype}")
    return tuple(out)


def _check_index(op: str, x: Tensor, index: tuple) -> None:
    try:
        np.empty(x.shape, dtype=np.bool_)[index]  # shape-only dry run: clear error before any state
    except IndexError as e:
        raise IndexError(f"{op}: index {index!r} is invalid for a tensor of shape {x.shape}: {e}") from None


# --- public functions ------------------------------------------------------------------------


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def reshape(x: Any, *shape: Any) -> Tensor:
    """Reshape to ``shape`` (one entry may be -1)."""
    x = _t(x)
    shp = shape_args("reshape", shape)
    try:
        target = np.empty(x.shape, dtype=np.bool_).reshape(shp).shape if x.size else _resolve_empty(x, shp)
    except ValueError:
        raise ValueError(
            f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) into shape {shp}"
        ) from None
    if target == x.shape:
        return x if not x.requires_grad else reshape_(x, shape=target)
    return reshape_(x, shape=target)


def _resolve_empty(x: Tensor, shp: tuple[int, ...]) -> tuple[int, ...]:
    return np.empty(x.shape).reshape(shp).shape


view = reshape


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge axes start_dim..end_dim into one."""
    x = _t(x)
    if x.ndim == 0:
        return reshape_(x, shape=(1,))
    s = normalize_axis("flatten", x.ndim, start_dim)
    e = normalize_axis("flatten", x.ndim, end_dim)
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {x.shape}")
    return reshape_(x, shape=x.shape[:s] + (math.prod(x.shape[s : e + 1]),) + x.shape[e + 1 :])


def permute(x: Any, *axes: Any) -> Tensor:
    """Reorder axes: ``permute(x, 2, 0, 1)`` or ``permute(x, (2, 0, 1))``."""
    x = _t(x)
    ax = shape_args("permute", axes)
    if sorted(a % max(x.ndim, 1) for a in ax) != list(range(x.ndim)):
        raise ValueError(f"permute: {ax} is not a permutation of the {x.ndim} axes of shape {x.shape}")
    return permute_(x, axes=tuple(a % x.ndim for a in ax))


def swapaxes(x: Any, axis0: int, axis1: int) -> Tensor:
    """Exchange two axes."""
    x = _t(x)
    a = normalize_axis("swapaxes", x.ndim, axis0)
    b = normalize_axis("swapaxes", x.ndim, axis1)
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return permute_(x, axes=tuple(axes))


def transpose(x: Any, dim0: int | None = None, dim1: int | None = None) -> Tensor:
    """``transpose(x)`` reverses all axes (NumPy); ``transpose(x, d0, d1)`` swaps two (PyTorch)."""
    x = _t(x)
    if dim0 is None and dim1 is None:
        return permute_(x, axes=tuple(range(x.ndim - 1, -1, -1)))
    if dim0 is None or dim1 is None:
        raise TypeError("transpose: give both dim0 and dim1, or neither")
    return swapaxes(x, dim0, dim1)


def squeeze(x: Any, axis: Any = None, *, dim: Any = None) -> Tensor:
    """Drop size-1 axes (all of them, or the given ones; a given axis of size > 1 is kept, as PyTorch)."""
    x = _t(x)
    ax = normalize_axes("squeeze", x.ndim, dim if dim is not None else axis)
    drop = [i for i, s in enumerate(x.shape) if s == 1 and (ax is None or i in ax)]
    return reshape_(x, shape=tuple(s for i, s in enumerate(x.shape) if i not in drop))


def unsqueeze(x: Any, axis: Any = None, *, dim: Any = None) -> Tensor:
    """Insert a size-1 axis at position ``axis``/``dim`` (negative counts from the new end)."""
    x = _t(x)
    a = dim if dim is not None else axis
    if a is None:
        raise TypeError("unsqueeze: missing axis/dim")
    a = normalize_axis("unsqueeze", x.ndim + 1, a)
    return reshape_(x, shape=x.shape[:a] + (1,) + x.shape[a:])


expand_dims = unsqueeze


def broadcast_to(x: Any, *shape: Any) -> Tensor:
    """Broadcast to ``shape`` by NumPy's rules (no copy)."""
    x = _t(x)
    shp = shape_args("broadcast_to", shape)
    try:
        np.broadcast_shapes(x.shape, shp)
        if len(shp) < x.ndim or np.broadcast_shapes(x.shape, shp) != shp:
            raise ValueError
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shp}") from None
    return x if shp == x.shape else broadcast_to_(x, shape=shp)


def expand(x: Any, *shape: Any) -> Tensor:
    """PyTorch's expand: broadcast, with -1 keeping an axis's size."""
    x = _t(x)
    shp = list(shape_args("expand", shape))
    lead = len(shp) - x.ndim
    for i in range(x.ndim):
        if shp[lead + i] == -1:
            shp[lead + i] = x.shape[i]
    return broadcast_to(x, tuple(shp))


def expand_as(x: Any, other: Tensor) -> Tensor:
    return broadcast_to(x, other.shape)


def getitem(x: Any, index: Any) -> Tensor:
    """``x[index]``; the backward scatters and adds for repeated indices."""
    x = _t(x)
    idx = normalize_index(x, index)
    if not _is_basic(idx):
        _check_index("getitem", x, idx)
    return getitem_(x, index=idx)


def index_add(g: Any, index: Any, shape: tuple[int, ...]) -> Tensor:
    """Scatter-add ``g`` into zeros of ``shape`` at ``index`` (the adjoint of ``getitem``)."""
    return index_add_(_t(g), index=tuple(index) if isinstance(index, tuple) else (index,), shape=tuple(shape))


def concatenate(tensors: Any, axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join tensors along an existing axis."""
    ts = [_t(t) for t in tensors]
    if not ts:
        raise ValueError("concatenate: needs at least one tensor")
    ax = normalize_axis("concatenate", ts[0].ndim, dim if dim is not None else axis)
    ref = ts[0].shape
    for t in ts[1:]:
        if t.ndim != len(ref) or any(a != b for i, (a, b) in enumerate(zip(t.shape, ref, strict=True)) if i != ax):
            raise ValueError(f"concatenate: shapes {[u.shape for u in ts]} differ outside axis {ax}")
    return concatenate_(*ts, axis=ax)


cat = concatenate


def stack(tensors: Any, axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join tensors along a new axis."""
    ts = [_t(t) for t in tensors]
    if not ts:
        raise ValueError("stack: needs at least one tensor")
    shapes = {t.shape for t in ts}
    if len(shapes) != 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {[t.shape for t in ts]}")
    a = normalize_axis("stack", ts[0].ndim + 1, dim if dim is not None else axis)
    return concatenate_(*[unsqueeze(t, a) for t in ts], axis=a)


def split(x: Any, split_size_or_sections: Any, axis: int = 0, *, dim: int | None = None) -> list[Tensor]:
    """Split along ``axis`` into chunks of a given size (int) or of given sizes (list)."""
    x = _t(x)
    ax = normalize_axis("split", x.ndim, dim if dim is not None else axis)
    n = x.shape[ax]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size <= 0:
            raise ValueError(f"split: chunk size must be positive, got {size}")
        sizes = [min(size, n - s) for s in range(0, n, size)]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} do not add up to {n} along axis {ax} of shape {x.shape}")
    parts, start = [], 0
    for s in sizes:
        parts.append(getitem_(x, index=(slice(None),) * ax + (slice(start, start + s),)))
        start += s
    return parts


def chunk(x: Any, chunks: int, axis: int = 0, *, dim: int | None = None) -> list[Tensor]:
    """Split into ``chunks`` nearly equal pieces (the last may be smaller)."""
    x = _t(x)
    ax = normalize_axis("chunk", x.ndim, dim if dim is not None else axis)
    return split(x, max(1, -(-x.shape[ax] // chunks)), ax)


def pad(x: Any, pad_width: Any, value: float = 0.0) -> Tensor:
    """Constant padding. ``pad_width`` is NumPy's per-axis ((before, after), ...) or an int."""
    x = _t(x)
    widths = _pad_widths(x, pad_width)
    y = pad_(x, widths=widths)
    if value != 0:
        border = 1.0 - np.pad(np.ones(x.shape, dtype=x.dtype), widths)
        y = y + Tensor(border * value, dtype=x.dtype)
    return y


def _pad_widths(x: Tensor, pad_width: Any) -> tuple[tuple[int, int], ...]:
    if x.ndim == 0:
        raise ValueError("pad: a 0-d tensor has no axes to pad")
    try:
        w = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (x.ndim, 2))
    except ValueError:
        raise ValueError(f"pad: pad_width {pad_width!r} does not fit a tensor of shape {x.shape}") from None
    if (w < 0).any():
        raise ValueError(f"pad: negative pad width in {pad_width!r}")
    return tuple((int(a), int(b)) for a, b in w)


def flip(x: Any, axis: Any = None, *, dims: Any = None) -> Tensor:
    """Reverse element order along ``axis`` (all axes when None)."""
    x = _t(x)
    ax = normalize_axes("flip", x.ndim, dims if dims is not None else axis)
    return flip_(x, axes=tuple(range(x.ndim)) if ax is None else ax)


def tril(x: Any, k: int = 0, *, diagonal: int | None = None) -> Tensor:
    """Lower triangle of the last two axes (entries with j - i ≤ k)."""
    return tri_(_t(x), k=int(diagonal if diagonal is not None else k), upper=False)


def triu(x: Any, k: int = 0, *, diagonal: int | None = None) -> Tensor:
    """Upper triangle of the last two axes (entries with j - i ≥ k)."""
    return tri_(_t(x), k=int(diagonal if diagonal is not None else k), upper=True)


def gather(x: Any, dim: int, index: Any) -> Tensor:
    """PyTorch's gather: out[i][j] = x[i][index[i][j]] along ``dim`` (via getitem)."""
    x = _t(x)
    idx = np.asarray(index.data if isinstance(index, Tensor) else index)
    ax = normalize_axis("gather", x.ndim, dim)
    if idx.ndim != x.ndim:
        raise ValueError(f"gather: index has {idx.ndim} dims, input shape {x.shape} has {x.ndim}")
    grids = list(np.ogrid[tuple(slice(0, s) for s in idx.shape)])
    grids[ax] = idx.astype(np.int64)
    return getitem(x, tuple(grids))


def take_along_axis(x: Any, indices: Any, axis: int) -> Tensor:
    """NumPy's take_along_axis (gather with NumPy's argument order)."""
    return gather(x, axis, indices)


def repeat(x: Any, *repeats: Any) -> Tensor:
    """PyTorch's repeat: tile the tensor ``repeats`` times along each axis."""
    return tile(x, shape_args("repeat", repeats))


def tile(x: Any, reps: Any) -> Tensor:
    """Tile ``reps`` times per axis (a broadcast then a reshape, so no gradient code)."""
    x = _t(x)
    reps = tuple(int(r) for r in (reps if isinstance(reps, (tuple, list)) else (reps,)))
    nd = max(len(reps), x.ndim)
    reps = (1,) * (nd - len(reps)) + reps
    shp = (1,) * (nd - x.ndim) + x.shape
    inter = reshape_(x, shape=tuple(d for s in shp for d in (1, s)))
    big = broadcast_to(inter, tuple(d for r, s in zip(reps, shp, strict=True) for d in (r, s)))
    return reshape_(big, shape=tuple(r * s for r, s in zip(reps, shp, strict=True)))


def roll(x: Any, shifts: int, axis: int | None = None, *, dims: int | None = None) -> Tensor:
    """Roll elements along an axis (a permutation, written with getitem)."""
    x = _t(x)
    a = dims if dims is not None else axis
    if a is None:
        return reshape_(roll(reshape_(x, shape=(-1,) if x.size else (0,)), shifts, 0), shape=x.shape)
    a = normalize_axis("roll", x.ndim, a)
    n = x.shape[a]
    idx = (np.arange(n) - shifts) % n
    return getitem_(x, index=(slice(None),) * a + (idx,))


def diagonal(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    """The diagonal of two axes, appended as the last axis (via getitem)."""
    x = _t(x)
    a1 = normalize_axis("diagonal", x.ndim, axis1)
    a2 = normalize_axis("diagonal", x.ndim, axis2)
    rest = [i for i in range(x.ndim) if i not in (a1, a2)]
    xt = permute_(x, axes=tuple(rest + [a1, a2]))
    n1, n2 = x.shape[a1], x.shape[a2]
    i = np.arange(max(0, -offset), min(n1, n2 - offset))
    return getitem_(xt, index=(Ellipsis, i, i + offset))
