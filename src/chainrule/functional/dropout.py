"""Dropout (Srivastava et al., 2014), in its inverted form.

During training each element is kept with probability 1 - p and scaled by 1/(1 - p), so that
E[dropout(x)] = x and nothing needs rescaling at evaluation time, where dropout is the identity.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.creation import as_tensor
from chainrule.tensor import Tensor

__all__ = ["dropout"]


def _check_p(op: str, p: Any) -> float:
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"{op}: p must be a float in [0, 1), got {p!r}")
    q = float(p)
    if not 0.0 <= q < 1.0:
        raise ValueError(f"{op}: dropout probability p must be in [0, 1), got {p}")
    return q


def dropout(x: Tensor, p: float = 0.5, training: bool = True, generator: np.random.Generator | None = None) -> Tensor:
    """Inverted dropout: y = x ⊙ m / (1 - p), with mᵢ ~ Bernoulli(1 - p) independent.

    Identity when ``training`` is False or p = 0 (no random numbers are drawn then). The mask is
    a constant, so the derivative is x̄ = ȳ ⊙ m / (1 - p). Randomness comes from chainrule's
    global generator unless ``generator`` is given.

    Deviation from PyTorch: p = 1 (which PyTorch allows, returning zeros) is rejected, as the
    scale 1/(1 - p) is undefined there; the ``inplace`` flag is not offered.
    """
    q = _check_p("dropout", p)
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if not backend.is_floating(x.dtype):
        raise TypeError(f"dropout: expected a floating-point tensor, got dtype {x.dtype} (shape {x.shape})")
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError(f"dropout: generator must be a numpy.random.Generator, got {type(generator).__name__}")
    if not training or q == 0.0:
        return x
    gen = backend.generator() if generator is None else generator
    # float32 uniforms: half the memory of float64 on large activations; P(u >= p) is exact to 2⁻²⁴.
    keep = gen.random(x.shape, dtype=np.float32) >= q
    mask = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - q))
    return x * as_tensor(mask)
