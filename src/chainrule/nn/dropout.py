"""Dropout layers (elementwise and channel-wise): active in training mode, the identity in evaluation mode."""

from __future__ import annotations

from chainrule.functional.conv import dropout2d
from chainrule.functional.dropout import _check_p, dropout
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

__all__ = ["Dropout", "Dropout2d"]


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


class Dropout2d(Module):
    """Channel dropout: in training, each feature map x[n, c] of (N, C, H, W) (or (C, H, W)) is
    zeroed with probability p and the others scaled by 1/(1 - p); in eval, y = x.

    No parameters; masks come from chainrule's global generator. Deviations from PyTorch: see
    ``chainrule.functional.dropout2d`` (a 3-d input is one unbatched image; p < 1; no ``inplace``).
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = _check_p("Dropout2d", p)

    def forward(self, x: Tensor) -> Tensor:
        if isinstance(x, Tensor) and x.ndim not in (3, 4):
            raise ValueError(
                f"{self._label()}: expected a 3-d (C, H, W) or 4-d (N, C, H, W) input, got a {x.ndim}-d input "
                f"of shape {x.shape}"
            )
        return dropout2d(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
