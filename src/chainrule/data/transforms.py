"""Transforms for inputs and targets: normalization, flattening, one-hot encoding, composition,
and random crops and flips of image batches (data augmentation).

They take Tensors (or arrays) and are written with chainrule ops, so a transform applied to a
tensor that requires grad is differentiated like any other composite. Each works on one sample
or on a batch alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chainrule import backend, ops
from chainrule.creation import arange, as_tensor
from chainrule.tensor import Tensor

__all__ = [
    "Compose",
    "Flatten",
    "Normalize",
    "OneHot",
    "normalize",
    "one_hot",
    "random_crop",
    "random_horizontal_flip",
    "standardize",
]


def _as_input(op: str, x: Any) -> Tensor:
    t = x if isinstance(x, Tensor) else as_tensor(x)
    if not backend.is_floating(t.dtype):
        raise TypeError(
            f"{op}: expected a floating-point tensor, got dtype {t.dtype} (convert it first, e.g. x / 255.0)"
        )
    return t


def _stat(op: str, name: str, value: Any, dtype: np.dtype, dim: int | None) -> np.ndarray:
    arr = np.asarray(value.data if isinstance(value, Tensor) else value, dtype=np.float64)
    if dim is not None:
        if arr.ndim != 1:
            raise ValueError(
                f"{op}: with dim={dim}, {name} must be 1-d (one value per entry of that axis), got shape {arr.shape}"
            )
        # Lay the values along axis `dim` (negative: counted from the end, as torchvision's C of (C, H, W)).
        if dim < 0:
            arr = arr.reshape((-1,) + (1,) * (-dim - 1))
    return arr.astype(dtype)


def normalize(x: Any, mean: Any, std: Any, dim: int | None = None) -> Tensor:
    """(x − mean) / std, elementwise.

    ``mean`` and ``std`` broadcast against ``x`` by NumPy's rules (scalars, or arrays shaped like
    a sample's trailing axes). With ``dim`` (a negative axis), 1-d ``mean``/``std`` hold one value per
    entry of that axis: ``dim=-3`` is torchvision's per-channel normalization of (C, H, W) images
    and (B, C, H, W) batches. (torchvision always uses the channel axis; here it must be asked for,
    so feature vectors and sequences broadcast the plain way.) ``std`` must be nonzero.
    """
    t = _as_input("normalize", x)
    if dim is not None and (isinstance(dim, bool) or not isinstance(dim, int) or dim >= 0):
        raise ValueError(f"normalize: dim must be a negative int (an axis counted from the end) or None, got {dim!r}")
    m = _stat("normalize", "mean", mean, t.dtype, dim)
    s = _stat("normalize", "std", std, t.dtype, dim)
    if np.any(s == 0):
        raise ValueError("normalize: std contains zeros; division by zero")
    try:
        np.broadcast_shapes(t.shape, m.shape, s.shape)
    except ValueError:
        hint = " (for per-channel statistics of images pass dim=-3)" if dim is None and m.ndim == 1 else ""
        raise ValueError(
            f"normalize: mean of shape {m.shape} and std of shape {s.shape} do not broadcast against input of "
            f"shape {t.shape}{hint}"
        ) from None
    return (t - as_tensor(m)) / as_tensor(s)


class Normalize:
    """The transform x ↦ (x − mean) / std; see ``normalize`` for broadcasting and ``dim``."""

    def __init__(self, mean: Any, std: Any, dim: int | None = None) -> None:
        m = np.asarray(mean.data if isinstance(mean, Tensor) else mean, dtype=np.float64)
        s = np.asarray(std.data if isinstance(std, Tensor) else std, dtype=np.float64)
        if np.any(s == 0):
            raise ValueError("Normalize: std contains zeros; division by zero")
        if dim is not None and (isinstance(dim, bool) or not isinstance(dim, int) or dim >= 0):
            raise ValueError(f"Normalize: dim must be a negative int or None, got {dim!r}")
        self.mean = m
        self.std = s
        self.dim = dim

    def __call__(self, x: Any) -> Tensor:
        return normalize(x, self.mean, self.std, self.dim)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()}, dim={self.dim})"


def standardize(x: Any, dim: int | Sequence[int] = 0, eps: float = 1e-8) -> Normalize:
    """The ``Normalize`` that standardizes ``x``: per-feature mean 0 and standard deviation 1.

    mean = (1/n) Σᵢ xᵢ and std = √((1/n) Σᵢ (xᵢ − mean)²) over the axes ``dim`` (which must include
    the sample axis 0; e.g. ``dim=(0, 2, 3)`` for per-channel statistics of (N, C, H, W) images).
    Features whose std is below ``eps`` (constant ones, such as the border pixels of digits) get
    std 1, so they map to 0 instead of dividing by zero (scikit-learn's StandardScaler does the same).
    Fit it on the training data only and apply it to every split::

        norm = standardize(x_train)
        x_train, x_test = norm(x_train), norm(x_test)

    The statistics are computed in float64 and the returned transform keeps the shape of a sample
    (the sample axis dropped, reduced axes kept as size 1), so it applies to samples and batches.
    """
    arr = x.data if isinstance(x, Tensor) else np.asarray(x)
    if arr.ndim == 0 or arr.shape[0] == 0:
        raise ValueError(f"standardize: needs at least one sample along axis 0, got shape {arr.shape}")
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    axes = tuple(sorted({int(d) % arr.ndim if -arr.ndim <= int(d) < arr.ndim else -1 for d in dims}))
    if -1 in axes:
        raise ValueError(f"standardize: dim {dim} is out of range for input of shape {arr.shape}")
    if 0 not in axes:
        raise ValueError(f"standardize: dim must include the sample axis 0, got {dim}")
    data = arr.astype(np.float64)
    mean = data.mean(axis=axes, keepdims=True)[0]
    std = data.std(axis=axes, keepdims=True)[0]
    std = np.where(std < eps, 1.0, std)
    return Normalize(mean, std)


class Flatten:
    """Merge axes ``start_dim`` … ``end_dim`` into one: a (1, 28, 28) image becomes (784,).

    The defaults flatten a whole sample (``nn.Flatten`` starts at 1 because it sees batches).
    """

    def __init__(self, start_dim: int = 0, end_dim: int = -1) -> None:
        self.start_dim = start_dim
        self.end_dim = end_dim

    def __call__(self, x: Any) -> Tensor:
        return ops.flatten(x, self.start_dim, self.end_dim)

    def __repr__(self) -> str:
        return f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim})"


def one_hot(labels: Any, num_classes: int = -1, dtype: Any = None) -> Tensor:
    """One-hot encode integer labels: out[..., c] = 1 if labels[...] == c else 0.

    The output has shape ``labels.shape + (num_classes,)``; ``num_classes=-1`` uses max(labels) + 1.
    int64 by default, as ``torch.nn.functional.one_hot``; ``dtype`` (an extension) gives e.g.
    float32 targets for a squared-error loss. Labels outside 0 … num_classes − 1 raise ValueError.
    """
    t = labels if isinstance(labels, Tensor) else as_tensor(labels)
    if t.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be an integer tensor, got dtype {t.dtype}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise TypeError(f"one_hot: num_classes must be an int, got {type(num_classes).__name__}")
    lo = int(t.data.min()) if t.size else 0
    hi = int(t.data.max()) if t.size else -1
    if num_classes == -1:
        num_classes = hi + 1
        if num_classes < 1:
            raise ValueError("one_hot: cannot infer num_classes from an empty tensor; pass num_classes")
    if num_classes < 1:
        raise ValueError(f"one_hot: num_classes must be >= 1 or -1, got {num_classes}")
    if lo < 0 or hi >= num_classes:
        raise ValueError(f"one_hot: labels must lie in 0..{num_classes - 1}, got values in {lo}..{hi}")
    hits = ops.eq(ops.unsqueeze(t, -1), arange(int(num_classes)))
    return hits.astype(backend.int64 if dtype is None else backend.as_dtype(dtype))


class OneHot:
    """The transform labels ↦ one_hot(labels, num_classes, dtype)."""

    def __init__(self, num_classes: int, dtype: Any = None) -> None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
            raise ValueError(f"OneHot: num_classes must be an int >= 1, got {num_classes!r}")
        self.num_classes = int(num_classes)
        self.dtype = dtype

    def __call__(self, labels: Any) -> Tensor:
        return one_hot(labels, self.num_classes, self.dtype)

    def __repr__(self) -> str:
        return f"OneHot(num_classes={self.num_classes})"


class Compose:
    """Apply transforms in order: Compose([f, g, h])(x) = h(g(f(x)))."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        ts = list(transforms)
        for k, f in enumerate(ts):
            if not callable(f):
                raise TypeError(f"Compose: transform {k} is not callable ({type(f).__name__})")
        self.transforms = ts

    def __call__(self, x: Any) -> Any:
        for f in self.transforms:
            x = f(x)
        return x

    def __repr__(self) -> str:
        return "Compose([" + ", ".join(repr(f) for f in self.transforms) + "])"


# --- batch augmentation for images ---------------------------------------------------------------


def _image_batch(op: str, x: Any) -> np.ndarray:
    arr = x.data if isinstance(x, Tensor) else np.asarray(x)
    if arr.ndim != 4:
        raise ValueError(f"{op}: expected a batch of images (N, C, H, W), got shape {arr.shape}")
    return arr


def random_crop(x: Any, padding: int, generator: np.random.Generator | None = None) -> Tensor:
    """Zero-pad each image by ``padding`` pixels and crop it back at a random offset.

    Per sample, offsets (i, j) are uniform on {0 … 2p}² and y[n] = pad(x[n])[:, i:i+H, j:j+W]:
    a random translation by up to p pixels with zero fill (torchvision's
    ``RandomCrop(size, padding=p)``), for a whole batch in one gather. Returns a new Tensor
    (not differentiable: augmentation happens before the model).
    """
    arr = _image_batch("random_crop", x)
    if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
        raise ValueError(f"random_crop: padding must be an int >= 0, got {padding!r}")
    if padding == 0:
        return as_tensor(arr.copy())
    gen = backend.generator() if generator is None else generator
    n, _, h, w = arr.shape
    p = padding
    padded = np.pad(arr, ((0, 0), (0, 0), (p, p), (p, p)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (h, w), axis=(2, 3))  # (N, C, 2p+1, 2p+1, H, W)
    i = gen.integers(0, 2 * p + 1, n)
    j = gen.integers(0, 2 * p + 1, n)
    return as_tensor(np.ascontiguousarray(windows[np.arange(n), :, i, j]))


def random_horizontal_flip(x: Any, p: float = 0.5, generator: np.random.Generator | None = None) -> Tensor:
    """Mirror each image left-right with probability ``p`` (y[n] = x[n][..., ::-1] when drawn)."""
    arr = _image_batch("random_horizontal_flip", x)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"random_horizontal_flip: p must be in [0, 1], got {p!r}")
    gen = backend.generator() if generator is None else generator
    flip = gen.random(arr.shape[0]) < p
    out = arr.copy()
    out[flip] = arr[flip][..., ::-1]
    return as_tensor(out)
