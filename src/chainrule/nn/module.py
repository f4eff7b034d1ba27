"""``Module``: the base class of layers and models, with PyTorch's names and semantics.

A Module owns Parameters, buffers (non-learnable state such as BatchNorm's running mean) and
child Modules, registered by plain attribute assignment. It knows its attribute name in its
parent (``fc2``), so a layer's shape error can say which layer failed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.autograd import state
from chainrule.nn.parameter import Parameter
from chainrule.tensor import RemovableHandle, Tensor


class Module:
    """Base class for all layers and models. Subclasses define ``forward``."""

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_backward_hooks", OrderedDict())
        object.__setattr__(self, "_name", None)
        object.__setattr__(self, "training", True)

    # --- registration -------------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() is called")
        if name in self._parameters and value is not None and not isinstance(value, Parameter):
            raise TypeError(
                f"cannot assign {type(value).__name__} as parameter {name!r} of {self._label()} "
                "(expected a Parameter or None)"
            )
        if name in self._parameters and value is None:
            self._parameters[name] = None
            return
        for store in (self._parameters, self._buffers, self._modules):
            store.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
            if value._name is None:
                object.__setattr__(value, "_name", name)
        elif name in self.__dict__.get("_buffer_names", ()) and (value is None or isinstance(value, Tensor)):
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None, got {type(param).__name__}")
        if name in self._buffers or name in self._modules:
            raise KeyError(f"register_parameter: {name!r} is already a buffer or submodule of {self._label()}")
        self.__dict__.pop(name, None)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Non-learnable state saved in ``state_dict`` (unless ``persistent=False``) and moved by ``to``."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None, got {type(tensor).__name__}")
        if name in self._parameters or name in self._modules:
            raise KeyError(f"register_buffer: {name!r} is already a parameter or submodule of {self._label()}")
        names = self.__dict__.setdefault("_buffer_names", set())
        names.add(name)
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def register_module(self, name: str, module: Module | None) -> None:
        self._modules[name] = module
        if module is not None and module._name is None:
            object.__setattr__(module, "_name", name)

    add_module = register_module

    # --- traversal ----------------------------------------------------------------------------
    def named_modules(self, prefix: str = "", memo: set[int] | None = None) -> Iterator[tuple[str, Module]]:
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(f"{prefix}.{name}" if prefix else name, memo)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, store: str, prefix: str, recurse: bool) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_prefix, mod in modules:
            for name, t in getattr(mod, store).items():
                if t is None or id(t) in seen:
                    continue
                seen.add(id(t))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), t

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        yield from self._named_members("_parameters", prefix, recurse)  # type: ignore[misc]

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # --- modes and gradients ------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.data[...] = 0

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every submodule (children first) and on self, as PyTorch does."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def to(self, dtype: Any) -> Module:
        """Cast floating parameters and buffers to ``dtype`` in place (objects keep their identity)."""
        d = backend.as_dtype(dtype)
        if not backend.is_floating(d):
            raise TypeError(f"Module.to: expected a floating dtype, got {d}")
        for t in list(self.parameters()) + list(self.buffers()):
            if backend.is_floating(t.dtype) and t.dtype != d:
                t.data = t.data.astype(d)
                t._version[0] += 1
                if t.grad is not None:
                    t.grad = t.grad.astype(d)
        return self

    def float(self) -> Module:
        return self.to(backend.float32)

    def double(self) -> Module:
        return self.to(backend.float64)

    # --- state --------------------------------------------------------------------------------
    def state_dict(self, prefix: str = "") -> OrderedDict[str, Tensor]:
        """Parameters and persistent buffers by qualified name (detached, sharing memory)."""
        out: OrderedDict[str, Tensor] = OrderedDict()
        for mod_prefix, mod in self.named_modules(prefix):
            for name, p in mod._parameters.items():
                if p is not None:
                    out[f"{mod_prefix}.{name}" if mod_prefix else name] = p.detach()
            for name, b in mod._buffers.items():
                if b is not None and name not in mod._non_persistent:
                    out[f"{mod_prefix}.{name}" if mod_prefix else name] = b.detach()
        return out

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True) -> tuple[list[str], list[str]]:
        """Copy values into this module's parameters and buffers.

        Every check runs first, so a bad state dict changes nothing: with ``strict`` a missing or
        unexpected key is an error; a shape mismatch is always an error. Returns
        ``(missing_keys, unexpected_keys)``.
        """
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        problems = []
        if strict and missing:
            problems.append(f"missing keys: {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {unexpected}")
        values: dict[str, np.ndarray] = {}
        for k, target in own.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            arr = v.data if isinstance(v, Tensor) else np.asarray(v)
            if arr.shape != target.shape:
                problems.append(f"{k}: expected shape {target.shape}, got {arr.shape}")
            elif not np.can_cast(arr.dtype, target.dtype, casting="same_kind"):
                problems.append(f"{k}: expected dtype {target.dtype}, got {arr.dtype}")
            values[k] = arr
        if problems:
            raise ValueError(f"load_state_dict for {type(self).__name__}: " + "; ".join(problems))
        with state.no_grad():
            for k, arr in values.items():
                target = own[k]
                np.copyto(target.data, arr, casting="same_kind")
                target._version[0] += 1
        return missing, unexpected

    # --- calling ------------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        for hook in self._forward_pre_hooks.values():
            res = hook(self, args)
            if res is not None:
                args = res if isinstance(res, tuple) else (res,)
        out = self.forward(*args, **kwargs)
        for hook in self._forward_hooks.values():
            res = hook(self, args, out)
            if res is not None:
                out = res
        if self._backward_hooks and isinstance(out, Tensor) and out.requires_grad:
            for hook in self._backward_hooks.values():
                out.register_hook(lambda g, h=hook: h(self, g))
        return out

    def _add_hook(self, store: OrderedDict, hook: Callable[..., Any]) -> RemovableHandle:
        key = object()
        store[key] = hook
        return RemovableHandle(lambda: store.pop(key, None))

    def register_forward_pre_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """``hook(module, args)`` before forward; may return replacement args. Returns a remover."""
        return self._add_hook(self._forward_pre_hooks, hook)

    def register_forward_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """``hook(module, args, output)`` after forward; may return a replacement output."""
        return self._add_hook(self._forward_hooks, hook)

    def register_backward_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """``hook(module, grad_output)`` when the gradient of the module's output is computed.

        May return a replacement gradient. (PyTorch's full backward hook also passes grad_input;
        here the gradient with respect to the output is what is exposed.)
        """
        return self._add_hook(self._backward_hooks, hook)

    # --- display ------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        children = list(self._modules.items())
        if not children:
            return lines[0] + ")"
        for name, child in children:
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_repr}")
        return "\n".join(lines) + "\n)"

    def _label(self) -> str:
        """``Linear(fc2)``: the class and attribute name used in error messages."""
        return f"{type(self).__name__}({self._name})" if self._name else type(self).__name__
