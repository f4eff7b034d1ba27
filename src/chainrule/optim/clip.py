"""Gradient clipping: rescale by the total norm, or clamp each entry."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from chainrule import backend
from chainrule.optim.optimizer import _is_real
from chainrule.tensor import Tensor


def _grads(parameters: Tensor | Iterable[Tensor], name: str) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{name}: parameter {i} is a {type(p).__name__}, expected a Tensor")
    return [p.grad for p in params if p.grad is not None]


def _writable(g: Tensor) -> np.ndarray:
    if not g.data.flags.writeable:
        g.data = g.data.copy()
    return g.data


def _norm(x: np.ndarray, p: float) -> float:
    if x.size == 0:
        return 0.0
    if p == 2.0:
        return float(np.sqrt(np.vdot(x, x).real)) if x.dtype.kind == "f" else float(np.linalg.norm(x.ravel()))
    if p == 1.0:
        return float(np.sum(np.abs(x)))
    if math.isinf(p):
        return float(np.max(np.abs(x)))
    return float(np.sum(np.abs(x) ** p) ** (1.0 / p))


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    r"""Rescale the gradients in place so that their total norm is at most ``max_norm``.

    The total norm treats all gradients as one vector: ‖g‖_p = (Σᵢ ‖gᵢ‖_pᵖ)^{1/p} (the maximum
    of |g| for p = inf). Every gradient is multiplied by min(1, max_norm / (‖g‖_p + 1e-6)), as in
    PyTorch (so a clipped norm lands just below ``max_norm``). Parameters whose ``.grad`` is None
    are ignored.

    Returns the total norm **before** clipping as a 0-d Tensor (as PyTorch does; ``float()`` or
    ``.item()`` gives the Python number), in the dtype of the first gradient (0.0 in the default
    dtype when no parameter has a gradient). A non-finite norm raises RuntimeError when
    ``error_if_nonfinite``; otherwise the gradients are scaled by the non-finite coefficient, as
    in PyTorch. Deviations: ``max_norm`` must be >= 0 and ``norm_type`` > 0 (or inf).
    """
    name = "clip_grad_norm_"
    if not _is_real(max_norm) or not float(max_norm) >= 0.0:
        raise ValueError(f"{name}: max_norm must be a number >= 0, got {max_norm!r}")
    if not _is_real(norm_type) or not float(norm_type) > 0.0:
        raise ValueError(f"{name}: norm_type must be a positive number or inf, got {norm_type!r}")
    max_norm, p = float(max_norm), float(norm_type)
    grads = _grads(parameters, name)
    if not grads:
        return Tensor(np.asarray(0.0, dtype=backend.get_default_dtype()))
    norms = [_norm(g.data, p) for g in grads]
    total = max(norms) if math.isinf(p) else _norm(np.asarray(norms), p)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"{name}: the total norm of order {norm_type} of the gradients is non-finite ({total}), so it cannot "
            "be clipped; pass error_if_nonfinite=False to scale the gradients by it anyway"
        )
    coef = max_norm / (total + 1e-6)
    # min() with NaN first keeps the NaN, as torch.clamp does.
    coef = coef if math.isnan(coef) else min(coef, 1.0)
    if coef < 1.0 or math.isnan(coef):
        with np.errstate(invalid="ignore"):
            for g in grads:
                _writable(g)[...] *= coef
                g._version[0] += 1
    return Tensor(np.asarray(total, dtype=grads[0].data.dtype))


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient entry in place to [-clip_value, clip_value] (``.grad`` None is skipped).

    Deviation from PyTorch: a negative ``clip_value`` raises ValueError.
    """
    name = "clip_grad_value_"
    if not _is_real(clip_value) or not float(clip_value) >= 0.0:
        raise ValueError(f"{name}: clip_value must be a number >= 0, got {clip_value!r}")
    c = float(clip_value)
    for g in _grads(parameters, name):
        data = _writable(g)
        np.clip(data, -c, c, out=data)
        g._version[0] += 1
