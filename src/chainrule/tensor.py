"""The n-d ``Tensor``: an array, its gradient, and the graph node that made it.

Operators and methods delegate to the functions of ``chainrule.ops``; the Tensor itself holds no
math. Slots keep it small and its attribute access fast, since every op creates one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from chainrule import backend


class Tensor:
    """An n-dimensional array that records how it was computed, for automatic differentiation.

    ``Tensor(data)`` copies ``data``; ``chainrule.tensor(data, dtype, requires_grad)`` is the
    usual constructor. ``.data`` is the underlying NumPy array, ``.grad`` the accumulated
    gradient (a Tensor) of a leaf after ``backward``.
    """

    __slots__ = ("__weakref__", "_hooks", "_node", "_tangents", "_version", "data", "grad", "requires_grad")
    # Make NumPy hand mixed expressions (array * Tensor) to the Tensor's reflected operators.
    __array_ufunc__ = None

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool = False) -> None:
        arr = _to_array(data, dtype, copy=True)
        self.data = arr
        self.grad = None
        self.requires_grad = False
        self._node = None
        self._version = [0]
        self._tangents = None
        self._hooks = None
        if requires_grad:
            self.requires_grad_(True)

    # --- attributes ---------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def grad_fn(self) -> Any:
        return self._node

    @property
    def T(self) -> Tensor:
        return _ops.permute(self, tuple(range(self.ndim - 1, -1, -1)))

    @property
    def mT(self) -> Tensor:
        return _ops.swapaxes(self, -1, -2)

    def numel(self) -> int:
        return self.data.size

    def dim(self) -> int:
        return self.data.ndim

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(self.data.shape[0]):
            yield self[i]

    # --- conversions --------------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (shares memory; refuses when a gradient is tracked)."""
        if self.requires_grad:
            raise RuntimeError("numpy(): tensor requires grad; call .detach().numpy() instead")
        return self.data

    def item(self) -> Any:
        if self.data.size != 1:
            raise ValueError(
                f"item(): only a tensor with one element converts to a Python scalar, got shape {self.shape}"
            )
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor with {self.data.size} elements is ambiguous")
        return bool(self.data)

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iu" or self.data.ndim != 0:
            raise TypeError("only 0-d integer tensors can be used as an index")
        return int(self.data)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", precision=4, prefix="tensor(")
        extra = []
        if self.data.dtype not in (backend.get_default_dtype(), backend.int64, backend.bool_):
            extra.append(f"dtype={self.data.dtype}")
        if self._node is not None:
            extra.append(f"grad_fn=<{self._node.name}>")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extra) + ")"

    # --- autograd -----------------------------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and not backend.is_floating(self.data.dtype):
            raise TypeError(
                f"requires_grad_: only floating-point tensors can require grad, got dtype {self.data.dtype}"
            )
        if not requires_grad and self._node is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor; use .detach() instead")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> Tensor:
        """The same data, cut from the graph (shares memory and version counter)."""
        t = Tensor.__new__(Tensor)
        t.data = self.data
        t.grad = None
        t.requires_grad = False
        t._node = None
        t._version = self._version
        t._tangents = None
        t._hooks = None
        return t

    def detach_(self) -> Tensor:
        self._node = None
        self.requires_grad = False
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad")
        if self._node is not None:
            _engine.retain(self)

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned Tensor replaces it."""
        if not self.requires_grad:
            raise RuntimeError("register_hook() on a tensor that does not require grad")
        if self._node is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            if self._node.hooks is None:
                self._node.hooks = []
            hooks = self._node.hooks
        hooks.append(hook)
        return RemovableHandle(lambda: hooks.remove(hook) if hook in hooks else None)

    def backward(self, gradient: Any = None, retain_graph: bool = False, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        A non-scalar tensor needs ``gradient`` (the vector in the vector-Jacobian product).
        """
        _functional.backward([self], None if gradient is None else [gradient], retain_graph, create_graph)

    # --- dtype --------------------------------------------------------------------------------
    def astype(self, dtype: Any) -> Tensor:
        d = backend.as_dtype(dtype)
        return self if d == self.data.dtype else _ops.astype(self, dtype=d)

    def to(self, dtype: Any) -> Tensor:
        return self.astype(dtype)

    def float(self) -> Tensor:
        return self.astype(backend.float32)

    def double(self) -> Tensor:
        return self.astype(backend.float64)

    def half(self) -> Tensor:
        return self.astype(backend.float16)

    def long(self) -> Tensor:
        return self.astype(backend.int64)

    def int(self) -> Tensor:
        return self.astype(backend.int32)

    def bool(self) -> Tensor:
        return self.astype(backend.bool_)

    def clone(self) -> Tensor:
        return _ops.clone(self)

    def copy_(self, src: Any) -> Tensor:
        return _ops.inplace(self, "copy_", lambda t, s: _ops.broadcast_to(_ops.astype(s, dtype=t.dtype), t.shape), src)

    # --- operators ----------------------------------------------------------------------------
    def __add__(self, o: Any) -> Tensor:
        return _ops.add(self, o)

    def __radd__(self, o: Any) -> Tensor:
        return _ops.add(o, self)

    def __sub__(self, o: Any) -> Tensor:
        return _ops.sub(self, o)

    def __rsub__(self, o: Any) -> Tensor:
        return _ops.sub(o, self)

    def __mul__(self, o: Any) -> Tensor:
        return _ops.mul(self, o)

    def __rmul__(self, o: Any) -> Tensor:
        return _ops.mul(o, self)

    def __truediv__(self, o: Any) -> Tensor:
        return _ops.div(self, o)

    def __rtruediv__(self, o: Any) -> Tensor:
        return _ops.div(o, self)

    def __floordiv__(self, o: Any) -> Tensor:
        return _ops.floor_divide(self, o)

    def __rfloordiv__(self, o: Any) -> Tensor:
        return _ops.floor_divide(o, self)

    def __mod__(self, o: Any) -> Tensor:
        return _ops.remainder(self, o)

    def __pow__(self, o: Any) -> Tensor:
        return _ops.pow(self, o)

    def __rpow__(self, o: Any) -> Tensor:
        return _ops.pow(o, self)

    def __matmul__(self, o: Any) -> Tensor:
        return _ops.matmul(self, o)

    def __rmatmul__(self, o: Any) -> Tensor:
        return _ops.matmul(o, self)

    def __neg__(self) -> Tensor:
        return _ops.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _ops.abs(self)

    def __eq__(self, o: Any) -> Tensor:  # type: ignore[override]
        return _ops.compare("eq", self, o)

    def __ne__(self, o: Any) -> Tensor:  # type: ignore[override]
        return _ops.compare("ne", self, o)

    def __lt__(self, o: Any) -> Tensor:
        return _ops.compare("lt", self, o)

    def __le__(self, o: Any) -> Tensor:
        return _ops.compare("le", self, o)

    def __gt__(self, o: Any) -> Tensor:
        return _ops.compare("gt", self, o)

    def __ge__(self, o: Any) -> Tensor:
        return _ops.compare("ge", self, o)

    def __invert__(self) -> Tensor:
        return _ops.logical_not(self)

    def __and__(self, o: Any) -> Tensor:
        return _ops.logical_and(self, o)

    def __or__(self, o: Any) -> Tensor:
        return _ops.logical_or(self, o)

    def __xor__(self, o: Any) -> Tensor:
        return _ops.logical_xor(self, o)

    __hash__ = object.__hash__

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.getitem(self, index)

    def __setitem__(self, index: Any, value: Any) -> None:
        _ops.setitem(self, index, value)

    # --- in-place ops (safe: version-counted, graph rebased) ---------------------------------
    def __iadd__(self, o: Any) -> Tensor:
        return _ops.inplace(self, "add_", _ops.add, o)

    def __isub__(self, o: Any) -> Tensor:
        return _ops.inplace(self, "sub_", _ops.sub, o)

    def __imul__(self, o: Any) -> Tensor:
        return _ops.inplace(self, "mul_", _ops.mul, o)

    def __itruediv__(self, o: Any) -> Tensor:
        return _ops.inplace(self, "div_", _ops.div, o)

    def add_(self, o: Any, alpha: float = 1.0) -> Tensor:
        return _ops.inplace(self, "add_", _ops.add, o if alpha == 1.0 else _ops.mul(o, alpha))

    def sub_(self, o: Any, alpha: float = 1.0) -> Tensor:
        return _ops.inplace(self, "sub_", _ops.sub, o if alpha == 1.0 else _ops.mul(o, alpha))

    def mul_(self, o: Any) -> Tensor:
        return _ops.inplace(self, "mul_", _ops.mul, o)

    def div_(self, o: Any) -> Tensor:
        return _ops.inplace(self, "div_", _ops.div, o)

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:
        return _ops.inplace(self, "clamp_", lambda x: _ops.clamp(x, min, max))

    def zero_(self) -> Tensor:
        return _ops.fill_(self, 0)

    def fill_(self, value: Any) -> Tensor:
        return _ops.fill_(self, value)

    def where(self, condition: Any, other: Any) -> Tensor:
        """PyTorch's ``x.where(cond, y)``: x where cond holds, else y."""
        return _ops.where(condition, self, other)

    # --- methods mirroring the functional API ------------------------------------------------
    def _fn(name: str) -> Callable[..., Any]:  # type: ignore[misc]
        def method(self: Tensor, *args: Any, **kwargs: Any) -> Any:
            return getattr(_ops, name)(self, *args, **kwargs)

        method.__name__ = name
        method.__doc__ = f"Method form of :func:`chainrule.{name}`."
        return method

    for _name in (
        # elementwise
        "exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "square", "abs", "sign", "sin", "cos", "tan",
        "tanh", "sigmoid", "erf", "relu", "clamp", "clip", "maximum", "minimum", "reciprocal",
        "floor", "ceil", "round", "isnan", "isinf", "isfinite",
        "add", "sub", "mul", "div", "pow", "neg",
        # reductions
        "sum", "mean", "prod", "max", "min", "amax", "amin", "argmax", "argmin", "var", "std",
        "logsumexp", "cumsum", "norm", "all", "any",
        # shape and indexing
        "reshape", "view", "flatten", "transpose", "swapaxes", "permute", "squeeze", "unsqueeze",
        "expand", "expand_as", "broadcast_to", "flip", "split", "chunk", "gather", "pad",
        "repeat", "tile", "roll", "diagonal", "tril", "triu",
        # linear algebra and fused
        "matmul", "dot", "outer", "softmax", "log_softmax",
    ):  # fmt: skip
        locals()[_name] = _fn(_name)
    del _name, _fn


