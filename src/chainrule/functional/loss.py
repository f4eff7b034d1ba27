"""Loss functions, written with chainrule's primitives (no derivative code here).

Every loss takes ``reduction``: ``"none"`` returns the per-element losses, ``"sum"`` their sum
and ``"mean"`` their mean (for the class-index losses a weighted mean, as PyTorch). Names,
arguments and normalisations follow ``torch.nn.functional``; where a loss deliberately differs
the docstring says so. One difference holds for all of them: the regression and binary losses
require ``target`` to have the input's shape (PyTorch broadcasts with a warning that the result
is "likely incorrect"; here it is an error).

Class-index losses (``cross_entropy``, ``nll_loss``, ``focal_loss``) take logits or log-probs of
shape (N, C) or (N, C, d₁, …) (or (C,) unbatched) and integer targets of shape (N,) or
(N, d₁, …). They cost one ``log_softmax`` and one ``gather``: no one-hot matrix is built.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import ops
from chainrule.functional.activation import _softplus1
from chainrule.tensor import Tensor

__all__ = [
    "mse_loss",
    "l1_loss",
    "huber_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "nll_loss",
    "kl_div",
    "focal_loss",
]

_REDUCTIONS = ("none", "mean", "sum")


# --- argument checks ---------------------------------------------------------------------------


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _check_reduction(op: str, reduction: str, allowed: tuple[str, ...] = _REDUCTIONS) -> None:
    if reduction not in allowed:
        names = ", ".join(repr(r) for r in allowed)
        raise ValueError(f"{op}: reduction must be one of {names}, got {reduction!r}")


def _input(op: str, x: Any, what: str = "input") -> Tensor:
    x = _t(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: {what} must be a floating-point tensor, got dtype {x.dtype} (shape {x.shape})")
    return x


def _float_target(op: str, x: Tensor, target: Any) -> Tensor:
    """A floating target of the input's shape, cast to the input's dtype (casting is differentiable)."""
    y = _t(target)
    if y.dtype.kind != "f":
        raise TypeError(
            f"{op}: target must be a floating-point tensor like the input ({x.dtype}), got dtype {y.dtype} "
            f"(shape {y.shape}); convert it with target.to({x.dtype})"
        )
    if y.shape != x.shape:
        raise ValueError(f"{op}: target shape {y.shape} must equal the input shape {x.shape}")
    return y.astype(x.dtype)


def _broadcast_weight(op: str, name: str, w: Any, shape: tuple[int, ...], dtype: Any) -> Tensor:
    """An elementwise weight that broadcasts to ``shape`` without enlarging it."""
    w = _input(op, w, name)
    try:
        ok = np.broadcast_shapes(w.shape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{op}: {name} of shape {w.shape} does not broadcast to the target shape {shape}")
    return w.astype(dtype)


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "sum":
        return ops.sum(loss)
    return ops.mean(loss)


# --- regression losses -------------------------------------------------------------------------


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002  (PyTorch's argument name)
    """Mean squared error.

    Forward:     ℓᵢ = (xᵢ - yᵢ)²,  reduced by ``reduction``
    Derivative:  ∂ℓᵢ/∂xᵢ = 2(xᵢ - yᵢ)  (divided by the element count for "mean")
    """
    _check_reduction("mse_loss", reduction)
    x = _input("mse_loss", input)
    d = x - _float_target("mse_loss", x, target)
    return _reduce(d * d, reduction)


def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002  (PyTorch's argument name)
    """Mean absolute error.

    Forward:     ℓᵢ = |xᵢ - yᵢ|
    Derivative:  ∂ℓᵢ/∂xᵢ = sign(xᵢ - yᵢ)  (0 where xᵢ = yᵢ, as PyTorch)
    """
    _check_reduction("l1_loss", reduction)
    x = _input("l1_loss", input)
    return _reduce(ops.abs(x - _float_target("l1_loss", x, target)), reduction)


def huber_loss(input: Any, target: Any, reduction: str = "mean", delta: float = 1.0) -> Tensor:  # noqa: A002  (PyTorch's argument name)
    """Huber loss: quadratic near zero, linear in the tails.

    Forward:     ℓᵢ = ½dᵢ² if |dᵢ| < δ, else δ(|dᵢ| - ½δ),  dᵢ = xᵢ - yᵢ
    Derivative:  ∂ℓᵢ/∂xᵢ = dᵢ if |dᵢ| < δ, else δ·sign(dᵢ)  (= clamp(dᵢ, -δ, δ))
    """
    _check_reduction("huber_loss", reduction)
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    x = _input("huber_loss", input)
    d = x - _float_target("huber_loss", x, target)
    ad = ops.abs(d)
    delta = float(delta)
    loss = ops.where(ad < delta, d * d * 0.5, (ad - 0.5 * delta) * delta)
    return _reduce(loss, reduction)


# --- binary classification ---------------------------------------------------------------------


def _check_unit_interval(op: str, what: str, t: Tensor) -> None:
    a = t.data
    bad = ~((a >= 0) & (a <= 1))
    if bad.any():
        v = a[bad].flat[0]
        raise ValueError(f"{op}: every element of {what} must lie in [0, 1], got {v} (shape {t.shape})")


def binary_cross_entropy(probs: Any, targets: Any, weight: Any = None, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of probabilities p against targets y ∈ [0, 1].

    Forward:     ℓᵢ = -wᵢ·[yᵢ·max(log pᵢ, -100) + (1 - yᵢ)·max(log(1 - pᵢ), -100)]
                 (the logs clamped at -100 as PyTorch, so p = 0 or 1 gives a finite loss)
    Derivative:  ∂ℓᵢ/∂pᵢ = wᵢ·(pᵢ - yᵢ) / (pᵢ(1 - pᵢ))   where the logs are not clamped
    Deliberate difference: where a log is clamped (p = 0 or 1 exactly), that term's derivative
    is 0 (the derivative of the clamp), where PyTorch divides by max(p(1 - p), 1e-12). Prefer
    ``binary_cross_entropy_with_logits``: it is stable without any clamp.
    """
    op = "binary_cross_entropy"
    _check_reduction(op, reduction)
    p = _input(op, probs, "probs")
    y = _float_target(op, p, targets)
    _check_unit_interval(op, "probs", p)
    _check_unit_interval(op, "targets", y)
    w = None if weight is None else _broadcast_weight(op, "weight", weight, p.shape, p.dtype)
    # log is evaluated on a masked input, so p = 0 (or 1) makes no -inf and no warning.
    pos = p > 0
    log_p = ops.where(pos, ops.clamp(ops.log(ops.where(pos, p, 1.0)), min=-100.0), -100.0)
    below = p < 1
    log_q = ops.where(below, ops.clamp(ops.log1p(-ops.where(below, p, 0.0)), min=-100.0), -100.0)
    loss = (y - 1.0) * log_q - y * log_p
    if w is not None:
        loss = loss * w
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(
    logits: Any, targets: Any, weight: Any = None, reduction: str = "mean", pos_weight: Any = None
) -> Tensor:
    """Binary cross-entropy on logits x, fused with the sigmoid and stable for any |x|.

    Forward:     ℓᵢ = wᵢ·[(1 - yᵢ)·xᵢ + (1 + (pw - 1)·yᵢ)·log(1 + e^{-xᵢ})]
                 with log(1 + e^{-x}) = max(-x, 0) + log1p(e^{-|x|}); with pw = 1 (no pos_weight)
                 this is max(x, 0) - x·y + log1p(e^{-|x|}) = -[y log σ(x) + (1 - y) log(1 - σ(x))]
    Derivative:  ∂ℓᵢ/∂xᵢ = wᵢ·[(1 + (pw - 1)yᵢ)·σ(xᵢ) - pw·yᵢ]  (= wᵢ(σ(xᵢ) - yᵢ) when pw = 1)
    ``pos_weight`` (pw) weighs the positive term and broadcasts against the last axis, as PyTorch.
    """
    op = "binary_cross_entropy_with_logits"
    _check_reduction(op, reduction)
    x = _input(op, logits, "logits")
    y = _float_target(op, x, targets)
    w = None if weight is None else _broadcast_weight(op, "weight", weight, x.shape, x.dtype)
    pw = None if pos_weight is None else _broadcast_weight(op, "pos_weight", pos_weight, x.shape, x.dtype)
    softplus_neg = _softplus1(-x)  # -log σ(x)
    coef = 1.0 if pw is None else (pw - 1.0) * y + 1.0
    loss = (1.0 - y) * x + coef * softplus_neg
    if w is not None:
        loss = loss * w
    return _reduce(loss, reduction)


