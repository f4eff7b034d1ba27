"""Every registered primitive, checked by enumeration against finite differences, in float64.

For each primitive in ``chainrule.ops.REGISTRY`` (drawn with the samplers in ``specs.py``):

(a) the reverse-mode Jacobian (one vjp per output element) matches central differences;
(b) the forward-mode Jacobian (one jvp per input element) matches central differences;
(c) second order: the gradient map x ↦ uᵀJ(x) passes the same check (gradgradcheck);
(d) the two modes state one derivative: ⟨u, J v⟩ = ⟨Jᵀ u, v⟩ to rounding;
(e) no primitive is registered without a sampler, so none can escape (a)-(d).

The meta-tests at the bottom register deliberately wrong rules and assert that these checks
fail on them, so the harness itself is tested.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import pkgutil
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule
from chainrule.ops import REGISTRY, Primitive
from chainrule.ops.registry import Elementwise, General
from chainrule.tensor import Tensor
from chainrule.testing import GradcheckError, gradcheck, gradgradcheck, mode_agreement_check

from .specs import SPECS, Case, binary, in_range, missing_specs, normal, unary


def _import_all_modules() -> None:
    """Import every chainrule module, so that primitives registered outside ``chainrule.ops``
    (a convolution module, say) are in the registry when it is enumerated."""
    for mod in pkgutil.walk_packages(chainrule.__path__, "chainrule."):
        with contextlib.suppress(ImportError):  # optional dependencies (torch, plotting) may be absent
            importlib.import_module(mod.name)


_import_all_modules()
NAMES = sorted(REGISTRY)


# --- the checks, shared by the enumerated tests and the meta-tests -----------------------------


def check_reverse(prim: Primitive, case: Case) -> None:
    gradcheck(case.function(prim), case.inputs, check_forward=False)


def check_forward(prim: Primitive, case: Case) -> None:
    gradcheck(case.function(prim), case.inputs, check_reverse=False)


def check_second_order(prim: Primitive, case: Case) -> None:
    gradgradcheck(case.function(prim), case.inputs)


def check_modes_agree(prim: Primitive, case: Case) -> None:
    mode_agreement_check(case.function(prim), case.inputs)


# --- (a)-(d): every primitive ----------------------------------------------------------------


def _spec(name: str) -> st.SearchStrategy[Case]:
    if name not in SPECS:
        pytest.fail(f"primitive {name!r} has no sampler in tests/ops/specs.py SPECS")
    return SPECS[name]


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_reverse_mode_matches_finite_differences(name: str, data: st.DataObject) -> None:
    check_reverse(REGISTRY[name], data.draw(_spec(name), label=name))


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_forward_mode_matches_finite_differences(name: str, data: st.DataObject) -> None:
    check_forward(REGISTRY[name], data.draw(_spec(name), label=name))


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_second_order_matches_finite_differences(name: str, data: st.DataObject) -> None:
    check_second_order(REGISTRY[name], data.draw(_spec(name), label=name))


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_forward_and_reverse_mode_agree(name: str, data: st.DataObject) -> None:
    check_modes_agree(REGISTRY[name], data.draw(_spec(name), label=name))


# --- (e): coverage ------------------------------------------------------------------------------


def test_every_primitive_has_a_spec() -> None:
    missing = missing_specs()
    assert not missing, (
        f"primitives registered without a gradient-test sampler: {missing}; add each to SPECS in tests/ops/specs.py"
    )


def test_no_spec_without_a_primitive() -> None:
    stale = sorted(set(SPECS) - set(REGISTRY))
    assert not stale, f"SPECS has samplers for primitives that are not registered: {stale}"


# --- meta-tests: the harness must fail on wrong rules --------------------------------------------


@contextlib.contextmanager
def registered(prim: Primitive, spec: st.SearchStrategy[Case] | None = None) -> Iterator[Primitive]:
    """Put ``prim`` (and its sampler) in the registry for the block only."""
    assert prim.name not in REGISTRY
    REGISTRY[prim.name] = prim
    if spec is not None:
        SPECS[prim.name] = spec
    try:
        yield prim
    finally:
        del REGISTRY[prim.name]
        SPECS.pop(prim.name, None)


def _bad_exp() -> Elementwise:
    """exp with the partial derivative 2·exp(x): wrong in both modes (the rule is shared)."""
    return Elementwise("bad_exp", np.exp, [lambda ns, x, out: 2.0 * out], family="test")


def _square_with_wrong_jvp() -> General:
    """x², with the right reverse rule 2x·ȳ but the forward rule 3x·ẋ."""
    return General(
        "square_bad_jvp",
        lambda x: x * x,
        lambda ns, g, needs, x, *, out: (2.0 * x * g,),
        lambda ns, tangents, x, *, out: 3.0 * x * tangents[0],
        family="test",
    )


def _sin_with_detached_partial() -> Elementwise:
    """sin whose partial cos(x) is computed off the graph: right to first order, but its own
    derivative (needed for second order) is lost."""

    def detached_cos(ns, x, out):
        raw = x.data if isinstance(x, Tensor) else x
        return ns.ones_like(x) * np.cos(raw)

    return Elementwise("sin_detached", np.sin, [detached_cos], family="test")


def _mul_with_wrong_second_arg() -> Elementwise:
    """a ⊙ b with ∂y/∂b stated as b instead of a: caught only where b is differentiated."""
    return Elementwise(
        "mul_bad_b", lambda a, b: a * b, [lambda ns, a, b, out: b, lambda ns, a, b, out: b], family="test"
    )


CASE = Case((np.array([[0.3, -1.2, 0.8], [1.1, 0.05, -0.6]]),))


def test_meta_unregistered_spec_is_reported() -> None:
    with registered(_bad_exp()):
        assert missing_specs() == ["bad_exp"]
        with pytest.raises(AssertionError, match="bad_exp"):
            test_every_primitive_has_a_spec()
    assert missing_specs() == []


def test_meta_wrong_elementwise_partial_is_caught_in_both_modes() -> None:
    with registered(_bad_exp(), unary(in_range(-2.0, 2.0))) as prim:
        for check in (check_reverse, check_forward, check_second_order):
            with pytest.raises(GradcheckError):
                check(prim, CASE)
        # the rule is shared by both modes, so they agree with each other: only (a)-(c) catch it
        check_modes_agree(prim, CASE)


@settings(max_examples=5)
@given(data=st.data())
def test_meta_wrong_rule_fails_for_every_drawn_case(data: st.DataObject) -> None:
    with registered(_bad_exp(), unary(in_range(-2.0, 2.0))) as prim:
        case = data.draw(SPECS[prim.name])
        if math.prod(case.inputs[0].shape) == 0:
            return
        with pytest.raises(GradcheckError, match="reverse mode"):
            check_reverse(prim, case)
        with pytest.raises(GradcheckError, match="forward mode"):
            check_forward(prim, case)


def test_meta_wrong_jvp_is_caught_only_by_forward_checks() -> None:
    with registered(_square_with_wrong_jvp(), unary(normal)) as prim:
        check_reverse(prim, CASE)  # the reverse rule is right
        with pytest.raises(GradcheckError, match="forward mode"):
            check_forward(prim, CASE)
        with pytest.raises(GradcheckError, match=r"forward and reverse mode .* disagree"):
            check_modes_agree(prim, CASE)


def test_meta_rule_without_its_own_derivative_is_caught_at_second_order() -> None:
    with registered(_sin_with_detached_partial(), unary(in_range(-3.0, 3.0))) as prim:
        check_reverse(prim, CASE)
        check_forward(prim, CASE)
        check_modes_agree(prim, CASE)
        with pytest.raises(GradcheckError):
            check_second_order(prim, CASE)


def test_meta_wrong_partial_of_one_argument_is_caught() -> None:
    with registered(_mul_with_wrong_second_arg(), binary(normal, normal)) as prim:
        a = np.array([[0.5, -1.0, 2.0]])
        b = np.array([[1.5], [-0.7]])
        with pytest.raises(GradcheckError, match="input 1") as err:
            check_reverse(prim, Case((a, b)))
        assert "input 0" not in str(err.value)
        check_reverse(prim, Case((a,), consts={1: b}))  # b fixed: its rule is never used


def test_meta_failure_report_names_the_worst_element() -> None:
    with registered(_bad_exp()) as prim:
        with pytest.raises(GradcheckError) as err:
            check_reverse(prim, CASE)
    msg = str(err.value)
    x = CASE.inputs[0]
    worst = np.unravel_index(np.argmax(np.exp(x)), x.shape)  # error exp(x) is largest at max x
    flat = int(np.ravel_multi_index(worst, x.shape))
    assert f"d out{tuple(int(i) for i in worst)} / d in{tuple(int(i) for i in worst)}" in msg
    assert f"Jacobian entry [{flat}, {flat}]" in msg
    assert f"analytic {2 * np.exp(x.max()):.10g}" in msg
    assert f"numeric {np.exp(x.max()):.6g}"[:-1] in msg
    assert "abs error" in msg and "rel error 1" in msg and "reverse mode" in msg
