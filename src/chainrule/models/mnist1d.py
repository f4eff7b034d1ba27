"""The MNIST-1D paper's small CNN and GRU (Greydanus, 2020; its ``models.py``: ConvBase, GRUBase)."""

from __future__ import annotations

import numbers

from chainrule import functional as F
from chainrule.nn import Module
from chainrule.nn.conv import Conv1d
from chainrule.nn.linear import Linear
from chainrule.nn.rnn import GRU
from chainrule.tensor import Tensor

__all__ = ["MNIST1DCNN", "MNIST1DGRU"]


def _check_int(owner: str, arg: str, v: object, low: int) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{owner}: {arg} must be an int, got {v!r}")
    if v < low:
        raise ValueError(f"{owner}: {arg} must be >= {low}, got {v}")
    return int(v)


def _check_signals(owner: str, x: object, length: int) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{owner}: expected a Tensor input, got {type(x).__name__}")
    if x.ndim != 2 or x.shape[1] != length:
        raise ValueError(f"{owner}: expected input of shape (N, {length}), got {x.shape}")
    return x


def _conv_out(length: int, kernel: int, stride: int, padding: int) -> int:
    return (length + 2 * padding - kernel) // stride + 1


class MNIST1DCNN(Module):
    """The paper's 1-d CNN: three strided convolutions with ReLU, then one linear layer.

    For x of shape (N, L) (L = 40), viewed as (N, 1, L):
    h₁ = ReLU(Conv1d(1, C, 5, stride 2, padding 1)(x)), h₂ = ReLU(Conv1d(C, C, 3, 2, 1)(h₁)),
    h₃ = ReLU(Conv1d(C, C, 3, 2, 1)(h₂)), logits = W·flatten(h₃) + b. The lengths follow
    L_out = ⌊(L + 2p - K)/s⌋ + 1: 40 → 19 → 10 → 5, so the linear layer reads C·5 = 125 features
    for C = 25, and the model has 150 + 1900 + 1900 + 1260 = 5,210 parameters.
    """

    def __init__(self, channels: int = 25, num_classes: int = 10, length: int = 40) -> None:
        super().__init__()
        name = type(self).__name__
        self.channels = _check_int(name, "channels", channels, 1)
        self.num_classes = _check_int(name, "num_classes", num_classes, 1)
        self.length = _check_int(name, "length", length, 4)
        self.conv1 = Conv1d(1, self.channels, 5, stride=2, padding=1)
        self.conv2 = Conv1d(self.channels, self.channels, 3, stride=2, padding=1)
        self.conv3 = Conv1d(self.channels, self.channels, 3, stride=2, padding=1)
        out_len = self.length
        for k in (5, 3, 3):
            out_len = _conv_out(out_len, k, 2, 1)
        if out_len < 1:
            raise ValueError(f"{name}: length {length} is too short for three stride-2 convolutions")
        self.out_length = out_len
        self.linear = Linear(self.channels * out_len, self.num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = _check_signals(self._label(), x, self.length)
        h = x.reshape(x.shape[0], 1, self.length)
        h = F.relu(self.conv1(h))
        h = F.relu(self.conv2(h))
        h = F.relu(self.conv3(h))
        return self.linear(h.reshape(h.shape[0], -1))

    def extra_repr(self) -> str:
        return f"channels={self.channels}, num_classes={self.num_classes}, length={self.length}"


class MNIST1DGRU(Module):
    """The paper's GRU: the signal read as a sequence of L one-feature steps, all outputs → linear.

    For x of shape (N, L) (L = 40), viewed as (N, L, 1): (o₁ … o_L) = GRU(1, H, bidirectional)(x)
    with o_t = [h_t^fwd; h_t^bwd] ∈ ℝ^{D·H}, logits = W·concat(o₁ … o_L) + b, so the linear layer
    reads L·D·H features (40·2·6 = 480). Parameters at H = 6, bidirectional: the GRU
    2·(3H·1 + 3H·H + 2·3H) = 324, the linear layer 480·10 + 10 = 4,810; 5,134 in all.
    """

    def __init__(self, hidden: int = 6, num_classes: int = 10, bidirectional: bool = True, length: int = 40) -> None:
        super().__init__()
        name = type(self).__name__
        self.hidden = _check_int(name, "hidden", hidden, 1)
        self.num_classes = _check_int(name, "num_classes", num_classes, 1)
        self.length = _check_int(name, "length", length, 1)
        if not isinstance(bidirectional, bool):
            raise TypeError(f"{name}: bidirectional must be a bool, got {bidirectional!r}")
        self.bidirectional = bidirectional
        self.rnn = GRU(1, self.hidden, batch_first=True, bidirectional=bidirectional)
        dirs = 2 if bidirectional else 1
        self.linear = Linear(self.length * dirs * self.hidden, self.num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = _check_signals(self._label(), x, self.length)
        out, _ = self.rnn(x.reshape(x.shape[0], self.length, 1))
        return self.linear(out.reshape(out.shape[0], -1))

    def extra_repr(self) -> str:
        return (
            f"hidden={self.hidden}, num_classes={self.num_classes}, "
            f"bidirectional={self.bidirectional}, length={self.length}"
        )
