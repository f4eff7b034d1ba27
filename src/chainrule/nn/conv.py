"""Convolution layers: Conv1d and Conv2d (cross-correlation via im2col + one matrix product)."""

from __future__ import annotations

import math
import numbers
from typing import Any

from chainrule import backend
from chainrule.creation import empty
from chainrule.functional.conv import PADDING_MODES, _conv
from chainrule.nn import init
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.ops.convolution import ntuple
from chainrule.tensor import Tensor

__all__ = ["Conv1d", "Conv2d"]


class _ConvNd(Module):
    """Shared construction, init and checks of the N-d convolution layers."""

    _d = 0  # number of spatial axes, set by each subclass

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] = 1,
        padding: int | tuple[int, ...] | str = 0,
        dilation: int | tuple[int, ...] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name, d = type(self).__name__, self._d
        for arg, v, low in (("in_channels", in_channels, 1), ("out_channels", out_channels, 1), ("groups", groups, 1)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise TypeError(f"{name}: {arg} must be an int, got {v!r}")
            if v < low:
                raise ValueError(f"{name}: {arg} must be >= {low}, got {v}")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) must be divisible by groups ({groups})")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels ({out_channels}) must be divisible by groups ({groups})")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = ntuple(name, "kernel_size", kernel_size, d, 1)
        self.stride = ntuple(name, "stride", stride, d, 1)
        self.dilation = ntuple(name, "dilation", dilation, d, 1)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(
                    f"{name}: padding must be 'valid', 'same', an int or a tuple of {d} ints, got {padding!r}"
                )
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(
                    f"{name}: padding='same' is not supported for strided convolutions (stride {self.stride})"
                )
            self.padding: tuple[int, ...] | str = padding
        else:
            self.padding = ntuple(name, "padding", padding, d, 0)
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
        self.padding_mode = padding_mode
        dt = backend.get_default_dtype() if dtype is None else backend.as_dtype(dtype)
        if not backend.is_floating(dt):
            raise TypeError(f"{name}: dtype must be a floating dtype, got {dt}")
        self.weight = Parameter(empty(self.out_channels, self.in_channels // self.groups, *self.kernel_size, dtype=dt))
        if bias:
            self.bias = Parameter(empty(self.out_channels, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: W ~ kaiming_uniform_(a=√5) = U(±1/√fan_in), b ~ U(±1/√fan_in),
        fan_in = (in_channels / groups)·∏kernel_size."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = (self.in_channels // self.groups) * math.prod(self.kernel_size)
            bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        label, d = self._label(), self._d
        if not isinstance(x, Tensor):
            raise TypeError(f"{label}: expected a Tensor input, got {type(x).__name__}")
        if x.ndim not in (d + 1, d + 2):
            sp = "L" if d == 1 else "H, W"
            raise ValueError(
                f"{label}: expected a {d + 1}-d (C, {sp}) or {d + 2}-d (N, C, {sp}) input, "
                f"got a {x.ndim}-d input of shape {x.shape}"
            )
        c = x.shape[-d - 1]
        if c != self.in_channels:
            raise ValueError(
                f"{label}: expected input with {self.in_channels} channels, got {c} (input shape {x.shape})"
            )
        if x.dtype != self.weight.dtype:
            raise TypeError(
                f"{label}: input dtype {x.dtype} does not match weight dtype {self.weight.dtype} "
                "(cast the input, or the module with .to(dtype))"
            )
        return _conv(
            label,
            x,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
            d,
            self.padding_mode,
        )

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._d:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._d:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv1d(_ConvNd):
    """1-d convolution layer: (N, C_in, L) or (C_in, L) → (N, C_out, L_out).

    y[n, o, l] = b[o] + Σ_{c ∈ group(o)} Σ_k W[o, c, k] · x_pad[n, c, l·s + k·d], computed as
    im2col + one matrix product (see ``chainrule.functional.conv1d``), with
    L_out = ⌊(L + 2p - d(K - 1) - 1)/s⌋ + 1. ``weight`` has shape (C_out, C_in/groups, K) and
    ``bias`` (C_out,). ``padding``: int, "valid" or "same"; ``padding_mode``: 'zeros', 'reflect',
    'replicate' or 'circular'. Default init (PyTorch's): W ~ kaiming_uniform_(a=√5), i.e.
    U(±1/√fan_in), and b ~ U(±1/√fan_in) with fan_in = C_in/groups · K.
    """

    _d = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int],
        stride: int | tuple[int] = 1,
        padding: int | tuple[int] | str = 0,
        dilation: int | tuple[int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode, dtype
        )


class Conv2d(_ConvNd):
    """2-d convolution layer: (N, C_in, H, W) or (C_in, H, W) → (N, C_out, H_out, W_out).

    y[n, o, i, j] = b[o] + Σ_{c ∈ group(o)} Σ_{p,q} W[o, c, p, q] · x_pad[n, c, i·s₁ + p·d₁, j·s₂ + q·d₂],
    computed as im2col + one matrix product Y = W · cols (see ``chainrule.functional.conv2d``; the
    gradients are W̄ = Ȳ colsᵀ, x̄ = fold(Wᵀ Ȳ), b̄ = Σ Ȳ), with
    H_out = ⌊(H + 2p - d(k - 1) - 1)/s⌋ + 1 per axis. ``weight`` has shape (C_out, C_in/groups, kH, kW)
    and ``bias`` (C_out,); groups = C_in gives a depthwise convolution. ``padding``: int, tuple,
    "valid" or "same"; ``padding_mode``: 'zeros', 'reflect', 'replicate' or 'circular'.
    Default init (PyTorch's): W ~ kaiming_uniform_(a=√5), i.e. U(±1/√fan_in), and
    b ~ U(±1/√fan_in) with fan_in = C_in/groups · kH · kW.
    """

    _d = 2

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode, dtype
        )
