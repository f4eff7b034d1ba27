"""Ready architectures, buildable by name (``build_model``) for the CLI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chainrule.models.mlp import MLP, logistic_regression
from chainrule.models.mnist1d import MNIST1DCNN, MNIST1DGRU
from chainrule.models.resnet import BasicBlock, Bottleneck, ResNet, plain20, resnet20, resnet_depths
from chainrule.nn import Module

#: name -> (builder(in_features, num_classes, **options), one-line description)
MODELS: dict[str, tuple[Callable[..., Module], str]] = {
    "mlp": (
        lambda in_features, num_classes, hidden=(256, 128), **kw: MLP(in_features, hidden, num_classes, **kw),
        "multilayer perceptron, ReLU, hidden sizes via --hidden (default 256,128)",
    ),
    "resmlp": (
        lambda in_features, num_classes, hidden=(100, 100), **kw: MLP(
            in_features, hidden, num_classes, residual=True, **kw
        ),
        "MLP with skip connections h + ReLU(Wh + b) (the MNIST-1D paper's MLP at 100,100)",
    ),
    "logistic": (logistic_regression, "multinomial logistic regression (one Linear layer)"),
}


def available_models() -> dict[str, str]:
    return {name: desc for name, (_, desc) in MODELS.items()}


def build_model(name: str, in_features: int, num_classes: int, **options: Any) -> Module:
    """Build a registered model for inputs of ``in_features`` and ``num_classes`` outputs."""
    if name not in MODELS:
        raise ValueError(f"build_model: unknown model {name!r}; available: {', '.join(MODELS)}")
    return MODELS[name][0](in_features, num_classes, **options)


__all__ = [
    "MLP",
    "MODELS",
    "MNIST1DCNN",
    "MNIST1DGRU",
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "available_models",
    "build_model",
    "logistic_regression",
    "plain20",
    "resnet20",
    "resnet_depths",
]
