"""The autodiff engine: records the graph as ops run, and runs the chain rule backwards over it.

``apply`` is the single entry point of every primitive. It computes the forward on raw arrays,
records a ``Node`` when reverse mode needs one, and pushes forward-mode tangents through the
primitive's JVP rule when a ``jvp`` transform is active.

``backward`` walks the recorded graph in reverse topological order (iteratively: no recursion
limit on long RNN unrolls), calls each node's VJP rule and sums the results into its inputs.
Un-broadcasting happens here, once, never inside a rule. A plain first-order backward runs the
rules on raw arrays; when the backward pass must itself be differentiable (``create_graph`` or an
active forward-mode level) the same rules run on Tensors and are recorded like any other op.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

#: The two namespaces rules are written against; installed by ``chainrule.ops`` when it is
#: imported. Defined before the imports below, which may import ``chainrule.ops`` themselves.
RAW_OPS: Any = None
TENSOR_OPS: Any = None

from chainrule.autograd import state  # noqa: E402
from chainrule.tensor import Tensor  # noqa: E402

_ndarray = np.ndarray
_generic = np.generic


class Node:
    """A recorded application of a primitive: what its VJP rule needs, and where grads go.

    ``edges[i]`` is where the gradient of argument i flows: the Node that produced it, the leaf
    Tensor that accumulates it, or None when the argument needs no gradient. ``seq`` increases
    with creation time, so sorting by it descending is a topological order (consumers first).
    """

    __slots__ = (
        "args",
        "buf",
        "buf_owned",
        "checks",
        "edges",
        "hooks",
        "mark",
        "needs",
        "out",
        "out_tangents",
        "params",
        "prim",
        "raw",
        "retained",
        "seq",
    )

    def __init__(self, prim, params, args, raw, edges, out, checks):
        self.seq = next(_SEQ)
        self.mark = 0
        self.prim = prim
        self.params = params
        self.args = args
        self.raw = raw
        self.edges = edges
        self.needs = [e is not None for e in edges]
        self.out = out
        self.out_tangents = None
        self.checks = checks
        self.buf = None
        self.buf_owned = False  # buf is an array this backward allocated (safe to add into in place)
        self.retained = None
        self.hooks = None

    def __repr__(self) -> str:
        return f"<{self.prim.name}Backward>"

    @property
    def name(self) -> str:
        return f"{self.prim.name}Backward"


# Creation sequence and traversal stamps. ``next`` on an itertools.count is one C call, so it is
# atomic under the GIL: nodes made in several threads (data-parallel replicas) still get
# increasing, unique numbers, which the topological order relies on. A ``global n; n += 1``
# is a read and a write that another thread can interleave, losing updates.
_SEQ = itertools.count(1)
_STAMP = itertools.count(1)


def _new_tensor(data):
    t = Tensor.__new__(Tensor)
    t.data = data
    t.grad = None
    t.requires_grad = False
    t._node = None
    t._version = [0]
    t._tangents = None
    t._hooks = None
    return t


def apply(prim, args: Sequence[Any], params: dict) -> Tensor:
    """Run primitive ``prim`` on ``args`` (Tensors, arrays or Python scalars).

    A NumPy scalar (``np.float64(2.0)``, what ``np.sqrt(2.0)`` returns) counts as the Python
    number it holds, so it does not promote: float32 tensor × NumPy float64 scalar is float32, as
    in PyTorch (NumPy 2 alone would give float64). Arrays and Tensors, 0-d ones included, keep
    NumPy's promotion.
    """
    for a in args:
        if isinstance(a, _generic):
            args = [b.item() if isinstance(b, _generic) else b for b in args]
            break
    raw = [a.data if isinstance(a, Tensor) else a for a in args]
    try:
        out = prim.forward(*raw, **params)
    except (ValueError, TypeError, IndexError) as e:
        raise _forward_error(prim, raw, params, e) from None
    if type(out) is not _ndarray:
        out = np.asarray(out)
    t = _new_tensor(out)
    if prim.is_view:
        first = args[0]
        if isinstance(first, Tensor):
            t._version = first._version  # a view shares its base's version counter
    if state.grad_enabled:
        edges = None
        nondiff = prim.nondiff
        for i, a in enumerate(args):
            if isinstance(a, Tensor) and a.requires_grad and i not in nondiff:
                if edges is None:
                    edges = [None] * len(args)
                edges[i] = a._node if a._node is not None else a
        if edges is not None and out.dtype.kind == "f":
            saves = prim.saves
            idx = range(len(args)) if saves is None else saves
            checks = [(args[i]._version, args[i]._version[0]) for i in idx if isinstance(args[i], Tensor)]
            if prim.saves_out:
                checks.append((t._version, t._version[0]))
            t._node = Node(prim, params, args, raw, edges, out, checks)
            t.requires_grad = True
    if state.fw_active:
        _push_tangents(prim, args, params, t)
    return t


def _forward_error(prim, raw, params, e: Exception) -> Exception:
    """Re-raise a backend error naming the op and the shapes and dtypes it was given."""
    desc = ", ".join(
        f"{np.shape(a)} {getattr(a, 'dtype', type(a).__name__)}" if hasattr(a, "shape") else repr(a) for a in raw
    )
    extra = "".join(f", {k}={v!r}" for k, v in params.items() if k not in ("index",))
    kind = next(k for k in (IndexError, ValueError, TypeError) if isinstance(e, k))
    return kind(f"{prim.name}: {e} (arguments: {desc}{extra})")


def _push_tangents(prim, args, params, out: Tensor) -> None:
    """Forward mode: compute the output tangent of each active level from the JVP rule."""
    for level in list(state.fw_active):
        tangents = [
            a._tangents.get(level) if isinstance(a, Tensor) and a._tangents and i not in prim.nondiff else None
            for i, a in enumerate(args)
        ]
        if all(tg is None for tg in tangents):
            continue
        with state.paused_from(level):
            tout = prim.jvp(TENSOR_OPS, tangents, args, out, params)
            if tout.shape != out.shape:
                tout = TENSOR_OPS.broadcast_to(tout, out.shape)
            if tout.dtype != out.dtype:
                tout = TENSOR_OPS.astype(tout, out.dtype)
        if out._tangents is None:
            out._tangents = {}
        out._tangents[level] = tout
    if out._tangents is not None and out._node is not None:
        out._node.out_tangents = out._tangents


# --- reverse mode --------------------------------------------------------------------------------


def _topo_order(root_nodes: list[Node]) -> list[Node]:
    """Nodes reachable from the roots, consumers before producers.

    Nodes are collected with an explicit stack (no recursion limit on long unrolls) and sorted
    by creation sequence: an op's inputs always exist before it, so descending ``seq`` is a
    topological order.
    """
    stamp = next(_STAMP)
    nodes = []
    stack = []
    for r in root_nodes:
        if r.mark != stamp:
            r.mark = stamp
            nodes.append(r)
            stack.append(r)
    while stack:
        for e in stack.pop().edges:
            if type(e) is Node and e.mark != stamp:
                e.mark = stamp
                nodes.append(e)
                stack.append(e)
    if len(nodes) > 1:
        nodes.sort(key=_by_seq, reverse=True)
    return nodes


def _by_seq(n: Node) -> int:
    return n.seq


def _unbroadcast(g, shape, ns):
    """Sum a gradient of a broadcast result back to the argument's shape."""
    gshape = g.shape
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and gshape[lead + i] != 1)
    if axes:
        g = ns.sum(g, axes, False)
    if g.shape != shape:
        g = ns.reshape(g, shape)
    return g


