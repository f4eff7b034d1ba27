"""L-BFGS: limited-memory quasi-Newton with an optional strong-Wolfe line search.

Written from Nocedal & Wright, *Numerical Optimization* (2nd ed.): the two-loop recursion
(Algorithm 7.4), the line search for the strong Wolfe conditions (Algorithms 3.5 and 3.6) and the
cubic interpolation of the step (eq. 3.59), with the safeguards of minFunc that PyTorch also uses,
so the iterates agree with ``torch.optim.LBFGS``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule.autograd import state as _grad_state
from chainrule.optim.optimizer import (
    Optimizer,
    ParamsT,
    _as_array,
    _as_count,
    _check_positive,
    _check_real,
)
from chainrule.tensor import Tensor

#: The array entries of the state, with their shapes in terms of n (number of scalars in all
#: parameters) and k (number of stored curvature pairs).
_ARRAY_STATE = {"d": ("n",), "prev_flat_grad": ("n",), "old_dirs": ("k", "n"), "old_stps": ("k", "n"), "ro": ("k",)}
_FLOAT_STATE = ("t", "H_diag", "prev_loss")
_COUNT_STATE = ("n_iter", "func_evals")


def _cubic_interpolate(
    x1: float, f1: float, g1: float, x2: float, f2: float, g2: float, bounds: tuple[float, float] | None = None
) -> float:
    """Minimiser of the cubic through (x1, f1, f'=g1) and (x2, f2, f'=g2), clipped to ``bounds``.

    Nocedal & Wright eq. (3.59): with d₁ = g₁ + g₂ - 3 (f₁ - f₂)/(x₁ - x₂) and
    d₂ = sign(x₂ - x₁) √(d₁² - g₁g₂),  x = x₂ - (x₂ - x₁) (g₂ + d₂ - d₁) / (g₂ - g₁ + 2 d₂).
    When the cubic has no minimum (d₁² < g₁g₂) the midpoint of the bounds is returned.
    """
    lo, hi = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    if x1 == x2:
        return min(max(x1, lo), hi)
    d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2)
    d2_square = d1 * d1 - g1 * g2
    if d2_square >= 0.0:
        d2 = math.sqrt(d2_square)
        if x1 <= x2:
            num, den = g2 + d2 - d1, g2 - g1 + 2.0 * d2
        else:
            num, den = g1 + d2 - d1, g1 - g2 + 2.0 * d2
        if den != 0.0:
            x = x2 - (x2 - x1) * (num / den) if x1 <= x2 else x1 - (x1 - x2) * (num / den)
            return min(max(x, lo), hi)
    # No minimiser (d₁² < g₁g₂, or a degenerate cubic): bisect.
    return (lo + hi) / 2.0


def _strong_wolfe(
    phi: Callable[[float], tuple[float, np.ndarray]],
    t: float,
    d: np.ndarray,
    f: float,
    g: np.ndarray,
    gtd: float,
    c1: float = 1e-4,
    c2: float = 0.9,
    tolerance_change: float = 1e-9,
    max_ls: int = 25,
) -> tuple[float, np.ndarray, float, int]:
    """Find a step t along d satisfying the strong Wolfe conditions (N&W Algorithms 3.5 + 3.6).

    Sufficient decrease f(x + t d) ≤ f(x) + c₁ t ∇f·d and curvature |∇f(x + t d)·d| ≤ c₂ |∇f·d|.
    ``phi(t)`` returns (f, ∇f) at x + t d. Returns (f_new, g_new, t, number of evaluations).
    """
    d_norm = float(np.max(np.abs(d)))
    f_new, g_new = phi(t)
    evals = 1
    gtd_new = float(g_new @ d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    bracket: list[float] = []
    bracket_f: list[float] = []
    bracket_g: list[np.ndarray] = []
    bracket_gtd: list[float] = []

    # Bracketing phase (Algorithm 3.5): grow the step until an interval must contain a Wolfe point.
    while ls_iter < max_ls:
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g, bracket_gtd = [t], [f_new], [g_new], [gtd_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        # Extrapolate: the cubic's minimiser, kept within [t + 0.01 (t - t_prev), 10 t].
        lo, hi = t + 0.01 * (t - t_prev), t * 10.0
        t_next = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(lo, hi))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = t_next
        f_new, g_new = phi(t)
        evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1

    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g, bracket_gtd = [0.0, t], [f, f_new], [g, g_new], [gtd, gtd_new]

    # Zoom phase (Algorithm 3.6): shrink the bracket [low, high], low always the better end.
    insufficient_progress = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        # A trial point too close to an end of the bracket makes little progress: after two such
        # points in a row (or one outside the bracket) move it to 10% inside the bracket.
        b_min, b_max = min(bracket), max(bracket)
        margin = 0.1 * (b_max - b_min)
        if min(b_max - t, t - b_min) < margin:
            if insufficient_progress or t >= b_max or t <= b_min:
                t = b_max - margin if abs(t - b_max) < abs(t - b_min) else b_min + margin
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False
        f_new, g_new = phi(t)
        evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
        if f_new > f + c1 * t * gtd or f_new >= bracket_f[low]:
            bracket[high], bracket_f[high], bracket_g[high], bracket_gtd[high] = t, f_new, g_new, gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low], bracket_g[low], bracket_gtd[low] = t, f_new, g_new, gtd_new

    if len(bracket) == 1:
        low = 0
    return bracket_f[low], bracket_g[low], bracket[low], evals


class LBFGS(Optimizer):
    r"""Limited-memory BFGS, as PyTorch's ``torch.optim.LBFGS`` (one parameter group).

    ``step(closure)`` runs up to ``max_iter`` iterations on the loss that ``closure()`` evaluates
    (it must zero the gradients, compute the loss, call ``backward`` and return the loss). All
    parameters are treated as one vector x with gradient g. Iteration k:

    1. Direction d = -H g by the two-loop recursion over the stored pairs
       sᵢ = x_{i+1} - x_i, yᵢ = g_{i+1} - g_i, ρᵢ = 1/(yᵢ·sᵢ) (most recent ``history_size``)::

           q ← g;  for i newest → oldest:  aᵢ = ρᵢ sᵢ·q,  q ← q - aᵢ yᵢ
           r ← γ q with γ = (s·y)/(y·y) of the newest pair (H_diag)
           for i oldest → newest:  b = ρᵢ yᵢ·r,  r ← r + (aᵢ - b) sᵢ
           d = -r

       A pair is stored only when y·s > 1e-10 (keeps H positive definite). The first
       iteration uses d = -g with step t = lr · min(1, 1/‖g‖₁); later ones start at t = lr.
    2. Step: with ``line_search_fn="strong_wolfe"``, t satisfies the strong Wolfe conditions
       (c₁ = 1e-4, c₂ = 0.9, at most 25 evaluations, cubic interpolation and zoom);
       otherwise x ← x + t d with the fixed t.
    3. Stop when ‖g‖_∞ ≤ tolerance_grad, |t|·‖d‖_∞ ≤ tolerance_change,
       |f_k - f_{k-1}| < tolerance_change, d·g > -tolerance_change (not a descent direction),
       or after ``max_iter`` iterations / ``max_eval`` evaluations (default max_iter · 5/4).

    The state (on the first parameter) keeps the history across ``step`` calls: ``"d"``,
    ``"prev_flat_grad"`` (n,), ``"old_dirs"`` (y's) and ``"old_stps"`` (s's) as (k, n) arrays,
    ``"ro"`` (k,), the floats ``"t"``, ``"H_diag"``, ``"prev_loss"`` and the counts ``"n_iter"``,
    ``"func_evals"``; so ``state_dict`` holds only arrays and numbers.
    Deviation from PyTorch: ``lr`` must be positive.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1.0,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ) -> None:
        if max_eval is None and isinstance(max_iter, int) and not isinstance(max_iter, bool):
            max_eval = max_iter * 5 // 4
        defaults = dict(
            lr=lr,
            max_iter=max_iter,
            max_eval=max_eval,
            tolerance_grad=tolerance_grad,
            tolerance_change=tolerance_change,
            history_size=history_size,
            line_search_fn=line_search_fn,
        )
        self._validate_group(defaults)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError(f"LBFGS doesn't support per-parameter options (got {len(self.param_groups)} groups)")
        self._params: list[Tensor] = self.param_groups[0]["params"]

    def add_param_group(self, param_group: Any) -> None:
        raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")

    def _validate_group(self, group: Any) -> None:
        name = self._name
        _check_positive(name, "lr", group["lr"])
        for key in ("max_iter", "max_eval", "history_size"):
            v = group[key]
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name}: {key} must be a positive integer, got {v!r}")
        for key in ("tolerance_grad", "tolerance_change"):
            if _check_real(name, key, group[key]) < 0:
                raise ValueError(f"{name}: {key} must be >= 0, got {group[key]}")
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(f"{name}: line_search_fn must be None or 'strong_wolfe', got {group['line_search_fn']!r}")

    # --- the parameters as one vector ---------------------------------------------------------
    def _numel(self) -> int:
        return sum(p.data.size for p in self._params)

    def _dtype(self) -> np.dtype:
        return np.result_type(*[p.data.dtype for p in self._params])

    def _gather_flat_grad(self) -> np.ndarray:
        parts = []
        for i, p in enumerate(self._params):
            if p.grad is None:
                parts.append(np.zeros(p.data.size, dtype=p.data.dtype))
            else:
                parts.append(self._grad(p, i).reshape(-1))
        return np.concatenate(parts).astype(self._dtype(), copy=False)

    def _add_grad(self, t: float, d: np.ndarray) -> None:
        """x ← x + t d, written into the parameters."""
        offset = 0
        for p in self._params:
            n = p.data.size
            p.data += (t * d[offset : offset + n]).reshape(p.data.shape)
            p._version[0] += 1
            offset += n

    def _set_params(self, values: list[np.ndarray]) -> None:
        for p, v in zip(self._params, values):
            p.data[...] = v
            p._version[0] += 1

    def _evaluate(self, closure: Callable[[], Any]) -> float:
        with _grad_state.enable_grad():
            return float(closure())

    # --- the iteration ------------------------------------------------------------------------
    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """Run up to ``max_iter`` L-BFGS iterations; return the loss at the starting point."""
        if closure is None:
            raise ValueError("LBFGS.step requires a closure that re-evaluates the model and returns the loss")
        group = self.param_groups[0]
        lr = float(group["lr"])
        max_iter = int(group["max_iter"])
        max_eval = int(group["max_eval"])
        tolerance_grad = float(group["tolerance_grad"])
        tolerance_change = float(group["tolerance_change"])
        history_size = int(group["history_size"])
        line_search_fn = group["line_search_fn"]

        st = self.state.setdefault(self._params[0], {})
        st.setdefault("func_evals", 0)
        st.setdefault("n_iter", 0)

        with _grad_state.enable_grad():
            orig_loss = closure()
        loss = float(orig_loss)
        current_evals = 1
        st["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if float(np.max(np.abs(flat_grad))) <= tolerance_grad:
            return orig_loss

        d = st.get("d")
        t = st.get("t")
        old_dirs = st.get("old_dirs")
        old_stps = st.get("old_stps")
        ro = st.get("ro")
        h_diag = st.get("H_diag")
        prev_flat_grad = st.get("prev_flat_grad")
        prev_loss = st.get("prev_loss")

        with _grad_state.no_grad():
            n_iter = 0
            while n_iter < max_iter:
                n_iter += 1
                st["n_iter"] += 1

                if st["n_iter"] == 1:
                    d = -flat_grad
                    old_dirs = np.zeros((0, flat_grad.size), dtype=flat_grad.dtype)
                    old_stps = np.zeros((0, flat_grad.size), dtype=flat_grad.dtype)
                    ro = np.zeros(0, dtype=flat_grad.dtype)
                    h_diag = 1.0
                else:
                    y = flat_grad - prev_flat_grad
                    s = d * t
                    ys = float(y @ s)
                    if ys > 1e-10:
                        # Keep the newest history_size pairs: drop the oldest rows. The history
                        # lives in (k, n) arrays rather than lists so the state is plain arrays;
                        # the copy costs about as much as one pass of the two-loop recursion.
                        start = max(0, len(ro) - (history_size - 1))
                        old_dirs = np.concatenate([old_dirs[start:], y[None]])
                        old_stps = np.concatenate([old_stps[start:], s[None]])
                        ro = np.concatenate([ro[start:], np.array([1.0 / ys], dtype=ro.dtype)])
                        h_diag = ys / float(y @ y)
                    d = self._two_loop(flat_grad, old_dirs, old_stps, ro, h_diag)

                prev_flat_grad = flat_grad.copy()
                prev_loss = loss

                t = min(1.0, 1.0 / float(np.sum(np.abs(flat_grad)))) * lr if st["n_iter"] == 1 else lr
                gtd = float(flat_grad @ d)
                if gtd > -tolerance_change:
                    break

                ls_evals = 0
                if line_search_fn == "strong_wolfe":
                    x0 = [p.data.copy() for p in self._params]

                    def phi(step: float, x0: list[np.ndarray] = x0, d: np.ndarray = d) -> tuple[float, np.ndarray]:
                        self._add_grad(step, d)
                        f = self._evaluate(closure)
                        g = self._gather_flat_grad()
                        self._set_params(x0)
                        return f, g

                    loss, flat_grad, t, ls_evals = _strong_wolfe(phi, t, d, loss, flat_grad, gtd)
                    self._add_grad(t, d)
                    opt_cond = float(np.max(np.abs(flat_grad))) <= tolerance_grad
                else:
                    self._add_grad(t, d)
                    opt_cond = False
                    if n_iter != max_iter:
                        # Re-evaluate at the new point (skipped on the last iteration, whose
                        # gradient nobody would use).
                        loss = self._evaluate(closure)
                        flat_grad = self._gather_flat_grad()
                        opt_cond = float(np.max(np.abs(flat_grad))) <= tolerance_grad
                        ls_evals = 1
                current_evals += ls_evals
                st["func_evals"] += ls_evals

                if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                    break
                if float(np.max(np.abs(d))) * abs(t) <= tolerance_change:
                    break
                if abs(loss - prev_loss) < tolerance_change:
                    break

        st.update(
            d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=h_diag,
            prev_flat_grad=prev_flat_grad, prev_loss=prev_loss,
        )  # fmt: skip
        return orig_loss

    @staticmethod
    def _two_loop(
        g: np.ndarray, old_dirs: np.ndarray, old_stps: np.ndarray, ro: np.ndarray, h_diag: float
    ) -> np.ndarray:
        """d = -H g by the two-loop recursion (N&W Algorithm 7.4); rows are pairs, oldest first."""
        k = len(ro)
        al = [0.0] * k
        q = -g
        for i in range(k - 1, -1, -1):
            al[i] = float(old_stps[i] @ q) * float(ro[i])
            q -= al[i] * old_dirs[i]
        r = q * h_diag
        for i in range(k):
            be_i = float(old_dirs[i] @ r) * float(ro[i])
            r += (al[i] - be_i) * old_stps[i]
        return r

    # --- checkpoints --------------------------------------------------------------------------
    def _import_state(self, p: Tensor, idx: int, st: Any) -> dict[str, Any]:
        name = f"{self._name}.load_state_dict"
        n = self._numel()
        dtype = self._dtype()
        out: dict[str, Any] = {}
        sizes: dict[str, int] = {"n": n}
        for key in ("old_dirs", "old_stps", "ro"):
            if key in st and st[key] is not None:
                sizes.setdefault("k", len(_as_array(st[key], name, f"state[{idx}][{key!r}]")))
        for key, value in st.items():
            if key in _ARRAY_STATE:
                if value is None:
                    out[key] = None
                    continue
                arr = _as_array(value, name, f"state[{idx}][{key!r}]")
                if arr.ndim == 1 and arr.size == 0 and len(_ARRAY_STATE[key]) == 2:
                    arr = arr.reshape(0, n)
                expected = tuple(sizes[s] for s in _ARRAY_STATE[key])
                if arr.shape != expected:
                    raise ValueError(
                        f"{name}: state[{idx}][{key!r}] has shape {arr.shape}, expected {expected} "
                        f"(n = {n} scalars in the parameters, k = {sizes.get('k')} stored pairs)"
                    )
                out[key] = np.array(arr, dtype=dtype, copy=True)
            elif key in _FLOAT_STATE:
                out[key] = None if value is None else _check_real(name, f"state[{idx}][{key!r}]", _scalar(value))
            elif key in _COUNT_STATE:
                out[key] = _as_count(_scalar(value), name, f"state[{idx}][{key!r}]")
            else:
                raise ValueError(f"{name}: unknown state entry {key!r} for parameter {idx}")
        if idx != 0 and out:
            raise ValueError(f"{name}: LBFGS keeps its state on parameter 0, got state for parameter {idx}")
        return out


def _scalar(value: Any) -> Any:
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, (np.ndarray, np.generic)) and np.ndim(value) == 0:
        return value.item()
    return value
