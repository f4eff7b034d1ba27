"""Learning-rate schedules, with PyTorch's names, arguments and learning-rate sequences.

A scheduler writes ``group["lr"]`` of its optimizer's parameter groups; call ``step()`` after
``optimizer.step()``, once per epoch or per batch as the schedule is designed. ``last_epoch``
counts the scheduler's steps (0 after construction).

Deliberate difference from PyTorch: each schedule here is computed in **closed form** from the
initial learning rates (``base_lrs``, saved as ``group["initial_lr"]``) and ``last_epoch``,
where PyTorch updates most of them multiplicatively from the current ``group["lr"]``. The
sequences are the same (up to rounding); but changing ``group["lr"]`` by hand between steps, or
stacking two schedulers on one optimizer, does not compose as in PyTorch: compose schedules with
:class:`SequentialLR` instead. Resuming with ``last_epoch=n`` (n ≥ 0) keeps the optimizer's
current learning rates and continues at step n + 1 (PyTorch advances its counter one extra step
there). ``step()`` takes no ``epoch`` argument (deprecated in PyTorch).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from chainrule.optim.optimizer import _is_real


class LRScheduler:
    """Base class: subclasses define ``get_lr()``, the learning rates at ``self.last_epoch``."""

    def __init__(self, optimizer: Any, last_epoch: int = -1) -> None:
        _check_optimizer(optimizer, type(self).__name__)
        self.optimizer = optimizer
        _check_int(type(self).__name__, "last_epoch", last_epoch, minimum=-1)
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", float(group["lr"]))
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise ValueError(
                        f"{type(self).__name__}: param_groups[{i}] has no 'initial_lr' when resuming with "
                        f"last_epoch={last_epoch}; load the optimizer's state_dict first"
                    )
        self.base_lrs: list[float] = [float(group["initial_lr"]) for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        if last_epoch == -1:
            self.step()
        else:
            self._last_lr = [float(group["lr"]) for group in optimizer.param_groups]

    def get_lr(self) -> list[float]:
        """The learning rate of each parameter group at step ``last_epoch``."""
        raise NotImplementedError

    def step(self) -> None:
        """Advance one step and write the new learning rates into the optimizer."""
        self.last_epoch += 1
        self._write(self.get_lr())

    def _write(self, lrs: Sequence[float]) -> None:
        groups = self.optimizer.param_groups
        if len(lrs) != len(groups):
            raise ValueError(
                f"{type(self).__name__}: the optimizer has {len(groups)} parameter groups but the schedule has "
                f"{len(lrs)} (a group was added after the scheduler was made)"
            )
        for group, lr in zip(groups, lrs):
            group["lr"] = float(lr)
        self._last_lr = [float(lr) for lr in lrs]

    def get_last_lr(self) -> list[float]:
        """The learning rates written by the latest ``step`` (one per parameter group)."""
        return list(self._last_lr)

    # --- checkpoints --------------------------------------------------------------------------
    #: Attributes not saved (the optimizer, functions).
    _unsaved: tuple[str, ...] = ("optimizer",)

    def state_dict(self) -> dict[str, Any]:
        """Every attribute except the optimizer (and functions), as plain data."""
        return {k: _copy_plain(v) for k, v in self.__dict__.items() if k not in self._unsaved}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a ``state_dict()``; unknown keys raise ValueError before anything changes."""
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise ValueError(f"{name}: expected a dict, got {type(state_dict).__name__}")
        known = set(self.__dict__) - set(self._unsaved)
        unknown = sorted(set(state_dict) - known)
        if unknown:
            raise ValueError(f"{name}: unknown entries {unknown}")
        for key in ("base_lrs", "_last_lr"):
            if key in state_dict and len(state_dict[key]) != len(self.optimizer.param_groups):
                raise ValueError(
                    f"{name}: {key} has {len(state_dict[key])} entries, the optimizer has "
                    f"{len(self.optimizer.param_groups)} parameter groups"
                )
        self.__dict__.update({k: _copy_plain(v) for k, v in state_dict.items()})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, last_lr={self._last_lr})"