class RemovableHandle:
    """Returned by hook registrations; ``handle.remove()`` (or calling it) unregisters the hook."""

    __slots__ = ("_remove",)

    def __init__(self, remove: Callable[[], Any]) -> None:
        self._remove = remove

    def remove(self) -> None:
        self._remove()

    __call__ = remove


def _to_array(data: Any, dtype: Any, copy: bool) -> np.ndarray:
    """Turn user data into an array of a supported dtype (Python floats -> default float)."""
    if isinstance(data, Tensor):
        data = data.data
    d = None if dtype is None else backend.as_dtype(dtype)
    if isinstance(data, np.ndarray):
        arr = data.astype(d) if d is not None else (data.copy() if copy else data)
    else:
        if isinstance(data, (list, tuple)) and any(isinstance(e, Tensor) for e in _walk(data)):
            data = _strip(data)
        arr = np.array(data, dtype=d)
        if d is None and arr.dtype == np.float64 and not _has_numpy_float64(data):
            arr = arr.astype(backend.get_default_dtype())
    if arr.dtype not in backend.DTYPES.values():
        if arr.dtype.kind == "f":
            arr = arr.astype(backend.get_default_dtype())
        elif arr.dtype.kind in "iu":
            arr = arr.astype(backend.int64)
        elif arr.dtype.kind == "b":
            arr = arr.astype(backend.bool_)
        else:
            raise TypeError(f"tensor: unsupported data type {arr.dtype} (from {type(data).__name__})")
    return arr


def _walk(x: Any) -> Iterator[Any]:
    if isinstance(x, (list, tuple)):
        for e in x:
            yield from _walk(e)
    else:
        yield x


def _strip(x: Any) -> Any:
    if isinstance(x, (list, tuple)):
        return [_strip(e) for e in x]
    return x.data if isinstance(x, Tensor) else x


def _has_numpy_float64(x: Any) -> bool:
    return any(isinstance(e, np.floating) and e.dtype == np.float64 for e in _walk(x))


# Imported last: both modules import Tensor from here.
from chainrule import ops as _ops  # noqa: E402
from chainrule.autograd import engine as _engine  # noqa: E402
from chainrule.autograd import functional as _functional  # noqa: E402

__all__ = ["Tensor"]
