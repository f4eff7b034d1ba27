"""chainrule.testing: gradcheck, gradgradcheck and mode_agreement_check, including how they fail."""

from __future__ import annotations

import re

import numpy as np
import pytest

import chainrule as cr
from chainrule.ops import REGISTRY
from chainrule.ops.registry import Elementwise, General
from chainrule.tensor import Tensor
from chainrule.testing import GradcheckError, gradcheck, gradgradcheck, mode_agreement_check

rng = np.random.default_rng(1234)
X = Tensor(rng.standard_normal((3, 4)))
W = Tensor(rng.standard_normal((4, 2)))


def mlp(x: Tensor, w: Tensor) -> Tensor:
    return cr.tanh(x @ w)


# --- wrong rules to be caught (built without registering them) ---------------------------------


def bad_exp() -> Elementwise:
    return Elementwise("bad_exp", np.exp, [lambda ns, x, out: 2.0 * out], family="test")


def wrong_jvp_square() -> General:
    return General(
        "wrong_jvp_square",
        lambda x: x * x,
        lambda ns, g, needs, x, *, out: (2.0 * x * g,),
        lambda ns, tangents, x, *, out: 3.0 * x * tangents[0],
        family="test",
    )


def wrong_vjp_square() -> General:
    return General(
        "wrong_vjp_square",
        lambda x: x * x,
        lambda ns, g, needs, x, *, out: (-2.0 * x * g,),
        lambda ns, tangents, x, *, out: 2.0 * x * tangents[0],
        family="test",
    )


def untransposed_cumsum() -> General:
    """cumsum whose reverse rule applies L instead of Lᵀ: the diagonal is right, the rest is not."""
    return General(
        "untransposed_cumsum",
        lambda x: np.cumsum(x),
        lambda ns, g, needs, x, *, out: (ns.cumsum(g, 0),),
        lambda ns, tangents, x, *, out: ns.cumsum(tangents[0], 0),
        family="test",
    )


def detached_sin() -> Elementwise:
    def d(ns, x, out):
        return ns.ones_like(x) * np.cos(x.data if isinstance(x, Tensor) else x)

    return Elementwise("detached_sin", np.sin, [d], family="test")


# --- passing checks ----------------------------------------------------------------------------


def test_gradcheck_passes_on_correct_functions() -> None:
    assert gradcheck(mlp, (X, W)) is True
    assert gradcheck(lambda x: cr.sum(cr.exp(x) * x), X) is True  # a single Tensor, scalar output
    assert gradcheck(lambda x: cr.softmax(x, axis=0), (X,)) is True
    assert gradcheck(lambda x, y: x / y, (Tensor(np.array(1.5)), Tensor(np.array([2.0, -3.0])))) is True


def test_gradcheck_accepts_float64_arrays_and_tuple_outputs() -> None:
    def two_outputs(a, b):
        return cr.sin(a) * b, cr.sum(a, axis=0)

    assert gradcheck(two_outputs, (X.data, rng.standard_normal(4)))
    assert gradgradcheck(two_outputs, (X.data, rng.standard_normal(4)))


def test_gradcheck_does_not_modify_its_inputs() -> None:
    x = Tensor(rng.standard_normal(5))
    before = x.data.copy()
    gradcheck(cr.exp, (x,))
    gradgradcheck(cr.exp, (x,))
    np.testing.assert_array_equal(x.data, before)


def test_integer_arguments_are_passed_by_closure() -> None:
    idx = np.array([2, 0, 2, 2, -1])  # repeated indices: their gradients add up
    assert gradcheck(lambda x: x[idx] * x[idx], (X,))
    assert gradgradcheck(lambda x: x[idx] * x[idx], (X,))
    cond = X.data > 0
    assert gradcheck(lambda a, b: cr.where(cond, a, b), (X, Tensor(rng.standard_normal(4))))


def test_unused_input_empty_input_and_constant_output() -> None:
    y = Tensor(rng.standard_normal(3))
    assert gradcheck(lambda a, b: cr.exp(a), (X, y))  # b unused: its Jacobian block is zero
    assert gradcheck(lambda a: a * 2.0, (Tensor(np.zeros((0, 3))),))
    assert gradcheck(lambda a: Tensor(np.ones(2)), (y,))
    assert gradgradcheck(lambda a, b: cr.exp(a), (X, y))


def test_gradgradcheck_passes_on_correct_functions() -> None:
    assert gradgradcheck(mlp, (X, W)) is True
    assert gradgradcheck(lambda x: cr.logsumexp(x, axis=1), (X,), grad_outputs=np.ones(3)) is True
    assert gradgradcheck(lambda x: cr.max(x * x, axis=0), (X,), seed=7) is True


def test_mode_agreement_passes_on_correct_functions() -> None:
    assert mode_agreement_check(mlp, (X, W)) is True
    assert mode_agreement_check(lambda x: cr.cumsum(x, axis=1), (X,), num_probes=3) is True


# --- argument errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("check", [gradcheck, gradgradcheck, mode_agreement_check])
def test_inputs_must_be_float64(check) -> None:
    with pytest.raises(TypeError, match=r"input 0 \(shape \(3, 4\)\) has dtype float32.*float64"):
        check(cr.exp, (X.float(),))
    with pytest.raises(TypeError, match=r"input 1 .* has dtype int64"):
        check(lambda a, i: a, (X, Tensor(np.arange(3))))
    with pytest.raises(TypeError, match="input 0 is a float"):
        check(cr.exp, (1.5,))


