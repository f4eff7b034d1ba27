"""How to draw valid inputs for every primitive in ``chainrule.ops.REGISTRY``.

``SPECS[name]`` is a hypothesis strategy of ``Case``: the float64 inputs that are differentiated,
the keyword params, and the positional arguments held fixed (where-conditions, Python scalars,
constant operands). Shapes are drawn by hypothesis (0-d tensors, size-1 axes, broadcasting
between operands); values come from a NumPy generator seeded by hypothesis, so a failure
replays exactly and shrinks. Every sampler keeps away from the points where central finite
differences are unreliable: kinks and jumps (|x|, relu, sign, clip bounds) are at least 0.1
away, ties of max/min/maximum/minimum are impossible by construction (all values distinct on a
grid of step 0.25), and domains keep a margin (log and sqrt of x ≥ 0.5, tan within ±1.2,
divisors with |b| ≥ 0.5). Every dimension has at most 4 elements, so the Jacobians are small.

A primitive registered without an entry here fails ``test_every_primitive_has_a_spec``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from chainrule.ops import REGISTRY, Primitive
from chainrule.ops.shape import normalize_index
from chainrule.tensor import Tensor

MAX_SIDE = 3  # default side of drawn axes (matmul, concatenate and pad grow some axes to 4)


@dataclass
class Case:
    """One valid application of a primitive: ``prim(*args, **params)``.

    ``inputs`` are the differentiated arguments in positional order; ``consts`` maps a position
    to an argument held fixed (not differentiated) that is inserted there.
    """

    inputs: tuple[np.ndarray, ...]
    params: dict[str, Any] = field(default_factory=dict)
    consts: dict[int, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:  # 0-d NumPy arithmetic returns scalars; keep 0-d arrays
        self.inputs = tuple(np.asarray(x, dtype=np.float64) for x in self.inputs)

    def args(self, xs: tuple[Any, ...]) -> list[Any]:
        it = iter(xs)
        n = len(xs) + len(self.consts)
        return [self.consts[i] if i in self.consts else next(it) for i in range(n)]

    def function(self, prim: Primitive) -> Callable[..., Tensor]:
        """``f(*inputs) = prim(*args, **params)`` with the constant arguments closed over."""

        def f(*xs: Tensor) -> Tensor:
            return prim(*self.args(xs), **self.params)

        f.__name__ = prim.name
        return f

    def __repr__(self) -> str:
        with np.printoptions(precision=17, threshold=100):
            ins = ", ".join(repr(x) for x in self.inputs)
            return f"Case(inputs=({ins},), params={self.params!r}, consts={self.consts!r})"


# --- building blocks --------------------------------------------------------------------------

seeds = st.integers(0, 2**32 - 1)


def shapes(min_dims: int = 0, max_dims: int = 3, max_side: int = MAX_SIDE) -> st.SearchStrategy[tuple[int, ...]]:
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side)


def broadcast_shapes(n: int, max_dims: int = 3) -> st.SearchStrategy[tuple[tuple[int, ...], ...]]:
    """n shapes that broadcast together (0-d and size-1 axes included)."""
    return hnp.mutually_broadcastable_shapes(num_shapes=n, min_dims=0, max_dims=max_dims, max_side=MAX_SIDE).map(
        lambda b: b.input_shapes
    )


def uniform(rng: np.random.Generator, shape: tuple[int, ...], lo: float, hi: float) -> np.ndarray:
    return rng.uniform(lo, hi, size=shape).astype(np.float64)


def away_from_zero(rng: np.random.Generator, shape: tuple[int, ...], lo: float = 0.1, hi: float = 2.0) -> np.ndarray:
    """|x| in [lo, hi] with a random sign: clear of a kink or jump at 0."""
    mag = rng.uniform(lo, hi, size=shape)
    sign = np.where(rng.random(size=shape) < 0.5, -1.0, 1.0)
    return (sign * mag).astype(np.float64)


def distinct(rng: np.random.Generator, *shape_list: tuple[int, ...]) -> list[np.ndarray]:
    """Arrays whose elements are all different from each other (across arrays too), 0.25 apart
    or more, so that no max/min/maximum/minimum has a tie within finite-difference reach."""
    sizes = [math.prod(s) for s in shape_list]
    total = sum(sizes)
    grid = (rng.permutation(total) - total / 2) * 0.25 + rng.uniform(-0.05, 0.05, size=total)
    out, pos = [], 0
    for s, n in zip(shape_list, sizes, strict=True):
        out.append(grid[pos : pos + n].reshape(s).astype(np.float64))
        pos += n
    return out


def axes_subsets(ndim: int) -> st.SearchStrategy[tuple[int, ...] | None]:
    """A reduction's normalised ``axis``: None (all) or a sorted tuple of distinct axes (maybe empty)."""
    subset = st.lists(st.integers(0, max(ndim - 1, 0)), unique=True, max_size=ndim).map(lambda a: tuple(sorted(a)))
    return st.none() | subset if ndim else st.none() | st.just(())


