"""The derivative reference is generated from the registry and must be current."""

from pathlib import Path

from chainrule.ops import REGISTRY
from chainrule.ops.reference import render

DOC = Path(__file__).resolve().parents[1] / "docs" / "derivatives.md"


def test_derivative_reference_is_current():
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/derivatives.md is stale: run `python -m chainrule.ops.reference --write`"
    )


def test_every_primitive_states_forward_and_derivative():
    missing = [n for n, p in REGISTRY.items() if "Forward:" not in (p.__doc__ or "") or "Derivative:" not in p.__doc__]
    assert not missing, f"primitives without Forward:/Derivative: math in their docstring: {missing}"


def test_every_primitive_has_a_section():
    text = render()
    for name, prim in REGISTRY.items():
        assert f"### `{name}` ({prim.kind})" in text
