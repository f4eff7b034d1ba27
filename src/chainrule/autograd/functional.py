"""PyTorch-style entry points to reverse mode: ``backward`` and ``grad``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.autograd import engine, state
from chainrule.tensor import Tensor


class GradientShapeError(ValueError, RuntimeError):
    """A missing or misshaped output gradient (a ValueError; a RuntimeError as in PyTorch)."""


def _as_list(x: Any) -> list[Any]:
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _root_grads(op: str, roots: list[Tensor], grads: list[Any] | None, tensor_mode: bool) -> list[Any]:
    if grads is not None and len(grads) != len(roots):
        raise ValueError(f"{op}: got {len(grads)} gradients for {len(roots)} outputs")
    out = []
    for k, r in enumerate(roots):
        if not isinstance(r, Tensor):
            raise TypeError(f"{op}: outputs must be Tensors, got {type(r).__name__}")
        if not r.requires_grad:
            raise RuntimeError(
                f"{op}: output {k} (shape {r.shape}) does not require grad and has no graph; "
                "did an input set requires_grad=True, and was the computation outside no_grad()?"
            )
        g = None if grads is None else grads[k]
        if g is None:
            if r.size != 1:
                raise GradientShapeError(
                    f"{op}: output {k} has shape {r.shape}; a gradient can be created implicitly only "
                    "for a scalar output, so pass gradient= (the vector of the vector-Jacobian product)"
                )
            g = np.ones(r.shape, dtype=r.dtype)
        else:
            g_arr = g.data if isinstance(g, Tensor) else np.asarray(g, dtype=r.dtype)
            if g_arr.shape != r.shape:
                raise GradientShapeError(
                    f"{op}: gradient of shape {g_arr.shape} given for output {k} of shape {r.shape}"
                )
            if tensor_mode and isinstance(g, Tensor):
                out.append(g)
                continue
            g = g_arr.astype(r.dtype, copy=False)
        out.append(engine._new_tensor(g) if tensor_mode else g)
    return out


def backward(
    tensors: Sequence[Tensor] | Tensor,
    grad_tensors: Sequence[Any] | Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Accumulate gradients of ``tensors`` into the ``.grad`` of every leaf that requires grad."""
    roots = _as_list(tensors)
    grads = None if grad_tensors is None else _as_list(grad_tensors)
    if retain_graph is None:
        retain_graph = create_graph
    tensor_mode = create_graph or bool(state.fw_active)
    g = _root_grads("backward", roots, grads, tensor_mode)
    engine.backward(roots, g, retain_graph=retain_graph, create_graph=create_graph)


def grad(
    outputs: Sequence[Tensor] | Tensor,
    inputs: Sequence[Tensor] | Tensor,
    grad_outputs: Sequence[Any] | Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, returned (``.grad`` is untouched).

    With ``create_graph=True`` the returned gradients are themselves differentiable, so
    ``grad`` of a ``grad`` (double backward) gives second derivatives and Hessian-vector products.
    """
    roots = _as_list(outputs)
    xs = _as_list(inputs)
    for k, x in enumerate(xs):
        if not isinstance(x, Tensor) or not x.requires_grad:
            raise RuntimeError(f"grad: input {k} does not require grad")
    grads = None if grad_outputs is None else _as_list(grad_outputs)
    if retain_graph is None:
        retain_graph = create_graph
    tensor_mode = create_graph or bool(state.fw_active)
    g = _root_grads("grad", roots, grads, tensor_mode)
    res = engine.backward(roots, g, retain_graph=retain_graph, create_graph=create_graph, inputs=xs)
    out: list[Tensor | None] = []
    for k, (x, r) in enumerate(zip(xs, res, strict=True)):
        if r is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: input {k} (shape {x.shape}) was not used to compute the outputs; "
                    "pass allow_unused=True to get None for it"
                )
            out.append(None)
            continue
        if not isinstance(r, Tensor):
            r = engine._new_tensor(
                np.array(r, dtype=x.dtype, copy=True) if not isinstance(r, np.ndarray) or r.base is not None else r
            )
        elif not create_graph and r._node is not None:
            r = _without_graph(r)
        out.append(r)
    return tuple(out)


def _without_graph(t: Tensor) -> Tensor:
    """Cut from the reverse graph, keeping forward-mode tangents (forward-over-reverse needs them)."""
    out = engine._new_tensor(t.data)
    out._tangents = t._tangents
    return out
