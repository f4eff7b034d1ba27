"""Edge cases with asserted values: ties, masked branches, log(0), pow at 0, repeated indices,
and numerical stability of the fused primitives at extreme inputs."""

import warnings

import numpy as np
import pytest

import chainrule as cr


def g64(f, x):
    return cr.grad(f)(cr.tensor(x, dtype="float64")).numpy()


def test_max_min_ties_share_the_gradient_equally():
    np.testing.assert_allclose(g64(lambda x: x.max(), [1.0, 3.0, 3.0, 2.0]), [0, 0.5, 0.5, 0])
    np.testing.assert_allclose(g64(lambda x: x.min(), [1.0, 1.0, 1.0, 2.0]), [1 / 3, 1 / 3, 1 / 3, 0])
    g = g64(lambda x: x.max(dim=1).sum(), [[2.0, 2.0], [0.0, 5.0]])
    np.testing.assert_allclose(g, [[0.5, 0.5], [0.0, 1.0]])
    np.testing.assert_allclose(
        g64(lambda x: cr.maximum(x, cr.tensor(1.0, dtype="float64")).sum(), [1.0, 2.0]), [0.5, 1]
    )
    # jvp agrees with the same convention
    _, t = cr.jvp(
        lambda x: x.max(), (cr.tensor([3.0, 3.0], dtype="float64"),), (cr.tensor([1.0, 0.0], dtype="float64"),)
    )
    assert t.item() == 0.5


def test_relu_abs_clip_kink_conventions():
    np.testing.assert_array_equal(g64(lambda x: cr.relu(x).sum(), [-1.0, 0.0, 2.0]), [0, 0, 1])
    np.testing.assert_array_equal(g64(lambda x: cr.abs(x).sum(), [-1.0, 0.0, 2.0]), [-1, 0, 1])
    np.testing.assert_array_equal(
        g64(lambda x: cr.clamp(x, -1.0, 1.0).sum(), [-2.0, -1.0, 0.0, 1.0, 2.0]), [0, 1, 1, 1, 0]
    )


def test_where_gives_exact_zero_to_a_masked_inf_branch():
    x = cr.tensor([-1.0, 0.0, 2.0], dtype="float64", requires_grad=True)
    inf_branch = cr.tensor([np.inf, np.inf, np.inf], dtype="float64", requires_grad=True)
    y = cr.where(x > 0, x * x, inf_branch)
    assert y.tolist() == [np.inf, np.inf, 4.0]
    y.backward(np.array([1.0, 1.0, np.inf]))
    np.testing.assert_array_equal(inf_branch.grad.numpy(), [1.0, 1.0, 0.0])  # exact 0 under an inf upstream
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, np.inf])
    # The documented double-where pattern keeps log's gradient finite at 0.
    f = lambda x: cr.where(x > 0, cr.log(cr.where(x > 0, x, 1.0)), 0.0).sum()  # noqa: E731
    np.testing.assert_array_equal(g64(f, [0.0, 2.0]), [0.0, 0.5])


def test_log_of_zero():
    with np.errstate(divide="ignore"):
        y = cr.log(cr.tensor([0.0], dtype="float64", requires_grad=True))
        assert y.item() == -np.inf
        x = cr.tensor([0.0], dtype="float64", requires_grad=True)
        cr.log(x).sum().backward()
    assert x.grad.item() == np.inf


def test_pow_at_zero():
    assert g64(lambda x: (x**2).sum(), [0.0]).tolist() == [0.0]
    assert g64(lambda x: (x**1).sum(), [0.0]).tolist() == [1.0]
    # exponent derivative at base 0 is 0 by convention (not 0 * -inf = NaN)
    b = cr.tensor(2.0, dtype="float64")
    g = cr.grad(lambda e: (cr.tensor([0.0, 3.0], dtype="float64") ** e).sum())(b)
    assert g.item() == pytest.approx(9 * np.log(3.0))
    with np.errstate(divide="ignore"):
        assert g64(lambda x: (x**0.5).sum(), [0.0]).tolist() == [np.inf]


def test_repeated_indices_accumulate_in_backward():
    x = cr.tensor([1.0, 2.0, 3.0], dtype="float64", requires_grad=True)
    x[np.array([0, 0, 2, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0, 1.0])
    y = cr.tensor(np.zeros((2, 3)), dtype="float64", requires_grad=True)
    (y[[1, 1], [2, 2]] * cr.tensor([1.0, 5.0], dtype="float64")).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [[0, 0, 0], [0, 0, 6.0]])


@pytest.mark.parametrize("big", [1000.0, -1000.0])
def test_softmax_family_finite_at_extremes_without_warnings(big):
    x = np.array([[big, 0.0, -big], [big, big, big]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for f in [
            lambda t: cr.softmax(t, dim=1),
            lambda t: cr.log_softmax(t, dim=1),
            lambda t: cr.logsumexp(t, dim=1),
            cr.sigmoid,
        ]:
            t = cr.tensor(x, dtype="float64", requires_grad=True)
            y = f(t)
            assert np.isfinite(y.detach().numpy()).all()
            (y * cr.tensor(np.random.default_rng(0).standard_normal(y.shape), dtype="float64")).sum().backward()
            assert np.isfinite(t.grad.numpy()).all()
            _, tan = cr.jvp(f, (cr.tensor(x, dtype="float64"),), (cr.tensor(np.ones_like(x), dtype="float64"),))
            assert np.isfinite(tan.numpy()).all()
    np.testing.assert_allclose(cr.logsumexp(cr.tensor([big, big], dtype="float64")).item(), big + np.log(2))
    np.testing.assert_allclose(cr.sigmoid(cr.tensor([big], dtype="float64")).item(), 1.0 if big > 0 else 0.0)


def test_fused_primitives_equal_their_composites():
    x = cr.tensor(np.random.default_rng(4).standard_normal((3, 5)), dtype="float64")
    comp_lse = lambda t: cr.log(cr.exp(t).sum(dim=1))  # noqa: E731
    comp_sm = lambda t: cr.exp(t) / cr.exp(t).sum(dim=1, keepdim=True)  # noqa: E731
    comp_lsm = lambda t: t - comp_lse(t).unsqueeze(1)  # noqa: E731
    for fused, comp in [
        (lambda t: cr.logsumexp(t, dim=1), comp_lse),
        (lambda t: cr.softmax(t, dim=1), comp_sm),
        (lambda t: cr.log_softmax(t, dim=1), comp_lsm),
    ]:
        np.testing.assert_allclose(fused(x).numpy(), comp(x).numpy(), rtol=1e-12)
        np.testing.assert_allclose(cr.jacrev(fused)(x).numpy(), cr.jacrev(comp)(x).numpy(), rtol=1e-10, atol=1e-12)
