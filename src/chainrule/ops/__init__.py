"""The primitives and the tensor-level functions built on them.

Importing this package registers every primitive in ``REGISTRY`` (tests and the derivative
reference enumerate it) and installs the two rule namespaces in the engine.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd import engine, state
from chainrule.backend import xp
from chainrule.ops import convolution, elementwise, fused, linalg, reduction, shape
from chainrule.ops.convolution import fold, unfold
from chainrule.ops.elementwise import (
    abs,
    add,
    astype,
    cos,
    div,
    erf,
    exp,
    expm1,
    log,
    log1p,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    relu,
    sigmoid,
    sign,
    sin,
    sqrt,
    sub,
    tan,
    tanh,
)
from chainrule.ops.fused import log_softmax, logsumexp, lstm_cell, softmax
from chainrule.ops.linalg import dot, matmul, outer
from chainrule.ops.namespace import RawOps, TensorOps
from chainrule.ops.reduction import (
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    cumsum,
    max,
    mean,
    min,
    norm,
    prod,
    std,
    sum,
    var,
)
from chainrule.ops.registry import REGISTRY, Primitive
from chainrule.ops.shape import (
    broadcast_to,
    cat,
    chunk,
    concatenate,
    diagonal,
    expand,
    expand_as,
    expand_dims,
    flatten,
    flip,
    gather,
    getitem,
    index_add,
    normalize_index,
    pad,
    permute,
    repeat,
    reshape,
    roll,
    split,
    squeeze,
    stack,
    swapaxes,
    take_along_axis,
    tile,
    transpose,
    tril,
    triu,
    unsqueeze,
    view,
)
from chainrule.tensor import Tensor

engine.RAW_OPS = RawOps
engine.TENSOR_OPS = TensorOps

subtract = sub
multiply = mul
divide = true_divide = div
negative = neg
power = pow


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _raw(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _const(op: str, fn: Any, *args: Any) -> Tensor:
    """A result that carries no gradient (comparisons, rounding, integer arithmetic)."""
    try:
        out = fn(*(_raw(a) for a in args))
    except (ValueError, TypeError) as e:
        shapes = ", ".join(str(np.shape(_raw(a))) for a in args)
        raise type(e)(f"{op}: {e} (shapes {shapes})") from None
    t = Tensor.__new__(Tensor)
    Tensor.__init__(t, np.asarray(out))
    return t


_COMPARE = {
    "eq": xp.equal,
    "ne": xp.not_equal,
    "lt": xp.less,
    "le": xp.less_equal,
    "gt": xp.greater,
    "ge": xp.greater_equal,
}


def compare(op: str, a: Any, b: Any) -> Tensor:
    """Elementwise comparison; returns a bool tensor (not differentiable)."""
    return _const(op, _COMPARE[op], a, b)


def eq(a: Any, b: Any) -> Tensor:
    return compare("eq", a, b)


def ne(a: Any, b: Any) -> Tensor:
    return compare("ne", a, b)


def lt(a: Any, b: Any) -> Tensor:
    return compare("lt", a, b)


def le(a: Any, b: Any) -> Tensor:
    return compare("le", a, b)


def gt(a: Any, b: Any) -> Tensor:
    return compare("gt", a, b)


def ge(a: Any, b: Any) -> Tensor:
    return compare("ge", a, b)


def logical_not(a: Any) -> Tensor:
    return _const("logical_not", xp.logical_not, a)


def logical_and(a: Any, b: Any) -> Tensor:
    return _const("logical_and", xp.logical_and, a, b)


def logical_or(a: Any, b: Any) -> Tensor:
    return _const("logical_or", xp.logical_or, a, b)


def logical_xor(a: Any, b: Any) -> Tensor:
    return _const("logical_xor", xp.logical_xor, a, b)


def floor(x: Any) -> Tensor:
    """Round down; piecewise constant, so not differentiable (no gradient flows)."""
    return _const("floor", xp.floor, x)


def ceil(x: Any) -> Tensor:
    """Round up; piecewise constant, so not differentiable."""
    return _const("ceil", xp.ceil, x)


def round(x: Any, decimals: int = 0) -> Tensor:
    """Round half to even; piecewise constant, so not differentiable."""
    return _const("round", lambda a: xp.round(a, decimals), x)


def floor_divide(a: Any, b: Any) -> Tensor:
    """``a // b``; piecewise constant, so not differentiable."""
    return _const("floor_divide", xp.floor_divide, a, b)


def remainder(a: Any, b: Any) -> Tensor:
    """``a % b`` (sign of the divisor, as Python); not differentiable here."""
    return _const("remainder", xp.remainder, a, b)


def isnan(x: Any) -> Tensor:
    return _const("isnan", xp.isnan, x)


def isinf(x: Any) -> Tensor:
    return _const("isinf", xp.isinf, x)