# --- elementwise ------------------------------------------------------------------------------

Sampler = Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]


def unary(sampler: Sampler, *, min_dims: int = 0, **params: Any) -> st.SearchStrategy[Case]:
    @st.composite
    def draw_case(draw: st.DrawFn) -> Case:
        shape = draw(shapes(min_dims=min_dims))
        rng = np.random.default_rng(draw(seeds))
        return Case((sampler(rng, shape),), dict(params))

    return draw_case()


def binary(
    sa: Sampler,
    sb: Sampler,
    *,
    joint: Callable[[np.random.Generator, tuple[int, ...], tuple[int, ...]], list[np.ndarray]] | None = None,
    scalar_a: tuple[float, ...] = (),
    scalar_b: tuple[float, ...] = (),
) -> st.SearchStrategy[Case]:
    """A broadcasting binary op; sometimes one operand is a fixed array or a Python scalar.

    ``joint`` draws both operands together (for ops that need them distinct); ``scalar_a`` /
    ``scalar_b`` are Python scalars allowed as the fixed left / right operand.
    """

    @st.composite
    def draw_case(draw: st.DrawFn) -> Case:
        shape_a, shape_b = draw(broadcast_shapes(2))
        rng = np.random.default_rng(draw(seeds))
        a, b = joint(rng, shape_a, shape_b) if joint else (sa(rng, shape_a), sb(rng, shape_b))
        mode = draw(st.sampled_from(["both"] * 4 + ["const_a", "const_b", "scalar_a", "scalar_b"]))
        if mode == "const_a":
            return Case((b,), consts={0: a})
        if mode == "const_b":
            return Case((a,), consts={1: b})
        if mode == "scalar_a" and scalar_a:
            return Case((b,), consts={0: draw(st.sampled_from(scalar_a))})
        if mode == "scalar_b" and scalar_b:
            return Case((a,), consts={1: draw(st.sampled_from(scalar_b))})
        return Case((a, b))

    return draw_case()


def normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.standard_normal(size=shape)


def in_range(lo: float, hi: float) -> Sampler:
    return lambda rng, shape: uniform(rng, shape, lo, hi)


def nonzero(lo: float = 0.1, hi: float = 2.0) -> Sampler:
    return lambda rng, shape: away_from_zero(rng, shape, lo, hi)


def distinct_pair(rng: np.random.Generator, shape_a: tuple[int, ...], shape_b: tuple[int, ...]) -> list[np.ndarray]:
    return distinct(rng, shape_a, shape_b)


@st.composite
def pow_cases(draw: st.DrawFn) -> Case:
    """a ** b: tensor ** tensor (a > 0), tensor ** Python scalar, Python scalar ** tensor."""
    kind = draw(st.sampled_from(["tensor", "int_exponent", "real_exponent", "scalar_base"]))
    if kind == "tensor":
        return draw(binary(in_range(0.5, 2.0), in_range(-2.0, 2.0)))
    shape = draw(shapes())
    rng = np.random.default_rng(draw(seeds))
    if kind == "int_exponent":  # any sign of a works for an integer exponent
        return Case((away_from_zero(rng, shape, 0.3, 2.0),), consts={1: float(draw(st.sampled_from([2, 3, -1])))})
    if kind == "real_exponent":
        return Case((uniform(rng, shape, 0.5, 2.0),), consts={1: draw(st.sampled_from([0.5, 1.5, -0.5, 2.5]))})
    return Case((uniform(rng, shape, -2.0, 2.0),), consts={0: draw(st.sampled_from([0.5, 2.0, math.e]))})