# --- class-index losses -------------------------------------------------------------------------


def _class_input(op: str, x: Any) -> tuple[Tensor, int, int]:
    """The input, its class axis (0 unbatched, else 1) and the class count C."""
    x = _input(op, x)
    if x.ndim == 0:
        raise ValueError(f"{op}: input must have a class axis, shape (C,), (N, C) or (N, C, d1, ...); got a 0-d tensor")
    cd = 0 if x.ndim == 1 else 1
    return x, cd, x.shape[cd]


def _class_weight(op: str, weight: Any, n_classes: int, dtype: Any, name: str = "weight") -> np.ndarray | None:
    """A per-class weight as a constant array of the input's dtype (no gradient flows to it, as PyTorch)."""
    if weight is None:
        return None
    if isinstance(weight, (list, tuple)):
        weight = np.asarray(weight, dtype=np.float64)  # plain numbers, as in a literal [1, 2, 3]
    w = np.asarray(weight.data if isinstance(weight, Tensor) else weight)
    if w.dtype.kind != "f":
        raise TypeError(f"{op}: {name} must be a floating-point tensor of shape ({n_classes},), got dtype {w.dtype}")
    if w.shape != (n_classes,):
        raise ValueError(f"{op}: {name} must have shape ({n_classes},) (one entry per class), got shape {w.shape}")
    return w.astype(dtype)


