"""``DataLoader``: batches of samples from a dataset, optionally in a reproducibly shuffled order.

With n samples and batch size b there are ⌈n/b⌉ batches, or ⌊n/b⌋ with ``drop_last=True`` (the
short last batch is dropped). Each pass over the loader draws a fresh permutation of 0..n−1 from
the loader's generator when ``shuffle=True``, so two passes differ, and the whole sequence of
passes is fixed by the generator's seed.

Fast path: when the dataset is a ``TensorDataset`` (or a chain of ``Subset``s of one) and the
default collate is in use, a batch is built by indexing each underlying array once with the batch's
indices, which is what ``default_collate`` of the per-sample slices would produce, without a Python
loop over samples.
"""

from __future__ import annotations

import collections.abc
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.creation import as_tensor
from chainrule.data.dataset import Subset, TensorDataset, _generator
from chainrule.tensor import Tensor

__all__ = ["DataLoader", "MappedLoader", "default_collate"]


def _stack_tensors(samples: list[Tensor]) -> Tensor:
    shapes = {s.shape for s in samples}
    if len(shapes) != 1:
        raise ValueError(f"default_collate: cannot stack tensors of different shapes {sorted(shapes)}")
    dtypes = {s.dtype for s in samples}
    if len(dtypes) != 1:
        raise TypeError(f"default_collate: cannot stack tensors of different dtypes {sorted(map(str, dtypes))}")
    if any(s.requires_grad for s in samples):
        from chainrule.ops import stack  # a differentiable stack keeps the samples' graphs

        return stack(samples)
    return as_tensor(np.stack([s.data for s in samples]))


def default_collate(batch: list[Any]) -> Any:
    """Merge a list of samples into one batch, recursively, as PyTorch's ``default_collate``.

    * Tensors / NumPy arrays of one shape → a Tensor with a new leading batch axis (stacked).
    * Python ints → int64 Tensor; Python floats → default-dtype (float32) Tensor; bools → bool
      Tensor; NumPy scalars keep their dtype.
    * tuples / lists / namedtuples / dicts of the above → the same container of collated fields.
    * strings and bytes → the list unchanged.

    Deliberate differences from PyTorch: a tuple sample gives a *tuple* of batched Tensors (PyTorch
    gives a list), and Python floats become float32, the default dtype (PyTorch gives float64).
    """
    if not isinstance(batch, (list, tuple)) or len(batch) == 0:
        raise ValueError(f"default_collate: expected a non-empty list of samples, got {type(batch).__name__}")
    elem = batch[0]
    kinds = {type(s) for s in batch}
    if isinstance(elem, (Tensor, np.ndarray)):
        if not all(isinstance(s, (Tensor, np.ndarray)) for s in batch):
            raise TypeError(f"default_collate: samples mix tensors with {sorted(k.__name__ for k in kinds)}")
        return _stack_tensors([s if isinstance(s, Tensor) else as_tensor(s) for s in batch])
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, (bool, np.bool_)):
        return as_tensor(np.asarray(batch, dtype=np.bool_))
    if isinstance(elem, (int, float, np.number)):
        if not all(isinstance(s, (int, float, np.number)) and not isinstance(s, bool) for s in batch):
            raise TypeError(f"default_collate: samples mix numbers with {sorted(k.__name__ for k in kinds)}")
        if isinstance(elem, np.number):
            return as_tensor(np.asarray(batch, dtype=elem.dtype))
        if all(isinstance(s, int) for s in batch):
            return as_tensor(np.asarray(batch, dtype=np.int64))
        return as_tensor(np.asarray(batch, dtype=backend.get_default_dtype()))
    if isinstance(elem, collections.abc.Mapping):
        keys = list(elem.keys())
        for s in batch:
            if not isinstance(s, collections.abc.Mapping) or list(s.keys()) != keys:
                raise ValueError(f"default_collate: every dict sample must have the keys {keys}")
        collated = {k: default_collate([s[k] for s in batch]) for k in keys}
        try:
            return collated if type(elem) is dict else type(elem)(collated)
        except TypeError:  # a mapping type that cannot be built from a dict
            return collated
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(field)) for field in zip(*batch)))
    if isinstance(elem, (tuple, list)):
        n = len(elem)
        if any(not isinstance(s, (tuple, list)) or len(s) != n for s in batch):
            raise ValueError(f"default_collate: every sample must be a sequence of {n} fields, like the first")
        fields = [default_collate(list(field)) for field in zip(*batch)]
        return tuple(fields) if isinstance(elem, tuple) else fields
    raise TypeError(
        f"default_collate: samples must be Tensors, numpy arrays, numbers, strings, dicts or sequences of "
        f"those; got {type(elem).__name__}"
    )


