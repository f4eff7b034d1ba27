"""Generate the derivative reference (docs/derivatives.md) from the primitive registry.

The page is built from each primitive's docstring, so the math lives in one place: next to the
code that implements it. ``python -m chainrule.ops.reference --write`` regenerates the file;
a test fails when the committed page differs from what the registry says.
"""

from __future__ import annotations

import argparse
import inspect
from pathlib import Path

from chainrule.ops import REGISTRY

FAMILY_TITLES = {
    "elementwise": "Elementwise",
    "reduction": "Reductions",
    "fused": "Fused, numerically stable",
    "shape": "Shape and indexing",
    "linalg": "Linear algebra",
    "convolution": "Convolution and pooling",
}

KIND_NOTES = {
    "elementwise": "one partial derivative per argument serves both modes: x̄ = ȳ ⊙ ∂y/∂x, ẏ = ẋ ⊙ ∂y/∂x",
    "linear": "forward mode applies the op to the tangent; reverse mode is the stated transpose",
    "bilinear": "forward mode is B(ȧ, b) + B(a, ḃ); reverse mode is stated",
    "general": "reverse and forward rules stated separately (checked against each other by the tests)",
}


def render() -> str:
    """The whole markdown page, deterministic for a given registry."""
    lines = [
        "# Derivative reference",
        "",
        "Generated from the primitive registry by `python -m chainrule.ops.reference --write`;",
        "do not edit by hand (a test checks that this page is current).",
        "",
        "Notation: ȳ is the gradient arriving at an op's output (reverse mode), x̄ the gradient it",
        "sends to an argument; ẋ and ẏ are tangents (forward mode); ⊙ is the elementwise product.",
        "Broadcasting is undone once, by the engine, which sums x̄ back to the argument's shape.",
        "",
        "Rule kinds:",
        "",
    ]
    lines += [f"- **{kind}**: {note}" for kind, note in KIND_NOTES.items()]
    lines.append("")
    families: dict[str, list] = {}
    for prim in REGISTRY.values():
        families.setdefault(prim.family, []).append(prim)
    for family in sorted(families, key=lambda f: list(FAMILY_TITLES).index(f) if f in FAMILY_TITLES else 99):
        lines += [f"## {FAMILY_TITLES.get(family, family)}", ""]
        for prim in sorted(families[family], key=lambda p: p.name):
            doc = inspect.cleandoc(prim.__doc__ or "(undocumented)")
            summary, _, body = doc.partition("\n")
            lines += [f"### `{prim.name}` ({prim.kind})", "", summary.strip(), ""]
            body = body.strip("\n")
            if body:
                lines += ["```text", body, "```", ""]
    return "\n".join(lines).rstrip() + "\n"


DEFAULT_PATH = Path(__file__).resolve().parents[3] / "docs" / "derivatives.md"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="write docs/derivatives.md instead of printing")
    parser.add_argument("--path", type=Path, default=DEFAULT_PATH)
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        args.path.parent.mkdir(parents=True, exist_ok=True)
        args.path.write_text(text, encoding="utf-8")
        print(f"wrote {args.path}")
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
