"""Residual networks (He et al., 2016) in the CIFAR style, and their "plain" twins without skips.

A residual block computes out = relu(F(x) + S(x)), where F is a small stack of convolutions with
batch normalization and S is the shortcut: the identity when F keeps the shape, else a projection
(1×1 convolution with the block's stride + BatchNorm2d; He et al.'s option B). The same block
built with ``residual=False`` computes out = relu(F(x)) and has no shortcut at all (the "plain"
network of the paper), so a plain and a residual network of equal depth differ only in the skips.

``ResNet(depth, ...)`` follows the paper's CIFAR-10 design (section 4.2): a 3×3 stem convolution
to ``width`` channels, three stages of n blocks with widths w, 2w, 4w and strides 1, 2, 2, global
average pooling and a linear head. With basic blocks (two 3×3 convolutions) depth = 6n + 2; with
bottleneck blocks (1×1, 3×3, 1×1) depth = 9n + 2. Any input size works (28×28 and 32×32 give
feature maps of 28/14/7 and 32/16/8); the stem keeps the resolution, as in the paper.

Initialization (as torchvision's ResNet): every convolution W ~ N(0, 2/fan_out) (He et al., 2015,
``kaiming_normal_(mode="fan_out", nonlinearity="relu")``), BatchNorm γ = 1, β = 0, the linear head
keeps PyTorch's default. ``zero_init_residual=True`` sets γ = 0 in the last BatchNorm of every
residual branch (Goyal et al., 2017), so F(x) = 0 and a new block with an identity shortcut is
relu(x): the identity on the non-negative activations it receives.
"""

from __future__ import annotations

import numbers
from typing import Any

from chainrule import functional as F
from chainrule.nn import init
from chainrule.nn.container import Sequential
from chainrule.nn.conv import Conv2d
from chainrule.nn.linear import Linear
from chainrule.nn.module import Module
from chainrule.nn.normalization import BatchNorm2d
from chainrule.tensor import Tensor

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "resnet20", "plain20", "resnet_depths"]


def _check_int(owner: str, name: str, value: Any, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {name} must be an int, got {value!r} ({type(value).__name__})")
    if value < low:
        raise ValueError(f"{owner}: {name} must be >= {low}, got {value}")
    return int(value)


def _check_bool(owner: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be a bool, got {value!r} ({type(value).__name__})")
    return value


def _conv(in_ch: int, out_ch: int, kernel: int, stride: int = 1) -> Conv2d:
    # No bias: the BatchNorm that follows every convolution subtracts it again (β takes its role).
    conv = Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2, bias=False)
    init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    return conv


class _Block(Module):
    """Shared forward of the residual blocks: out = relu(F(x) + S(x)), or relu(F(x)) when plain."""

    def _make_shortcut(self, in_ch: int, out_ch: int, stride: int) -> None:
        if self.residual and (stride != 1 or in_ch != out_ch):
            # Projection (option B): matches the channels and the stride of the residual branch.
            self.shortcut: Module | None = Sequential(_conv(in_ch, out_ch, 1, stride), BatchNorm2d(out_ch))
        else:
            self.register_module("shortcut", None)

    def residual_branch(self, x: Tensor) -> Tensor:
        """F(x): the block's convolutions up to (and including) its last BatchNorm."""
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"{self._label()}: expected a Tensor input, got {type(x).__name__}")
        out = self.residual_branch(x)
        if self.residual:
            out = out + (x if self.shortcut is None else self.shortcut(x))
        return F.relu(out)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}, residual={self.residual}"


