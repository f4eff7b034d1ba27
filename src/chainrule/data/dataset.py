"""Datasets: anything with ``__getitem__(i)`` and ``__len__``, as in ``torch.utils.data``.

``TensorDataset`` wraps tensors that share their first dimension (sample i is
``(t₁[i], t₂[i], …)``); ``Subset`` views a dataset through a list of indices; ``ConcatDataset``
chains datasets; ``random_split`` partitions a dataset into random, non-overlapping subsets drawn
from an explicit generator, so a split is reproducible from a seed.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.creation import as_tensor
from chainrule.tensor import Tensor

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split"]


class Dataset:
    """A map-style dataset: ``dataset[i]`` is sample i for 0 ≤ i < ``len(dataset)``.

    Subclasses implement ``__getitem__`` and ``__len__``. ``a + b`` concatenates two datasets.
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


def _check_index(owner: str, index: Any, n: int) -> int:
    if isinstance(index, Tensor):
        index = index.item() if index.ndim == 0 and index.dtype.kind in "iu" else index
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise TypeError(f"{owner}: index must be an int, got {type(index).__name__}")
    i = int(index)
    if not -n <= i < n:
        raise IndexError(f"{owner}: index {i} is out of range for a dataset of {n} samples")
    return i + n if i < 0 else i


class TensorDataset(Dataset):
    """Samples are slices of tensors along their first dimension: sample i = (t₁[i], …, t_k[i]).

    Accepts Tensors or NumPy arrays (arrays are wrapped without a copy). All must have the same
    size along dimension 0. The ``DataLoader`` recognises this class and builds each batch by
    indexing the underlying arrays once, instead of collating sample by sample.
    """

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        ts = []
        for k, t in enumerate(tensors):
            if not isinstance(t, (Tensor, np.ndarray)):
                raise TypeError(f"TensorDataset: argument {k} must be a Tensor or numpy array, got {type(t).__name__}")
            t = as_tensor(t)
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: argument {k} is 0-d; every tensor needs a first (sample) dimension")
            ts.append(t)
        sizes = [t.shape[0] for t in ts]
        if len(set(sizes)) != 1:
            shapes = ", ".join(str(t.shape) for t in ts)
            raise ValueError(
                f"TensorDataset: size mismatch between tensors: first dimensions {sizes} (shapes {shapes}) must all be equal"
            )
        self.tensors: tuple[Tensor, ...] = tuple(ts)

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        i = _check_index("TensorDataset", index, len(self))
        return tuple(t[i] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def __repr__(self) -> str:
        return f"TensorDataset({', '.join(f'{t.dtype}{list(t.shape)}' for t in self.tensors)})"


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order: ``subset[j] = dataset[indices[j]]``.

    ``indices`` is kept as an int64 NumPy array (PyTorch keeps the sequence it was given).
    """

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        n = len(dataset)
        idx = np.asarray(indices)
        if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
            raise TypeError(
                f"Subset: indices must be a 1-d sequence of ints, got {idx.dtype} array of shape {idx.shape}"
            )
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(
                f"Subset: indices range {int(idx.min())}..{int(idx.max())} is out of range for {n} samples"
            )
        self.dataset = dataset
        # An int64 array (negative indices resolved) so the DataLoader can compose index maps.
        self.indices: np.ndarray = np.where(idx < 0, idx + n, idx).astype(np.int64)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[_check_index("Subset", index, len(self.indices))])]

    def __len__(self) -> int:
        return len(self.indices)

    def __repr__(self) -> str:
        return f"Subset({len(self.indices)} of {type(self.dataset).__name__})"


class ConcatDataset(Dataset):
    """The datasets one after another: sample i comes from the first dataset whose cumulative size exceeds i."""

    def __init__(self, datasets: Sequence[Any]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: needs at least one dataset")
        self.cumulative_sizes: list[int] = []
        total = 0
        for d in self.datasets:
            total += len(d)
            self.cumulative_sizes.append(total)

    def __getitem__(self, index: int) -> Any:
        i = _check_index("ConcatDataset", index, len(self))
        k = bisect.bisect_right(self.cumulative_sizes, i)
        start = self.cumulative_sizes[k - 1] if k else 0
        return self.datasets[k][i - start]

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]


def _split_lengths(n: int, lengths: Sequence[int | float]) -> list[int]:
    if len(lengths) == 0:
        raise ValueError("random_split: lengths must not be empty")
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in lengths):
        ints = [int(v) for v in lengths]
        if any(v < 0 for v in ints):
            raise ValueError(f"random_split: lengths must be non-negative, got {ints}")
        if sum(ints) != n:
            raise ValueError(f"random_split: lengths {ints} sum to {sum(ints)}, but the dataset has {n} samples")
        return ints
    if not all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in lengths):
        raise TypeError(f"random_split: lengths must be ints or fractions, got {list(lengths)}")
    fracs = [float(v) for v in lengths]
    if any(not 0.0 <= f <= 1.0 for f in fracs) or not math.isclose(sum(fracs), 1.0) or sum(fracs) > 1.0 + 1e-12:
        raise ValueError(
            f"random_split: fractions {fracs} must each lie in [0, 1] and sum to 1 (they sum to {sum(fracs)})"
        )
    # floor(n·fᵢ) each, then the remainder one by one to the first splits (PyTorch's rule).
    sizes = [math.floor(n * f) for f in fracs]
    for k in range(n - sum(sizes)):
        sizes[k % len(sizes)] += 1
    return sizes


def random_split(
    dataset: Any, lengths: Sequence[int | float], generator: np.random.Generator | None = None
) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random ``Subset``s of the given lengths.

    ``lengths`` are sample counts summing to ``len(dataset)``, or fractions summing to 1, in which
    case split k gets ⌊n·fₖ⌋ samples and the n − Σ⌊n·fₖ⌋ left over go one each to the first
    splits. The permutation is drawn from ``generator`` (a NumPy Generator; chainrule's global
    generator when None), so the same seed gives the same split.
    """
    n = len(dataset)
    sizes = _split_lengths(n, lengths)
    gen = _generator("random_split", generator)
    perm = gen.permutation(n)
    out, start = [], 0
    for size in sizes:
        out.append(Subset(dataset, perm[start : start + size]))
        start += size
    return out


def _generator(owner: str, generator: Any) -> np.random.Generator:
    if generator is None:
        return backend.generator()
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"{owner}: generator must be a numpy.random.Generator or None, got {type(generator).__name__}")
    return generator