def _index_target(op: str, x: Tensor, cd: int, target: Any, ignore_index: int) -> tuple[np.ndarray, np.ndarray]:
    """Validated class indices: (indices with ignored entries replaced by 0, mask of the kept entries)."""
    y = _t(target)
    expected = x.shape[:cd] + x.shape[cd + 1 :]
    if y.dtype.kind not in "iu":
        raise TypeError(
            f"{op}: target must hold integer class indices of shape {expected} for input of shape {x.shape}, "
            f"got dtype {y.dtype} (shape {y.shape})"
            + (
                "; for class probabilities use cross_entropy with a float target of the input's shape"
                if y.dtype.kind == "f"
                else ""
            )
        )
    if y.shape != expected:
        raise ValueError(
            f"{op}: class-index target must have shape {expected} for input of shape {x.shape} "
            f"(classes on axis {cd}), got shape {y.shape}"
        )
    idx = y.data
    keep = idx != ignore_index
    n_classes = x.shape[cd]
    bad = keep & ((idx < 0) | (idx >= n_classes))
    if bad.any():
        raise ValueError(
            f"{op}: class index {int(idx[bad].flat[0])} is out of range [0, {n_classes}) for input of shape "
            f"{x.shape} (ignore_index={ignore_index})"
        )
    return np.where(keep, idx, 0), keep


def _pick(logp: Tensor, cd: int, idx: np.ndarray) -> Tensor:
    """logp at the target class of every sample: one gather along the class axis."""
    picked = ops.gather(logp, cd, np.expand_dims(idx, cd))
    return ops.reshape(picked, idx.shape)


def _index_nll(
    op: str, logp: Tensor, cd: int, target: Any, weight: np.ndarray | None, ignore_index: int
) -> tuple[Tensor, np.ndarray, np.ndarray, float, Tensor]:
    """-w[y]·logp[y] per element, the indices (0 where ignored), the kept-mask, Σ w[y] over kept, logp[y].

    Ignored entries are not yet zeroed in the returned loss (``_masked`` does that last).
    """
    idx, keep = _index_target(op, logp, cd, target, ignore_index)
    picked = _pick(logp, cd, idx)
    if weight is None:
        loss = -picked
        total = float(np.count_nonzero(keep))
    else:
        wy = np.where(keep, weight[idx], 0).astype(logp.dtype)
        loss = picked * Tensor(-wy)
        total = float(wy.sum(dtype=np.float64))
    return loss, idx, keep, total, picked


def _masked(loss: Tensor, keep: np.ndarray) -> Tensor:
    # A select, not a product: an ignored entry contributes exactly 0 even if its gathered
    # log-probability is -inf.
    return loss if keep.all() else ops.where(Tensor(keep), loss, 0.0)


def _weighted_mean(total_loss: Tensor, total_weight: float) -> Tensor:
    if total_weight == 0.0:
        # Nothing to average over (every target ignored, or an empty batch): NaN, as PyTorch.
        return total_loss * float("nan")
    return total_loss / total_weight


def _reduce_index(loss: Tensor, reduction: str, total_weight: float) -> Tensor:
    if reduction == "none":
        return loss
    s = ops.sum(loss)
    return s if reduction == "sum" else _weighted_mean(s, total_weight)


