"""Ready architectures, buildable by name for the CLI.

Classifiers (``build_model(name, input_shape, num_classes)``) take a dataset's per-sample shape:
``mlp``/``resmlp``/``logistic`` flatten any input; ``cnn`` and ``resnet`` read images
(C, H, W) and also a flat (H·W,) vector of a square one-channel image (scikit-learn's 8×8
digits), which an ``Unflatten`` in front reshapes; on 1-d signals (L,) ``cnn`` is the MNIST-1D
paper's Conv1d network. ``gru`` reads 1-d signals (L,) as L one-feature time steps.

Language models (``build_lm(name, vocab_size, context_length)``): ``gpt`` and ``lstm``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from chainrule.models.charlm import LM_BATCH_SIZES, LM_CONFIGS, CharLSTM, build_lm, lm_optimizer
from chainrule.models.cnn import ConvNet
from chainrule.models.mlp import MLP, logistic_regression
from chainrule.models.mnist1d import MNIST1DCNN, MNIST1DGRU
from chainrule.models.resnet import BasicBlock, Bottleneck, ResNet, plain20, resnet20, resnet_depths
from chainrule.nn import Module, Sequential, Unflatten


def _features(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def _image(name: str, shape: tuple[int, ...]) -> tuple[tuple[int, int, int], bool]:
    """(C, H, W) for an image input, and whether a flat square input must be unflattened first."""
    if len(shape) == 3:
        return (shape[0], shape[1], shape[2]), False
    if len(shape) == 1 and math.isqrt(shape[0]) ** 2 == shape[0]:
        s = math.isqrt(shape[0])
        return (1, s, s), True
    raise ValueError(f"build_model: {name!r} needs images (C, H, W) or a flat square image, got input shape {shape}")


def _on_images(name: str, shape: tuple[int, ...], make: Callable[[tuple[int, int, int]], Module]) -> Module:
    chw, flat = _image(name, shape)
    model = make(chw)
    return Sequential(Unflatten(1, chw), model) if flat else model


def _cnn(shape: tuple[int, ...], num_classes: int, **kw: Any) -> Module:
    if len(shape) == 1 and math.isqrt(shape[0]) ** 2 != shape[0]:
        return MNIST1DCNN(num_classes=num_classes, length=shape[0], **kw)
    return _on_images("cnn", shape, lambda chw: ConvNet(chw[0], num_classes, chw[1:], **kw))


def _resnet(shape: tuple[int, ...], num_classes: int, depth: int = 20, width: int = 16, **kw: Any) -> Module:
    return _on_images(
        "resnet", shape, lambda chw: ResNet(depth, width=width, num_classes=num_classes, in_channels=chw[0], **kw)
    )


def _gru(shape: tuple[int, ...], num_classes: int, **kw: Any) -> Module:
    if len(shape) != 1:
        raise ValueError(f"build_model: 'gru' reads 1-d signals (L,) as L time steps, got input shape {shape}")
    return MNIST1DGRU(num_classes=num_classes, length=shape[0], **kw)


#: name -> (builder(input_shape, num_classes, **options), one-line description)
MODELS: dict[str, tuple[Callable[..., Module], str]] = {
    "mlp": (
        lambda shape, num_classes, hidden=(256, 128), **kw: MLP(_features(shape), hidden, num_classes, **kw),
        "multilayer perceptron, ReLU, hidden sizes via --hidden (default 256,128)",
    ),
    "resmlp": (
        lambda shape, num_classes, hidden=(100, 100), **kw: MLP(
            _features(shape), hidden, num_classes, residual=True, **kw
        ),
        "MLP with skip connections h + ReLU(Wh + b) (the MNIST-1D paper's MLP at 100,100)",
    ),
    "logistic": (
        lambda shape, num_classes: logistic_regression(_features(shape), num_classes),
        "multinomial logistic regression (one Linear layer)",
    ),
    "cnn": (_cnn, "2×(conv3×3 + max-pool) + MLP head on images; the MNIST-1D paper's Conv1d net on 1-d signals"),
    "resnet": (_resnet, "CIFAR-style ResNet (depth 6n+2, default 20, width 16) with BatchNorm, on images"),
    "gru": (_gru, "bidirectional GRU over a 1-d signal, all outputs → linear (the MNIST-1D paper's GRU)"),
}


def available_models() -> dict[str, str]:
    """Every model the CLI can build: classifiers and language models, each with a description."""
    lms = {
        "gpt": "decoder-only Transformer language model (4 layers, d_model 128, 4 heads) on text datasets",
        "lstm": "LSTM language model of the GPT's parameter budget on text datasets",
    }
    return {**{name: desc for name, (_, desc) in MODELS.items()}, **lms}


def build_model(name: str, input_shape: int | Sequence[int], num_classes: int, **options: Any) -> Module:
    """Build a registered classifier for samples of ``input_shape`` (an int means a flat vector)."""
    if name not in MODELS:
        hint = " (a language model: use build_lm)" if name in LM_CONFIGS else ""
        raise ValueError(f"build_model: unknown model {name!r}{hint}; available: {', '.join(MODELS)}")
    shape = (int(input_shape),) if isinstance(input_shape, int) else tuple(int(s) for s in input_shape)
    return MODELS[name][0](shape, num_classes, **options)


__all__ = [
    "LM_BATCH_SIZES",
    "LM_CONFIGS",
    "MLP",
    "MODELS",
    "MNIST1DCNN",
    "MNIST1DGRU",
    "BasicBlock",
    "Bottleneck",
    "CharLSTM",
    "ConvNet",
    "ResNet",
    "available_models",
    "build_lm",
    "build_model",
    "lm_optimizer",
    "logistic_regression",
    "plain20",
    "resnet20",
    "resnet_depths",
]
