"""JAX-style function transforms: grad, value_and_grad, vjp, jvp, jacrev, jacfwd, hessian, hvp.

They take functions of Tensors (or of nested tuples/lists/dicts of Tensors) and compose freely:
``grad(grad(f))``, ``jacfwd(jacrev(f))`` (the Hessian), ``jvp(grad(f), ...)`` (forward-over-reverse
Hessian-vector products). Reverse mode runs on the engine's graph; forward mode pushes tangents
through each primitive's JVP rule, one level per active ``jvp``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.autograd import engine, state
from chainrule.autograd.functional import grad as autograd_grad
from chainrule.autograd.tree import tree_flatten, tree_unflatten
from chainrule.tensor import Tensor


def _as_float_tensor(op: str, x: Any) -> Tensor:
    t = x if isinstance(x, Tensor) else Tensor(x)
    if not backend.is_floating(t.dtype):
        raise TypeError(f"{op}: can only differentiate with respect to floating tensors, got dtype {t.dtype}")
    return t


def _variable(x: Tensor) -> Tensor:
    """A fresh differentiable handle on x that stays connected to any graph x is already on."""
    if x.requires_grad:
        with state.enable_grad():
            from chainrule.ops.shape import reshape_

            return reshape_(x, shape=x.shape)  # identity node: outer derivatives flow through
    v = engine._new_tensor(x.data)
    v.requires_grad = True
    v._tangents = x._tangents
    return v


def _nested(leaves: Sequence[Tensor]) -> bool:
    """Must the gradients we return be differentiable themselves?"""
    return state.transform_depth > 0 or bool(state.fw_active) or any(x.requires_grad for x in leaves)


def _argnums_tuple(argnums: int | Sequence[int], nargs: int, op: str) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for a in nums:
        if not -nargs <= a < nargs:
            raise ValueError(f"{op}: argnums {argnums} out of range for {nargs} positional arguments")
    return tuple(a % nargs for a in nums)


def _zeros_like(x: Tensor) -> Tensor:
    return engine._new_tensor(np.zeros_like(x.data))


def _release(t: Any, nested: bool) -> Any:
    """Results of a non-nested transform are handed back without the graph behind them."""
    if nested or not isinstance(t, Tensor) or t._node is None:
        return t
    out = engine._new_tensor(t.data)
    out._tangents = t._tangents
    return out


def value_and_grad(
    f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False
) -> Callable[..., Any]:
    """Return a function computing ``(f(*args), ∇f(*args))`` (``((value, aux), grad)`` with has_aux).

    ``f`` must return a scalar Tensor. The gradient has the structure of the differentiated
    argument(s): a tuple of them when ``argnums`` is a tuple.
    """

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums_tuple(argnums, len(args), "value_and_grad")
        args = list(args)
        trees = []
        flat_vars: list[Tensor] = []
        originals: list[Tensor] = []
        for a in nums:
            leaves, treedef = tree_flatten(args[a])
            ts = [_as_float_tensor("grad", leaf) for leaf in leaves]
            vs = [_variable(t) for t in ts]
            originals.extend(ts)
            flat_vars.extend(vs)
            trees.append((treedef, len(vs)))
            args[a] = tree_unflatten(treedef, vs)
        nested = _nested(originals)
        with state.in_transform(), state.enable_grad():
            result = f(*args, **kwargs)
        value, aux = result if has_aux else (result, None)
        if has_aux and not (isinstance(result, tuple) and len(result) == 2):
            raise TypeError("value_and_grad: with has_aux=True, f must return a pair (value, aux)")
        if not isinstance(value, Tensor) or value.size != 1:
            shape = value.shape if isinstance(value, Tensor) else type(value).__name__
            raise TypeError(f"grad: f must return a scalar Tensor, got {shape}")
        if not backend.is_floating(value.dtype):
            raise TypeError(f"grad: f must return a floating scalar, got dtype {value.dtype}")
        if value.requires_grad:
            gs = autograd_grad(value, flat_vars, create_graph=nested, allow_unused=True)
        else:
            gs = (None,) * len(flat_vars)
        gs = [g if g is not None else _zeros_like(v) for g, v in zip(gs, flat_vars, strict=True)]
        out, pos = [], 0
        for treedef, n in trees:
            out.append(tree_unflatten(treedef, gs[pos : pos + n]))
            pos += n
        grads = out[0] if isinstance(argnums, int) else tuple(out)
        value = _release(value, nested)
        return ((value, aux) if has_aux else value), grads

    return wrapped


def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable[..., Any]:
    """Return the gradient function of scalar-valued ``f`` (``(grad, aux)`` with has_aux)."""
    vg = value_and_grad(f, argnums, has_aux)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        value, g = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapped


def vjp(f: Callable[..., Any], *primals: Any, has_aux: bool = False) -> Any:
    """``(f(*primals), vjp_fn)`` where ``vjp_fn(ȳ)`` returns the tuple of ȳᵀ ∂f/∂primalᵢ."""
    trees = []
    flat_vars: list[Tensor] = []
    originals: list[Tensor] = []
    args = []
    for p in primals:
        leaves, treedef = tree_flatten(p)
        ts = [_as_float_tensor("vjp", leaf) for leaf in leaves]
        vs = [_variable(t) for t in ts]
        originals.extend(ts)
        flat_vars.extend(vs)
        trees.append((treedef, len(vs)))
        args.append(tree_unflatten(treedef, vs))
    nested = _nested(originals)
    with state.in_transform(), state.enable_grad():
        result = f(*args)
    out, aux = result if has_aux else (result, None)
    out_leaves, out_def = tree_flatten(out)

    def vjp_fn(cotangent: Any) -> tuple[Any, ...]:
        ct_leaves, _ = tree_flatten(cotangent)
        if len(ct_leaves) != len(out_leaves):
            raise ValueError(f"vjp: cotangent has {len(ct_leaves)} leaves, the output has {len(out_leaves)}")
        roots, cts = [], []
        for o, c in zip(out_leaves, ct_leaves, strict=True):
            c_shape = c.shape if isinstance(c, Tensor) else np.shape(c)
            if tuple(c_shape) != o.shape:
                raise ValueError(f"vjp: cotangent of shape {tuple(c_shape)} for an output of shape {o.shape}")
            if isinstance(o, Tensor) and o.requires_grad:
                roots.append(o)
                cts.append(c if isinstance(c, Tensor) else Tensor(c, dtype=o.dtype))
        if roots:
            with state.in_transform():
                gs = autograd_grad(roots, flat_vars, cts, retain_graph=True, create_graph=nested, allow_unused=True)
        else:
            gs = (None,) * len(flat_vars)
        gs = [g if g is not None else _zeros_like(v) for g, v in zip(gs, flat_vars, strict=True)]
        res, pos = [], 0
        for treedef, n in trees:
            res.append(tree_unflatten(treedef, gs[pos : pos + n]))
            pos += n
        return tuple(res)

    released = tree_unflatten(out_def, [_release(o, nested) for o in out_leaves])
    return (released, vjp_fn, aux) if has_aux else (released, vjp_fn)


def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """``(f(*primals), J·tangents)`` by forward mode: tangents pushed through each JVP rule."""
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp: primals and tangents must be tuples (one entry per argument of f)")
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    nested = _nested([p for p in tree_flatten(list(primals))[0] if isinstance(p, Tensor)])
    with state.forward_level() as level, state.in_transform():
        args = []
        for p, t in zip(primals, tangents, strict=True):
            p_leaves, p_def = tree_flatten(p)
            t_leaves, _ = tree_flatten(t)
            if len(p_leaves) != len(t_leaves):
                raise ValueError("jvp: primal and tangent structures differ")
            vs = []
            for pl, tl in zip(p_leaves, t_leaves, strict=True):
                x = _as_float_tensor("jvp", pl)
                tt = tl if isinstance(tl, Tensor) else Tensor(tl, dtype=x.dtype)
                if tt.shape != x.shape:
                    raise ValueError(f"jvp: tangent of shape {tt.shape} for a primal of shape {x.shape}")
                if tt.dtype != x.dtype:
                    tt = tt.astype(x.dtype)
                v = _variable(x) if x.requires_grad else _fresh(x)
                v._tangents = dict(v._tangents or {})
                v._tangents[level] = tt
                vs.append(v)
            args.append(tree_unflatten(p_def, vs))
        out = f(*args)
        o_leaves, o_def = tree_flatten(out)
        primal_out, tangent_out = [], []
        for o in o_leaves:
            if not isinstance(o, Tensor):
                o = Tensor(o)
            tg = o._tangents.get(level) if o._tangents else None
            tangent_out.append(_release(tg, nested) if tg is not None else _zeros_like(o))
            primal_out.append(_release(_strip_level(o, level), nested))
    return tree_unflatten(o_def, primal_out), tree_unflatten(o_def, tangent_out)


def _fresh(x: Tensor) -> Tensor:
    v = engine._new_tensor(x.data)
    v._tangents = x._tangents
    return v


def _strip_level(t: Tensor, level: int) -> Tensor:
    if not t._tangents or level not in t._tangents:
        return t
    out = engine._new_tensor(t.data)
    out._node = t._node
    out.requires_grad = t.requires_grad
    out._tangents = {k: v for k, v in t._tangents.items() if k != level} or None
    return out


def _single(op: str, argnums: Any) -> None:
    if not isinstance(argnums, int):
        raise TypeError(f"{op}: argnums must be an int here (one argument at a time)")


def jacrev(f: Callable[..., Any], argnums: int = 0) -> Callable[..., Tensor]:
    """Jacobian by reverse mode, one VJP per output element; shape ``out.shape + x.shape``."""
    _single("jacrev", argnums)

    def wrapped(*args: Any) -> Tensor:
        from chainrule.ops.shape import reshape, stack

        a = _argnums_tuple(argnums, len(args), "jacrev")[0]

        def fa(x: Tensor) -> Any:
            return f(*args[:a], x, *args[a + 1 :])

        x = _as_float_tensor("jacrev", args[a])
        nested = _nested([x])
        with state.in_transform():
            out, fn = vjp(fa, x)
            rows = []
            for i in range(out.size):
                e = np.zeros(out.size, dtype=out.dtype)
                e[i] = 1
                rows.append(fn(Tensor(e.reshape(out.shape)))[0])
            if not rows:
                return Tensor(np.zeros(out.shape + x.shape, dtype=x.dtype))
            jac = reshape(stack(rows), out.shape + x.shape)
        return _release(jac, nested)

    return wrapped


def jacfwd(f: Callable[..., Any], argnums: int = 0) -> Callable[..., Tensor]:
    """Jacobian by forward mode, one JVP per input element; shape ``out.shape + x.shape``."""
    _single("jacfwd", argnums)

    def wrapped(*args: Any) -> Tensor:
        from chainrule.ops.shape import permute, reshape, stack

        a = _argnums_tuple(argnums, len(args), "jacfwd")[0]
        x = _as_float_tensor("jacfwd", args[a])

        def fa(xx: Tensor) -> Any:
            return f(*args[:a], xx, *args[a + 1 :])

        nested = _nested([x])
        with state.in_transform():
            cols = []
            out = None
            for j in range(x.size):
                e = np.zeros(x.size, dtype=x.dtype)
                e[j] = 1
                out, col = jvp(fa, (x,), (Tensor(e.reshape(x.shape)),))
                cols.append(col)
            if not cols:
                out = fa(x)
                return Tensor(np.zeros(out.shape + x.shape, dtype=x.dtype))
            jac = reshape(stack(cols), (x.size, out.size))  # one column per input element
            jac = reshape(permute(jac, (1, 0)), out.shape + x.shape)
        return _release(jac, nested)

    return wrapped


jacobian = jacrev


def hessian(f: Callable[..., Any], argnums: int = 0) -> Callable[..., Tensor]:
    """Hessian as forward-over-reverse: ``jacfwd(jacrev(f))``; shape ``x.shape + x.shape``."""
    return jacfwd(jacrev(f, argnums), argnums)


def hvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> Any:
    """Hessian-vector product H·v of scalar ``f`` by forward-over-reverse, without forming H.

    ``primals`` and ``tangents`` are tuples (one entry per argument of f); the result has the
    structure of the gradient (the first argument's, or a tuple when f has several).
    """
    if not isinstance(primals, (tuple, list)):
        raise TypeError("hvp: primals must be a tuple (one entry per argument of f)")
    argnums = 0 if len(primals) == 1 else tuple(range(len(primals)))
    _, out = jvp(grad(f, argnums), tuple(primals), tuple(tangents))
    return out
