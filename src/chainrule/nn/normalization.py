"""Normalization layers: LayerNorm, BatchNorm1d and BatchNorm2d."""

from __future__ import annotations

import numbers
from typing import Any

from chainrule import backend
from chainrule.autograd.state import no_grad
from chainrule.creation import ones, tensor, zeros
from chainrule.functional.normalization import _batch_norm, _check_batch_norm, _layer_norm, _normalized_shape
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor

__all__ = ["LayerNorm", "BatchNorm1d", "BatchNorm2d"]


def _float_dtype(layer: str, dtype: Any) -> Any:
    d = backend.get_default_dtype() if dtype is None else backend.as_dtype(dtype)
    if not backend.is_floating(d):
        raise TypeError(f"{layer}: dtype must be a floating dtype, got {d}")
    return d


def _check_eps(layer: str, eps: Any) -> float:
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not float(eps) >= 0.0:
        raise ValueError(f"{layer}: eps must be a real number >= 0, got {eps!r}")
    return float(eps)


class LayerNorm(Module):
    """Layer normalization over the trailing ``normalized_shape`` axes (Ba et al., 2016).

    y = γ ⊙ (x - μ) / √(σ² + ε) + β, with μ and the biased σ² taken over the last
    len(normalized_shape) axes of each sample; the same in training and evaluation.

    Default init (PyTorch's): γ (``weight``) = 1 and β (``bias``) = 0, both of shape
    ``normalized_shape``; with ``elementwise_affine=False`` there are no parameters, and with
    ``bias=False`` no β.
    """

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.normalized_shape = _normalized_shape("LayerNorm", normalized_shape)
        self.eps = _check_eps("LayerNorm", eps)
        self.elementwise_affine = bool(elementwise_affine)
        d = _float_dtype("LayerNorm", dtype)
        if self.elementwise_affine:
            self.weight = Parameter(ones(self.normalized_shape, dtype=d))
            if bias:
                self.bias = Parameter(zeros(self.normalized_shape, dtype=d))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        """γ = 1, β = 0."""
        with no_grad():
            if self.weight is not None:
                self.weight.fill_(1.0)
            if self.bias is not None:
                self.bias.fill_(0.0)

    def forward(self, x: Tensor) -> Tensor:
        return _layer_norm(self._label(), x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class BatchNorm1d(Module):
    """Batch normalization (Ioffe & Szegedy, 2015) of inputs (N, C) or (N, C, L), per channel.

    Training: x̂ = (x - μ_B) / √(σ²_B + ε) with the batch mean and biased batch variance over the
    N (or N·L) values of each channel, y = γ ⊙ x̂ + β; the running statistics (buffers) are
    updated as running ← (1 - momentum)·running + momentum·batch, with the unbiased batch
    variance for ``running_var``; ``momentum=None`` gives the cumulative average
    (momentum = 1/num_batches_tracked). Evaluation: x̂ uses ``running_mean`` and ``running_var``
    (or the batch statistics when ``track_running_stats=False``).

    Default init (PyTorch's): γ (``weight``) = 1, β (``bias``) = 0, running_mean = 0,
    running_var = 1, num_batches_tracked = 0 (int64).
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if isinstance(num_features, bool) or not isinstance(num_features, numbers.Integral) or num_features <= 0:
            raise ValueError(f"{name}: num_features must be a positive int, got {num_features!r}")
        if momentum is not None and (
            isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0.0 <= momentum <= 1.0
        ):
            raise ValueError(f"{name}: momentum must be in [0, 1] or None, got {momentum!r}")
        self.num_features = int(num_features)
        self.eps = _check_eps(name, eps)
        self.momentum = None if momentum is None else float(momentum)
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        d = _float_dtype(name, dtype)
        if self.affine:
            self.weight = Parameter(ones(self.num_features, dtype=d))
            self.bias = Parameter(zeros(self.num_features, dtype=d))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", zeros(self.num_features, dtype=d))
            self.register_buffer("running_var", ones(self.num_features, dtype=d))
            self.register_buffer("num_batches_tracked", tensor(0, dtype="int64"))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """running_mean = 0, running_var = 1, num_batches_tracked = 0."""
        if self.track_running_stats:
            with no_grad():
                self.running_mean.fill_(0.0)
                self.running_var.fill_(1.0)
                self.num_batches_tracked.fill_(0)

    def reset_parameters(self) -> None:
        """Reset the running statistics, and γ = 1, β = 0."""
        self.reset_running_stats()
        if self.affine:
            with no_grad():
                self.weight.fill_(1.0)
                self.bias.fill_(0.0)

    #: The input ranks accepted by ``forward``.
    _input_ndims: tuple[int, ...] = (2, 3)

    def forward(self, x: Tensor) -> Tensor:
        label = self._label()
        if isinstance(x, Tensor) and x.ndim in (2, 3) and x.shape[1] != self.num_features:
            raise ValueError(
                f"{label}: expected {self.num_features} channels (input of shape (N, {self.num_features}) or "
                f"(N, {self.num_features}, L)), got input of shape {x.shape}"
            )
        update = self.training and self.track_running_stats
        # Batch statistics in training; also in eval when no running statistics are kept.
        use_batch = self.training or self.running_mean is None
        factor = 0.0
        if update:
            if self.momentum is None:
                factor = 1.0 / float(int(self.num_batches_tracked.item()) + 1)
            else:
                factor = self.momentum
        stats = (
            (self.running_mean, self.running_var) if (not self.training or self.track_running_stats) else (None, None)
        )
        # Every check runs before num_batches_tracked or the running statistics change.
        args = _check_batch_norm(
            label,
            x,
            stats[0],
            stats[1],
            self.weight,
            self.bias,
            use_batch,
            factor,
            self.eps,
            allowed_ndims=self._input_ndims,
        )
        x, rm, rv, w, b, m, e = args
        y = _batch_norm(x, rm, rv, w, b, use_batch, m, e)
        if update:
            with no_grad():
                self.num_batches_tracked.add_(1)
        return y

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm2d(BatchNorm1d):
    """Batch normalization of images (N, C, H, W), per channel (Ioffe & Szegedy, 2015).

    The statistics of channel c are taken over its m = N·H·W values: x̂ = (x - μ_c) / √(σ²_c + ε),
    y = γ_c x̂ + β_c, with the same running-statistics update, momentum, evaluation mode and
    default init as ``BatchNorm1d`` (PyTorch's semantics); only the input rank differs.
    """

    _input_ndims = (4,)

    def forward(self, x: Tensor) -> Tensor:
        if isinstance(x, Tensor) and x.ndim != 4:
            raise ValueError(
                f"{self._label()}: expected a 4-d input (N, C, H, W), got a {x.ndim}-d input of shape {x.shape}"
            )
        if isinstance(x, Tensor) and x.shape[1] != self.num_features:
            raise ValueError(
                f"{self._label()}: expected input with {self.num_features} channels, got {x.shape[1]} "
                f"(input shape {x.shape})"
            )
        return super().forward(x)
