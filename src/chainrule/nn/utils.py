"""Parameter utilities: flatten to a vector and back, and calling a module with other parameters.

The Hessian, loss-landscape and flow tools treat a network's parameters as one point θ ∈ ℝⁿ;
these functions are that view.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from chainrule.autograd import state
from chainrule.nn.module import Module
from chainrule.ops import concatenate, reshape
from chainrule.tensor import Tensor


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """Concatenate the flattened parameters into one 1-d Tensor (differentiable)."""
    ps = list(parameters)
    if not ps:
        raise ValueError("parameters_to_vector: no parameters given")
    return concatenate([reshape(p, -1) for p in ps])


def vector_to_parameters(vec: Tensor | np.ndarray, parameters: Iterable[Tensor]) -> None:
    """Write consecutive slices of ``vec`` into the parameters, in place (no graph recorded)."""
    ps = list(parameters)
    data = vec.data if isinstance(vec, Tensor) else np.asarray(vec)
    total = sum(p.size for p in ps)
    if data.ndim != 1 or data.size != total:
        raise ValueError(f"vector_to_parameters: expected a 1-d vector of {total} elements, got shape {data.shape}")
    with state.no_grad():
        i = 0
        for p in ps:
            p.data[...] = data[i : i + p.size].reshape(p.shape)
            p._version[0] += 1
            i += p.size


@contextlib.contextmanager
def _swapped(module: Module, values: Mapping[str, Tensor]) -> Iterator[None]:
    # Every slot holding a tensor, by qualified name; a tied tensor has several slots.
    slots: dict[str, tuple[dict, str]] = {}
    for prefix, mod in module.named_modules(memo=set()):
        for store in (mod._parameters, mod._buffers):
            for name in store:
                slots[f"{prefix}.{name}" if prefix else name] = (store, name)
    unknown = [k for k in values if k not in slots]
    if unknown:
        raise KeyError(f"functional_call: {type(module).__name__} has no parameter or buffer named {unknown}")
    # Replace by identity, so every owner of a tied weight sees the new tensor (PyTorch's tie_weights).
    replace = {id(slots[k][0][slots[k][1]]): v for k, v in values.items()}
    saved = []
    try:
        for store, name in slots.values():
            old = store[name]
            if old is not None and id(old) in replace:
                saved.append((store, name, old))
                store[name] = replace[id(old)]
        yield
    finally:
        for store, name, old in saved:
            store[name] = old


def functional_call(module: Module, params: Mapping[str, Tensor], *args: Any, **kwargs: Any) -> Any:
    """Run ``module(*args)`` with some parameters/buffers replaced by the given Tensors.

    The module is unchanged afterwards. The given tensors may be on a graph (or carry tangents),
    so ``grad``, ``hessian`` and ``hvp`` of a loss can be taken with respect to them.
    """
    with _swapped(module, params):
        return module(*args, **kwargs)