@st.composite
def clip_cases(draw: st.DrawFn) -> Case:
    shape = draw(shapes())
    rng = np.random.default_rng(draw(seeds))
    lo = draw(st.none() | st.sampled_from([-1.5, -0.75, -0.3]))
    hi = draw(st.none() | st.sampled_from([0.3, 0.75, 1.5]))
    x = uniform(rng, shape, -2.0, 2.0)
    for bound in (lo, hi):  # push values near a bound 0.2 away from it (bounds are ≥ 0.6 apart)
        if bound is not None:
            near = np.abs(x - bound) < 0.1
            x = np.where(near, bound + np.where(x >= bound, 0.2, -0.2), x)
    return Case((x,), {"lo": lo, "hi": hi})


@st.composite
def where_cases(draw: st.DrawFn) -> Case:
    """where(cond, a, b) with a fixed bool condition, broadcasting all three; sometimes a
    branch is a Python scalar."""
    shape_c, shape_a, shape_b = draw(broadcast_shapes(3))
    rng = np.random.default_rng(draw(seeds))
    cond = rng.random(size=shape_c) < 0.5
    a, b = normal(rng, shape_a), normal(rng, shape_b)
    mode = draw(st.sampled_from(["both", "both", "scalar_a", "scalar_b"]))
    if mode == "scalar_a":
        return Case((b,), consts={0: cond, 1: 0.5})
    if mode == "scalar_b":
        return Case((a,), consts={0: cond, 2: -1.0})
    return Case((a, b), consts={0: cond})


# --- reductions and fused numerics ------------------------------------------------------------


def reduction(sampler: Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]) -> st.SearchStrategy[Case]:
    @st.composite
    def draw_case(draw: st.DrawFn) -> Case:
        shape = draw(shapes(max_side=4))
        axis = draw(axes_subsets(len(shape)))
        keepdims = draw(st.booleans())
        rng = np.random.default_rng(draw(seeds))
        return Case((sampler(rng, shape),), {"axis": axis, "keepdims": keepdims})

    return draw_case()


def along_axis(sampler: Sampler = normal) -> st.SearchStrategy[Case]:
    @st.composite
    def draw_case(draw: st.DrawFn) -> Case:
        shape = draw(shapes(min_dims=1, max_side=4))
        axis = draw(st.integers(0, len(shape) - 1))
        rng = np.random.default_rng(draw(seeds))
        return Case((sampler(rng, shape),), {"axis": axis})

    return draw_case()


@st.composite
def masked_softmax_cases(draw: st.DrawFn) -> Case:
    """softmax with a boolean mask broadcast along the leading axes; some slices fully masked."""
    shape = draw(shapes(min_dims=1, max_side=4))
    axis = draw(st.integers(0, len(shape) - 1))
    rng = np.random.default_rng(draw(seeds))
    mask_shape = tuple(1 if draw(st.booleans()) else n for n in shape)
    mask = rng.random(mask_shape) < 0.7
    return Case((normal(rng, shape),), {"axis": axis, "mask": mask})


def distinct_values(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return distinct(rng, shape)[0]


# --- linear algebra ---------------------------------------------------------------------------


@st.composite
def matmul_cases(draw: st.DrawFn) -> Case:
    """1-d @ 1-d, 1-d @ n-d, n-d @ 1-d, 2-d @ 2-d and batched with broadcast batch axes."""
    sig = draw(
        hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, min_dims=0, max_dims=2, max_side=MAX_SIDE)
    )
    shape_a, shape_b = sig.input_shapes
    rng = np.random.default_rng(draw(seeds))
    a, b = normal(rng, shape_a), normal(rng, shape_b)
    mode = draw(st.sampled_from(["both", "both", "const_a", "const_b"]))
    if mode == "const_a":
        return Case((b,), consts={0: a})
    if mode == "const_b":
        return Case((a,), consts={1: b})
    return Case((a, b))


# --- shape and indexing -----------------------------------------------------------------------


def _factor(n: int) -> list[int]:
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


