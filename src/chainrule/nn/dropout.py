"""Dropout as a layer: active in training mode, the identity in evaluation mode."""

from __future__ import annotations

from chainrule.functional.dropout import _check_p, dropout
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

__all__ = ["Dropout"]


class Dropout(Module):
    """Inverted dropout: in training, y = x ⊙ m / (1 - p) with mᵢ ~ Bernoulli(1 - p); in eval, y = x.

    No parameters. The mask is drawn fresh on every call from chainrule's global generator, so
    ``chainrule.manual_seed`` makes it reproducible. Deviation from PyTorch: p must be in [0, 1)
    and there is no ``inplace`` flag (see ``chainrule.functional.dropout``).
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = _check_p("Dropout", p)

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
