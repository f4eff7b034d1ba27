"""Pooling layers: MaxPool1d/2d, AvgPool1d/2d and AdaptiveAvgPool2d (no parameters)."""

from __future__ import annotations

import numbers
from typing import Any

from chainrule.functional.conv import _adaptive_avg_pool2d, _adaptive_size, _avg_pool, _max_pool
from chainrule.nn.module import Module
from chainrule.ops.convolution import ntuple
from chainrule.tensor import Tensor

__all__ = ["MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool2d"]


def _geometry(name: str, d: int, kernel_size: Any, stride: Any, padding: Any) -> tuple[Any, Any, Any]:
    """kernel_size, stride (None means kernel_size) and padding, checked at construction and
    kept as given (an int stays an int, as PyTorch's attributes)."""
    k = ntuple(name, "kernel_size", kernel_size, d, 1)
    p = ntuple(name, "padding", padding, d, 0)
    if stride is not None:
        ntuple(name, "stride", stride, d, 1)
    if any(2 * q > kk for q, kk in zip(p, k, strict=True)):
        raise ValueError(f"{name}: padding {p} should be at most half of kernel_size {k}")
    return kernel_size, kernel_size if stride is None else stride, padding


def _check_rank(module: Module, x: Any, d: int) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{module._label()}: expected a Tensor input, got {type(x).__name__}")
    if x.ndim not in (d + 1, d + 2):
        sp = "L" if d == 1 else "H, W"
        raise ValueError(
            f"{module._label()}: expected a {d + 1}-d (C, {sp}) or {d + 2}-d (N, C, {sp}) input, "
            f"got a {x.ndim}-d input of shape {x.shape}"
        )


class _MaxPoolNd(Module):
    _d = 0

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.kernel_size, self.stride, self.padding = _geometry(name, self._d, kernel_size, stride, padding)
        ntuple(name, "dilation", dilation, self._d, 1)
        self.dilation = dilation
        self.return_indices = bool(return_indices)
        self.ceil_mode = bool(ceil_mode)

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        _check_rank(self, x, self._d)
        return _max_pool(
            self._label(),
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            self.return_indices,
            self._d,
        )

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class MaxPool1d(_MaxPoolNd):
    """1-d max pooling: y[n, c, l] = max_k x_pad[n, c, l·s + k·d] over windows of ``kernel_size``.

    ``stride`` defaults to ``kernel_size``; the padding is -inf (at most half the kernel). The
    gradient goes to the window maximum; tied maxima share it equally (PyTorch picks one). See
    ``chainrule.functional.max_pool1d``.
    """

    _d = 1


class MaxPool2d(_MaxPoolNd):
    """2-d max pooling: y[n, c, i, j] = max over the (kH, kW) window at (i·s₁, j·s₂) of x_pad.

    ``stride`` defaults to ``kernel_size``; the padding is -inf (at most half the kernel);
    ``ceil_mode`` keeps a partial last window. The gradient goes to the window maximum; tied
    maxima share it equally (PyTorch picks one). See ``chainrule.functional.max_pool2d``.
    """

    _d = 2


class AvgPool1d(Module):
    """1-d average pooling: y[n, c, l] = (1/m) Σ_k x_pad[n, c, l·s + k].

    m = kernel_size, or with ``count_include_pad=False`` the window positions inside the input.
    See ``chainrule.functional.avg_pool1d``.
    """

    def __init__(
        self,
        kernel_size: int | tuple[int],
        stride: int | tuple[int] | None = None,
        padding: int | tuple[int] = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = _geometry("AvgPool1d", 1, kernel_size, stride, padding)
        self.ceil_mode = bool(ceil_mode)
        self.count_include_pad = bool(count_include_pad)

    def forward(self, x: Tensor) -> Tensor:
        _check_rank(self, x, 1)
        return _avg_pool(
            self._label(),
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            None,
            1,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """2-d average pooling: y[n, c, i, j] = (1/m) Σ over the (kH, kW) window at (i·s₁, j·s₂) of x_pad.

    m = kH·kW, or with ``count_include_pad=False`` the window positions inside the input, or
    ``divisor_override``. See ``chainrule.functional.avg_pool2d``.
    """

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = _geometry("AvgPool2d", 2, kernel_size, stride, padding)
        self.ceil_mode = bool(ceil_mode)
        self.count_include_pad = bool(count_include_pad)
        if divisor_override is not None and (
            isinstance(divisor_override, bool)
            or not isinstance(divisor_override, numbers.Integral)
            or divisor_override == 0
        ):
            raise ValueError(f"AvgPool2d: divisor_override must be a nonzero int or None, got {divisor_override!r}")
        self.divisor_override = divisor_override

    def forward(self, x: Tensor) -> Tensor:
        _check_rank(self, x, 2)
        return _avg_pool(
            self._label(),
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
            2,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size (oH, oW), whatever the input size.

    Cell (i, j) averages rows [⌊i·H/oH⌋, ⌈(i+1)·H/oH⌉) and columns [⌊j·W/oW⌋, ⌈(j+1)·W/oW⌉)
    (PyTorch's windows); ``None`` keeps that input size. ``AdaptiveAvgPool2d(1)`` is global
    average pooling. See ``chainrule.functional.adaptive_avg_pool2d``.
    """

    def __init__(self, output_size: int | tuple[int | None, int | None]) -> None:
        super().__init__()
        _adaptive_size("AdaptiveAvgPool2d", output_size, (1, 1))  # type/value check only
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        _check_rank(self, x, 2)
        return _adaptive_avg_pool2d(self._label(), x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