@st.composite
def reshape_cases(draw: st.DrawFn) -> Case:
    shape = draw(shapes())
    factors = draw(st.permutations(_factor(math.prod(shape))))
    groups: list[int] = []
    for f in factors:  # merge each prime factor into the previous axis or start a new one
        if groups and draw(st.booleans()):
            groups[-1] *= f
        else:
            groups.append(f)
    for _ in range(draw(st.integers(0, 2))):  # sprinkle size-1 axes
        groups.insert(draw(st.integers(0, len(groups))), 1)
    rng = np.random.default_rng(draw(seeds))
    return Case((normal(rng, shape),), {"shape": tuple(groups)})


@st.composite
def permute_cases(draw: st.DrawFn) -> Case:
    shape = draw(shapes())
    axes = tuple(draw(st.permutations(range(len(shape)))))
    rng = np.random.default_rng(draw(seeds))
    return Case((normal(rng, shape),), {"axes": axes})


@st.composite
def broadcast_to_cases(draw: st.DrawFn) -> Case:
    target = draw(shapes())
    m = draw(st.integers(0, len(target)))  # x has the trailing m axes, some of them size 1
    shape = tuple(1 if draw(st.booleans()) else s for s in target[len(target) - m :])
    rng = np.random.default_rng(draw(seeds))
    return Case((normal(rng, shape),), {"shape": target})


@st.composite
def _slice(draw: st.DrawFn, n: int) -> slice:
    bound = st.none() | st.integers(-n - 1, n + 1)
    return slice(draw(bound), draw(bound), draw(st.sampled_from([None, 1, 2, -1, -2, 3])))


@st.composite
def indices(draw: st.DrawFn, shape: tuple[int, ...], *, unique: bool = False) -> tuple:
    """A normalised index for an array of ``shape``: ints, slices, None, Ellipsis, integer
    arrays (broadcasting against each other, with repeated entries unless ``unique``) and bool
    masks (turned into integer arrays by ``normalize_index``, as the public getitem does).

    With ``unique`` every element of x is selected at most once (at most one integer array,
    its entries distinct modulo the axis size), as ``index_put`` needs for its adjoint to hold.
    """
    ndim = len(shape)
    rng = np.random.default_rng(draw(seeds))
    n_used = draw(st.integers(min(ndim, 1), ndim))
    split = draw(st.integers(0, n_used))
    ellipsis = draw(st.booleans())
    dims = list(range(split)) + list(range(ndim - (n_used - split), ndim)) if ellipsis else list(range(n_used))
    advanced = draw(st.sampled_from(["arrays", "basic", "arrays", "mask"])) if dims else "basic"
    kinds = {
        d: draw(st.sampled_from(["int", "slice", "array"] if advanced == "arrays" else ["int", "slice"])) for d in dims
    }
    if advanced == "arrays":
        array_dims = [d for d in dims if kinds[d] == "array"]
        if not array_dims:  # at least one integer array
            array_dims = [draw(st.sampled_from(dims))]
        if unique:  # at most one, so that no position is selected twice
            array_dims = array_dims[:1]
        for d in dims:
            kinds[d] = "array" if d in array_dims else ("slice" if kinds[d] == "array" else kinds[d])
    if advanced == "mask":
        kinds[draw(st.sampled_from(dims))] = "mask"
    array_shape = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3))
    repeat = not unique and draw(st.booleans())
    if repeat and math.prod(array_shape) < 2:
        array_shape = (2,)
    first_array = True
    items: list[Any] = []
    for d in dims:
        n = shape[d]
        kind = kinds[d]
        if kind == "int":
            items.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            items.append(draw(_slice(n)))
        elif kind == "mask":
            items.append(rng.random(size=n) < 0.6)
        elif unique:
            m = draw(st.integers(1, n))
            arr = rng.permutation(n)[:m]
            arr = np.where(rng.random(size=m) < 0.3, arr - n, arr)  # negative aliases, still distinct
            items.append(arr.astype(np.int64))
        else:
            # the first array has the full shape; the others may have size-1 axes (they broadcast)
            s = array_shape if first_array else tuple(1 if draw(st.booleans()) else k for k in array_shape)
            arr = rng.integers(-n, n, size=s)
            if repeat and arr.size >= 2:  # a repeated entry, sometimes spelled as a negative alias
                k = int(arr.flat[0])
                arr.flat[-1] = k - n if k >= 0 and draw(st.booleans()) else k
            items.append(np.asarray(arr, dtype=np.int64))
            first_array = False
    if ellipsis:
        items.insert(split, Ellipsis)
    for _ in range(draw(st.integers(0, 2))):
        items.insert(draw(st.integers(0, len(items))), None)
    index = normalize_index(Tensor(np.zeros(shape)), tuple(items))
    np.empty(shape)[index]  # a sampler bug shows up here, not as a confusing gradient failure
    return index


