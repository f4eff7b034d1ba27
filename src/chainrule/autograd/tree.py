"""Minimal pytrees: nested tuples, lists and dicts of Tensors, for the functional transforms."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Treedef = Any


def tree_flatten(tree: Any) -> tuple[list[Any], Treedef]:
    """Leaves in a fixed order (dicts by sorted key) and a description to rebuild the tree."""
    leaves: list[Any] = []

    def walk(t: Any) -> Treedef:
        if isinstance(t, (tuple, list)):
            return (type(t), [walk(e) for e in t])
        if isinstance(t, dict):
            keys = sorted(t)
            return (dict, keys, [walk(t[k]) for k in keys])
        leaves.append(t)
        return None

    return leaves, walk(tree)


def tree_unflatten(treedef: Treedef, leaves: list[Any]) -> Any:
    it = iter(leaves)

    def build(d: Treedef) -> Any:
        if d is None:
            return next(it)
        if d[0] is dict:
            return {k: build(sub) for k, sub in zip(d[1], d[2], strict=True)}
        return d[0](build(sub) for sub in d[1])

    return build(treedef)


def tree_map(fn: Callable[..., Any], tree: Any, *rest: Any) -> Any:
    leaves, treedef = tree_flatten(tree)
    others = [tree_flatten(r)[0] for r in rest]
    return tree_unflatten(treedef, [fn(x, *(o[i] for o in others)) for i, x in enumerate(leaves)])
