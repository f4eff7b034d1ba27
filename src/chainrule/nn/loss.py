"""Loss layers: Module wrappers of ``chainrule.functional.loss`` (PyTorch's names and arguments).

Every argument is validated and stored at construction, so a bad ``reduction`` fails where the
loss is made, not at the first batch. Per-class and per-element weights are registered as
buffers (saved in ``state_dict`` and cast by ``to``), as PyTorch's weighted losses do.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend
from chainrule.functional import loss as F
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

__all__ = [
    "MSELoss",
    "L1Loss",
    "HuberLoss",
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "NLLLoss",
    "KLDivLoss",
    "FocalLoss",
]


def _as_buffer(layer: str, name: str, value: Any) -> Tensor | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        value = Tensor(value, dtype=backend.get_default_dtype())  # plain numbers, as [1, 2, 3]
    t = value.detach() if isinstance(value, Tensor) else Tensor(value)
    if t.dtype.kind != "f":
        raise TypeError(f"{layer}: {name} must be a floating-point tensor, got dtype {t.dtype} (shape {t.shape})")
    return t


class _Loss(Module):
    """A loss with a validated ``reduction``."""

    _reductions: tuple[str, ...] = ("none", "mean", "sum")

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        F._check_reduction(type(self).__name__, reduction, self._reductions)
        self.reduction = reduction

    def _set_buffer(self, name: str, value: Any) -> None:
        self.register_buffer(name, _as_buffer(type(self).__name__, name, value))

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Mean squared error, (x - y)² (see ``functional.mse_loss``)."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002  (PyTorch's argument name)
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error, |x - y| (see ``functional.l1_loss``)."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.l1_loss(input, target, reduction=self.reduction)


class HuberLoss(_Loss):
    """½d² for |d| < δ, δ(|d| - ½δ) otherwise (see ``functional.huber_loss``)."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        if not delta > 0:
            raise ValueError(f"HuberLoss: delta must be positive, got {delta}")
        self.delta = float(delta)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, delta={self.delta}"


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities (see ``functional.binary_cross_entropy``).

    ``weight`` rescales each element's loss and must broadcast to the input's shape.
    """

    def __init__(self, weight: Any = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self._set_buffer("weight", weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits, stable for any |x| (see ``functional.binary_cross_entropy_with_logits``).

    ``weight`` rescales each element's loss; ``pos_weight`` (e.g. shape (C,)) weighs positives.
    """

    def __init__(self, weight: Any = None, reduction: str = "mean", pos_weight: Any = None) -> None:
        super().__init__(reduction)
        self._set_buffer("weight", weight)
        self._set_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.binary_cross_entropy_with_logits(
            input, target, weight=self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )


class CrossEntropyLoss(_Loss):
    """Cross-entropy of logits against class indices or class probabilities (see ``functional.cross_entropy``).

    ``weight`` (shape (C,)) weighs classes; ``ignore_index`` marks targets to skip;
    ``label_smoothing`` ε mixes the target with the uniform distribution.
    """

    def __init__(
        self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean", label_smoothing: float = 0.0
    ) -> None:
        super().__init__(reduction)
        if not 0.0 <= float(label_smoothing) <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must lie in [0, 1], got {label_smoothing}")
        self._set_buffer("weight", weight)
        self.ignore_index = int(ignore_index)
        self.label_smoothing = float(label_smoothing)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.cross_entropy(
            input,
            target,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, ignore_index={self.ignore_index}, label_smoothing={self.label_smoothing}"


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities at class indices (see ``functional.nll_loss``)."""

    def __init__(self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self._set_buffer("weight", weight)
        self.ignore_index = int(ignore_index)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, ignore_index={self.ignore_index}"


class KLDivLoss(_Loss):
    """KL(target ‖ model) with the model as log-probabilities (see ``functional.kl_div``).

    ``reduction="batchmean"`` gives the true mean KL per sample; ``"mean"`` (PyTorch's default)
    also divides by the class count.
    """

    _reductions = ("none", "mean", "batchmean", "sum")

    def __init__(self, reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__(reduction)
        self.log_target = bool(log_target)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, log_target={self.log_target}"


class FocalLoss(_Loss):
    """Multi-class focal loss -α(1 - p)^γ log p on logits and class indices (see ``functional.focal_loss``).

    ``alpha`` is None, a float, or a per-class vector (shape (C,), kept as a buffer).
    Not in ``torch.nn`` (torchvision has only the binary, sigmoid form).
    """

    def __init__(
        self, gamma: float = 2.0, alpha: Any = None, reduction: str = "mean", ignore_index: int = -100
    ) -> None:
        super().__init__(reduction)
        if not gamma >= 0:
            raise ValueError(f"FocalLoss: gamma must be non-negative, got {gamma}")
        self.gamma = float(gamma)
        self.ignore_index = int(ignore_index)
        if alpha is None or (isinstance(alpha, (int, float)) and not isinstance(alpha, bool)):
            if alpha is not None and not alpha >= 0:
                raise ValueError(f"FocalLoss: alpha must be non-negative, got {alpha}")
            self.alpha = None if alpha is None else float(alpha)
        else:
            self._set_buffer("alpha", alpha)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.focal_loss(
            input,
            target,
            gamma=self.gamma,
            alpha=self.alpha,
            reduction=self.reduction,
            ignore_index=self.ignore_index,
        )

    def extra_repr(self) -> str:
        alpha = self.alpha if not isinstance(self.alpha, Tensor) else self.alpha.tolist()
        return f"gamma={self.gamma}, alpha={alpha}, reduction={self.reduction!r}"