@st.composite
def getitem_cases(draw: st.DrawFn) -> Case:
    shape = draw(shapes())
    index = draw(indices(shape))
    rng = np.random.default_rng(draw(seeds))
    return Case((normal(rng, shape),), {"index": index})


@st.composite
def index_add_cases(draw: st.DrawFn) -> Case:
    """Scatter-add v into zeros of ``shape`` at ``index`` (repeats accumulate)."""
    shape = draw(shapes())
    index = draw(indices(shape))
    rng = np.random.default_rng(draw(seeds))
    v = normal(rng, np.empty(shape)[index].shape)
    return Case((v,), {"index": index, "shape": shape})


@st.composite
def index_put_cases(draw: st.DrawFn) -> Case:
    """x with x[index] = v, v broadcasting to the target; indices unique (see ``indices``)."""
    shape = draw(shapes())
    index = draw(indices(shape, unique=True))
    target = np.empty(shape)[index].shape
    m = draw(st.integers(0, len(target)))
    v_shape = tuple(1 if draw(st.booleans()) else s for s in target[len(target) - m :])
    rng = np.random.default_rng(draw(seeds))
    x, v = normal(rng, shape), normal(rng, v_shape)
    mode = draw(st.sampled_from(["both", "both", "const_x", "const_v"]))
    if mode == "const_x":
        return Case((v,), {"index": index}, consts={0: x})
    if mode == "const_v":
        return Case((x,), {"index": index}, consts={1: v})
    return Case((x, v), {"index": index})


@st.composite
def concatenate_cases(draw: st.DrawFn) -> Case:
    base = draw(shapes(min_dims=1))
    axis = draw(st.integers(0, len(base) - 1))
    n = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(seeds))
    xs = []
    for _ in range(n):
        s = list(base)
        s[axis] = draw(st.integers(1, 4 - n if n > 1 else 4))
        xs.append(normal(rng, tuple(s)))
    if n > 1 and draw(st.booleans()):  # one operand held fixed
        k = draw(st.integers(0, n - 1))
        const = xs.pop(k)
        return Case(tuple(xs), {"axis": axis}, consts={k: const})
    return Case(tuple(xs), {"axis": axis})


@st.composite
def pad_cases(draw: st.DrawFn) -> Case:
    shape = draw(shapes(min_dims=1))
    widths = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in shape)
    rng = np.random.default_rng(draw(seeds))
    return Case((normal(rng, shape),), {"widths": widths})


@st.composite
def flip_cases(draw: st.DrawFn) -> Case:
    shape = draw(shapes())
    axes = draw(axes_subsets(len(shape)).filter(lambda a: a is not None))
    rng = np.random.default_rng(draw(seeds))
    return Case((normal(rng, shape),), {"axes": axes})


@st.composite
def tri_cases(draw: st.DrawFn) -> Case:
    shape = draw(shapes(min_dims=2, max_side=4))
    rng = np.random.default_rng(draw(seeds))
    return Case((normal(rng, shape),), {"k": draw(st.integers(-2, 2)), "upper": draw(st.booleans())})


# --- convolution ------------------------------------------------------------------------------


