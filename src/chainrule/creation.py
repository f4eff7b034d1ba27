"""Tensor constructors: from data, constant fills, ranges, identity, and random draws.

Random draws use chainrule's one global generator (``manual_seed``) unless a NumPy
``Generator`` is passed as ``generator=``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import backend
from chainrule.ops.axes import shape_args
from chainrule.tensor import Tensor, _to_array


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A new Tensor holding a copy of ``data`` (Python floats become the default float dtype)."""
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)


def as_tensor(data: Any, dtype: Any = None) -> Tensor:
    """Like ``tensor`` but shares memory with a NumPy array of a supported dtype when it can."""
    if isinstance(data, Tensor) and (dtype is None or backend.as_dtype(dtype) == data.dtype):
        return data
    t = Tensor.__new__(Tensor)
    Tensor.__init__(t, 0)
    t.data = _to_array(data, dtype, copy=False)
    return t


def from_numpy(arr: np.ndarray) -> Tensor:
    """A Tensor sharing memory with ``arr``."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(arr).__name__}")
    return as_tensor(arr)


def _float_dtype(dtype: Any) -> np.dtype:
    return backend.get_default_dtype() if dtype is None else backend.as_dtype(dtype)


def _filled(op: str, shape: Any, fill: Any, dtype: Any, requires_grad: bool) -> Tensor:
    shp = shape_args(op, shape)
    if any(s < 0 for s in shp):
        raise ValueError(f"{op}: negative dimension in shape {shp}")
    arr = (
        np.full(shp, fill, dtype=_float_dtype(dtype)) if fill is not None else np.empty(shp, dtype=_float_dtype(dtype))
    )
    t = Tensor.__new__(Tensor)
    Tensor.__init__(t, 0)
    t.data = arr
    if requires_grad:
        t.requires_grad_(True)
    return t


def zeros(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled("zeros", shape, 0, dtype, requires_grad)


def ones(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled("ones", shape, 1, dtype, requires_grad)


def empty(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled("empty", shape, None, dtype, requires_grad)


def full(shape: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    if dtype is None and isinstance(fill_value, bool):
        dtype = "bool"
    elif dtype is None and isinstance(fill_value, int):
        dtype = "int64"
    return _filled("full", (shape,) if isinstance(shape, int) else (tuple(shape),), fill_value, dtype, requires_grad)


def _like(x: Any, dtype: Any) -> tuple[tuple[int, ...], Any]:
    arr = x.data if isinstance(x, Tensor) else np.asarray(x)
    return arr.shape, (arr.dtype if dtype is None else dtype)


def zeros_like(x: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    shape, d = _like(x, dtype)
    return zeros(shape, dtype=d, requires_grad=requires_grad)


def ones_like(x: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    shape, d = _like(x, dtype)
    return ones(shape, dtype=d, requires_grad=requires_grad)


def empty_like(x: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    shape, d = _like(x, dtype)
    return empty(shape, dtype=d, requires_grad=requires_grad)


def full_like(x: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    shape, d = _like(x, dtype)
    return full(shape, fill_value, dtype=d, requires_grad=requires_grad)


def arange(start: Any, end: Any = None, step: Any = 1, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Values from start (inclusive) to end (exclusive); int64 for int arguments, else float."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
    d = backend.as_dtype(dtype) if dtype is not None else (backend.int64 if ints else backend.get_default_dtype())
    return Tensor(np.arange(start, end, step).astype(d), requires_grad=requires_grad)


def linspace(start: float, end: float, steps: int, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from start to end, both included."""
    if steps < 0:
        raise ValueError(f"linspace: steps must be non-negative, got {steps}")
    return Tensor(
        np.linspace(start, end, steps, dtype=np.float64).astype(_float_dtype(dtype)), requires_grad=requires_grad
    )


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Identity matrix (n x m)."""
    return Tensor(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad=requires_grad)


def _gen(generator: np.random.Generator | None) -> np.random.Generator:
    return backend.generator() if generator is None else generator


def rand(
    *shape: Any, dtype: Any = None, generator: np.random.Generator | None = None, requires_grad: bool = False
) -> Tensor:
    """Uniform samples on [0, 1)."""
    d = _float_dtype(dtype)
    arr = _gen(generator).random(shape_args("rand", shape), dtype=np.float64).astype(d)
    return Tensor(arr, requires_grad=requires_grad)


def randn(
    *shape: Any, dtype: Any = None, generator: np.random.Generator | None = None, requires_grad: bool = False
) -> Tensor:
    """Standard normal samples."""
    d = _float_dtype(dtype)
    arr = _gen(generator).standard_normal(shape_args("randn", shape)).astype(d)
    return Tensor(arr, requires_grad=requires_grad)


def randint(
    low: int, high: int | None = None, size: Any = (), dtype: Any = None, generator: np.random.Generator | None = None
) -> Tensor:
    """Integers uniform on [low, high) (or [0, low) when high is None)."""
    if high is None:
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    d = backend.int64 if dtype is None else backend.as_dtype(dtype)
    size = (size,) if isinstance(size, int) else tuple(size)
    return Tensor(_gen(generator).integers(low, high, size=size).astype(d))


def randn_like(x: Any, dtype: Any = None, generator: np.random.Generator | None = None) -> Tensor:
    shape, d = _like(x, dtype)
    return randn(shape, dtype=d, generator=generator)


def rand_like(x: Any, dtype: Any = None, generator: np.random.Generator | None = None) -> Tensor:
    shape, d = _like(x, dtype)
    return rand(shape, dtype=d, generator=generator)