def nll_loss(input: Any, target: Any, weight: Any = None, ignore_index: int = -100, reduction: str = "mean") -> Tensor:  # noqa: A002  (PyTorch's argument name)
    """Negative log-likelihood of log-probabilities ``input`` at integer class ``target``.

    Forward:     ℓᵢ = -w[yᵢ]·input[i, yᵢ]  (0 where yᵢ = ignore_index);
                 "mean" is the weighted mean Σᵢ ℓᵢ / Σᵢ w[yᵢ] over non-ignored i (as PyTorch)
    Derivative:  ∂ℓᵢ/∂input[i, c] = -w[yᵢ]·1[c = yᵢ]
    """
    op = "nll_loss"
    _check_reduction(op, reduction)
    x, cd, n_classes = _class_input(op, input)
    w = _class_weight(op, weight, n_classes, x.dtype)
    loss, _, keep, total, _ = _index_nll(op, x, cd, target, w, ignore_index)
    return _reduce_index(_masked(loss, keep), reduction, total)


def cross_entropy(
    input: Any,  # noqa: A002  (PyTorch's argument name)
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy between logits and integer class targets or class-probability targets.

    With logp = log_softmax(input) along the class axis, C classes, ε = ``label_smoothing``:

    Integer targets (shape (N,) or (N, d₁, …), dtype int):
        ℓᵢ = (1 - ε)·(-w[yᵢ]·logp[i, yᵢ]) + (ε/C)·(-Σ_c w[c]·logp[i, c]),  0 where yᵢ = ignore_index
        "mean" divides Σᵢ ℓᵢ by Σᵢ w[yᵢ] over non-ignored i (the count when weight is None)
    Probability targets (a float tensor of the input's shape; ignore_index does not apply):
        q = (1 - ε)·target + ε/C,  ℓᵢ = -Σ_c w[c]·q[i, c]·logp[i, c]
        "mean" divides by the number of samples N·d₁·… (weights do not normalise here)
    These are PyTorch's exact normalisations. Derivative (integer targets, no weight, ε = 0):
    ∂ℓᵢ/∂input[i] = softmax(input[i]) - onehot(yᵢ). ``weight`` (shape (C,)) is a constant.
    """
    op = "cross_entropy"
    _check_reduction(op, reduction)
    x, cd, n_classes = _class_input(op, input)
    w = _class_weight(op, weight, n_classes, x.dtype)
    eps = float(label_smoothing)
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"{op}: label_smoothing must lie in [0, 1], got {label_smoothing}")
    y = _t(target)
    if y.dtype.kind == "f":
        if y.shape != x.shape:
            raise TypeError(
                f"{op}: a floating-point target holds class probabilities and must have the input's shape "
                f"{x.shape}, got shape {y.shape}; for class indices pass an integer tensor "
                f"of shape {x.shape[:cd] + x.shape[cd + 1 :]} (e.g. target.long())"
            )
        return _cross_entropy_probs(x, cd, n_classes, y.astype(x.dtype), w, reduction, eps)
    logp = ops.log_softmax(x, dim=cd)
    loss, _, keep, total, _ = _index_nll(op, logp, cd, y, w, ignore_index)
    if eps > 0.0:
        wl = logp if w is None else logp * Tensor(w.reshape((n_classes,) + (1,) * (x.ndim - cd - 1)))
        smooth = -ops.sum(wl, dim=cd)
        loss = loss * (1.0 - eps) + smooth * (eps / n_classes)
    return _reduce_index(_masked(loss, keep), reduction, total)


def _cross_entropy_probs(
    x: Tensor, cd: int, n_classes: int, q: Tensor, w: np.ndarray | None, reduction: str, eps: float
) -> Tensor:
    logp = ops.log_softmax(x, dim=cd)
    if eps > 0.0:
        q = q * (1.0 - eps) + eps / n_classes
    prod = logp * q
    if w is not None:
        prod = prod * Tensor(w.reshape((n_classes,) + (1,) * (x.ndim - cd - 1)))
    if reduction == "none":
        return -ops.sum(prod, dim=cd)
    total = -ops.sum(prod)
    return total if reduction == "sum" else _weighted_mean(total, float(x.size // n_classes) if n_classes else 0.0)


def focal_loss(
    input: Any,  # noqa: A002  (PyTorch's argument name)
    target: Any,
    gamma: float = 2.0,
    alpha: Any = None,
    reduction: str = "mean",
    ignore_index: int = -100,
) -> Tensor:
    """Multi-class focal loss (Lin et al., 2017) on logits and integer class targets.

    Forward:     ℓᵢ = -αᵢ·(1 - pᵢ)^γ·log pᵢ,  pᵢ = softmax(input[i])[yᵢ] (0 where yᵢ = ignore_index)
                 αᵢ = 1 (alpha None), α (a float: the same factor for every class), or α[yᵢ]
                 (a per-class vector of shape (C,))
    Derivative:  with log pᵢ = ℓpᵢ, ∂ℓᵢ/∂ℓpᵢ = -αᵢ·[(1 - pᵢ)^γ - γ(1 - pᵢ)^{γ-1}·pᵢ·log pᵢ]
    "mean" averages over the non-ignored elements (α does not normalise, unlike the ``weight``
    of ``cross_entropy``). With γ = 0 and alpha None this is exactly ``cross_entropy``.
    (1 - p) is computed as -expm1(log p), accurate when p is near 1; at p = 1 exactly the
    factor and its derivative are 0, so γ < 1 gives no division by zero.
    """
    op = "focal_loss"
    _check_reduction(op, reduction)
    if not gamma >= 0:
        raise ValueError(f"{op}: gamma must be non-negative, got {gamma}")
    x, cd, n_classes = _class_input(op, input)
    alpha_vec = None
    alpha_scalar = None
    if alpha is not None:
        if isinstance(alpha, (int, float)) and not isinstance(alpha, bool):
            if not alpha >= 0:
                raise ValueError(f"{op}: alpha must be non-negative, got {alpha}")
            alpha_scalar = float(alpha)
        else:
            alpha_vec = _class_weight(op, alpha, n_classes, x.dtype, name="alpha")
    logp = ops.log_softmax(x, dim=cd)
    loss, idx, keep, count, logpt = _index_nll(op, logp, cd, target, None, ignore_index)
    if gamma != 0:
        one_minus = -ops.expm1(logpt)
        pos = one_minus > 0
        modulator = ops.where(pos, ops.where(pos, one_minus, 1.0) ** float(gamma), 0.0)
        loss = loss * modulator
    if alpha_vec is not None:
        loss = loss * Tensor(alpha_vec[idx])
    elif alpha_scalar is not None:
        loss = loss * alpha_scalar
    return _reduce_index(_masked(loss, keep), reduction, count)


# --- divergences -------------------------------------------------------------------------------


def kl_div(input: Any, target: Any, reduction: str = "mean", log_target: bool = False) -> Tensor:  # noqa: A002  (PyTorch's argument name)
    """Kullback-Leibler divergence KL(target ‖ model), the model given as log-probabilities.

    Forward:     ℓᵢ = yᵢ·(log yᵢ - xᵢ)   (0 where yᵢ = 0), x = ``input`` (log-probabilities);
                 with ``log_target`` the target is given as log y: ℓᵢ = e^{yᵢ}·(yᵢ - xᵢ)
    Derivative:  ∂ℓᵢ/∂xᵢ = -yᵢ (or -e^{yᵢ} with log_target)
    Reductions (PyTorch's): "sum" = Σᵢ ℓᵢ; "batchmean" = Σᵢ ℓᵢ / N (N = the first dimension): the
    true mean KL per sample; "mean" = Σᵢ ℓᵢ / (number of elements), which also divides by the
    class count and so is NOT the KL divergence (kept because it is PyTorch's default).
    Targets must be non-negative when ``log_target`` is False.
    """
    op = "kl_div"
    _check_reduction(op, reduction, ("none", "mean", "batchmean", "sum"))
    x = _input(op, input)
    y = _float_target(op, x, target)
    if log_target:
        loss = ops.exp(y) * (y - x)
    else:
        if (y.data < 0).any():
            raise ValueError(
                f"{op}: target probabilities must be non-negative, got {y.data[y.data < 0].flat[0]} "
                "(pass log_target=True for log-probability targets)"
            )
        pos = y > 0
        xlogy = ops.where(pos, y * ops.log(ops.where(pos, y, 1.0)), 0.0)
        loss = xlogy - y * x
    if reduction == "batchmean":
        s = ops.sum(loss)
        return _weighted_mean(s, float(x.shape[0])) if x.ndim > 0 else s
    return _reduce(loss, reduction)
