"""Numerical checks of derivatives: gradcheck, gradgradcheck and the mode-agreement check.

Every derivative rule in chainrule is stated by hand, so every one can be wrong. These tools
compare what the engine computes with what the function does:

* ``gradcheck`` builds the full Jacobian J of ``f`` at ``inputs`` three ways: by reverse mode
  (one vector-Jacobian product per output element, eₖᵀ J), by forward mode (one Jacobian-vector
  product per input element, J eⱼ), and by central finite differences on the raw float64 data,
  (f(x + ε eⱼ) - f(x - ε eⱼ)) / 2ε. Both analytic Jacobians must match the numeric one.
* ``gradgradcheck`` checks second order: for a fixed random cotangent u, the function
  x ↦ uᵀ J(x) (itself differentiated by the engine, so its derivative is the Hessian-like
  second-order term) must pass ``gradcheck``.
* ``mode_agreement_check`` checks the adjoint identity ⟨u, J v⟩ = ⟨Jᵀ u, v⟩ for random u, v:
  reverse and forward mode are two statements of the same derivative, so they must agree to
  rounding, with no finite differences involved.

Inputs must be float64 Tensors (or float64 arrays): finite differences in lower precision are
too noisy to test anything. Arguments that are not differentiated (integer index arrays, bool
masks, shapes) are passed by closing over them in ``f``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chainrule.autograd import state
from chainrule.autograd.transforms import jvp, vjp
from chainrule.tensor import Tensor

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck", "mode_agreement_check"]


class GradcheckError(AssertionError):
    """An analytic derivative disagrees with finite differences (or with the other mode)."""


# --- argument handling ---------------------------------------------------------------------------


def _as_inputs(op: str, inputs: Any) -> list[np.ndarray]:
    """The inputs as fresh float64 arrays; a single Tensor/array counts as one input."""
    if isinstance(inputs, (Tensor, np.ndarray, np.generic)):
        inputs = (inputs,)
    if not isinstance(inputs, (tuple, list)):
        raise TypeError(f"{op}: inputs must be a Tensor or a tuple/list of Tensors, got {type(inputs).__name__}")
    out = []
    for k, x in enumerate(inputs):
        if isinstance(x, np.generic):  # a NumPy scalar, as 0-d arithmetic returns
            x = np.asarray(x)
        if not isinstance(x, (Tensor, np.ndarray)):
            raise TypeError(
                f"{op}: input {k} is a {type(x).__name__}; pass float64 Tensors (close over "
                "arguments that are not differentiated)"
            )
        data = x.data if isinstance(x, Tensor) else x
        if data.dtype != np.float64:
            raise TypeError(
                f"{op}: input {k} (shape {data.shape}) has dtype {data.dtype}; finite differences need "
                "float64 inputs (close over integer or bool arguments in f instead of passing them)"
            )
        out.append(np.array(data, dtype=np.float64, copy=True, order="C"))
    return out


def _leaves(op: str, out: Any) -> list[Tensor]:
    """The output of f as a list of Tensors (f may return one Tensor or a tuple/list of them)."""
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    for k, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise TypeError(f"{op}: f must return a Tensor (or a tuple of Tensors), got {type(o).__name__}")
        if o.dtype != np.float64:
            raise TypeError(
                f"{op}: output {k} of f (shape {o.shape}) has dtype {o.dtype}; finite differences need float64 outputs"
            )
    return outs


def _tensors(arrays: Sequence[np.ndarray]) -> list[Tensor]:
    return [Tensor(a) for a in arrays]


def _flat_output(op: str, f: Callable[..., Any], arrays: Sequence[np.ndarray]) -> np.ndarray:
    """f evaluated (no graph recorded), all outputs flattened into one float64 vector."""
    with state.no_grad():
        outs = _leaves(op, f(*_tensors(arrays)))
    if not outs:
        return np.zeros(0)
    return np.concatenate([np.asarray(o.data, dtype=np.float64).reshape(-1) for o in outs])


# --- the three Jacobians ---------------------------------------------------------------------------


def _numeric_jacobians(op: str, f: Callable[..., Any], xs: list[np.ndarray], eps: float) -> list[np.ndarray]:
    """Central differences: one (n_out, x.size) block per input."""
    blocks = []
    for i, x in enumerate(xs):
        cols = []
        for j in range(x.size):
            plus = [a.copy() for a in xs]
            minus = [a.copy() for a in xs]
            plus[i].reshape(-1)[j] += eps
            minus[i].reshape(-1)[j] -= eps
            with np.errstate(all="ignore"):
                cols.append((_flat_output(op, f, plus) - _flat_output(op, f, minus)) / (2 * eps))
        n_out = _flat_output(op, f, xs).size if not cols else cols[0].size
        blocks.append(np.stack(cols, axis=1) if cols else np.zeros((n_out, 0)))
    return blocks


def _split_like(vec: np.ndarray, shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
    parts, pos = [], 0
    for s in shapes:
        n = int(np.prod(s, dtype=np.int64))
        parts.append(vec[pos : pos + n].reshape(s))
        pos += n
    return parts


def _check_shape(op: str, what: str, got: Any, want: tuple[int, ...]) -> np.ndarray:
    arr = got.data if isinstance(got, Tensor) else np.asarray(got)
    if arr.shape != want:
        raise GradcheckError(f"{op}: {what} has shape {arr.shape}, expected {want}")
    return np.asarray(arr, dtype=np.float64)


def _reverse_jacobians(op: str, f: Callable[..., Any], xs: list[np.ndarray]) -> list[np.ndarray]:
    """Reverse mode: row k of J is the vector-Jacobian product with the k-th basis cotangent."""
    out, fn = vjp(lambda *ts: tuple(_leaves(op, f(*ts))), *_tensors(xs))
    shapes = [o.shape for o in out]
    n_out = sum(o.size for o in out)
    blocks = [np.zeros((n_out, x.size)) for x in xs]
    for k in range(n_out):
        e = np.zeros(n_out)
        e[k] = 1.0
        cts = tuple(Tensor(c.astype(o.dtype)) for c, o in zip(_split_like(e, shapes), out, strict=True))
        grads = fn(cts)
        for i, (g, x) in enumerate(zip(grads, xs, strict=True)):
            blocks[i][k] = _check_shape(op, f"the reverse-mode gradient of input {i}", g, x.shape).reshape(-1)
    return blocks


def _forward_jacobians(op: str, f: Callable[..., Any], xs: list[np.ndarray]) -> list[np.ndarray]:
    """Forward mode: column j of J is the Jacobian-vector product with the j-th basis tangent."""
    blocks = []
    n_out = None
    for i, x in enumerate(xs):
        cols = []
        for j in range(x.size):
            tangents = [np.zeros_like(a) for a in xs]
            tangents[i].reshape(-1)[j] = 1.0
            out, tout = jvp(lambda *ts: tuple(_leaves(op, f(*ts))), tuple(_tensors(xs)), tuple(_tensors(tangents)))
            parts = [
                _check_shape(op, f"the forward-mode tangent of output {k}", t, o.shape).reshape(-1)
                for k, (t, o) in enumerate(zip(tout, out, strict=True))
            ]
            cols.append(np.concatenate(parts) if parts else np.zeros(0))
        if n_out is None:
            n_out = cols[0].size if cols else _flat_output(op, f, xs).size
        blocks.append(np.stack(cols, axis=1) if cols else np.zeros((n_out, 0)))
    return blocks


# --- comparison and reporting ---------------------------------------------------------------------


def _worst(analytic: np.ndarray, numeric: np.ndarray, atol: float, rtol: float) -> tuple[bool, tuple[int, int]]:
    """Whether every entry is within tolerance, and the (row, column) of the worst entry."""
    with np.errstate(all="ignore"):
        err = np.abs(analytic - numeric)
        excess = err - (atol + rtol * np.abs(numeric))
    excess = np.where(np.isnan(excess), np.inf, excess)
    if excess.size == 0:
        return True, (0, 0)
    flat = int(np.argmax(excess))
    row, col = np.unravel_index(flat, excess.shape)
    return bool(excess.reshape(-1)[flat] <= 0), (int(row), int(col))


def _out_index(row: int, out_shapes: Sequence[tuple[int, ...]]) -> str:
    """Name output element ``row`` of the flattened outputs, e.g. ``(1, 2)`` or ``out[1](0,)``."""
    pos = 0
    for k, s in enumerate(out_shapes):
        n = int(np.prod(s, dtype=np.int64))
        if row < pos + n:
            idx = tuple(int(v) for v in np.unravel_index(row - pos, s)) if s else ()
            return str(idx) if len(out_shapes) == 1 else f"output {k} {idx}"
        pos += n
    return str(row)


def _report(
    op: str,
    mode: str,
    analytic: list[np.ndarray],
    numeric: list[np.ndarray],
    xs: list[np.ndarray],
    out_shapes: Sequence[tuple[int, ...]],
    atol: float,
    rtol: float,
) -> list[str]:
    """One line per input whose Jacobian block has an entry out of tolerance."""
    lines = []
    for i, (a, n, x) in enumerate(zip(analytic, numeric, xs, strict=True)):
        ok, (row, col) = _worst(a, n, atol, rtol)
        if ok:
            continue
        av, nv = float(a[row, col]), float(n[row, col])
        abs_err = abs(av - nv)
        rel_err = abs_err / abs(nv) if nv != 0 else float("inf") if abs_err else 0.0
        in_idx = tuple(int(v) for v in np.unravel_index(col, x.shape)) if x.shape else ()
        bad = int(np.sum(~(np.abs(a - n) <= atol + rtol * np.abs(n))))
        lines.append(
            f"  {mode} mode, input {i} (shape {x.shape}): worst element d out{_out_index(row, out_shapes)} / "
            f"d in{in_idx} (Jacobian entry [{row}, {col}]): analytic {av:.10g}, numeric {nv:.10g}, "
            f"abs error {abs_err:.3g}, rel error {rel_err:.3g} ({bad} of {a.size} entries out of tolerance)"
        )
    return lines


def _fail(message: str, raise_exception: bool) -> bool:
    if raise_exception:
        raise GradcheckError(message)
    return False


def _output_shapes(op: str, f: Callable[..., Any], xs: list[np.ndarray]) -> list[tuple[int, ...]]:
    with state.no_grad():
        return [o.shape for o in _leaves(op, f(*_tensors(xs)))]


# --- public checks --------------------------------------------------------------------------------


def gradcheck(
    f: Callable[..., Any],
    inputs: Any,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    raise_exception: bool = True,
    check_reverse: bool = True,
    check_forward: bool = True,
) -> bool:
    """Check the Jacobian of ``f`` at ``inputs`` from reverse and forward mode against finite differences.

    ``f`` takes one Tensor per input and returns a Tensor of any shape (or a tuple of Tensors).
    ``inputs`` is a float64 Tensor or a tuple of them (float64 arrays are accepted too); other
    arguments of the function under test are closed over in ``f``. The reverse-mode Jacobian is
    built row by row with ``vjp`` and the forward-mode one column by column with ``jvp``; each
    entry must satisfy ``|analytic - numeric| <= atol + rtol * |numeric|``, where ``numeric`` is
    the central difference with step ``eps`` on the raw float64 data.

    Returns True when every checked mode passes. On a mismatch raises ``GradcheckError`` naming,
    for each bad input and mode, the worst Jacobian entry (output and input index, analytic and
    numeric value, absolute and relative error), or returns False when ``raise_exception`` is
    False. ``check_reverse`` / ``check_forward`` turn one of the two modes off.
    """
    op = "gradcheck"
    xs = _as_inputs(op, inputs)
    out_shapes = _output_shapes(op, f, xs)
    numeric = _numeric_jacobians(op, f, xs, eps)
    lines: list[str] = []
    if check_reverse:
        lines += _report(op, "reverse", _reverse_jacobians(op, f, xs), numeric, xs, out_shapes, atol, rtol)
    if check_forward:
        lines += _report(op, "forward", _forward_jacobians(op, f, xs), numeric, xs, out_shapes, atol, rtol)
    if lines:
        shapes = ", ".join(str(x.shape) for x in xs)
        head = (
            f"{op}: the analytic Jacobian of {getattr(f, '__name__', repr(f))} (inputs of shapes {shapes}, "
            f"outputs {', '.join(str(s) for s in out_shapes)}) disagrees with central differences "
            f"(eps={eps:g}, atol={atol:g}, rtol={rtol:g}):"
        )
        return _fail("\n".join([head, *lines]), raise_exception)
    return True


def gradgradcheck(
    f: Callable[..., Any],
    inputs: Any,
    grad_outputs: Any = None,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    raise_exception: bool = True,
    seed: int = 0,
    check_reverse: bool = True,
    check_forward: bool = True,
) -> bool:
    """Check the second derivatives of ``f``: the gradient map x ↦ uᵀ J_f(x) must pass ``gradcheck``.

    ``u`` is ``grad_outputs`` (one array per output of f) or, when None, a fixed random normal
    cotangent drawn from ``seed``. The gradient map is built with ``chainrule.vjp``; under the
    outer check the engine runs the backward pass on Tensors (create_graph), so differentiating
    it exercises every rule's own derivative, in reverse mode (reverse-over-reverse) and in
    forward mode (forward-over-reverse). Arguments and result as for ``gradcheck``.
    """
    op = "gradgradcheck"
    xs = _as_inputs(op, inputs)
    out_shapes = _output_shapes(op, f, xs)
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        us = [rng.standard_normal(s) for s in out_shapes]
    else:
        gos = list(grad_outputs) if isinstance(grad_outputs, (tuple, list)) else [grad_outputs]
        us = [np.asarray(g.data if isinstance(g, Tensor) else g, dtype=np.float64) for g in gos]
        if [u.shape for u in us] != list(out_shapes):
            raise ValueError(
                f"{op}: grad_outputs of shapes {[u.shape for u in us]} for outputs of shapes {list(out_shapes)}"
            )

    def grad_map(*ts: Tensor) -> tuple[Tensor, ...]:
        outs, fn = vjp(lambda *a: tuple(_leaves(op, f(*a))), *ts)
        return tuple(fn(tuple(Tensor(u.astype(o.dtype)) for u, o in zip(us, outs, strict=True))))

    grad_map.__name__ = f"vjp({getattr(f, '__name__', 'f')})"
    return gradcheck(
        grad_map,
        tuple(xs),
        eps=eps,
        atol=atol,
        rtol=rtol,
        raise_exception=raise_exception,
        check_reverse=check_reverse,
        check_forward=check_forward,
    )


def mode_agreement_check(
    f: Callable[..., Any],
    inputs: Any,
    *,
    num_probes: int = 2,
    rtol: float = 1e-9,
    atol: float = 1e-12,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """Check ⟨u, J v⟩ = ⟨Jᵀ u, v⟩ for random u, v: forward and reverse mode must state one derivative.

    J v comes from ``jvp``, Jᵀ u from ``vjp``; no finite differences are involved, so the
    tolerance is near rounding: ``|lhs - rhs| <= atol + rtol * Σ|terms|`` (the sum of the absolute
    products in both inner products, so cancellation does not make the check flaky).
    Runs ``num_probes`` random pairs drawn from ``seed``.
    """
    op = "mode_agreement_check"
    xs = _as_inputs(op, inputs)
    rng = np.random.default_rng(seed)

    def g(*ts: Tensor) -> tuple[Tensor, ...]:
        return tuple(_leaves(op, f(*ts)))

    for probe in range(num_probes):
        vs = [rng.standard_normal(x.shape) for x in xs]
        outs, jv = jvp(g, tuple(_tensors(xs)), tuple(_tensors(vs)))
        us = [rng.standard_normal(o.shape) for o in outs]
        _, fn = vjp(g, *_tensors(xs))
        jtu = fn(tuple(Tensor(u.astype(o.dtype)) for u, o in zip(us, outs, strict=True)))
        jv_arrays = [_check_shape(op, f"J v for output {k}", t, o.shape) for k, (t, o) in enumerate(zip(jv, outs))]
        jtu_arrays = [_check_shape(op, f"Jᵀ u for input {i}", t, x.shape) for i, (t, x) in enumerate(zip(jtu, xs))]
        lhs_terms = np.concatenate([(u * t).reshape(-1) for u, t in zip(us, jv_arrays, strict=True)] + [np.zeros(0)])
        rhs_terms = np.concatenate([(t * v).reshape(-1) for t, v in zip(jtu_arrays, vs, strict=True)] + [np.zeros(0)])
        lhs, rhs = float(lhs_terms.sum()), float(rhs_terms.sum())
        scale = float(np.abs(lhs_terms).sum() + np.abs(rhs_terms).sum())
        if not abs(lhs - rhs) <= atol + rtol * scale:
            return _fail(
                f"{op}: forward and reverse mode of {getattr(f, '__name__', repr(f))} disagree (probe {probe}, "
                f"inputs of shapes {', '.join(str(x.shape) for x in xs)}): <u, J v> = {lhs:.12g} from jvp but "
                f"<Jᵀ u, v> = {rhs:.12g} from vjp (abs difference {abs(lhs - rhs):.3g}, scale {scale:.3g})",
                raise_exception,
            )
    return True
