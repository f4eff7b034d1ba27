"""Embedding: a lookup table of learnable vectors, indexed by integer ids."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.autograd.state import no_grad
from chainrule.creation import empty
from chainrule.nn import init
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.ops import getitem, where
from chainrule.tensor import Tensor

__all__ = ["Embedding", "embedding"]


def _check_indices(op: str, indices: Any, num_embeddings: int) -> np.ndarray:
    """The ids as an int64 array, every one in [0, num_embeddings)."""
    arr = indices.data if isinstance(indices, Tensor) else np.asarray(indices)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be an integer tensor (int32/int64), got dtype {arr.dtype}")
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi >= num_embeddings:
            bad = lo if lo < 0 else hi
            raise IndexError(
                f"{op}: index {bad} is out of range for {num_embeddings} embeddings "
                f"(valid ids are 0..{num_embeddings - 1}; indices of shape {arr.shape})"
            )
    return arr.astype(np.int64, copy=False)


def embedding(indices: Any, weight: Tensor, padding_idx: int | None = None, *, op: str = "embedding") -> Tensor:
    """Rows of ``weight`` picked by integer ``indices`` of any shape: out[..., :] = weight[indices[...], :].

    The output has shape ``indices.shape + (embedding_dim,)``. The derivative scatters and adds:
    dL/dW[k] = Σ over positions p with indices[p] = k of dL/dout[p]. Positions whose id is
    ``padding_idx`` contribute no gradient (their rows are still returned as they are).
    Out-of-range ids raise IndexError; non-integer ids TypeError.
    """
    if not isinstance(weight, Tensor) or weight.ndim != 2:
        shape = weight.shape if isinstance(weight, Tensor) else type(weight).__name__
        raise ValueError(f"{op}: weight must be a 2-d Tensor (num_embeddings, embedding_dim), got {shape}")
    idx = _check_indices(op, indices, weight.shape[0])
    if padding_idx is not None:
        n = weight.shape[0]
        if isinstance(padding_idx, bool) or not isinstance(padding_idx, numbers.Integral) or not -n <= padding_idx < n:
            raise ValueError(f"{op}: padding_idx must be an int in [-{n}, {n}), got {padding_idx!r}")
        padding_idx = int(padding_idx) % n
    out = getitem(weight, idx)
    if padding_idx is not None:
        # Same values, but the padding positions read a detached copy of the table, so no
        # gradient reaches weight[padding_idx] through this lookup (other uses of W are untouched).
        keep = (idx != padding_idx)[..., None]
        out = where(keep, out, getitem(weight.detach(), idx))
    return out


class Embedding(Module):
    """A table W of shape (num_embeddings, embedding_dim); ``emb(ids)`` returns W[ids].

    Default init (PyTorch's): W ~ N(0, 1), with row ``padding_idx`` (if given) set to zero. That
    row gets no gradient from lookups, so it stays zero under training unless set otherwise.
    A negative ``padding_idx`` counts from the end, as in PyTorch. Deviation: PyTorch's
    ``max_norm``, ``scale_grad_by_freq`` and ``sparse`` options are not offered.
    """

    def __init__(
        self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None, dtype: Any = None
    ) -> None:
        super().__init__()
        for name, v in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise TypeError(f"Embedding: {name} must be an int, got {v!r}")
            if v <= 0:
                raise ValueError(f"Embedding: {name} must be positive, got {v}")
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        if padding_idx is not None:
            if isinstance(padding_idx, bool) or not isinstance(padding_idx, numbers.Integral):
                raise TypeError(f"Embedding: padding_idx must be an int or None, got {padding_idx!r}")
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError(
                    f"Embedding: padding_idx must be within [-{self.num_embeddings}, {self.num_embeddings}), "
                    f"got {padding_idx}"
                )
            padding_idx = int(padding_idx) % self.num_embeddings
        self.padding_idx = padding_idx
        d = backend.get_default_dtype() if dtype is None else backend.as_dtype(dtype)
        if not backend.is_floating(d):
            raise TypeError(f"Embedding: dtype must be a floating dtype, got {d}")
        self.weight = Parameter(empty(self.num_embeddings, self.embedding_dim, dtype=d))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Redraw W ~ N(0, 1) and zero the padding row."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight.data[self.padding_idx] = 0
                self.weight._version[0] += 1

    def forward(self, indices: Any) -> Tensor:
        return embedding(indices, self.weight, self.padding_idx, op=self._label())

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s
