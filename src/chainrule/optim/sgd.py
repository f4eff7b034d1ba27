"""Stochastic gradient descent, with (Nesterov) momentum and L2 weight decay."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.optim.optimizer import (
    Optimizer,
    ParamsT,
    _check_bool,
    _check_nonnegative,
    _check_positive,
    _check_real,
)


class SGD(Optimizer):
    r"""Stochastic gradient descent (PyTorch's ``torch.optim.SGD``).

    For each parameter p with gradient g, at step t (η = lr, μ = momentum, τ = dampening,
    λ = weight_decay)::

        g ← -g                                  if maximize
        g ← g + λ p                             if λ ≠ 0   (L2 penalty ½λ‖p‖², added to the gradient)
        if μ ≠ 0:
            b ← g                               at the first step
            b ← μ b + (1 - τ) g                 afterwards
            g ← g + μ b   if nesterov,  else  g ← b
        p ← p - η g

    Nesterov momentum needs μ > 0 and τ = 0. The momentum buffer b is the state entry
    ``"momentum_buffer"``. Deviation from PyTorch: ``lr`` must be positive (PyTorch accepts 0).
    """

    _param_state_keys = ("momentum_buffer",)

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        self._validate_group(defaults)
        super().__init__(params, defaults)

    def _validate_group(self, group: Any) -> None:
        name = self._name
        _check_positive(name, "lr", group["lr"])
        _check_nonnegative(name, "momentum", group["momentum"])
        _check_real(name, "dampening", group["dampening"])
        _check_nonnegative(name, "weight_decay", group["weight_decay"])
        _check_bool(name, "nesterov", group["nesterov"])
        _check_bool(name, "maximize", group["maximize"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"{name}: nesterov momentum requires momentum > 0 and dampening = 0, "
                f"got momentum={group['momentum']}, dampening={group['dampening']}"
            )

    def _step_group(self, group: dict[str, Any]) -> None:
        lr = float(group["lr"])
        momentum = float(group["momentum"])
        dampening = float(group["dampening"])
        weight_decay = float(group["weight_decay"])
        nesterov = bool(group["nesterov"])
        maximize = bool(group["maximize"])
        for i, p in enumerate(group["params"]):
            if p.grad is None:
                continue
            x = p.data
            d = self._grad(p, i)
            if maximize:
                d = -d
            if weight_decay != 0.0:
                d = d + weight_decay * x
            if momentum != 0.0:
                st = self.state.setdefault(p, {})
                buf = st.get("momentum_buffer")
                if buf is None:
                    buf = np.array(d, dtype=x.dtype, copy=True)
                    st["momentum_buffer"] = buf
                else:
                    buf *= momentum
                    buf += d if dampening == 0.0 else (1.0 - dampening) * d
                d = d + momentum * buf if nesterov else buf
            x -= lr * d
            p._version[0] += 1