class BasicBlock(_Block):
    """Two 3×3 convolutions with BatchNorm: F(x) = BN₂(conv₂(relu(BN₁(conv₁(x))))).

    out = relu(F(x) + S(x)) with S the identity, or a 1×1 convolution (stride ``stride``) + BN when
    ``stride != 1`` or ``in_ch != out_ch``; ``residual=False`` gives out = relu(F(x)) and no S.
    ``conv1`` carries the stride. ``zero_init_residual`` sets γ of ``bn2`` to 0 (then F ≡ 0 and,
    with an identity shortcut, out = relu(x) in training and evaluation alike). Input
    (N, in_ch, H, W) → (N, out_ch, ⌈H/stride⌉, ⌈W/stride⌉).
    """

    expansion = 1

    def __init__(
        self, in_ch: int, out_ch: int, stride: int = 1, residual: bool = True, zero_init_residual: bool = False
    ) -> None:
        super().__init__()
        name = "BasicBlock"
        self.in_channels = _check_int(name, "in_ch", in_ch)
        self.out_channels = _check_int(name, "out_ch", out_ch)
        self.stride = _check_int(name, "stride", stride)
        self.residual = _check_bool(name, "residual", residual)
        _check_bool(name, "zero_init_residual", zero_init_residual)
        if zero_init_residual and not residual:
            raise ValueError(f"{name}: zero_init_residual=True needs residual=True (a plain block would output 0)")
        self.conv1 = _conv(self.in_channels, self.out_channels, 3, self.stride)
        self.bn1 = BatchNorm2d(self.out_channels)
        self.conv2 = _conv(self.out_channels, self.out_channels, 3)
        self.bn2 = BatchNorm2d(self.out_channels)
        self._make_shortcut(self.in_channels, self.out_channels, self.stride)
        if zero_init_residual:
            init.zeros_(self.bn2.weight)

    def residual_branch(self, x: Tensor) -> Tensor:
        return self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))


class Bottleneck(_Block):
    """1×1 reduce, 3×3, 1×1 expand, each with BatchNorm (He et al., 2016, Fig. 5 right).

    F(x) = BN₃(conv₃(relu(BN₂(conv₂(relu(BN₁(conv₁(x)))))))) with conv₁: in_ch → mid_ch (1×1),
    conv₂: mid_ch → mid_ch (3×3, stride ``stride``, as torchvision's ResNet v1.5), conv₃:
    mid_ch → mid_ch·expansion (1×1). The shortcut, ``residual`` and ``zero_init_residual`` (γ of
    ``bn3``) behave as in ``BasicBlock``. Input (N, in_ch, H, W) → (N, mid_ch·expansion, ⌈H/s⌉, ⌈W/s⌉).
    """

    def __init__(
        self,
        in_ch: int,
        mid_ch: int,
        stride: int = 1,
        expansion: int = 4,
        residual: bool = True,
        zero_init_residual: bool = False,
    ) -> None:
        super().__init__()
        name = "Bottleneck"
        self.in_channels = _check_int(name, "in_ch", in_ch)
        self.mid_channels = _check_int(name, "mid_ch", mid_ch)
        self.stride = _check_int(name, "stride", stride)
        self.expansion = _check_int(name, "expansion", expansion)
        self.residual = _check_bool(name, "residual", residual)
        _check_bool(name, "zero_init_residual", zero_init_residual)
        if zero_init_residual and not residual:
            raise ValueError(f"{name}: zero_init_residual=True needs residual=True (a plain block would output 0)")
        self.out_channels = self.mid_channels * self.expansion
        self.conv1 = _conv(self.in_channels, self.mid_channels, 1)
        self.bn1 = BatchNorm2d(self.mid_channels)
        self.conv2 = _conv(self.mid_channels, self.mid_channels, 3, self.stride)
        self.bn2 = BatchNorm2d(self.mid_channels)
        self.conv3 = _conv(self.mid_channels, self.out_channels, 1)
        self.bn3 = BatchNorm2d(self.out_channels)
        self._make_shortcut(self.in_channels, self.out_channels, self.stride)
        if zero_init_residual:
            init.zeros_(self.bn3.weight)

    def residual_branch(self, x: Tensor) -> Tensor:
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(h)))
        return self.bn3(self.conv3(h))


#: block name -> (layers per block, block class)
_BLOCKS: dict[str, tuple[int, type[_Block]]] = {"basic": (2, BasicBlock), "bottleneck": (3, Bottleneck)}


def resnet_depths(block: str = "basic", up_to: int = 110) -> list[int]:
    """The allowed depths up to ``up_to``: 6n + 2 for basic blocks, 9n + 2 for bottlenecks (n ≥ 1)."""
    if block not in _BLOCKS:
        raise ValueError(f"resnet_depths: block must be one of {sorted(_BLOCKS)}, got {block!r}")
    per = 3 * _BLOCKS[block][0]
    return list(range(per + 2, up_to + 1, per))


