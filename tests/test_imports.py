"""Import hygiene: the core needs only NumPy and SciPy, and every module imports on its own."""

import subprocess
import sys

import pytest

HEAVY = ("sklearn", "matplotlib", "torch", "tqdm", "mnist1d")


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


def test_core_import_pulls_no_training_dependencies():
    out = _run(f"import sys, chainrule, chainrule.data; print([m for m in {HEAVY!r} if m in sys.modules])")
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    "module",
    [
        "chainrule.ops",
        "chainrule.autograd.engine",
        "chainrule.nn",
        "chainrule.optim",
        "chainrule.data",
        "chainrule.cli",
    ],
)
def test_each_module_imports_first(module):
    _run(f"import {module}")
