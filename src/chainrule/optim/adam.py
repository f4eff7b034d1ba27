"""Adam and AdamW: adaptive moment estimation, with L2 or decoupled weight decay."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.optim.optimizer import (
    Optimizer,
    ParamsT,
    _check_betas,
    _check_bool,
    _check_nonnegative,
    _check_positive,
)


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), as PyTorch's ``torch.optim.Adam``.

    For each parameter p with gradient g, at step t = 1, 2, ... (η = lr, λ = weight_decay,
    m₀ = v₀ = 0)::

        g  ← -g                                   if maximize
        p  ← p (1 - η λ)                          if decoupled_weight_decay  (AdamW)
        g  ← g + λ p                              otherwise, if λ ≠ 0        (L2 in the gradient)
        m  ← β₁ m + (1 - β₁) g
        v  ← β₂ v + (1 - β₂) g²
        v̂ ← max(v̂, v)                           if amsgrad (v̂ is the running maximum)
        p  ← p - (η / (1 - β₁ᵗ)) · m / (√v / √(1 - β₂ᵗ) + ε)     (√v̂ in place of √v with amsgrad)

    ε is added to the bias-corrected root √(v/(1 - β₂ᵗ)), not inside the root. The first step
    is p ← p - η g / (|g| + ε): a step of about η against the sign of each gradient entry.
    State: ``"step"`` (int), ``"exp_avg"`` (m), ``"exp_avg_sq"`` (v), ``"max_exp_avg_sq"`` (v̂).
    Deviation from PyTorch: ``lr`` must be positive (PyTorch accepts 0).
    """

    _param_state_keys = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=tuple(betas) if isinstance(betas, list) else betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        self._validate_group(defaults)
        super().__init__(params, defaults)

    def _validate_group(self, group: Any) -> None:
        name = self._name
        _check_positive(name, "lr", group["lr"])
        _check_betas(name, group["betas"])
        _check_nonnegative(name, "eps", group["eps"])
        _check_nonnegative(name, "weight_decay", group["weight_decay"])
        _check_bool(name, "amsgrad", group["amsgrad"])
        _check_bool(name, "maximize", group["maximize"])
        _check_bool(name, "decoupled_weight_decay", group["decoupled_weight_decay"])

    def _step_group(self, group: dict[str, Any]) -> None:
        lr = float(group["lr"])
        beta1, beta2 = (float(b) for b in group["betas"])
        eps = float(group["eps"])
        weight_decay = float(group["weight_decay"])
        amsgrad = bool(group["amsgrad"])
        maximize = bool(group["maximize"])
        decoupled = bool(group["decoupled_weight_decay"])
        for i, p in enumerate(group["params"]):
            if p.grad is None:
                continue
            x = p.data
            g = self._grad(p, i)
            if maximize:
                g = -g
            st = self.state.get(p)
            if not st:
                st = self.state[p] = {"step": 0, "exp_avg": np.zeros_like(x), "exp_avg_sq": np.zeros_like(x)}
            if weight_decay != 0.0:
                if decoupled:
                    x *= 1.0 - lr * weight_decay
                else:
                    g = g + weight_decay * x
            st["step"] += 1
            t = st["step"]
            m, v = st["exp_avg"], st["exp_avg_sq"]
            m *= beta1
            m += (1.0 - beta1) * g
            g2 = g * g
            g2 *= 1.0 - beta2
            v *= beta2
            v += g2
            if amsgrad:
                vmax = st.get("max_exp_avg_sq")
                if vmax is None:
                    vmax = st["max_exp_avg_sq"] = np.zeros_like(x)
                np.maximum(vmax, v, out=vmax)
                v = vmax
            bias_correction1 = 1.0 - beta1**t
            bias_correction2 = 1.0 - beta2**t
            # g2 is free now: reuse it as the denominator buffer.
            denom = np.sqrt(v, out=g2)
            denom /= math.sqrt(bias_correction2)
            denom += eps
            update = np.divide(m, denom, out=denom)
            update *= lr / bias_correction1
            x -= update
            p._version[0] += 1


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay.

    The weights shrink by p ← p (1 - η λ) before the Adam step, instead of λ p entering the
    gradient (and so the moment estimates); see :class:`Adam` for the rest of the update::

        p ← p (1 - η λ)
        m ← β₁ m + (1 - β₁) g,   v ← β₂ v + (1 - β₂) g²
        p ← p - (η / (1 - β₁ᵗ)) · m / (√v / √(1 - β₂ᵗ) + ε)

    With a zero gradient a step multiplies the weights by exactly (1 - η λ).
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
        )