def _check_versions(node: Node) -> None:
    for counter, seen in node.checks:
        if counter[0] != seen:
            raise RuntimeError(
                f"backward through {node.prim.name}: a tensor it saved for the backward pass was "
                f"modified in place afterwards (version {counter[0]}, expected {seen}); "
                "clone it before modifying, or modify it outside the graph"
            )


class GraphFreedError(RuntimeError):
    pass


def _arg_tensor(a, edge):
    """The argument as a Tensor on the graph, for rules that run on Tensors.

    A tensor rebased by a later in-place op no longer points at the node that fed this one; a
    fresh handle on the original edge keeps higher-order gradients on the right path.
    """
    if not isinstance(a, Tensor):
        return a
    if edge is None or edge is a or a._node is edge:
        return a
    t = _new_tensor(a.data)
    t._node = edge
    t.requires_grad = True
    t._tangents = a._tangents
    return t


def backward(
    roots: Sequence[Tensor],
    grads: Sequence[Any],
    *,
    retain_graph: bool = False,
    create_graph: bool = False,
    inputs: Sequence[Tensor] | None = None,
) -> list[Any] | None:
    """Propagate ``grads`` (one per root, shaped like it) back through the graph.

    Without ``inputs``, gradients accumulate into ``.grad`` of the leaves (and of non-leaves
    that called ``retain_grad``). With ``inputs``, their gradients are returned instead and no
    ``.grad`` is touched; only the part of the graph that leads to them is visited.
    """
    tensor_mode = create_graph or bool(state.fw_active)
    ns = TENSOR_OPS if tensor_mode else RAW_OPS
    prev_mode = state.grad_enabled
    state.grad_enabled = create_graph
    try:
        return _backward(roots, grads, retain_graph, create_graph, inputs, tensor_mode, ns)
    finally:
        state.grad_enabled = prev_mode


