"""``Optimizer``: the base class of every optimizer, with PyTorch's names and semantics.

An optimizer holds **parameter groups** (a list of dicts: ``"params"`` plus that group's options,
such as ``"lr"``) and a per-parameter **state** (a dict keyed by the parameter, holding NumPy
arrays and Python numbers: momentum buffers, moment estimates, step counts).

The update itself is the hot loop of training, so it runs on the raw arrays: vectorised NumPy,
in place on ``p.data``, under ``no_grad``, with the hyperparameters as Python floats so a float32
parameter stays float32 (a NumPy float64 scalar would promote it). Each updated parameter's
version counter is bumped, so a graph that saved the old value refuses to backpropagate through
it instead of silently using the new one.

``state_dict()`` refers to parameters by their index in the order of ``param_groups`` (as
PyTorch does) and holds only dicts, lists, tuples, strings, Python numbers, ``None`` and NumPy
arrays, so a checkpoint can be written without pickle.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.autograd import state as _grad_state
from chainrule.tensor import Tensor

ParamsT = Iterable[Tensor] | Iterable[Mapping[str, Any]]


class Optimizer:
    """Base class of the optimizers.

    Args:
        params: an iterable of Tensors (one parameter group), of ``(name, Tensor)`` pairs (as from
            ``Module.named_parameters()``; the names are kept in the group's ``"param_names"``),
            or of dicts, each a parameter group ``{"params": [...], "lr": ..., ...}`` whose
            options override ``defaults``.
        defaults: the default option values of every group.

    Subclasses define ``_validate_group(group)`` (raise ValueError/TypeError on a bad option) and
    ``_step_group(group)`` (update the group's parameters in place), and list in
    ``_param_state_keys`` the state entries that are arrays of the parameter's shape.
    """

    #: State entries that are arrays with the parameter's shape (checked by ``load_state_dict``).
    _param_state_keys: tuple[str, ...] = ()

    def __init__(self, params: ParamsT, defaults: Mapping[str, Any]) -> None:
        self.defaults: dict[str, Any] = dict(defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        groups = _as_groups(params, self._name)
        if not groups:
            raise ValueError(f"{self._name}: optimizer got an empty parameter list")
        # Build every group before registering any, so a bad group leaves nothing half-made.
        built: list[dict[str, Any]] = []
        seen: set[int] = set()
        for group in groups:
            built.append(self._build_group(group, seen))
        self.param_groups.extend(built)

    @property
    def _name(self) -> str:
        return type(self).__name__

    # --- parameter groups ---------------------------------------------------------------------
    def add_param_group(self, param_group: Mapping[str, Any]) -> None:
        """Add a parameter group (a dict with ``"params"`` and optional per-group options)."""
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        self.param_groups.append(self._build_group(param_group, seen))

    def _build_group(self, param_group: Any, seen: set[int]) -> dict[str, Any]:
        if not isinstance(param_group, Mapping):
            raise TypeError(f"{self._name}: a parameter group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{self._name}: a parameter group needs a 'params' entry")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(f"{self._name}: parameters must be given in a sequence with a fixed order, not a set")
        else:
            params = list(params)
        if not params:
            raise ValueError(f"{self._name}: a parameter group has an empty parameter list")
        names = None
        if all(isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], str) for x in params):
            # named_parameters(): keep the names, as PyTorch does, under "param_names".
            names = [n for n, _ in params]
            params = [t for _, t in params]
        local: set[int] = set()
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{self._name}: parameter {i} of a group is a {type(p).__name__}, expected a Tensor")
            if not p.is_leaf:
                raise ValueError(f"{self._name}: can't optimize a non-leaf Tensor (parameter {i} of a group)")
            if not backend.is_floating(p.dtype):
                raise TypeError(f"{self._name}: parameter {i} has dtype {p.dtype}, expected a floating dtype")
            if id(p) in local:
                raise ValueError(f"{self._name}: parameter {i} appears twice in the same group")
            if id(p) in seen:
                raise ValueError(f"{self._name}: parameter {i} already belongs to another parameter group")
            local.add(id(p))
        group = {k: v for k, v in param_group.items() if k != "params"}
        if names is not None:
            group["param_names"] = names
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        group = {"params": params, **group}
        self._validate_group(group)
        seen.update(local)
        return group

    def _validate_group(self, group: Mapping[str, Any]) -> None:
        """Raise ValueError/TypeError if an option of ``group`` is invalid (subclasses extend)."""
        if "lr" in group:
            _check_positive(self._name, "lr", group["lr"])

    # --- gradients ----------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients: ``p.grad = None`` (default) or fill them with zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                elif g._node is not None or not g.data.flags.writeable:
                    p.grad = Tensor(np.zeros_like(g.data))
                else:
                    g.data.fill(0)
                    g._version[0] += 1

    def _grad(self, p: Tensor, index: int) -> np.ndarray:
        """The raw gradient array of ``p``, checked against the parameter's shape."""
        g = p.grad.data
        if g.shape != p.data.shape:
            raise ValueError(
                f"{self._name}.step: parameter {index} has shape {p.data.shape} but its .grad has shape {g.shape}"
            )
        return g

    # --- the update ---------------------------------------------------------------------------
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Take one optimization step; return ``closure()`` (the loss) if a closure is given.

        The closure re-evaluates the model with grad mode on (it usually calls ``zero_grad`` and
        ``backward``) before the update uses the gradients it leaves in ``.grad``.
        """
        loss = None
        if closure is not None:
            with _grad_state.enable_grad():
                loss = closure()
        with _grad_state.no_grad():
            for group in self.param_groups:
                self._step_group(group)
        return loss

    def _step_group(self, group: dict[str, Any]) -> None:
        raise NotImplementedError(f"{self._name} does not implement _step_group")

    # --- checkpoints --------------------------------------------------------------------------
    def _indexed_params(self) -> list[Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state as plain data: ``{"state": {index: {...}}, "param_groups": [...]}``.

        Parameters are referred to by their index over all groups in order. Arrays are copies,
        so stepping on afterwards does not change a saved checkpoint.
        """
        groups = []
        state: dict[int, dict[str, Any]] = {}
        index = 0
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = list(range(index, index + len(group["params"])))
            groups.append(packed)
            for p in group["params"]:
                st = self.state.get(p)
                if st:
                    state[index] = self._export_state(p, st)
                index += 1
        return {"state": state, "param_groups": groups}

    def _export_state(self, p: Tensor, st: Mapping[str, Any]) -> dict[str, Any]:
        return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in st.items()}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Load a ``state_dict()``; everything is validated before anything changes.

        Raises ValueError naming the optimizer and the mismatch (group count, group sizes, state
        array shapes, out-of-range parameter indices). Accepts string indices and lists for
        tuples/arrays, so a state dict that went through JSON loads back.
        """
        self._apply_load(self._prepare_load(state_dict))

    def _prepare_load(self, state_dict: Mapping[str, Any]) -> tuple[list[dict[str, Any]], dict[Tensor, dict]]:
        name = f"{self._name}.load_state_dict"
        if not isinstance(state_dict, Mapping) or "state" not in state_dict or "param_groups" not in state_dict:
            got = sorted(state_dict) if isinstance(state_dict, Mapping) else type(state_dict).__name__
            raise ValueError(f"{name}: expected a dict with keys 'state' and 'param_groups', got {got}")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}: the state_dict has {len(saved_groups)} parameter groups, "
                f"the optimizer has {len(self.param_groups)}"
            )
        by_index: dict[int, Tensor] = {}
        new_groups: list[dict[str, Any]] = []
        for gi, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if not isinstance(saved, Mapping) or "params" not in saved:
                raise ValueError(f"{name}: parameter group {gi} of the state_dict has no 'params' list")
            ids = list(saved["params"])
            if len(ids) != len(group["params"]):
                raise ValueError(
                    f"{name}: parameter group {gi} has {len(ids)} parameters in the state_dict "
                    f"but {len(group['params'])} in the optimizer"
                )
            for i, p in zip(ids, group["params"]):
                by_index[_as_index(i, name)] = p
            options = {k: self._restore_option(k, v) for k, v in saved.items() if k != "params"}
            new_group = {"params": group["params"], **options}
            try:
                self._validate_group(new_group)
            except (ValueError, TypeError) as e:
                raise type(e)(f"{name}: parameter group {gi}: {e}") from None
            new_groups.append(new_group)
        saved_state = state_dict["state"]
        if not isinstance(saved_state, Mapping):
            raise ValueError(f"{name}: 'state' must be a dict, got {type(saved_state).__name__}")
        new_state: dict[Tensor, dict[str, Any]] = {}
        for key, st in saved_state.items():
            idx = _as_index(key, name)
            if idx not in by_index:
                raise ValueError(
                    f"{name}: the state refers to parameter {idx}, but the parameter groups hold indices "
                    f"{sorted(by_index)}"
                )
            if not isinstance(st, Mapping):
                raise ValueError(f"{name}: state[{idx}] must be a dict, got {type(st).__name__}")
            new_state[by_index[idx]] = self._import_state(by_index[idx], idx, st)
        return new_groups, new_state

    def _apply_load(self, prepared: tuple[list[dict[str, Any]], dict[Tensor, dict]]) -> None:
        new_groups, new_state = prepared
        # Update the group dicts in place: schedulers and wrappers may hold references to them.
        for group, new in zip(self.param_groups, new_groups):
            group.clear()
            group.update(new)
        self.state.clear()
        self.state.update(new_state)

    def _restore_option(self, key: str, value: Any) -> Any:
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, list) and isinstance(self.defaults.get(key), tuple):
            value = tuple(value)
        return value

    def _import_state(self, p: Tensor, idx: int, st: Mapping[str, Any]) -> dict[str, Any]:
        """Validate one parameter's saved state and convert it (copies, in the parameter's dtype)."""
        name = f"{self._name}.load_state_dict"
        out: dict[str, Any] = {}
        for key, value in st.items():
            if key in self._param_state_keys:
                arr = _as_array(value, name, f"state[{idx}][{key!r}]")
                if arr.shape != p.data.shape:
                    raise ValueError(
                        f"{name}: state[{idx}][{key!r}] has shape {arr.shape}, "
                        f"expected the parameter's shape {p.data.shape}"
                    )
                out[key] = _cast_like(arr, p.data.dtype)
            else:
                out[key] = _as_scalar_or_array(value, name, f"state[{idx}][{key!r}]", p.data.dtype)
        if "step" in out:
            out["step"] = _as_count(out["step"], name, f"state[{idx}]['step']")
        return out

    def __repr__(self) -> str:
        lines = [f"{self._name} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


# --- helpers shared by the optimizers ----------------------------------------------------------
def _as_groups(params: Any, name: str) -> list[Mapping[str, Any]]:
    if isinstance(params, Tensor):
        raise TypeError(
            f"{name}: params should be an iterable of Tensors or of dicts, got a single Tensor; wrap it in a list"
        )
    if isinstance(params, (set, frozenset)):
        raise TypeError(f"{name}: parameters must be given in a sequence with a fixed order, not a set")
    try:
        items = list(params)
    except TypeError:
        raise TypeError(
            f"{name}: params should be an iterable of Tensors or of dicts, got {type(params).__name__}"
        ) from None
    if not items:
        return []
    if all(isinstance(x, Mapping) for x in items):
        return items
    if any(isinstance(x, Mapping) for x in items):
        raise TypeError(f"{name}: params mixes Tensors and parameter-group dicts")
    return [{"params": items}]


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_real(name: str, option: str, value: Any) -> float:
    if not _is_real(value):
        raise TypeError(f"{name}: {option} must be a real number, got {type(value).__name__} {value!r}")
    v = float(value)
    if math.isnan(v):
        raise ValueError(f"{name}: {option} must not be NaN")
    return v


def _check_positive(name: str, option: str, value: Any) -> None:
    if _check_real(name, option, value) <= 0.0:
        raise ValueError(f"{name}: {option} must be positive, got {value}")


def _check_nonnegative(name: str, option: str, value: Any) -> None:
    if _check_real(name, option, value) < 0.0:
        raise ValueError(f"{name}: {option} must be >= 0, got {value}")


def _check_interval(name: str, option: str, value: Any, lo: float, hi: float, closed_hi: bool = False) -> None:
    v = _check_real(name, option, value)
    if v < lo or v > hi or (v == hi and not closed_hi):
        bracket = "]" if closed_hi else ")"
        raise ValueError(f"{name}: {option} must be in [{lo}, {hi}{bracket}, got {value}")


def _check_bool(name: str, option: str, value: Any) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: {option} must be a bool, got {type(value).__name__} {value!r}")


def _check_betas(name: str, betas: Any) -> None:
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
    for i, b in enumerate(betas):
        _check_interval(name, f"betas[{i}]", b, 0.0, 1.0)


def _as_index(key: Any, name: str) -> int:
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        return int(key)
    if isinstance(key, str) and key.isdigit():
        return int(key)
    raise ValueError(f"{name}: parameter indices must be non-negative integers, got {key!r}")


def _as_array(value: Any, name: str, what: str) -> np.ndarray:
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (list, tuple)) or _is_real(value):
        arr = np.asarray(value)
        if arr.dtype.kind in "fiu":
            return arr
    raise TypeError(f"{name}: {what} must be a NumPy array, got {type(value).__name__}")


def _cast_like(arr: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if arr.dtype.kind == "f" or arr.dtype.kind in "iu":
        return np.array(arr, dtype=dtype, copy=True)
    raise TypeError(f"state arrays must be numeric, got dtype {arr.dtype}")


def _as_scalar_or_array(value: Any, name: str, what: str, dtype: np.dtype) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, numbers.Number):
        return value
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return value.item()
        return _cast_like(value, dtype) if value.dtype.kind == "f" else value.copy()
    raise TypeError(f"{name}: {what} must be a NumPy array or a Python number, got {type(value).__name__}")


def _as_count(value: Any, name: str, what: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name}: {what} must be a non-negative integer, got {value!r}")
    return value