def test_output_must_be_a_float64_tensor() -> None:
    with pytest.raises(TypeError, match=r"output 0 of f .* has dtype float32"):
        gradcheck(lambda a: a.float(), (X,))
    with pytest.raises(TypeError, match="f must return a Tensor"):
        gradcheck(lambda a: a.data, (X,))


def test_gradgradcheck_rejects_misshaped_grad_outputs() -> None:
    with pytest.raises(ValueError, match="grad_outputs of shapes"):
        gradgradcheck(cr.exp, (X,), grad_outputs=np.ones(3))


# --- failures and their report -----------------------------------------------------------------


def test_gradcheck_error_is_an_assertion_error() -> None:
    assert issubclass(GradcheckError, AssertionError)
    with pytest.raises(AssertionError):
        gradcheck(bad_exp(), (X,))


def test_raise_exception_false_returns_false() -> None:
    assert gradcheck(bad_exp(), (X,), raise_exception=False) is False
    assert gradgradcheck(detached_sin(), (X,), raise_exception=False) is False
    assert mode_agreement_check(wrong_jvp_square(), (X,), raise_exception=False) is False


def test_report_names_the_worst_element_of_each_failing_input() -> None:
    x = np.array([[0.1, 1.7, -0.4], [0.9, -2.0, 0.3]])
    y = rng.standard_normal((2, 3))
    prim = bad_exp()
    with pytest.raises(GradcheckError) as err:
        gradcheck(lambda a, b: prim(a) + b, (x, y))
    msg = str(err.value)
    # x[0, 1] = 1.7 is the largest, so 2e^1.7 vs e^1.7 is the worst entry: row 1, column 1
    line = next(ln for ln in msg.splitlines() if "reverse mode, input 0" in ln)
    assert "(shape (2, 3))" in line
    assert "worst element d out(0, 1) / d in(0, 1) (Jacobian entry [1, 1])" in line
    analytic = float(re.search(r"analytic (\S+),", line).group(1))
    numeric = float(re.search(r"numeric (\S+),", line).group(1))
    abs_err = float(re.search(r"abs error (\S+),", line).group(1))
    rel_err = float(re.search(r"rel error (\S+) ", line).group(1))
    assert analytic == pytest.approx(2 * np.exp(1.7), rel=1e-9)
    assert numeric == pytest.approx(np.exp(1.7), rel=1e-7)
    assert abs_err == pytest.approx(np.exp(1.7), rel=1e-2)
    assert rel_err == pytest.approx(1.0, rel=1e-2)
    assert "6 of 36 entries out of tolerance" in line
    assert "forward mode, input 0" in msg
    assert "input 1" not in msg  # b's derivative is right and is not reported
    assert "eps=1e-06, atol=1e-05, rtol=0.0001" in msg


def test_wrong_jvp_is_reported_as_forward_mode_only() -> None:
    with pytest.raises(GradcheckError) as err:
        gradcheck(wrong_jvp_square(), (X,))
    assert "forward mode" in str(err.value)
    assert "reverse mode" not in str(err.value)
    assert gradcheck(wrong_jvp_square(), (X,), check_forward=False)
    with pytest.raises(GradcheckError, match=r"<u, J v> = .* from jvp but <Jᵀ u, v> = .* from vjp"):
        mode_agreement_check(wrong_jvp_square(), (X,))


def test_wrong_vjp_is_reported_as_reverse_mode_only() -> None:
    with pytest.raises(GradcheckError) as err:
        gradcheck(wrong_vjp_square(), (X,))
    assert "reverse mode" in str(err.value)
    assert "forward mode" not in str(err.value)
    assert gradcheck(wrong_vjp_square(), (X,), check_reverse=False)


def test_off_diagonal_errors_are_caught() -> None:
    x = Tensor(rng.standard_normal(4))
    with pytest.raises(GradcheckError, match=r"reverse mode.*Jacobian entry \[0, [123]\]"):
        gradcheck(untransposed_cumsum(), (x,))
    gradcheck(untransposed_cumsum(), (x,), check_reverse=False)  # its jvp is right
    with pytest.raises(GradcheckError):
        mode_agreement_check(untransposed_cumsum(), (x,))


def test_gradgradcheck_catches_a_rule_that_is_right_only_to_first_order() -> None:
    assert gradcheck(detached_sin(), (X,))
    with pytest.raises(GradcheckError, match=r"vjp\(detached_sin\)") as err:
        gradgradcheck(detached_sin(), (X,))
    assert "reverse mode" in str(err.value) and "forward mode" in str(err.value)


def test_nan_derivatives_fail() -> None:
    nan_rule = Elementwise("nan_rule", np.sin, [lambda ns, x, out: out * np.nan], family="test")
    with pytest.raises(GradcheckError, match="analytic nan"):
        gradcheck(nan_rule, (X,))


def test_registry_primitives_can_be_checked_directly() -> None:
    assert gradcheck(REGISTRY["tanh"], (X,))
    assert gradgradcheck(lambda a, b: REGISTRY["matmul"](a, b), (X, W))