class LambdaLR(LRScheduler):
    """lr = base_lr · λ(epoch), with one function for all groups or one per group.

    The functions are not part of ``state_dict`` (they cannot be stored as data).
    """

    _unsaved = ("optimizer", "lr_lambdas")

    def __init__(
        self,
        optimizer: Any,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        _check_optimizer(optimizer, "LambdaLR")
        n = len(optimizer.param_groups)
        if callable(lr_lambda):
            self.lr_lambdas = [lr_lambda] * n
        else:
            fns = list(lr_lambda)
            if len(fns) != n or not all(callable(f) for f in fns):
                raise ValueError(f"LambdaLR: expected {n} callables (one per parameter group), got {len(fns)}")
            self.lr_lambdas = fns
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * float(fn(self.last_epoch)) for base, fn in zip(self.base_lrs, self.lr_lambdas)]


class StepLR(LRScheduler):
    """lr = base_lr · γ^⌊epoch / step_size⌋ (decay by γ every ``step_size`` steps)."""

    def __init__(self, optimizer: Any, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        _check_int("StepLR", "step_size", step_size, minimum=1)
        _check_number("StepLR", "gamma", gamma, lo=0.0)
        self.step_size = int(step_size)
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        factor = self.gamma ** (self.last_epoch // self.step_size)
        return [base * factor for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """lr = base_lr · γ^(number of milestones ≤ epoch); a repeated milestone counts twice."""

    def __init__(self, optimizer: Any, milestones: Sequence[int], gamma: float = 0.1, last_epoch: int = -1) -> None:
        ms = list(milestones)
        for m in ms:
            _check_int("MultiStepLR", "milestone", m, minimum=0)
        _check_number("MultiStepLR", "gamma", gamma, lo=0.0)
        self.milestones = sorted(int(m) for m in ms)
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        factor = self.gamma ** bisect_right(self.milestones, self.last_epoch)
        return [base * factor for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """lr = base_lr · γ^epoch."""

    def __init__(self, optimizer: Any, gamma: float, last_epoch: int = -1) -> None:
        _check_number("ExponentialLR", "gamma", gamma, lo=0.0)
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * self.gamma**self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """lr = η_min + (base_lr - η_min) · (1 + cos(π · epoch / T_max)) / 2 (closed form).

    Past ``T_max`` the cosine continues, so the rate rises again (period 2 T_max), as in PyTorch.
    """

    def __init__(self, optimizer: Any, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        _check_int("CosineAnnealingLR", "T_max", T_max, minimum=1)
        _check_number("CosineAnnealingLR", "eta_min", eta_min, lo=0.0)
        self.T_max = int(T_max)
        self.eta_min = float(eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        c = (1.0 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2.0
        return [self.eta_min + (base - self.eta_min) * c for base in self.base_lrs]


class LinearLR(LRScheduler):
    """lr = base_lr · (s + (e - s) · min(epoch, total_iters) / total_iters): linear warmup/decay.

    s = ``start_factor`` ∈ (0, 1], e = ``end_factor`` ∈ [0, 1]. With s < e = 1 this is the usual
    linear warmup; compose it with a later schedule through :class:`SequentialLR` (or
    :func:`warmup`).
    """

    def __init__(
        self,
        optimizer: Any,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        _check_number("LinearLR", "start_factor", start_factor, lo=0.0, hi=1.0, open_lo=True)
        _check_number("LinearLR", "end_factor", end_factor, lo=0.0, hi=1.0)
        _check_int("LinearLR", "total_iters", total_iters, minimum=1)
        self.start_factor = float(start_factor)
        self.end_factor = float(end_factor)
        self.total_iters = int(total_iters)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        frac = min(self.total_iters, self.last_epoch) / self.total_iters
        factor = self.start_factor + (self.end_factor - self.start_factor) * frac
        return [base * factor for base in self.base_lrs]


class SequentialLR(LRScheduler):
    """Run ``schedulers[0]`` until ``milestones[0]``, then ``schedulers[1]`` (restarted at its
    step 0) until ``milestones[1]``, and so on; all must drive the same optimizer.

    Warmup then cosine decay, for example::

        SequentialLR(opt, [LinearLR(opt, 0.01, total_iters=w), CosineAnnealingLR(opt, T)], milestones=[w])
    """

    _unsaved = ("optimizer", "_schedulers")

    def __init__(
        self, optimizer: Any, schedulers: Sequence[LRScheduler], milestones: Sequence[int], last_epoch: int = -1
    ) -> None:
        _check_optimizer(optimizer, "SequentialLR")
        scheds = list(schedulers)
        if not scheds:
            raise ValueError("SequentialLR: expects at least one scheduler, got none")
        for i, s in enumerate(scheds):
            if isinstance(s, ReduceLROnPlateau):
                raise TypeError(f"SequentialLR: scheduler {i} is a ReduceLROnPlateau, which needs a metric to step")
            if not isinstance(s, LRScheduler):
                raise TypeError(f"SequentialLR: scheduler {i} is a {type(s).__name__}, expected an LRScheduler")
            if s.optimizer is not optimizer:
                raise ValueError(
                    f"SequentialLR: scheduler {i} ({type(s).__name__}) drives a different optimizer than the one given"
                )
        ms = list(milestones)
        if len(ms) != len(scheds) - 1:
            raise ValueError(
                f"SequentialLR: expects one milestone fewer than schedulers, got {len(scheds)} schedulers "
                f"and {len(ms)} milestones"
            )
        for m in ms:
            _check_int("SequentialLR", "milestone", m, minimum=0)
        if ms != sorted(ms):
            raise ValueError(f"SequentialLR: milestones must be increasing, got {ms}")
        _check_int("SequentialLR", "last_epoch", last_epoch, minimum=-1)
        self.optimizer = optimizer
        self._schedulers = scheds
        self._milestones = [int(m) for m in ms]
        self.last_epoch = last_epoch + 1
        self.base_lrs = [float(group["initial_lr"]) for group in optimizer.param_groups]
        # Each scheduler stepped once when it was made; restart the one that runs at step 0.
        first = self._schedulers[bisect_right(self._milestones, 0)]
        _restart(first)
        self._last_lr = first.get_last_lr()

    def step(self) -> None:
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            _restart(scheduler)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        sd = super().state_dict()
        sd["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return sd

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        name = "SequentialLR.load_state_dict"
        if not isinstance(state_dict, Mapping) or "_schedulers" not in state_dict:
            raise ValueError(f"{name}: expected a dict with a '_schedulers' list")
        subs = list(state_dict["_schedulers"])
        if len(subs) != len(self._schedulers):
            raise ValueError(f"{name}: the state_dict has {len(subs)} schedulers, this one has {len(self._schedulers)}")
        own = {k: v for k, v in state_dict.items() if k != "_schedulers"}
        super().load_state_dict(own)
        for s, sd in zip(self._schedulers, subs):
            s.load_state_dict(sd)


def warmup(optimizer: Any, scheduler: LRScheduler, warmup_iters: int, start_factor: float = 1e-3) -> SequentialLR:
    """Linear warmup for ``warmup_iters`` steps (from ``start_factor`` · base_lr up to base_lr),
    then ``scheduler`` from its step 0: ``SequentialLR([LinearLR, scheduler], [warmup_iters])``.
    """
    lin = LinearLR(optimizer, start_factor=start_factor, end_factor=1.0, total_iters=warmup_iters)
    return SequentialLR(optimizer, [lin, scheduler], milestones=[warmup_iters])


class OneCycleLR(LRScheduler):
    r"""The 1cycle policy (Smith & Topin, 2017), with PyTorch's phases and arguments.

    With N = ``total_steps`` (or ``epochs · steps_per_epoch``), η₀ = max_lr / div_factor and
    η_min = η₀ / final_div_factor, the rate anneals (cosine, or linear) over the phases

    * two-phase (default): η₀ → max_lr over steps [0, pct_start·N - 1], then max_lr → η_min up to
      step N - 1;
    * ``three_phase``: η₀ → max_lr up to pct_start·N - 1, max_lr → η₀ up to 2·pct_start·N - 2,
      then η₀ → η_min up to N - 1,

    where annealing from a to b at fraction f of a phase is b + (a - b)(1 + cos πf)/2 (``"cos"``)
    or a + (b - a) f (``"linear"``). With ``cycle_momentum`` the momentum (SGD/RMSprop
    ``momentum``, or β₁ of Adam's ``betas``) moves inversely: max_momentum → base_momentum while
    the rate rises, and back. Stepping past N raises ValueError.
    """

    def __init__(
        self,
        optimizer: Any,
        max_lr: float | Sequence[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | Sequence[float] = 0.85,
        max_momentum: float | Sequence[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        name = "OneCycleLR"
        _check_optimizer(optimizer, name)
        if total_steps is not None:
            _check_int(name, "total_steps", total_steps, minimum=1)
            n = int(total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            _check_int(name, "epochs", epochs, minimum=1)
            _check_int(name, "steps_per_epoch", steps_per_epoch, minimum=1)
            n = int(epochs) * int(steps_per_epoch)
        else:
            raise ValueError(f"{name}: give either total_steps or both epochs and steps_per_epoch")
        _check_number(name, "pct_start", pct_start, lo=0.0, hi=1.0)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{name}: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        _check_number(name, "div_factor", div_factor, lo=0.0, open_lo=True)
        _check_number(name, "final_div_factor", final_div_factor, lo=0.0, open_lo=True)
        groups = optimizer.param_groups
        max_lrs = _per_group(name, "max_lr", max_lr, len(groups))
        use_beta1 = False
        if cycle_momentum:
            defaults = getattr(optimizer, "defaults", {})
            if "momentum" not in defaults and "betas" not in defaults:
                raise ValueError(f"{name}: optimizer must support momentum or beta1 with `cycle_momentum` enabled")
            use_beta1 = "betas" in defaults
            max_ms = _per_group(name, "max_momentum", max_momentum, len(groups))
            base_ms = _per_group(name, "base_momentum", base_momentum, len(groups))
        self.total_steps = n
        self.anneal_strategy = anneal_strategy
        self.cycle_momentum = bool(cycle_momentum)
        self.use_beta1 = use_beta1
        p = float(pct_start)
        if three_phase:
            self._schedule_phases = [
                {"end_step": p * n - 1, "start_lr": "initial_lr", "end_lr": "max_lr",
                 "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
                {"end_step": 2 * p * n - 2, "start_lr": "max_lr", "end_lr": "initial_lr",
                 "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
                {"end_step": float(n - 1), "start_lr": "initial_lr", "end_lr": "min_lr",
                 "start_momentum": "max_momentum", "end_momentum": "max_momentum"},
            ]  # fmt: skip
        else:
            self._schedule_phases = [
                {"end_step": p * n - 1, "start_lr": "initial_lr", "end_lr": "max_lr",
                 "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
                {"end_step": float(n - 1), "start_lr": "max_lr", "end_lr": "min_lr",
                 "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
            ]  # fmt: skip
        if last_epoch == -1:
            for i, group in enumerate(groups):
                group["initial_lr"] = max_lrs[i] / float(div_factor)
                group["max_lr"] = max_lrs[i]
                group["min_lr"] = group["initial_lr"] / float(final_div_factor)
                if self.cycle_momentum:
                    if use_beta1:
                        group["betas"] = (max_ms[i], *group["betas"][1:])
                    else:
                        group["momentum"] = max_ms[i]
                    group["max_momentum"] = max_ms[i]
                    group["base_momentum"] = base_ms[i]
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1.0)
        return (end - start) * pct + start

    def step(self) -> None:
        if self.last_epoch + 1 > self.total_steps:
            raise ValueError(
                f"OneCycleLR: tried to step {self.last_epoch + 1} times; the schedule has total_steps={self.total_steps}"
            )
        super().step()

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        lrs = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step <= end_step or i == len(self._schedule_phases) - 1:
                    pct = (step - start_step) / (end_step - start_step)
                    lr = self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct)
                    if self.cycle_momentum:
                        m = self._anneal(group[phase["start_momentum"]], group[phase["end_momentum"]], pct)
                    break
                start_step = end_step
            lrs.append(lr)
            if self.cycle_momentum:
                if self.use_beta1:
                    group["betas"] = (m, *group["betas"][1:])
                else:
                    group["momentum"] = m
        return lrs


class ReduceLROnPlateau(LRScheduler):
    """Multiply the learning rate by ``factor`` when a metric has stopped improving.

    ``step(metric)`` after each evaluation. A metric value a improves on the best so far when
    (mode, threshold_mode) = (min, rel): a < best · (1 - threshold); (min, abs): a < best - threshold;
    (max, rel): a > best · (1 + threshold); (max, abs): a > best + threshold. After more than
    ``patience`` steps without improvement, lr ← max(lr · factor, min_lr) (skipped when the change
    is at most ``eps``), then ``cooldown`` steps pass in which bad steps are not counted.
    """

    def __init__(
        self,
        optimizer: Any,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | Sequence[float] = 0.0,
        eps: float = 1e-8,
    ) -> None:
        name = "ReduceLROnPlateau"
        _check_optimizer(optimizer, name)
        if mode not in ("min", "max"):
            raise ValueError(f"{name}: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{name}: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        _check_number(name, "factor", factor, lo=0.0, hi=1.0, open_hi=True)
        _check_int(name, "patience", patience, minimum=0)
        _check_int(name, "cooldown", cooldown, minimum=0)
        _check_number(name, "threshold", threshold, lo=0.0)
        _check_number(name, "eps", eps, lo=0.0)
        n = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            self.min_lrs = _per_group(name, "min_lr", min_lr, n)
            self.default_min_lr = None
        else:
            _check_number(name, "min_lr", min_lr, lo=0.0)
            self.min_lrs = [float(min_lr)] * n
            self.default_min_lr = float(min_lr)
        for v in self.min_lrs:
            _check_number(name, "min_lr", v, lo=0.0)
        self.optimizer = optimizer
        self.mode = mode
        self.factor = float(factor)
        self.patience = int(patience)
        self.threshold = float(threshold)
        self.threshold_mode = threshold_mode
        self.cooldown = int(cooldown)
        self.eps = float(eps)
        self.last_epoch = 0
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self._last_lr = [float(g["lr"]) for g in optimizer.param_groups]

    def _is_better(self, a: float) -> bool:
        best, th = self.best, self.threshold
        if self.mode == "min":
            return a < (best * (1.0 - th) if self.threshold_mode == "rel" else best - th)
        return a > (best * (1.0 + th) if self.threshold_mode == "rel" else best + th)

    def step(self, metrics: Any) -> None:  # type: ignore[override]
        """Record one metric value (a number or 0-d Tensor) and reduce the rates on a plateau."""
        current = float(metrics)
        self.last_epoch += 1
        if self._is_better(current):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [float(g["lr"]) for g in self.optimizer.param_groups]

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise ValueError(
                    f"ReduceLROnPlateau: the optimizer has {len(groups)} parameter groups but min_lr has "
                    f"{len(self.min_lrs)} entries"
                )
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old = float(group["lr"])
            new = max(old * self.factor, min_lr)
            if old - new > self.eps:
                group["lr"] = new


# --- helpers ----------------------------------------------------------------------------------
def _restart(scheduler: LRScheduler) -> None:
    """Put ``scheduler`` at its step 0 (writing its step-0 learning rates)."""
    if isinstance(scheduler, SequentialLR):
        scheduler.last_epoch = -1
        for s in scheduler._schedulers:
            s.last_epoch = -1
        first = scheduler._schedulers[bisect_right(scheduler._milestones, 0)]
        _restart(first)
        scheduler.last_epoch = 0
        scheduler._last_lr = first.get_last_lr()
    else:
        scheduler.last_epoch = -1
        scheduler.step()


def _check_optimizer(optimizer: Any, name: str) -> None:
    groups = getattr(optimizer, "param_groups", None)
    if not isinstance(groups, list) or not all(isinstance(g, dict) and "lr" in g for g in groups):
        raise TypeError(
            f"{name}: expected an Optimizer (with param_groups holding 'lr'), got {type(optimizer).__name__}"
        )


def _check_int(name: str, what: str, value: Any, minimum: int) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{name}: {what} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name}: {what} must be >= {minimum}, got {value}")


def _check_number(
    name: str,
    what: str,
    value: Any,
    lo: float | None = None,
    hi: float | None = None,
    open_lo: bool = False,
    open_hi: bool = False,
) -> None:
    if not _is_real(value) or math.isnan(float(value)):
        raise TypeError(f"{name}: {what} must be a real number, got {type(value).__name__} {value!r}")
    v = float(value)
    bad_lo = lo is not None and (v < lo or (open_lo and v == lo))
    bad_hi = hi is not None and (v > hi or (open_hi and v == hi))
    if bad_lo or bad_hi:
        left = "(" if open_lo else "["
        right = ")" if open_hi else "]"
        rng = f"{left}{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}{right}"
        raise ValueError(f"{name}: {what} must be in {rng}, got {value}")


def _per_group(name: str, what: str, value: Any, n: int) -> list[float]:
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{name}: expected {n} values of {what} (one per parameter group), got {len(value)}")
        values = list(value)
    else:
        values = [value] * n
    for v in values:
        _check_number(name, what, v)
    return [float(v) for v in values]


def _copy_plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_copy_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy_plain(v) for k, v in value.items()}
    return value
