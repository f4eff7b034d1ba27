"""Drawing the next token from a language model's logits (shared by every model's ``generate``)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.nn.embedding import _check_indices

__all__ = ["check_sampling", "sample_logits"]


def check_sampling(
    label: str, idx: Any, vocab_size: int, max_new_tokens: Any, temperature: Any, top_k: Any, generator: Any
) -> tuple[np.ndarray, np.random.Generator]:
    """Validate ``generate``'s arguments; returns the prompt as an (N, T) id array and the generator."""
    arr = _check_indices(label, idx, vocab_size)
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise ValueError(f"{label}.generate: idx must be a non-empty 2-d (N, T) prompt, got shape {arr.shape}")
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, numbers.Integral) or max_new_tokens < 0:
        raise ValueError(f"{label}.generate: max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or not temperature > 0:
        raise ValueError(f"{label}.generate: temperature must be a positive float, got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, numbers.Integral) or not 1 <= top_k):
        raise ValueError(f"{label}.generate: top_k must be None or an int >= 1, got {top_k!r}")
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError(f"{label}.generate: generator must be a numpy.random.Generator, got {type(generator).__name__}")
    return arr, (backend.generator() if generator is None else generator)


def sample_logits(
    logits: np.ndarray, temperature: float, top_k: int | None, generator: np.random.Generator
) -> np.ndarray:
    """One id per row of ``logits`` (N, V), drawn from softmax(z / temperature) restricted to the
    ``top_k`` largest logits (the others get probability 0). Returns int64 ids (N,)."""
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    if top_k is not None and top_k < z.shape[-1]:
        kth = np.sort(z, axis=-1)[:, -top_k][:, None]
        z = np.where(z < kth, -np.inf, z)
    p = np.exp(z - z.max(axis=-1, keepdims=True))
    cdf = np.cumsum(p, axis=-1)
    u = generator.random((z.shape[0], 1)) * cdf[:, -1:]
    return np.minimum((cdf <= u).sum(axis=-1), z.shape[-1] - 1).astype(np.int64)
