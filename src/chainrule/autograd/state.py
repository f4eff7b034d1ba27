"""Global switches of the autodiff engine: grad mode and the stack of forward-mode levels.

Kept in one tiny module because the hot path (``engine.apply``) reads them on every op.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

#: When False, ops record no reverse-mode graph (inside ``no_grad``).
grad_enabled: bool = True

#: Forward-mode levels whose tangents ops propagate now, outermost first. A level is paused
#: (removed from here) while its own JVP rule runs, so a tangent never gets a tangent of itself.
fw_active: list[int] = []
_fw_next_level = 0

#: How many reverse-mode transforms (grad, vjp, ...) are running; nested ones must build
#: differentiable gradients so the outer transform can differentiate them.
transform_depth: int = 0


class _GradMode(contextlib.ContextDecorator):
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._prev: list[bool] = []

    def __enter__(self) -> None:
        global grad_enabled
        self._prev.append(grad_enabled)
        grad_enabled = self.enabled

    def __exit__(self, *exc: Any) -> None:
        global grad_enabled
        grad_enabled = self._prev.pop()


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
    return grad_enabled


@contextlib.contextmanager
def forward_level() -> Iterator[int]:
    """Open a new forward-mode level (one ``jvp`` call) for the duration of the block."""
    global _fw_next_level
    level = _fw_next_level
    _fw_next_level += 1
    fw_active.append(level)
    try:
        yield level
    finally:
        fw_active.remove(level)


@contextlib.contextmanager
def paused_from(level: int) -> Iterator[None]:
    """Pause ``level`` and every level opened after it (used while computing its tangent)."""
    global fw_active
    saved = fw_active
    fw_active = [lv for lv in saved if lv < level]
    try:
        yield
    finally:
        fw_active = saved


@contextlib.contextmanager
def in_transform() -> Iterator[None]:
    global transform_depth
    transform_depth += 1
    try:
        yield
    finally:
        transform_depth -= 1
