"""Adagrad: per-coordinate step sizes from the accumulated squared gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.optim.optimizer import (
    Optimizer,
    ParamsT,
    _check_bool,
    _check_nonnegative,
    _check_positive,
)


class Adagrad(Optimizer):
    r"""Adagrad (Duchi, Hazan & Singer, 2011), as PyTorch's ``torch.optim.Adagrad``.

    For each parameter p with gradient g at step t = 1, 2, ... (η = lr, λ = weight_decay,
    the sum starts at ``initial_accumulator_value``)::

        g  ← -g                                 if maximize
        g  ← g + λ p                            if λ ≠ 0
        η̃ ← η / (1 + (t - 1) · lr_decay)
        S  ← S + g²
        p  ← p - η̃ g / (√S + ε)

    ε is added outside the root. State: ``"step"`` (int) and ``"sum"`` (S), created at the
    parameter's first update (PyTorch creates them in the constructor; the updates agree).
    Deviation from PyTorch: ``lr`` must be positive.
    """

    _param_state_keys = ("sum",)

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
            maximize=maximize,
        )
        self._validate_group(defaults)
        super().__init__(params, defaults)

    def _validate_group(self, group: Any) -> None:
        name = self._name
        _check_positive(name, "lr", group["lr"])
        _check_nonnegative(name, "lr_decay", group["lr_decay"])
        _check_nonnegative(name, "weight_decay", group["weight_decay"])
        _check_nonnegative(name, "initial_accumulator_value", group["initial_accumulator_value"])
        _check_nonnegative(name, "eps", group["eps"])
        _check_bool(name, "maximize", group["maximize"])

    def _step_group(self, group: dict[str, Any]) -> None:
        lr = float(group["lr"])
        lr_decay = float(group["lr_decay"])
        weight_decay = float(group["weight_decay"])
        init = float(group["initial_accumulator_value"])
        eps = float(group["eps"])
        maximize = bool(group["maximize"])
        for i, p in enumerate(group["params"]):
            if p.grad is None:
                continue
            x = p.data
            g = self._grad(p, i)
            if maximize:
                g = -g
            st = self.state.get(p)
            if not st:
                st = self.state[p] = {"step": 0, "sum": np.full_like(x, init)}
            st["step"] += 1
            if weight_decay != 0.0:
                g = g + weight_decay * x
            clr = lr / (1.0 + (st["step"] - 1) * lr_decay)
            total = st["sum"]
            std = g * g
            total += std
            np.sqrt(total, out=std)
            std += eps
            step = np.divide(g, std, out=std)
            step *= clr
            x -= step
            p._version[0] += 1