def _backward(roots, grads, retain_graph, create_graph, inputs, tensor_mode, ns):
    # Where gradients are wanted: leaves by identity, non-leaves by their node.
    targets: dict[int, int] | None = None
    results: list[Any] = []
    if inputs is not None:
        targets = {}
        for k, x in enumerate(inputs):
            key = x._node if x._node is not None else x
            targets.setdefault(id(key), k)
        results = [None] * len(inputs)

    root_nodes = []
    for r, g in zip(roots, grads, strict=True):
        if r._node is None:  # the root is itself a leaf
            _deliver_leaf(r, g, targets, results, tensor_mode, create_graph, owned=False)
            continue
        node = r._node
        if node.args is None:
            raise GraphFreedError(_FREED_MSG.format(name=node.prim.name))
        node.buf = g if node.buf is None else node.buf + g
        root_nodes.append(node)

    order = _topo_order(root_nodes)
    useful = _useful_nodes(order, targets) if targets is not None else None

    for node in order:
        g = node.buf
        if g is None:
            continue
        node.buf = None
        raw = node.raw
        if raw is None:
            raise GraphFreedError(_FREED_MSG.format(name=node.prim.name))
        if node.checks:
            _check_versions(node)
        if node.hooks or node.retained is not None:
            g = _run_node_hooks(node, g, tensor_mode)
        if targets is not None and id(node) in targets:
            k = targets[id(node)]
            results[k] = g if results[k] is None else results[k] + g
        edges = node.edges
        needs = node.needs if useful is None else [e is not None and id(e) in useful for e in edges]
        if True in needs:
            prim = node.prim
            if tensor_mode:
                args = [_arg_tensor(a, e) for a, e in zip(node.args, edges, strict=True)]
                out = _new_tensor(node.out)
                out._node = node
                out.requires_grad = True
                out._tangents = node.out_tangents
                if not isinstance(g, Tensor):
                    g = _new_tensor(g)
                grads_in = prim.vjp(ns, g, needs, args, out, node.params)
            else:
                if prim.accumulate is not None and needs[0] and _accumulate_in_place(node, g, targets):
                    if not retain_graph:
                        node.args = node.raw = node.out = node.out_tangents = None
                    continue
                grads_in = prim.vjp(ns, g, needs, raw, node.out, node.params)
            for i, gi in enumerate(grads_in):
                if gi is None or not needs[i]:
                    continue
                a = raw[i]
                if gi.shape != a.shape:
                    gi = _unbroadcast(gi, a.shape, ns)
                if gi.dtype != a.dtype:
                    gi = ns.astype(gi, a.dtype)
                e = edges[i]
                if type(e) is Node:
                    if e.buf is None:
                        e.buf, e.buf_owned = gi, False
                    elif e.buf_owned and not tensor_mode and gi.dtype == e.buf.dtype:
                        e.buf += gi
                    else:
                        e.buf = e.buf + gi
                        e.buf_owned = type(e.buf) is np.ndarray  # raw mode, not a 0-d NumPy scalar
                else:
                    _deliver_leaf(e, gi, targets, results, tensor_mode, create_graph, owned=gi is not g)
        if not retain_graph:
            node.args = node.raw = node.out = node.out_tangents = None
    return results if targets is not None else None


