"""Affine layers and shape helpers: Linear, Identity, Flatten."""

from __future__ import annotations

import math
import numbers
from typing import Any

from chainrule import backend
from chainrule.creation import empty
from chainrule.nn import init
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.ops import flatten, matmul
from chainrule.tensor import Tensor

__all__ = ["Linear", "Identity", "Flatten", "Unflatten"]


def _check_size(layer: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{layer}: {name} must be an int, got {value!r}")
    if value < 0:
        raise ValueError(f"{layer}: {name} must be >= 0, got {value}")
    return int(value)


def _float_dtype(layer: str, dtype: Any) -> Any:
    d = backend.get_default_dtype() if dtype is None else backend.as_dtype(dtype)
    if not backend.is_floating(d):
        raise TypeError(f"{layer}: dtype must be a floating dtype, got {d}")
    return d


def _check_input(module: Module, x: Any, weight: Tensor) -> Tensor:
    """The input as a Tensor of the weight's dtype (a mismatch is an error, as in PyTorch)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{module._label()}: expected a Tensor input, got {type(x).__name__}")
    if x.dtype != weight.dtype:
        raise TypeError(
            f"{module._label()}: input dtype {x.dtype} does not match weight dtype {weight.dtype} "
            "(cast the input, or the module with .to(dtype))"
        )
    return x


class Linear(Module):
    """Affine map y = x Wᵀ + b applied to the last axis of an input of shape (*, in_features).

    ``weight`` W has shape (out_features, in_features) and ``bias`` b shape (out_features,),
    as in PyTorch. The derivative: for Y = X Wᵀ + b with X the input flattened to
    (n, in_features) and G = dL/dY, dL/dX = G W, dL/dW = Gᵀ X, dL/db = Σₙ G.

    Default init (PyTorch's): W ~ kaiming_uniform_(a=√5), which is U(-1/√in_features, 1/√in_features)
    (gain √(2/(1+5)) = √(1/3), bound √3·gain/√fan_in), and b ~ U(-1/√in_features, 1/√in_features).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        self.in_features = _check_size("Linear", "in_features", in_features)
        self.out_features = _check_size("Linear", "out_features", out_features)
        d = _float_dtype("Linear", dtype)
        self.weight = Parameter(empty(self.out_features, self.in_features, dtype=d))
        if bias:
            self.bias = Parameter(empty(self.out_features, dtype=d))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Redraw the weight and bias from the default init (see the class docstring)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        x = _check_input(self, x, self.weight)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            got = "a 0-d input" if x.ndim == 0 else f"input has {x.shape[-1]} features"
            raise ValueError(
                f"{self._label()}: {got}, weight expects {self.in_features} "
                f"(input shape {x.shape}, weight shape {self.weight.shape})"
            )
        y = matmul(x, self.weight.mT)
        if self.bias is not None:
            y = y + self.bias
        return y

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """y = x. Takes (and ignores) any constructor arguments, as PyTorch's; no parameters."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        return x


class Flatten(Module):
    """Merge axes ``start_dim``..``end_dim`` into one: (N, C, H, W) → (N, C·H·W) by default.

    A reshape, so its derivative reshapes the gradient back. No parameters.
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        for name, v in (("start_dim", start_dim), ("end_dim", end_dim)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise TypeError(f"Flatten: {name} must be an int, got {v!r}")
        self.start_dim = int(start_dim)
        self.end_dim = int(end_dim)

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"{self._label()}: expected a Tensor input, got {type(x).__name__}")
        nd = max(x.ndim, 1)
        for name, v in (("start_dim", self.start_dim), ("end_dim", self.end_dim)):
            if not -nd <= v < nd:
                raise ValueError(f"{self._label()}: {name}={v} is out of range for an input of shape {x.shape}")
        try:
            return flatten(x, self.start_dim, self.end_dim)
        except ValueError as e:
            raise ValueError(f"{self._label()}: {e}") from None

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split axis ``dim`` into ``sizes``: (N, 784) → (N, 1, 28, 28) with dim=1, sizes=(1, 28, 28).

    The inverse of ``Flatten``; a reshape, so its derivative flattens the gradient back.
    """

    def __init__(self, dim: int, sizes: Any) -> None:
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
            raise TypeError(f"Unflatten: dim must be an int, got {dim!r}")
        try:
            sizes = tuple(int(s) for s in sizes)
        except (TypeError, ValueError):
            raise TypeError(f"Unflatten: sizes must be a sequence of ints, got {sizes!r}") from None
        if not sizes or any(s < 1 for s in sizes):
            raise ValueError(f"Unflatten: sizes must be positive ints, got {sizes}")
        self.dim = int(dim)
        self.sizes = sizes

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"{self._label()}: expected a Tensor input, got {type(x).__name__}")
        if not -x.ndim <= self.dim < x.ndim:
            raise ValueError(f"{self._label()}: dim={self.dim} is out of range for an input of shape {x.shape}")
        d = self.dim % x.ndim
        if x.shape[d] != math.prod(self.sizes):
            raise ValueError(
                f"{self._label()}: axis {d} of the input {x.shape} has {x.shape[d]} elements, "
                f"sizes {self.sizes} need {math.prod(self.sizes)}"
            )
        return x.reshape(*x.shape[:d], *self.sizes, *x.shape[d + 1 :])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, sizes={self.sizes}"