class ResNet(Module):
    """CIFAR-style ResNet (He et al., 2016, section 4.2), or its plain twin with ``residual=False``.

    stem: relu(BN(conv3×3(x))) to ``width`` channels; then three stages of n blocks with widths
    w, 2w, 4w (the block outputs; a bottleneck stage has inner width w·2ᵏ and output 4× that) and
    strides 1, 2, 2 (the first block of a stage carries the stride and, if the shape changes, a
    projection shortcut); global average pooling; ``Linear(·, num_classes)``. Depth counts the
    weighted layers on the main path: depth = 6n + 2 (``block="basic"``) or 9n + 2
    (``block="bottleneck"``). Input (N, in_channels, H, W) → logits (N, num_classes).
    ``stem_pool=True`` adds the ImageNet ResNet's 3×3 stride-2 max-pooling after the stem, so
    the stages run at half the resolution (28×28 → 14/7/4) for about a quarter of the work.

    resnet20 (depth 20, width 16, 3 input channels, 10 classes) has 272,474 parameters here:
    He et al.'s 0.27M counts parameter-free (zero-padding) shortcuts, we use projections
    (2,752 more parameters; ``residual=False`` drops them).
    """

    def __init__(
        self,
        depth: int,
        width: int = 16,
        num_classes: int = 10,
        in_channels: int = 1,
        block: str = "basic",
        residual: bool = True,
        zero_init_residual: bool = False,
        stem_pool: bool = False,
    ) -> None:
        super().__init__()
        name = "ResNet"
        if not isinstance(block, str) or block not in _BLOCKS:
            raise ValueError(f"{name}: block must be one of {sorted(_BLOCKS)}, got {block!r}")
        depth = _check_int(name, "depth", depth, low=0)
        per_block, cls = _BLOCKS[block]
        per = 3 * per_block
        if depth < per + 2 or (depth - 2) % per:
            allowed = ", ".join(str(d) for d in resnet_depths(block, 110))
            raise ValueError(
                f"{name}: depth for block={block!r} must be {per}n + 2 with n >= 1 ({allowed}, ...), got {depth}"
            )
        self.depth, self.block = depth, block
        self.width = _check_int(name, "width", width)
        self.num_classes = _check_int(name, "num_classes", num_classes)
        self.in_channels = _check_int(name, "in_channels", in_channels)
        self.residual = _check_bool(name, "residual", residual)
        self.zero_init_residual = _check_bool(name, "zero_init_residual", zero_init_residual)
        self.stem_pool = _check_bool(name, "stem_pool", stem_pool)
        if zero_init_residual and not residual:
            raise ValueError(f"{name}: zero_init_residual=True needs residual=True (a plain network would output 0)")
        n = (depth - 2) // per
        self.conv1 = _conv(self.in_channels, self.width, 3)
        self.bn1 = BatchNorm2d(self.width)
        ch = self.width
        stages = []
        for k, stride in enumerate((1, 2, 2)):
            blocks = []
            w = self.width * 2**k
            for i in range(n):
                s = stride if i == 0 else 1
                # basic: (in, out, stride); bottleneck: (in, mid, stride) with out = 4·mid
                b = cls(ch, w, s, residual=residual, zero_init_residual=zero_init_residual)
                blocks.append(b)
                ch = b.out_channels
            stages.append(Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.fc = Linear(ch, self.num_classes)

    def forward(self, x: Tensor) -> Tensor:
        label = self._label()
        if not isinstance(x, Tensor):
            raise TypeError(f"{label}: expected a Tensor input, got {type(x).__name__}")
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"{label}: expected input of shape (N, {self.in_channels}, H, W), got shape {tuple(x.shape)}"
            )
        h = F.relu(self.bn1(self.conv1(x)))
        if self.stem_pool:
            h = F.max_pool2d(h, 3, stride=2, padding=1)
        h = self.layer3(self.layer2(self.layer1(h)))
        # Global average pooling: the mean over H and W of every channel.
        h = h.mean(axis=(2, 3))
        return self.fc(h)

    def extra_repr(self) -> str:
        return (
            f"depth={self.depth}, width={self.width}, num_classes={self.num_classes}, "
            f"in_channels={self.in_channels}, block={self.block!r}, residual={self.residual}"
            + (", stem_pool=True" if self.stem_pool else "")
        )


def resnet20(num_classes: int = 10, in_channels: int = 1, width: int = 16, **kwargs: Any) -> ResNet:
    """``ResNet(20, width, num_classes, in_channels, block="basic", residual=True, **kwargs)``."""
    return ResNet(20, width=width, num_classes=num_classes, in_channels=in_channels, **kwargs)


def plain20(num_classes: int = 10, in_channels: int = 1, width: int = 16, **kwargs: Any) -> ResNet:
    """The 20-layer plain network: ``ResNet(20, ..., residual=False)`` (no skip connections)."""
    return ResNet(20, width=width, num_classes=num_classes, in_channels=in_channels, residual=False, **kwargs)
