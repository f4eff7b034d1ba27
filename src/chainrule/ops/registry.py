"""The primitive registry: each primitive defined once, with its derivative rules.

A primitive is a forward function on raw arrays plus the rules that differentiate it. Rules
come in four kinds (see DESIGN.md), so most math is stated exactly once:

* ``Elementwise``: one partial derivative per argument, ∂y/∂xᵢ. Reverse mode is x̄ᵢ = ȳ ⊙ ∂y/∂xᵢ,
  forward mode is ẏ = Σᵢ ẋᵢ ⊙ ∂y/∂xᵢ. Broadcasting is undone by the engine.
* ``Linear``: y = A(x) is linear in its differentiable arguments. Forward mode applies the
  primitive itself to the tangents; reverse mode is the stated transpose Aᵀ(ȳ).
* ``Bilinear``: y = B(a, b). Forward mode is ẏ = B(ȧ, b) + B(a, ḃ); reverse mode is stated.
* ``General``: both rules stated, only where nothing above fits.

Rules are written against a namespace ``ns`` of array operations and never against NumPy
directly. The engine passes raw-array operations for a plain first-order backward (nothing is
recorded, nothing is wrapped) and chainrule's differentiable ops when the backward pass must
itself be differentiated (``create_graph`` or forward-over-reverse), so one rule serves every
derivative order.

Signatures (``args`` are the primitive's positional arguments, ``out`` its output):

* partial:   ``d(ns, *args, out=out, **params) -> ∂y/∂xᵢ``
* vjp rule:  ``vjp(ns, g, needs, *args, out=out, **params) -> sequence of x̄ᵢ (None if not needs[i])``
* jvp rule:  ``jvp(ns, tangents, *args, out=out, **params) -> ẏ`` (tangents[i] is None for zero)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from chainrule.autograd import engine

REGISTRY: dict[str, Primitive] = {}

Rule = Callable[..., Any]


class Primitive:
    """One differentiable operation: forward on raw arrays plus its derivative rules."""

    kind = "general"

    def __init__(
        self,
        name: str,
        forward: Callable[..., Any],
        *,
        family: str,
        nondiff: Sequence[int] = (),
        saves: Sequence[int] | None = None,
        saves_out: bool = False,
        is_view: bool = False,
        accumulate: Callable[..., Callable[[Any, Any], None] | None] | None = None,
    ) -> None:
        self.name = name
        self.forward = forward
        self.family = family
        self.nondiff = frozenset(nondiff)
        # Which argument values (and whether the output) the rules read; the engine checks
        # their version counters so an in-place write to them makes backward fail loudly.
        self.saves = tuple(saves) if saves is not None else None
        self.saves_out = saves_out
        self.is_view = is_view
        # Optional in-place form of a view's transpose: ``accumulate(**params)`` returns an adder
        # ``add(buf, g)`` doing buf += Aᵀ g into the input's gradient buffer (the engine's O(T)
        # path for slicing loops), or None where it does not apply and the stated rule runs.
        self.accumulate = accumulate
        self.__doc__ = forward.__doc__
        self.__name__ = name
        self.__qualname__ = name
        self.__module__ = forward.__module__

    def __call__(self, *args: Any, **params: Any) -> Any:
        return engine.apply(self, args, params)

    def __repr__(self) -> str:
        return f"<primitive {self.name} ({self.kind})>"

    # The engine calls these two; subclasses implement them from their kind of rule.
    def vjp(self, ns: Any, g: Any, needs: Sequence[bool], args: Sequence[Any], out: Any, params: dict) -> Sequence[Any]:
        raise NotImplementedError

    def jvp(self, ns: Any, tangents: Sequence[Any], args: Sequence[Any], out: Any, params: dict) -> Any:
        raise NotImplementedError


class Elementwise(Primitive):
    kind = "elementwise"

    def __init__(self, name: str, forward: Callable[..., Any], partials: Sequence[Rule | None], **kw: Any) -> None:
        kw.setdefault("nondiff", [i for i, d in enumerate(partials) if d is None])
        super().__init__(name, forward, **kw)
        self.partials = tuple(partials)

    def vjp(self, ns, g, needs, args, out, params):
        return [
            g * d(ns, *args, out=out, **params) if need else None for d, need in zip(self.partials, needs, strict=False)
        ]

    def jvp(self, ns, tangents, args, out, params):
        acc = None
        for d, t in zip(self.partials, tangents, strict=False):
            if t is None:
                continue
            term = t * d(ns, *args, out=out, **params)
            acc = term if acc is None else acc + term
        return acc


class Linear(Primitive):
    kind = "linear"

    def __init__(self, name: str, forward: Callable[..., Any], transpose: Rule, **kw: Any) -> None:
        super().__init__(name, forward, **kw)
        self.transpose = transpose
        kw_saves = kw.get("saves")
        if kw_saves is None:
            self.saves = ()  # a linear map's transpose needs shapes, never values

    def vjp(self, ns, g, needs, args, out, params):
        return self.transpose(ns, g, needs, *args, out=out, **params)

    def jvp(self, ns, tangents, args, out, params):
        lifted = [
            a if i in self.nondiff else (t if t is not None else ns.zeros_like(a))
            for i, (a, t) in enumerate(zip(args, tangents, strict=True))
        ]
        return self(*lifted, **params)


class Bilinear(Primitive):
    kind = "bilinear"

    def __init__(self, name: str, forward: Callable[..., Any], vjp: Rule, **kw: Any) -> None:
        super().__init__(name, forward, **kw)
        self._vjp = vjp

    def vjp(self, ns, g, needs, args, out, params):
        return self._vjp(ns, g, needs, *args, out=out, **params)

    def jvp(self, ns, tangents, args, out, params):
        a, b = args
        ta, tb = tangents
        acc = None if ta is None else self(ta, b, **params)
        if tb is not None:
            term = self(a, tb, **params)
            acc = term if acc is None else acc + term
        return acc


class General(Primitive):
    kind = "general"

    def __init__(self, name: str, forward: Callable[..., Any], vjp: Rule, jvp: Rule, **kw: Any) -> None:
        super().__init__(name, forward, **kw)
        self._vjp = vjp
        self._jvp = jvp

    def vjp(self, ns, g, needs, args, out, params):
        return self._vjp(ns, g, needs, *args, out=out, **params)

    def jvp(self, ns, tangents, args, out, params):
        return self._jvp(ns, tangents, *args, out=out, **params)


def register(prim: Primitive) -> Primitive:
    if prim.name in REGISTRY:
        raise ValueError(f"primitive {prim.name!r} is already registered")
    REGISTRY[prim.name] = prim
    return prim


def _family_of(fn: Callable[..., Any]) -> str:
    return fn.__module__.rsplit(".", 1)[-1]


def elementwise(*partials: Rule | None, **kw: Any) -> Callable[[Callable[..., Any]], Elementwise]:
    """Register ``forward`` as an elementwise primitive with one partial derivative per argument."""

    def deco(forward: Callable[..., Any]) -> Elementwise:
        name = kw.pop("name", forward.__name__.rstrip("_"))
        return register(Elementwise(name, forward, partials, family=_family_of(forward), **kw))

    return deco


def linear(transpose: Rule, **kw: Any) -> Callable[[Callable[..., Any]], Linear]:
    """Register ``forward`` as a primitive linear in its differentiable arguments."""

    def deco(forward: Callable[..., Any]) -> Linear:
        name = kw.pop("name", forward.__name__.rstrip("_"))
        return register(Linear(name, forward, transpose, family=_family_of(forward), **kw))

    return deco


def bilinear(vjp: Rule, **kw: Any) -> Callable[[Callable[..., Any]], Bilinear]:
    """Register ``forward`` as a bilinear primitive B(a, b) with its stated reverse rule."""

    def deco(forward: Callable[..., Any]) -> Bilinear:
        name = kw.pop("name", forward.__name__.rstrip("_"))
        return register(Bilinear(name, forward, vjp, family=_family_of(forward), **kw))

    return deco


def general(vjp: Rule, jvp: Rule, **kw: Any) -> Callable[[Callable[..., Any]], General]:
    """Register ``forward`` with separately stated reverse and forward rules."""

    def deco(forward: Callable[..., Any]) -> General:
        name = kw.pop("name", forward.__name__.rstrip("_"))
        return register(General(name, forward, vjp, jvp, family=_family_of(forward), **kw))

    return deco
