"""Switches of the autodiff engine: grad mode and the stack of forward-mode levels, per thread.

Kept in one tiny module because the hot path (``engine.apply``) reads them on every op. Each
thread has its own values (as PyTorch's grad mode is thread-local): one thread's ``no_grad`` —
or the backward pass, which records nothing unless ``create_graph`` — must not stop another
thread's forward pass from recording its graph. That is what lets several threads train model
replicas at once (``chainrule.train.lm``'s data-parallel workers). The module attributes
``state.grad_enabled``, ``state.fw_active`` and ``state.transform_depth`` read and write the
calling thread's values.
"""

from __future__ import annotations

import contextlib
import itertools
import sys
import threading
import types
from collections.abc import Iterator
from typing import Any


class _Local(threading.local):
    def __init__(self) -> None:
        #: When False, ops record no reverse-mode graph (inside ``no_grad``).
        self.grad_enabled = True
        #: Forward-mode levels whose tangents ops propagate now, outermost first. A level is
        #: paused (removed from here) while its own JVP rule runs, so a tangent never gets a
        #: tangent of itself.
        self.fw_active: list[int] = []
        #: How many reverse-mode transforms (grad, vjp, ...) are running; nested ones must build
        #: differentiable gradients so the outer transform can differentiate them.
        self.transform_depth = 0


_local = _Local()
_levels = itertools.count()  # level numbers are unique across threads


def _attr(name: str) -> property:
    return property(lambda _mod: getattr(_local, name), lambda _mod, value: setattr(_local, name, value))


class _StateModule(types.ModuleType):
    grad_enabled = _attr("grad_enabled")
    fw_active = _attr("fw_active")
    transform_depth = _attr("transform_depth")


sys.modules[__name__].__class__ = _StateModule


class _GradMode(contextlib.ContextDecorator):
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._prev: list[bool] = []

    def __enter__(self) -> None:
        self._prev.append(_local.grad_enabled)
        _local.grad_enabled = self.enabled

    def __exit__(self, *exc: Any) -> None:
        _local.grad_enabled = self._prev.pop()


def no_grad() -> _GradMode:
    """Context manager (and decorator) in which ops record no graph for reverse mode."""
    return _GradMode(False)


def enable_grad() -> _GradMode:
    """Context manager (and decorator) that turns graph recording back on inside ``no_grad``."""
    return _GradMode(True)


def set_grad_enabled(mode: bool) -> _GradMode:
    """Context manager that sets grad mode to ``mode`` for its block."""
    return _GradMode(bool(mode))


def is_grad_enabled() -> bool:
    return _local.grad_enabled


@contextlib.contextmanager
def forward_level() -> Iterator[int]:
    """Open a new forward-mode level (one ``jvp`` call) for the duration of the block."""
    level = next(_levels)
    _local.fw_active.append(level)
    try:
        yield level
    finally:
        _local.fw_active.remove(level)


@contextlib.contextmanager
def paused_from(level: int) -> Iterator[None]:
    """Pause ``level`` and every level opened after it (used while computing its tangent)."""
    saved = _local.fw_active
    _local.fw_active = [lv for lv in saved if lv < level]
    try:
        yield
    finally:
        _local.fw_active = saved


@contextlib.contextmanager
def in_transform() -> Iterator[None]:
    _local.transform_depth += 1
    try:
        yield
    finally:
        _local.transform_depth -= 1