def isfinite(x: Any) -> Tensor:
    return _const("isfinite", xp.isfinite, x)


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """Select ``a`` where ``cond`` holds, else ``b``; the gradient of the other branch is exactly 0."""
    c = _raw(cond)
    c = np.asarray(c)
    if c.dtype != np.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got dtype {c.dtype}")
    return elementwise.where(c, a, b)


def clamp(x: Any, min: Any = None, max: Any = None) -> Tensor:
    """Clamp into [min, max]; the gradient is 1 inside (bounds included) and 0 outside."""
    if min is None and max is None:
        raise ValueError("clamp: give at least one of min and max")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        y = _t(x)
        if min is not None:
            y = maximum(y, min)
        if max is not None:
            y = minimum(y, max)
        return y
    return elementwise.clip(x, lo=min, hi=max)


clip = clamp


def square(x: Any) -> Tensor:
    return mul(x, x)


def reciprocal(x: Any) -> Tensor:
    return div(1.0, x)


def rsqrt(x: Any) -> Tensor:
    return div(1.0, sqrt(x))


def clone(x: Any) -> Tensor:
    """A copy in new memory that stays on the graph (gradient passes through)."""
    return elementwise.copy(x)


def detach(x: Tensor) -> Tensor:
    return x.detach()


def stop_gradient(x: Any) -> Any:
    """The value of x with no derivative, in every mode (JAX's name for ``detach``); pytrees allowed."""
    from chainrule.autograd.tree import tree_map

    return tree_map(lambda t: t.detach() if isinstance(t, Tensor) else t, x)


# --- in-place operations -----------------------------------------------------------------------


def _check_inplace_target(op: str, target: Tensor) -> None:
    if state.grad_enabled and target.requires_grad and target._node is None:
        raise RuntimeError(
            f"{op}: a leaf tensor that requires grad cannot be modified in place "
            "(wrap the update in chainrule.no_grad())"
        )
    if not target.data.flags.writeable:
        raise ValueError(f"{op}: the tensor of shape {target.shape} is a read-only view (from expand/broadcast_to)")


def inplace(target: Tensor, op: str, fn: Any, *args: Any) -> Tensor:
    """Compute ``fn(target, *args)`` and write it into ``target``'s memory.

    The graph is rebased (target now stands for the new value) and the version counter is
    bumped, so a backward through a node that saved the old value raises instead of silently
    using the new one. Errors are raised before anything is written.
    """
    _check_inplace_target(op, target)
    res = fn(target, *args)
    if res.shape != target.shape:
        raise ValueError(f"{op}: result of shape {res.shape} cannot be written into a tensor of shape {target.shape}")
    if not np.can_cast(res.dtype, target.dtype, casting="same_kind"):
        raise TypeError(f"{op}: result dtype {res.dtype} cannot be cast into a tensor of dtype {target.dtype}")
    np.copyto(target.data, res.data, casting="same_kind")
    target._version[0] += 1
    if res._node is not None:
        target._node = res._node
        target.requires_grad = True
    target._tangents = res._tangents
    return target


def setitem(target: Tensor, index: Any, value: Any) -> None:
    """``target[index] = value``, differentiable in both (see ``index_put_``)."""
    idx = normalize_index(target, index)
    tracked = state.fw_active or (
        state.grad_enabled and (target.requires_grad or (isinstance(value, Tensor) and value.requires_grad))
    )
    if not tracked:
        _check_inplace_target("setitem", target)
        try:
            target.data[idx] = _raw(value)
        except (ValueError, IndexError) as e:
            raise type(e)(
                f"setitem: cannot write value of shape {np.shape(_raw(value))} into index {index!r} of a tensor of shape {target.shape}: {e}"
            ) from None
        target._version[0] += 1
        return
    hits = np.zeros(target.shape, dtype=np.int64)
    np.add.at(hits, idx, 1)  # validates the index before any change, and counts writes
    if hits.max(initial=0) > 1:
        raise ValueError(
            f"setitem: index {index!r} writes some elements of the tensor of shape {target.shape} more than "
            "once; with autodiff the result would depend on which write wins, so this is not allowed"
        )
    inplace(target, "setitem", lambda t, v: shape.index_put_(t, v, index=idx), value)


def fill_(target: Tensor, value: Any) -> Tensor:
    """Fill with a scalar; a tracked tensor then has zero gradient with respect to its old value."""
    if state.grad_enabled and target.requires_grad:
        return inplace(target, "fill_", lambda t: elementwise.where(np.True_, value, t))
    _check_inplace_target("fill_", target)
    target.data.fill(value)
    target._version[0] += 1
    return target


_NOT_API = {"Any", "annotations", "np", "xp", "engine", "state", "Tensor", "RawOps", "TensorOps", "normalize_index"}
__all__ = [
    name
    for name, obj in list(globals().items())
    if not name.startswith("_") and name not in _NOT_API and not isinstance(obj, type(np)) and name != "REGISTRY"
]
