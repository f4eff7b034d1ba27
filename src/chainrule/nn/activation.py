"""Activation layers: Module wrappers of ``chainrule.functional.activation`` (PyTorch's names).

Each layer's ``forward`` calls the functional form, which states the formula and its derivative.
Only ``PReLU`` and a learnable ``Swish`` own parameters.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend
from chainrule.functional import activation as F
from chainrule.nn import init as nn_init
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor

__all__ = [
    "Sigmoid",
    "Tanh",
    "ReLU",
    "ReLU6",
    "Hardtanh",
    "LeakyReLU",
    "PReLU",
    "ELU",
    "GELU",
    "SiLU",
    "Swish",
    "Mish",
    "Softplus",
    "LogSigmoid",
    "Softmax",
    "LogSoftmax",
]


def _float_dtype(layer: str, dtype: Any) -> Any:
    d = backend.get_default_dtype() if dtype is None else backend.as_dtype(dtype)
    if not backend.is_floating(d):
        raise TypeError(f"{layer}: dtype must be a floating dtype, got {d}")
    return d


class Sigmoid(Module):
    """σ(x) = 1 / (1 + e⁻ˣ), elementwise (see ``functional.sigmoid``)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


class Tanh(Module):
    """tanh(x), elementwise (see ``functional.tanh``)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class ReLU(Module):
    """max(x, 0), elementwise (see ``functional.relu``)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)


class Hardtanh(Module):
    """min(max(x, min_val), max_val), elementwise (see ``functional.hardtanh``)."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0) -> None:
        super().__init__()
        if not min_val < max_val:
            raise ValueError(f"Hardtanh: min_val must be below max_val, got min_val={min_val}, max_val={max_val}")
        self.min_val = float(min_val)
        self.max_val = float(max_val)

    def forward(self, x: Tensor) -> Tensor:
        return F.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"


class ReLU6(Hardtanh):
    """min(max(x, 0), 6), elementwise (see ``functional.relu6``)."""

    def __init__(self) -> None:
        super().__init__(0.0, 6.0)

    def extra_repr(self) -> str:
        return ""


class LeakyReLU(Module):
    """x for x > 0, negative_slope·x otherwise (see ``functional.leaky_relu``)."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class PReLU(Module):
    """Parametric ReLU: x for x > 0, a·x otherwise, with a learnable slope (see ``functional.prelu``).

    ``num_parameters=1`` learns one slope shared by all elements; ``num_parameters=C`` learns
    one per channel (axis 1 of the input). ``weight`` (shape (num_parameters,)) starts at ``init``.
    Its gradient is ∂L/∂a_c = Σ over channel c of ȳ·x·1[x ≤ 0].
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype: Any = None) -> None:
        super().__init__()
        if isinstance(num_parameters, bool) or not isinstance(num_parameters, int) or num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be a positive int, got {num_parameters!r}")
        self.num_parameters = num_parameters
        self.init = float(init)
        d = _float_dtype("PReLU", dtype)
        self.weight = Parameter(Tensor([0.0] * num_parameters, dtype=d))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Set every slope back to ``init``."""
        nn_init.constant_(self.weight, self.init)

    def forward(self, x: Tensor) -> Tensor:
        return F.prelu(x, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class ELU(Module):
    """x for x > 0, α(eˣ - 1) otherwise (see ``functional.elu``)."""

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x: Tensor) -> Tensor:
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class GELU(Module):
    """x·Φ(x), exact (erf) or with the tanh approximation (see ``functional.gelu``)."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """x·σ(x) (see ``functional.silu``)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.silu(x)


class Swish(Module):
    """x·σ(βx) (see ``functional.swish``); with ``learnable=True``, β is a 0-d Parameter.

    A learnable β receives ∂L/∂β = Σ ȳ·x²·σ(βx)(1 - σ(βx)). (Not in PyTorch, whose SiLU is β = 1.)
    """

    def __init__(self, beta: float = 1.0, learnable: bool = False, dtype: Any = None) -> None:
        super().__init__()
        self.learnable = bool(learnable)
        if self.learnable:
            self.beta = Parameter(Tensor(float(beta), dtype=_float_dtype("Swish", dtype)))
        else:
            self.beta = float(beta)

    def forward(self, x: Tensor) -> Tensor:
        return F.swish(x, self.beta)

    def extra_repr(self) -> str:
        beta = self.beta.item() if isinstance(self.beta, Tensor) else self.beta
        return f"beta={beta}, learnable={self.learnable}"


class Mish(Module):
    """x·tanh(softplus(x)) (see ``functional.mish``)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.mish(x)


class Softplus(Module):
    """(1/β)·log(1 + e^{βx}), the identity where βx > threshold (see ``functional.softplus``)."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        if float(beta) == 0.0:
            raise ValueError("Softplus: beta must be non-zero, got 0")
        self.beta = float(beta)
        self.threshold = float(threshold)

    def forward(self, x: Tensor) -> Tensor:
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class LogSigmoid(Module):
    """log σ(x), stable for any |x| (see ``functional.logsigmoid``)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.logsigmoid(x)


class Softmax(Module):
    """Softmax along ``dim`` (default the last axis; see ``functional.softmax``)."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return F.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """Log-softmax along ``dim`` (default the last axis; see ``functional.log_softmax``)."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return F.log_softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