@st.composite
def window_geometry(draw: st.DrawFn) -> dict[str, Any]:
    """Sliding-window parameters for 1 to 3 spatial axes that fit: kernel, stride, dilation,
    asymmetric zero padding and the spatial size (at least one window per axis). Kept small, as
    unfold multiplies the element count by the kernel size."""
    d = draw(st.sampled_from([1, 1, 2, 2, 2, 3]))
    max_side = {1: 6, 2: 4, 3: 3}[d]
    kernel, stride, dilation, padding, size = [], [], [], [], []
    for _ in range(d):
        k = draw(st.integers(1, 3))
        dl = draw(st.integers(1, 2))
        lo, hi = draw(st.integers(0, 2)), draw(st.integers(0, 2))
        n = draw(st.integers(max(1, dl * (k - 1) + 1 - lo - hi), max(max_side, dl * (k - 1) + 1)))
        kernel.append(k)
        stride.append(draw(st.integers(1, 3)))
        dilation.append(dl)
        padding.append((lo, hi))
        size.append(n)
    batch = draw(st.sampled_from([(1, 1), (1, 2), (2, 1)] if d < 3 else [(1, 1)]))
    return {
        "batch": batch,
        "size": tuple(size),
        "kernel": tuple(kernel),
        "stride": tuple(stride),
        "dilation": tuple(dilation),
        "padding": tuple(padding),
    }


def _windows(g: dict[str, Any]) -> tuple[int, ...]:
    return tuple(
        (n + lo + hi - dl * (k - 1) - 1) // s + 1
        for n, k, s, dl, (lo, hi) in zip(g["size"], g["kernel"], g["stride"], g["dilation"], g["padding"], strict=True)
    )


@st.composite
def unfold_cases(draw: st.DrawFn) -> Case:
    g = draw(window_geometry())
    rng = np.random.default_rng(draw(seeds))
    x = normal(rng, (*g["batch"], *g["size"]))
    return Case((x,), {k: g[k] for k in ("kernel", "stride", "dilation", "padding")})


@st.composite
def fold_cases(draw: st.DrawFn) -> Case:
    g = draw(window_geometry())
    rng = np.random.default_rng(draw(seeds))
    y = normal(rng, (*g["batch"], *g["kernel"], *_windows(g)))
    return Case((y,), {k: g[k] for k in ("size", "stride", "dilation", "padding")})


@st.composite
def conv_geometry(draw: st.DrawFn) -> dict[str, Any]:
    """A grouped convolution's shapes: window geometry plus groups G and channels per group,
    x (N, G·cg, *S), w (G·og, cg, *K), y (N, G·og, *O); kept to a few dozen elements."""
    g = draw(window_geometry())
    groups = draw(st.sampled_from([1, 1, 2]))
    cg, og = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    if len(g["size"]) == 3 or groups * max(cg, og) > 2:  # keep the Jacobians small
        groups, cg, og = 1, 1, og if len(g["size"]) < 3 else 1
    g.update(n=g["batch"][0], c=groups * cg, o=groups * og, cg=cg, groups=groups)
    return g


def _conv_params(g: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: g[k] for k in (*names, "stride", "dilation", "padding", "groups")}


def _bilinear_case(draw: st.DrawFn, a: np.ndarray, b: np.ndarray, params: dict[str, Any]) -> Case:
    mode = draw(st.sampled_from(["both", "both", "const_a", "const_b"]))
    if mode == "const_a":
        return Case((b,), params, consts={0: a})
    if mode == "const_b":
        return Case((a,), params, consts={1: b})
    return Case((a, b), params)


@st.composite
def lstm_cell_cases(draw: st.DrawFn) -> Case:
    """lstm_cell(gates (…, 4H), c (…, H)) with matching leading axes; sometimes one held fixed."""
    lead = draw(shapes(min_dims=0, max_dims=2))
    hidden = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(seeds))
    return _bilinear_case(draw, normal(rng, (*lead, 4 * hidden)), normal(rng, (*lead, hidden)), {})


@st.composite
def conv_cases(draw: st.DrawFn) -> Case:
    """conv(x, w): y (N, O, *O) = W · unfold(x), grouped; sometimes one operand held fixed."""
    g = draw(conv_geometry())
    rng = np.random.default_rng(draw(seeds))
    x = normal(rng, (g["n"], g["c"], *g["size"]))
    w = normal(rng, (g["o"], g["cg"], *g["kernel"]))
    return _bilinear_case(draw, x, w, _conv_params(g))


