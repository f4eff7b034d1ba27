"""Small 2-D classification problems with known geometry: two moons, spirals, concentric circles.

Each returns ``(X, y)``: X float32 of shape (n_samples, 2), y int64 of shape (n_samples,), with the
rows in random order. ``noise`` is the standard deviation of Gaussian noise added to both
coordinates; with ``noise=0`` every point lies exactly on its curve (the tests check the curves).
Randomness comes from ``generator`` (a NumPy Generator; chainrule's global one when None).
"""

from __future__ import annotations

import math

import numpy as np

from chainrule import backend
from chainrule.creation import as_tensor
from chainrule.data.dataset import _generator
from chainrule.tensor import Tensor

__all__ = ["make_moons", "make_spirals", "make_circles"]


def _check(op: str, n_samples: int, noise: float, minimum: int) -> None:
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < minimum:
        raise ValueError(f"{op}: n_samples must be an int >= {minimum}, got {n_samples!r}")
    if not isinstance(noise, (int, float, np.floating)) or isinstance(noise, bool) or not noise >= 0:
        raise ValueError(f"{op}: noise must be a number >= 0, got {noise!r}")


def _finish(x: np.ndarray, y: np.ndarray, noise: float, gen: np.random.Generator) -> tuple[Tensor, Tensor]:
    if noise > 0:
        x = x + gen.normal(0.0, float(noise), size=x.shape)
    perm = gen.permutation(len(y))
    return as_tensor(x[perm].astype(backend.float32)), as_tensor(y[perm].astype(np.int64))


def make_moons(
    n_samples: int = 100, noise: float = 0.0, generator: np.random.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """Two interleaving half circles (scikit-learn's ``make_moons`` geometry).

    Class 0 (⌊n/2⌋ points): (cos t, sin t); class 1 (the rest): (1 − cos t, ½ − sin t), with t
    evenly spaced in [0, π]. Both are unit half circles, centred at (0, 0) and (1, ½).
    """
    _check("make_moons", n_samples, noise, 2)
    gen = _generator("make_moons", generator)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out = np.linspace(0.0, math.pi, n_out)
    t_in = np.linspace(0.0, math.pi, n_in)
    x = np.concatenate(
        [np.stack([np.cos(t_out), np.sin(t_out)], 1), np.stack([1.0 - np.cos(t_in), 0.5 - np.sin(t_in)], 1)]
    )
    y = np.concatenate([np.zeros(n_out), np.ones(n_in)])
    return _finish(x, y, noise, gen)


def make_circles(
    n_samples: int = 100, noise: float = 0.0, factor: float = 0.8, generator: np.random.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """Two concentric circles: class 0 (⌊n/2⌋ points) on radius 1, class 1 (the rest) on radius
    ``factor`` (0 < factor < 1), angles evenly spaced in [0, 2π) (scikit-learn's ``make_circles``)."""
    _check("make_circles", n_samples, noise, 2)
    if not isinstance(factor, (int, float, np.floating)) or not 0.0 < factor < 1.0:
        raise ValueError(f"make_circles: factor must lie in (0, 1), got {factor!r}")
    gen = _generator("make_circles", generator)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out = np.linspace(0.0, 2 * math.pi, n_out, endpoint=False)
    t_in = np.linspace(0.0, 2 * math.pi, n_in, endpoint=False)
    x = np.concatenate(
        [np.stack([np.cos(t_out), np.sin(t_out)], 1), float(factor) * np.stack([np.cos(t_in), np.sin(t_in)], 1)]
    )
    y = np.concatenate([np.zeros(n_out), np.ones(n_in)])
    return _finish(x, y, noise, gen)


def make_spirals(
    n_samples: int = 300,
    classes: int = 3,
    noise: float = 0.0,
    generator: np.random.Generator | None = None,
    turns: float = 1.0,
) -> tuple[Tensor, Tensor]:
    """``classes`` interleaved spiral arms (the CS231n spiral problem, noise on the points).

    Arm k gets n/K points (the first n mod K arms one more); its point at radius r ∈ [0, 1]
    (evenly spaced) sits at angle θ = 2π (k/K + turns · r), i.e. x = r (cos θ, sin θ). The arms are
    rotated copies of one spiral, so classes are linearly inseparable but smoothly separable.
    """
    _check("make_spirals", n_samples, noise, 1)
    if isinstance(classes, bool) or not isinstance(classes, (int, np.integer)) or not 2 <= classes <= n_samples:
        raise ValueError(f"make_spirals: classes must be an int in 2..n_samples ({n_samples}), got {classes!r}")
    if not isinstance(turns, (int, float, np.floating)) or not turns > 0:
        raise ValueError(f"make_spirals: turns must be > 0, got {turns!r}")
    gen = _generator("make_spirals", generator)
    xs, ys = [], []
    for k in range(classes):
        m = n_samples // classes + (1 if k < n_samples % classes else 0)
        r = np.linspace(0.0, 1.0, m)
        theta = 2 * math.pi * (k / classes + float(turns) * r)
        xs.append(r[:, None] * np.stack([np.cos(theta), np.sin(theta)], 1))
        ys.append(np.full(m, k))
    return _finish(np.concatenate(xs), np.concatenate(ys), noise, gen)
