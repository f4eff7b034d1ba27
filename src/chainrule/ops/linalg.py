"""Linear algebra primitives: the matrix product (1-d, 2-d and batched with broadcasting).

Y = XW is bilinear, so forward mode follows from the forward itself (Ẏ = ẊW + XẆ); reverse
mode is the classic pair X̄ = Ȳ Wᵀ, W̄ = Xᵀ Ȳ, with batch axes summed back by the engine.
"""

from __future__ import annotations

from typing import Any

from chainrule.ops.registry import bilinear
from chainrule.tensor import Tensor


def _matmul_vjp(ns, g, needs, a, b, *, out):
    ga = gb = None
    if a.ndim == 1 and b.ndim == 1:  # inner product: y = aᵀb
        ga = g * b if needs[0] else None
        gb = g * a if needs[1] else None
    elif a.ndim == 1:  # y = aᵀB  (batched over B's leading axes)
        if needs[0]:
            ga = (b @ g[..., None])[..., 0]
        if needs[1]:
            gb = a[:, None] * g[..., None, :]
    elif b.ndim == 1:  # y = A b
        if needs[0]:
            ga = g[..., :, None] * b
        if needs[1]:
            gb = (a.mT @ g[..., None])[..., 0]
    elif b.ndim == 2 and a.ndim > 2:  # (..., K) @ (K, N): fold the batch axes into one GEMM
        g2 = ns.reshape(g, (-1, b.shape[-1]))
        if needs[0]:
            ga = ns.reshape(g2 @ b.mT, a.shape)
        if needs[1]:
            gb = ns.reshape(a, (-1, a.shape[-1])).mT @ g2
    else:
        if needs[0]:
            ga = g @ b.mT
        if needs[1]:
            gb = a.mT @ g
    return ga, gb


@bilinear(_matmul_vjp)
def matmul_(a, b):
    """Matrix product with NumPy's matmul semantics (1-d promotion, batch broadcasting).

    Forward:     Y = A B,  Y_ij = Σ_k A_ik B_kj
    Derivative:  Ā = Ȳ Bᵀ, B̄ = Aᵀ Ȳ (batch axes summed by the engine); Ẏ = Ȧ B + A Ḃ.
                 For vectors: aᵀb gives ā = ȳ b, b̄ = ȳ a.
    A batched A times a matrix B is computed as one matrix product of A reshaped to (M, K):
    NumPy's batched matmul path is several times slower there.
    """
    if b.ndim == 2 and a.ndim > 2:
        return (a.reshape(-1, a.shape[-1]) @ b).reshape(*a.shape[:-1], b.shape[-1])
    return a @ b


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


#: ``matmul(a, b)``: the primitive itself is the public function. Shape errors (inner or batch
#: dimensions that do not match) are raised by the engine before anything is recorded, naming
#: the op and both shapes.
matmul = matmul_


def dot(a: Any, b: Any) -> Tensor:
    """Inner product of two 1-d tensors."""
    a, b = _t(a), _t(b)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"dot: expects two 1-d tensors, got shapes {a.shape} and {b.shape}")
    return matmul(a, b)


def outer(a: Any, b: Any) -> Tensor:
    """Outer product of two 1-d tensors: (a bᵀ)_ij = a_i b_j."""
    from chainrule.ops.shape import reshape

    a, b = _t(a), _t(b)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"outer: expects two 1-d tensors, got shapes {a.shape} and {b.shape}")
    return reshape(a, (-1, 1)) * reshape(b, (1, -1))
