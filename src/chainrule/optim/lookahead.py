"""Lookahead: slow weights that follow the fast weights of any inner optimizer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from chainrule.autograd import state as _grad_state
from chainrule.optim.optimizer import Optimizer, _as_array, _as_count, _as_index, _check_interval
from chainrule.tensor import Tensor


class Lookahead(Optimizer):
    r"""Lookahead (Zhang, Lucas, Hinton & Ba, 2019) around any optimizer.

    The inner optimizer updates the fast weights θ at every step. The slow weights φ start at θ₀;
    after every k inner steps::

        φ ← φ + α (θ - φ)
        θ ← φ

    With α = 1 it is the inner optimizer exactly; with α = 0 the weights return to φ₀ every k
    steps. ``param_groups``, ``state`` and ``defaults`` are the inner optimizer's (the same
    objects), so learning-rate schedulers drive the inner optimizer through the wrapper.
    ``state_dict()`` is the inner optimizer's plus a ``"lookahead"`` entry holding ``k``,
    ``alpha``, ``step_counter`` and ``slow_weights`` ({parameter index: array}). The inner
    optimizer's state (e.g. Adam's moments) is not reset at synchronisation.
    """

    def __init__(self, optimizer: Optimizer, k: int = 5, alpha: float = 0.5) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"Lookahead: optimizer must be an Optimizer, got {type(optimizer).__name__}")
        _check_k(k)
        _check_interval("Lookahead", "alpha", alpha, 0.0, 1.0, closed_hi=True)
        self.optimizer = optimizer
        self.k = int(k)
        self.alpha = float(alpha)
        self.step_counter = 0
        self.slow_weights: dict[Tensor, np.ndarray] = {p: p.data.copy() for p in self._indexed_params()}

    # The wrapper has no groups or state of its own: it shares the inner optimizer's.
    @property
    def param_groups(self) -> list[dict[str, Any]]:  # type: ignore[override]
        return self.optimizer.param_groups

    @property
    def state(self) -> dict[Tensor, dict[str, Any]]:  # type: ignore[override]
        return self.optimizer.state

    @property
    def defaults(self) -> dict[str, Any]:  # type: ignore[override]
        return self.optimizer.defaults

    def add_param_group(self, param_group: Mapping[str, Any]) -> None:
        self.optimizer.add_param_group(param_group)
        for p in self.optimizer.param_groups[-1]["params"]:
            self.slow_weights[p] = p.data.copy()

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One inner step; every k-th also moves the slow weights and resets the fast ones to them."""
        loss = self.optimizer.step(closure)
        self.step_counter += 1
        if self.step_counter % self.k == 0:
            self._synchronise()
        return loss

    def _synchronise(self) -> None:
        alpha = self.alpha
        with _grad_state.no_grad():
            for p in self._indexed_params():
                slow = self.slow_weights.get(p)
                if slow is None:
                    slow = self.slow_weights[p] = p.data.copy()
                x = p.data
                diff = x - slow
                # Interpolate from the nearer end, so α = 1 gives φ = θ bit for bit.
                if alpha >= 0.5:
                    diff *= 1.0 - alpha
                    np.subtract(x, diff, out=slow)
                else:
                    diff *= alpha
                    slow += diff
                x[...] = slow
                p._version[0] += 1

    # --- checkpoints --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        sd = self.optimizer.state_dict()
        params = self._indexed_params()
        sd["lookahead"] = {
            "k": self.k,
            "alpha": self.alpha,
            "step_counter": self.step_counter,
            "slow_weights": {i: self.slow_weights[p].copy() for i, p in enumerate(params) if p in self.slow_weights},
        }
        return sd

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        name = "Lookahead.load_state_dict"
        if not isinstance(state_dict, Mapping) or "lookahead" not in state_dict:
            raise ValueError(f"{name}: expected the state_dict of a Lookahead (with a 'lookahead' entry)")
        la = state_dict["lookahead"]
        if not isinstance(la, Mapping) or not {"k", "alpha", "step_counter", "slow_weights"} <= set(la):
            raise ValueError(f"{name}: 'lookahead' must hold k, alpha, step_counter and slow_weights")
        _check_k(la["k"])
        _check_interval("Lookahead", "alpha", la["alpha"], 0.0, 1.0, closed_hi=True)
        counter = _as_count(la["step_counter"], name, "step_counter")
        params = self._indexed_params()
        slow: dict[Tensor, np.ndarray] = {}
        for key, value in la["slow_weights"].items():
            i = _as_index(key, name)
            if i >= len(params):
                raise ValueError(f"{name}: slow_weights refers to parameter {i}, but there are {len(params)}")
            arr = _as_array(value, name, f"slow_weights[{i}]")
            if arr.shape != params[i].data.shape:
                raise ValueError(
                    f"{name}: slow_weights[{i}] has shape {arr.shape}, expected the parameter's shape "
                    f"{params[i].data.shape}"
                )
            slow[params[i]] = np.array(arr, dtype=params[i].data.dtype, copy=True)
        inner = {k: v for k, v in state_dict.items() if k != "lookahead"}
        prepared = self.optimizer._prepare_load(inner)
        # Everything validated: now change state.
        self.optimizer._apply_load(prepared)
        self.k, self.alpha, self.step_counter = int(la["k"]), float(la["alpha"]), counter
        self.slow_weights = slow

    def __repr__(self) -> str:
        return f"Lookahead(k={self.k}, alpha={self.alpha},\n{self.optimizer!r})"


def _check_k(k: Any) -> None:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"Lookahead: k must be a positive integer, got {k!r}")