_FREED_MSG = (
    "backward through {name}: the graph was already freed by an earlier backward; "
    "pass retain_graph=True to the first backward to go through it again"
)


def _useful_nodes(order: list[Node], targets: dict[int, int]) -> set[int]:
    """Ids of nodes and leaves from which some target can be reached."""
    useful: set[int] = set()
    for node in reversed(order):  # producers before consumers
        for e in node.edges:
            if e is not None and type(e) is not Node and id(e) in targets:
                useful.add(id(e))
        if id(node) in targets or any(e is not None and id(e) in useful for e in node.edges):
            useful.add(id(node))
    return useful


def _accumulate_in_place(node, g, targets) -> bool:
    """Add a view primitive's gradient straight into its input's gradient buffer (raw mode).

    The transpose of a view y = x[index] scatters ȳ into zeros shaped like x; summing T such
    scatters of a (T, …) array (one per time step of a recurrence) costs O(T²). Instead the
    primitive's adder (``accumulate(**params)``) adds ȳ into the slice of one buffer that this
    backward owns, O(T) in all. Returns False (nothing done, nothing allocated) where that does
    not apply: another dtype, an index the primitive declines, or a leaf with hooks or a
    gradient target.
    """
    e = node.edges[0]
    a = node.raw[0]
    if g.dtype != a.dtype:
        return False
    add = node.prim.accumulate(**node.params)
    if add is None:
        return False
    if type(e) is Node:
        if e.buf is None:
            buf = np.zeros(a.shape, dtype=a.dtype)
        elif e.buf_owned:
            buf = e.buf
        else:  # shared with another consumer (a pass-through rule): copy before writing
            buf = np.array(e.buf, dtype=a.dtype)
        add(buf, g)
        e.buf, e.buf_owned = buf, True
        return True
    if targets is not None or e._hooks:
        return False
    acc = None if e.grad is None else e.grad.data
    if acc is None:
        acc = np.zeros(a.shape, dtype=a.dtype)
    elif not (acc.shape == a.shape and acc.dtype == a.dtype and acc.flags.writeable and acc.base is None):
        acc = np.array(acc, dtype=a.dtype)
    add(acc, g)
    if e.grad is None or e.grad.data is not acc:
        e.grad = _new_tensor(acc)
    return True


def _deliver_leaf(leaf, g, targets, results, tensor_mode, create_graph, owned):
    if targets is not None:
        k = targets.get(id(leaf))
        if k is not None:
            results[k] = g if results[k] is None else results[k] + g
        return
    if leaf._hooks:
        g = _call_hooks(leaf._hooks, g, tensor_mode)
    if tensor_mode:
        if not isinstance(g, Tensor):
            g = _new_tensor(g)
        if not create_graph:
            g = g.detach()
        leaf.grad = g if leaf.grad is None else leaf.grad + g
        return
    if leaf.grad is None:
        # Own the array: a pass-through rule (add, reshape) may hand the same buffer to
        # several leaves, and optimizers update .grad in place.
        if not owned or g.base is not None or not g.flags.writeable:
            g = g.copy()
        leaf.grad = _new_tensor(g)
    else:
        acc = leaf.grad.data
        if acc.shape == g.shape and acc.flags.writeable and acc.base is None:
            acc += g
        else:
            leaf.grad = _new_tensor(acc + g)


def _call_hooks(hooks, g, tensor_mode):
    gt = g if isinstance(g, Tensor) else _new_tensor(g)
    for h in hooks:
        r = h(gt)
        if r is not None:
            gt = r if isinstance(r, Tensor) else _new_tensor(np.asarray(r))
    return gt if tensor_mode else gt.data


def _run_node_hooks(node: Node, g, tensor_mode):
    if node.hooks:
        g = _call_hooks(node.hooks, g, tensor_mode)
    if node.retained is not None:
        t = node.retained()
        if t is not None:
            gt = g if isinstance(g, Tensor) else _new_tensor(g.copy())
            if not tensor_mode or not state.grad_enabled:
                gt = gt.detach() if isinstance(gt, Tensor) and gt._node is not None else gt
            t.grad = gt if t.grad is None else t.grad + gt
    return g


def retain(tensor: Tensor) -> None:
    tensor._node.retained = weakref.ref(tensor)