@st.composite
def conv_input_grad_cases(draw: st.DrawFn) -> Case:
    """conv_input_grad(G, w) = fold(Wᵀ G): G (N, O, *O), w (O, cg, *K) → (N, C, *size)."""
    g = draw(conv_geometry())
    rng = np.random.default_rng(draw(seeds))
    gy = normal(rng, (g["n"], g["o"], *_windows(g)))
    w = normal(rng, (g["o"], g["cg"], *g["kernel"]))
    return _bilinear_case(draw, gy, w, _conv_params(g, "size"))


@st.composite
def conv_weight_grad_cases(draw: st.DrawFn) -> Case:
    """conv_weight_grad(x, G) = G · unfold(x)ᵀ: x (N, C, *S), G (N, O, *O) → (O, cg, *K)."""
    g = draw(conv_geometry())
    rng = np.random.default_rng(draw(seeds))
    x = normal(rng, (g["n"], g["c"], *g["size"]))
    gy = normal(rng, (g["n"], g["o"], *_windows(g)))
    return _bilinear_case(draw, x, gy, _conv_params(g, "kernel"))


# --- the table --------------------------------------------------------------------------------

SPECS: dict[str, st.SearchStrategy[Case]] = {
    # elementwise: linear
    "add": binary(normal, normal, scalar_a=(1.5,), scalar_b=(-2.0,)),
    "sub": binary(normal, normal, scalar_a=(1.5,), scalar_b=(-2.0,)),
    "neg": unary(normal),
    "astype": unary(normal, dtype=np.dtype(np.float64)),
    "copy": unary(normal),
    # elementwise: products, quotients, powers
    "mul": binary(normal, normal, scalar_a=(3.0,), scalar_b=(-0.5,)),
    "div": binary(normal, nonzero(0.5, 2.0), scalar_a=(2.0,), scalar_b=(4.0,)),
    "pow": pow_cases(),
    # exponentials and logarithms
    "exp": unary(in_range(-2.0, 2.0)),
    "log": unary(in_range(0.5, 3.0)),
    "log1p": unary(in_range(-0.5, 2.0)),
    "expm1": unary(in_range(-2.0, 2.0)),
    "sqrt": unary(in_range(0.5, 3.0)),
    # kinks and jumps at 0, kept 0.1 away
    "abs": unary(nonzero()),
    "sign": unary(nonzero()),
    "relu": unary(nonzero()),
    "clip": clip_cases(),
    "maximum": binary(normal, normal, joint=distinct_pair),
    "minimum": binary(normal, normal, joint=distinct_pair),
    # trigonometric, hyperbolic, special
    "sin": unary(in_range(-3.0, 3.0)),
    "cos": unary(in_range(-3.0, 3.0)),
    "tan": unary(in_range(-1.2, 1.2)),
    "tanh": unary(in_range(-3.0, 3.0)),
    "sigmoid": unary(in_range(-4.0, 4.0)),
    "erf": unary(in_range(-2.0, 2.0)),
    "gelu": unary(in_range(-3.0, 3.0), approximate="none") | unary(in_range(-3.0, 3.0), approximate="tanh"),
    "where": where_cases(),
    # reductions
    "sum": reduction(normal),
    "mean": reduction(normal),
    "max": reduction(distinct_values),
    "min": reduction(distinct_values),
    "cumsum": along_axis(),
    # fused numerics
    "logsumexp": reduction(normal),
    "softmax": along_axis() | masked_softmax_cases(),
    "log_softmax": along_axis(),
    "lstm_cell": lstm_cell_cases(),
    # linear algebra
    "matmul": matmul_cases(),
    # shape and indexing
    "reshape": reshape_cases(),
    "permute": permute_cases(),
    "broadcast_to": broadcast_to_cases(),
    "getitem": getitem_cases(),
    "index_add": index_add_cases(),
    "index_put": index_put_cases(),
    "concatenate": concatenate_cases(),
    "pad": pad_cases(),
    "flip": flip_cases(),
    "tri": tri_cases(),
    # convolution
    "unfold": unfold_cases(),
    "fold": fold_cases(),
    "conv": conv_cases(),
    "conv_input_grad": conv_input_grad_cases(),
    "conv_weight_grad": conv_weight_grad_cases(),
}


def missing_specs() -> list[str]:
    """Registered primitives that have no sampler here (each one is an untested primitive)."""
    return sorted(set(REGISTRY) - set(SPECS))