def _tensor_source(dataset: Any) -> tuple[tuple[Tensor, ...], np.ndarray | None] | None:
    """For a TensorDataset, or Subsets of one, its tensors and the composed index map (None = identity)."""
    index_map: np.ndarray | None = None
    ds = dataset
    while type(ds) is Subset:
        index_map = ds.indices if index_map is None else ds.indices[index_map]
        ds = ds.dataset
    if type(ds) is not TensorDataset:
        return None
    return ds.tensors, index_map


def _take(t: Tensor, rows: np.ndarray | slice) -> Tensor:
    if t.requires_grad:
        return t[rows]  # a graph-recording getitem, so gradients reach the dataset's tensor
    # Copy: a batch must not alias the dataset (an in-place op on it would corrupt the data).
    return as_tensor(t.data[rows].copy() if isinstance(rows, slice) else t.data[rows])


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size`` samples.

    Args:
        dataset: any object with ``__getitem__(int)`` and ``__len__``.
        batch_size: samples per batch (an int ≥ 1).
        shuffle: visit samples in a new random order on every pass.
        drop_last: drop the last batch when it has fewer than ``batch_size`` samples.
        generator: the ``numpy.random.Generator`` the permutations are drawn from; None uses
            chainrule's global generator (``chainrule.manual_seed``), looked up at each pass.
        collate_fn: merges a list of samples into a batch (``default_collate`` when None).

    ``len(loader)`` is ⌈n/b⌉, or ⌊n/b⌋ with ``drop_last``. Unlike PyTorch there are no worker
    processes, samplers or ``batch_size=None``; ``generator`` is a NumPy Generator, not a
    ``torch.Generator``.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        generator: np.random.Generator | None = None,
        collate_fn: Callable[[list[Any]], Any] | None = None,
    ) -> None:
        if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
            raise TypeError(f"DataLoader: dataset must define __getitem__ and __len__, got {type(dataset).__name__}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be an int >= 1, got {batch_size!r}")
        for name, flag in (("shuffle", shuffle), ("drop_last", drop_last)):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"DataLoader: {name} must be a bool, got {type(flag).__name__}")
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError(
                f"DataLoader: generator must be a numpy.random.Generator or None, got {type(generator).__name__}"
            )
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable, got {type(collate_fn).__name__}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.generator = generator
        self.collate_fn = collate_fn if collate_fn is not None else default_collate

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _order(self) -> np.ndarray | None:
        """This pass's sample order (None = 0..n−1 in order)."""
        if not self.shuffle:
            return None
        return _generator("DataLoader", self.generator).permutation(len(self.dataset))

    def __iter__(self) -> Iterator[Any]:
        n = len(self.dataset)
        order = self._order()
        b = self.batch_size
        stop = n - n % b if self.drop_last else n
        source = _tensor_source(self.dataset) if self.collate_fn is default_collate else None
        if source is not None:
            tensors, index_map = source
            for start in range(0, stop, b):
                end = min(start + b, n)
                rows: np.ndarray | slice = slice(start, end) if order is None else order[start:end]
                if index_map is not None:
                    rows = index_map[rows]
                yield tuple(_take(t, rows) for t in tensors)
            return
        for start in range(0, stop, b):
            end = min(start + b, n)
            idx = range(start, end) if order is None else order[start:end].tolist()
            yield self.collate_fn([self.dataset[i] for i in idx])

    def __repr__(self) -> str:
        return (
            f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last})"
        )


class MappedLoader:
    """Apply ``fn(*batch)`` to every batch of ``loader``: on-the-fly augmentation of whole batches.

    ``MappedLoader(loader, lambda x, y: (random_crop(x, 2), y))`` draws a new crop per sample at
    every pass. ``len`` is the loader's, so schedulers and progress bars see the same steps.
    """

    def __init__(self, loader: Any, fn: Callable[..., Any]) -> None:
        if not callable(fn):
            raise TypeError(f"MappedLoader: fn must be callable, got {type(fn).__name__}")
        self.loader = loader
        self.fn = fn

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Any]:
        for batch in self.loader:
            yield self.fn(*batch) if isinstance(batch, tuple) else self.fn(batch)
