"""Data parallelism over threads: W replicas of one model, each running a shard of every batch.

A step with ``DataParallel(model, W)``: the batch (N rows) is cut into W shards of n_i rows
(``np.array_split``); thread i runs replica i (the model itself for i = 0, ``copy.deepcopy`` for
the others) forward and backward on its shard, giving the shard's mean loss L_i and gradient
g_i = ∂L_i/∂θ. The main thread then writes the batch gradient into the model's ``.grad``:

    g = Σ_i (n_i / N) g_i,        L = Σ_i (n_i / N) L_i,

which, for a loss that is a mean over rows, is exactly the gradient of the whole batch (up to
float rounding in the sum). The caller steps the optimizer on the model once and calls ``sync``,
which copies the new parameters into the replicas.

Buffers (BatchNorm's running statistics) are updated by each replica on its own shard; ``sync``
sets every float buffer to the n_i-weighted mean over replicas, so the running mean is exactly
the one the full batch would give, and the running variance is the mean of the shard variances
(not the variance of the whole batch; shards of equal size make the two differ by the spread of
the shard means). BatchNorm in training mode normalizes each shard by that shard's statistics:
the step is then the one W separate devices would take without synchronized BatchNorm, not the
one-worker step. Integer buffers (``num_batches_tracked``) advance identically in every replica.

Why threads pay on a multi-core CPU: NumPy releases the GIL inside its array loops and matrix
products, while one chainrule op's elementwise work runs on one core. With W workers each using
one BLAS thread, the cores stay busy on the elementwise work too (measured in examples/README.md:
1.8x tokens/s for the GPT on 2 cores, and the Fashion-MNIST ResNet figure there). Random draws
inside the replicas (dropout) come from the shared generator in an order that depends on thread
timing, so a model with dropout is not bit-reproducible under W > 1.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from chainrule.autograd.engine import _new_tensor
from chainrule.nn import Module
from chainrule.tensor import Tensor

__all__ = ["DataParallel", "ShardStep"]

# A shard step maps (replica, *shard arrays) to (mean loss over the shard's rows, extra result).
ShardStep = Callable[..., tuple[Tensor, Any]]


class DataParallel:
    """``workers`` replicas of ``model`` that split each batch over as many threads (module doc)."""

    def __init__(self, model: Module, workers: int) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"DataParallel: workers must be a positive int, got {workers!r}")
        self.model = model
        self.replicas = [model] + [copy.deepcopy(model) for _ in range(workers - 1)]
        self._params = [list(r.parameters()) for r in self.replicas]
        self._buffers = [list(r.buffers()) for r in self.replicas]
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="chainrule-dp")

    @property
    def workers(self) -> int:
        return len(self.replicas)

    def step(self, fn: ShardStep, *batch: Any) -> tuple[float, list[Any]]:
        """Run ``fn(replica, *shard)`` and its backward on every shard of ``batch``, set the
        model's ``.grad`` to the n_i/N-weighted gradient (replacing, not adding to, what was
        there), and return the weighted loss and the per-shard extra results (in shard order;
        shards with no rows are skipped)."""
        if not batch:
            raise ValueError("DataParallel.step: give at least one batch array")
        arrays = [b.data if isinstance(b, Tensor) else np.asarray(b) for b in batch]
        n = len(arrays[0])
        if n == 0 or any(len(a) != n for a in arrays):
            raise ValueError(
                f"DataParallel.step: the batch arrays must share a non-zero first dimension, "
                f"got shapes {[a.shape for a in arrays]}"
            )
        cuts = [np.array_split(a, self.workers) for a in arrays]
        live = [i for i in range(self.workers) if len(cuts[0][i])]
        futures = []
        for i in live:
            shard = tuple(_new_tensor(c[i]) if isinstance(b, Tensor) else c[i] for b, c in zip(batch, cuts))
            futures.append(self._pool.submit(_run_shard, fn, self.replicas[i], self._params[i], shard))
        results = [f.result() for f in futures]  # re-raises a worker's exception here
        weights = [len(cuts[0][i]) / n for i in live]
        for j, p in enumerate(self._params[0]):
            grads = [(self._params[i][j].grad, w) for i, w in zip(live, weights)]
            grads = [(g.data, w) for g, w in grads if g is not None]
            if not grads:
                p.grad = None
                continue
            total = grads[0][0] * grads[0][1]
            for g, w in grads[1:]:
                total += w * g
            p.grad = _new_tensor(total)  # a fresh array: no copy needed
        self._mix_buffers(live, weights)
        loss = sum(w * value for (value, _), w in zip(results, weights))
        return float(loss), [extra for _, extra in results]

    def _mix_buffers(self, live: Sequence[int], weights: Sequence[float]) -> None:
        for j, b in enumerate(self._buffers[0]):
            if not np.issubdtype(b.data.dtype, np.floating) or len(live) < 2:
                continue
            mixed = sum(w * self._buffers[i][j].data for i, w in zip(live, weights))
            np.copyto(b.data, mixed)

    def sync(self) -> None:
        """Copy the model's parameters and buffers into every other replica."""
        for ps, bs in zip(self._params[1:], self._buffers[1:]):
            for master, replica in zip(self._params[0], ps, strict=True):
                np.copyto(replica.data, master.data)
            for master, replica in zip(self._buffers[0], bs, strict=True):
                np.copyto(replica.data, master.data)

    def close(self) -> None:
        self._pool.shutdown()

    def __enter__(self) -> DataParallel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _run_shard(fn: ShardStep, replica: Module, params: list[Tensor], shard: tuple[Any, ...]) -> tuple[float, Any]:
    for p in params:
        p.grad = None
    loss, extra = fn(replica, *shard)
    loss.backward()
    return float(loss.item()), extra
