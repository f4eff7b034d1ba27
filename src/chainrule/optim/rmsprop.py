"""RMSprop: gradient scaled by a running root-mean-square, optionally centered and with momentum."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.optim.optimizer import (
    Optimizer,
    ParamsT,
    _check_bool,
    _check_interval,
    _check_nonnegative,
    _check_positive,
)


class RMSprop(Optimizer):
    r"""RMSprop (Hinton's lecture 6e), as PyTorch's ``torch.optim.RMSprop``.

    For each parameter p with gradient g (η = lr, α = alpha, λ = weight_decay, μ = momentum,
    all running averages start at 0)::

        g ← -g                                  if maximize
        g ← g + λ p                             if λ ≠ 0
        s ← α s + (1 - α) g²                    (running mean square)
        if centered:
            ḡ ← α ḡ + (1 - α) g                (running mean)
            a ← √(max(s - ḡ², 0)) + ε
        else:
            a ← √s + ε
        if μ > 0:  b ← μ b + g / a;  p ← p - η b
        else:      p ← p - η g / a

    ε is added outside the root. State: ``"step"``, ``"square_avg"`` (s), ``"grad_avg"`` (ḡ, when
    centered), ``"momentum_buffer"`` (b, when μ > 0). Deviations from PyTorch: ``lr`` must be
    positive, α must lie in [0, 1], and the centered variance is clamped at 0 (rounding can make
    s - ḡ² slightly negative, where PyTorch would produce NaN).
    """

    _param_state_keys = ("square_avg", "grad_avg", "momentum_buffer")

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            maximize=maximize,
        )
        self._validate_group(defaults)
        super().__init__(params, defaults)

    def _validate_group(self, group: Any) -> None:
        name = self._name
        _check_positive(name, "lr", group["lr"])
        _check_interval(name, "alpha", group["alpha"], 0.0, 1.0, closed_hi=True)
        _check_nonnegative(name, "eps", group["eps"])
        _check_nonnegative(name, "weight_decay", group["weight_decay"])
        _check_nonnegative(name, "momentum", group["momentum"])
        _check_bool(name, "centered", group["centered"])
        _check_bool(name, "maximize", group["maximize"])

    def _step_group(self, group: dict[str, Any]) -> None:
        lr = float(group["lr"])
        alpha = float(group["alpha"])
        eps = float(group["eps"])
        weight_decay = float(group["weight_decay"])
        momentum = float(group["momentum"])
        centered = bool(group["centered"])
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
                st = self.state[p] = {"step": 0, "square_avg": np.zeros_like(x)}
            st["step"] += 1
            if weight_decay != 0.0:
                g = g + weight_decay * x
            s = st["square_avg"]
            s *= alpha
            avg = g * g
            avg *= 1.0 - alpha
            s += avg
            if centered:
                gbar = st.get("grad_avg")
                if gbar is None:
                    gbar = st["grad_avg"] = np.zeros_like(x)
                gbar *= alpha
                gbar += (1.0 - alpha) * g
                np.multiply(gbar, gbar, out=avg)
                np.subtract(s, avg, out=avg)
                np.maximum(avg, 0.0, out=avg)
                np.sqrt(avg, out=avg)
            else:
                np.sqrt(s, out=avg)
            avg += eps
            if momentum > 0.0:
                buf = st.get("momentum_buffer")
                if buf is None:
                    buf = st["momentum_buffer"] = np.zeros_like(x)
                buf *= momentum
                buf += np.divide(g, avg, out=avg)
                x -= lr * buf
            else:
                step = np.divide(g, avg, out=avg)
                step *= lr
                x -= step
            p._version[0] += 1
