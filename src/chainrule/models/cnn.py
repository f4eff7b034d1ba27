"""A small image CNN: two convolution + pooling stages and a classifier (the Fashion-MNIST baseline).

For x of shape (N, C, H, W):
    h₁ = maxpool₂(relu(BN?(conv3×3(C → c₁)(x))))          (H, W) → (H/2, W/2)
    h₂ = maxpool₂(relu(BN?(conv3×3(c₁ → c₂)(h₁))))         → (H/4, W/4)
    logits = W₂ · dropout(relu(W₁ · dropout(flatten(h₂)) + b₁)) + b₂
This is the "2 conv + pooling" family of Fashion-MNIST's benchmark table (91.6% without batch
normalization, 93.4% with it); ``batch_norm`` switches between the two.
"""

from __future__ import annotations

import numbers

from chainrule import functional as F
from chainrule.nn import init
from chainrule.nn.conv import Conv2d
from chainrule.nn.dropout import Dropout
from chainrule.nn.linear import Identity, Linear
from chainrule.nn.module import Module
from chainrule.nn.normalization import BatchNorm2d
from chainrule.tensor import Tensor

__all__ = ["ConvNet"]


class ConvNet(Module):
    """Two 3×3 convolution + 2×2 max-pooling stages, then a one-hidden-layer classifier (see module doc).

    ``input_size`` (H, W) fixes the classifier's width c₂·⌊H/4⌋·⌊W/4⌋; inputs of another size
    raise a ``ValueError`` naming both shapes. Convolutions use He init (fan_out, ReLU).
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        input_size: tuple[int, int] = (28, 28),
        channels: tuple[int, int] = (32, 64),
        hidden: int = 256,
        batch_norm: bool = False,
        dropout: float = 0.25,
    ) -> None:
        super().__init__()
        for name, v in (("in_channels", in_channels), ("num_classes", num_classes), ("hidden", hidden)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
                raise ValueError(f"ConvNet: {name} must be a positive int, got {v!r}")
        c1, c2 = (int(c) for c in channels)
        h, w = (int(s) for s in input_size)
        if h < 4 or w < 4:
            raise ValueError(f"ConvNet: input_size must be at least (4, 4) for two 2×2 poolings, got {input_size}")
        self.in_channels = int(in_channels)
        self.input_size = (h, w)
        self.conv1 = Conv2d(self.in_channels, c1, 3, padding=1, bias=not batch_norm)
        self.bn1 = BatchNorm2d(c1) if batch_norm else Identity()
        self.conv2 = Conv2d(c1, c2, 3, padding=1, bias=not batch_norm)
        self.bn2 = BatchNorm2d(c2) if batch_norm else Identity()
        for conv in (self.conv1, self.conv2):
            init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
        self.drop1 = Dropout(dropout)
        self.fc1 = Linear(c2 * (h // 4) * (w // 4), int(hidden))
        self.drop2 = Dropout(dropout)
        self.fc2 = Linear(int(hidden), int(num_classes))

    def forward(self, x: Tensor) -> Tensor:
        want = (self.in_channels, *self.input_size)
        if not isinstance(x, Tensor) or x.ndim != 4 or tuple(x.shape[1:]) != want:
            shape = x.shape if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"{self._label()}: expected input of shape (N, {', '.join(map(str, want))}), got {shape}")
        h = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        h = F.max_pool2d(F.relu(self.bn2(self.conv2(h))), 2)
        h = self.drop1(h.reshape(h.shape[0], -1))
        return self.fc2(self.drop2(F.relu(self.fc1(h))))

    def extra_repr(self) -> str:
        return f"input=({self.in_channels}, {self.input_size[0]}, {self.input_size[1]})"
