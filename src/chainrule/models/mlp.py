"""Multilayer perceptrons, including the residual MLP of the MNIST-1D paper."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from chainrule import functional as F
from chainrule.nn import Module, ModuleList
from chainrule.nn.dropout import Dropout
from chainrule.nn.linear import Linear
from chainrule.tensor import Tensor

_ACTIVATIONS = {"relu": F.relu, "tanh": F.tanh, "gelu": F.gelu, "silu": F.silu, "sigmoid": F.sigmoid}


class MLP(Module):
    """Linear layers with an activation between them: in → hidden… → out.

    With ``residual=True`` every hidden layer whose input and output widths agree adds a skip
    connection, h ← h + act(W h + b), as in the MNIST-1D paper's MLP. Inputs with more than two
    dimensions are flattened after the batch axis.
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int],
        out_features: int,
        activation: str = "relu",
        dropout: float = 0.0,
        residual: bool = False,
    ) -> None:
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"MLP: unknown activation {activation!r}; choose from {sorted(_ACTIVATIONS)}")
        sizes = [int(in_features), *[int(h) for h in hidden]]
        self.layers = ModuleList(Linear(a, b) for a, b in itertools.pairwise(sizes))
        self.head = Linear(sizes[-1], int(out_features))
        self.drop = Dropout(dropout) if dropout > 0 else None
        self.act_name = activation
        self.residual = bool(residual)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim > 2:
            x = x.flatten(1)
        act = _ACTIVATIONS[self.act_name]
        h = x
        for layer in self.layers:
            z = act(layer(h))
            h = h + z if self.residual and z.shape == h.shape else z
            if self.drop is not None:
                h = self.drop(h)
        return self.head(h)

    def extra_repr(self) -> str:
        return f"activation={self.act_name!r}, residual={self.residual}"


def logistic_regression(in_features: int, num_classes: int, **_: Any) -> Module:
    """Multinomial logistic regression: a single Linear layer on flattened inputs."""
    return MLP(in_features, (), num_classes)
