"""Running metrics for a training loop: mean loss and classification accuracy."""

from __future__ import annotations

import numpy as np

from chainrule.tensor import Tensor


class Mean:
    """A running mean, weighted by batch size."""

    def __init__(self) -> None:
        self.total = 0.0
        self.count = 0

    def update(self, value: float, n: int = 1) -> None:
        self.total += float(value) * n
        self.count += n

    @property
    def value(self) -> float:
        return self.total / self.count if self.count else float("nan")


def correct(logits: Tensor, targets: Tensor) -> int:
    """Number of rows whose argmax equals the integer target."""
    pred = np.argmax(logits.data, axis=-1)
    return int((pred == np.asarray(targets.data)).sum())
