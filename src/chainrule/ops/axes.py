"""Argument normalisation shared by the op families: axis spellings, shapes, indices."""

from __future__ import annotations

from typing import Any

import numpy as np

_MISSING: Any = object()


def reduce_args(
    op: str, ndim: int, axis: Any, keepdims: Any, dim: Any, keepdim: Any
) -> tuple[tuple[int, ...] | None, bool]:
    """Accept NumPy's ``axis``/``keepdims`` and PyTorch's ``dim``/``keepdim``; normalise axis."""
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{op}: give either axis or dim, not both")
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    return normalize_axes(op, ndim, axis), bool(keepdims)


def normalize_axes(op: str, ndim: int, axis: Any) -> tuple[int, ...] | None:
    if axis is None:
        return None
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in axes:
        if not isinstance(a, (int, np.integer)) or isinstance(a, bool):
            raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise ValueError(f"{op}: axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(int(a) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def normalize_axis(op: str, ndim: int, axis: Any) -> int:
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"{op}: axis must be an int, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: axis {axis} is out of range for a tensor with {ndim} dimensions")
    return int(axis) % ndim


def keep_shape(shape: tuple[int, ...], axis: tuple[int, ...] | None) -> tuple[int, ...]:
    """The shape of a reduction over ``axis`` with keepdims=True."""
    if axis is None:
        return (1,) * len(shape)
    return tuple(1 if i in axis else s for i, s in enumerate(shape))


def shape_args(op: str, shape: Any) -> tuple[int, ...]:
    """Accept ``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    try:
        return tuple(int(s) for s in shape)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{op}: shape must be ints, got {shape!r}") from e
