"""``Parameter``: a Tensor that a Module registers as learnable."""

from __future__ import annotations

from typing import Any

from chainrule.tensor import Tensor


class Parameter(Tensor):
    """A leaf Tensor that requires grad by default and is collected by ``Module.parameters()``.

    ``Parameter(data)`` copies ``data`` (a Tensor, array or nested list), like ``Tensor(data)``.
    """

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        super().__init__(data, dtype=dtype, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
