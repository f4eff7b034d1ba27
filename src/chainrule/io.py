"""Saving and loading: state dicts and whole checkpoints, safely and atomically.

Format: a NumPy ``.npz`` archive. Arrays are stored as entries; the nested structure around them
(dicts, lists, strings, numbers, None) is stored as JSON in one more entry. Loading uses
``allow_pickle=False`` and never executes code from the file: a checkpoint from an untrusted
source can be opened safely. Writes go to a temporary file in the target directory that is
flushed, synced and then renamed over the target, so a crash leaves either the old file or the
new one, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.tensor import Tensor

_TREE_KEY = "__chainrule_tree__"
_FORMAT = "chainrule-checkpoint-1"


def _encode(obj: Any, arrays: list[np.ndarray], where: str) -> Any:
    if isinstance(obj, Tensor):
        obj = obj.data
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            raise TypeError(f"save: {where} is an object array, which cannot be stored without pickle")
        arrays.append(obj)
        return {"__array__": len(arrays) - 1}
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, (str, int)):
                raise TypeError(f"save: {where} has a key of type {type(k).__name__}; keys must be str or int")
            out[json.dumps(k)] = _encode(v, arrays, f"{where}[{k!r}]")
        return {"__dict__": out}
    if isinstance(obj, (list, tuple)):
        tag = "__tuple__" if isinstance(obj, tuple) else "__list__"
        return {tag: [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]}
    raise TypeError(
        f"save: {where} is a {type(obj).__name__}; checkpoints hold Tensors, arrays, numbers, strings, "
        "None, and dicts/lists/tuples of them"
    )


def _decode(node: Any, arrays: dict[str, np.ndarray], path: str) -> Any:
    if isinstance(node, dict):
        if "__array__" in node:
            key = f"arr_{node['__array__']}"
            if key not in arrays:
                raise ValueError(f"load: {path} is corrupted (missing array {key})")
            return arrays[key]
        if "__dict__" in node:
            return {json.loads(k): _decode(v, arrays, path) for k, v in node["__dict__"].items()}
        if "__list__" in node:
            return [_decode(v, arrays, path) for v in node["__list__"]]
        if "__tuple__" in node:
            return tuple(_decode(v, arrays, path) for v in node["__tuple__"])
        raise ValueError(f"load: {path} is corrupted (unknown node {sorted(node)[:3]})")
    return node


def atomic_write(path: str | os.PathLike[str], write: Any) -> None:
    """Call ``write(fileobj)`` on a temporary file, then rename it over ``path``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(obj: Any, path: str | os.PathLike[str]) -> None:
    """Save a state dict or a nested checkpoint (dicts/lists of Tensors, arrays, numbers, strings)."""
    arrays: list[np.ndarray] = []
    tree = {"format": _FORMAT, "tree": _encode(obj, arrays, "object")}
    payload = {f"arr_{i}": a for i, a in enumerate(arrays)}
    payload[_TREE_KEY] = np.frombuffer(json.dumps(tree).encode("utf-8"), dtype=np.uint8)
    atomic_write(path, lambda f: np.savez(f, **payload))


def load(path: str | os.PathLike[str]) -> Any:
    """Load what ``save`` wrote. Arrays come back as NumPy arrays; nothing in the file is executed."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"load: no checkpoint at {p}")
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise ValueError(f"load: {p} is not a readable chainrule checkpoint ({e})") from None
    if _TREE_KEY not in arrays:
        raise ValueError(f"load: {p} is not a chainrule checkpoint (no structure entry)")
    try:
        tree = json.loads(arrays.pop(_TREE_KEY).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"load: {p} is corrupted ({e})") from None
    if not isinstance(tree, dict) or tree.get("format") != _FORMAT:
        raise ValueError(f"load: {p} has an unknown format {tree.get('format') if isinstance(tree, dict) else tree!r}")
    return _decode(tree["tree"], arrays, str(p))
