"""Activations: values and gradients against PyTorch, finite-difference checks, kink conventions,
stability at ±1000, dtype preservation, and the Module wrappers (learnable PReLU and Swish)."""

import math
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.functional import activation as F
from chainrule.nn import activation as A
from chainrule.testing import gradcheck, gradgradcheck

RTOL = 1e-10
ATOL = 1e-13


def _rng(seed=0):
    return np.random.default_rng(seed)


def _away_from(x, points, gap=0.05):
    """Shift entries within ``gap`` of a kink so finite differences never straddle it."""
    x = x.copy()
    for p in points:
        near = np.abs(x - p) < gap
        x[near] = p + np.where(x[near] >= p, gap, -gap)
    return x


# (name, chainrule function, torch function builder, kinks) — the torch side is built lazily.
ACTIVATIONS = [
    ("sigmoid", F.sigmoid, lambda T: T.sigmoid, []),
    ("tanh", F.tanh, lambda T: T.tanh, []),
    ("relu", F.relu, lambda T: T.nn.functional.relu, [0.0]),
    ("relu6", F.relu6, lambda T: T.nn.functional.relu6, [0.0, 6.0]),
    (
        "hardtanh",
        lambda x: F.hardtanh(x, -0.5, 1.5),
        lambda T: lambda t: T.nn.functional.hardtanh(t, -0.5, 1.5),
        [-0.5, 1.5],
    ),
    ("leaky_relu", F.leaky_relu, lambda T: T.nn.functional.leaky_relu, [0.0]),
    ("leaky_relu_0.2", lambda x: F.leaky_relu(x, 0.2), lambda T: lambda t: T.nn.functional.leaky_relu(t, 0.2), [0.0]),
    ("elu", F.elu, lambda T: T.nn.functional.elu, [0.0]),
    ("elu_0.5", lambda x: F.elu(x, 0.5), lambda T: lambda t: T.nn.functional.elu(t, 0.5), [0.0]),
    ("gelu", F.gelu, lambda T: T.nn.functional.gelu, []),
    ("gelu_tanh", lambda x: F.gelu(x, "tanh"), lambda T: lambda t: T.nn.functional.gelu(t, approximate="tanh"), []),
    ("silu", F.silu, lambda T: T.nn.functional.silu, []),
    ("swish_1", F.swish, lambda T: T.nn.functional.silu, []),
    ("swish_1.7", lambda x: F.swish(x, 1.7), lambda T: lambda t: t * T.sigmoid(1.7 * t), []),
    ("mish", F.mish, lambda T: T.nn.functional.mish, []),
    ("softplus", F.softplus, lambda T: T.nn.functional.softplus, []),
    (
        "softplus_beta",
        lambda x: F.softplus(x, beta=2.5, threshold=3.0),
        lambda T: lambda t: T.nn.functional.softplus(t, beta=2.5, threshold=3.0),
        [1.2],
    ),
    (
        "softplus_neg_beta",
        lambda x: F.softplus(x, beta=-1.5, threshold=2.0),
        lambda T: lambda t: T.nn.functional.softplus(t, beta=-1.5, threshold=2.0),
        [-2.0 / 1.5],
    ),
    ("logsigmoid", F.logsigmoid, lambda T: T.nn.functional.logsigmoid, []),
    ("softmax", lambda x: F.softmax(x, dim=1), lambda T: lambda t: T.softmax(t, dim=1), []),
    ("softmax_last", F.softmax, lambda T: lambda t: T.softmax(t, dim=-1), []),
    ("log_softmax", lambda x: F.log_softmax(x, dim=0), lambda T: lambda t: T.log_softmax(t, dim=0), []),
]
IDS = [a[0] for a in ACTIVATIONS]


@pytest.mark.parametrize(("name", "fn", "torch_fn", "kinks"), ACTIVATIONS, ids=IDS)
def test_value_and_gradient_match_torch(name, fn, torch_fn, kinks):
    torch = pytest.importorskip("torch")
    rng = _rng(1)
    x = _away_from(rng.normal(size=(3, 4, 5)) * 3.0, kinks)
    g = rng.normal(size=x.shape)
    xc = cr.tensor(x, dtype="float64", requires_grad=True)
    y = fn(xc)
    y.backward(g)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch_fn(torch)(xt)
    yt.backward(torch.tensor(g))
    assert y.dtype == np.float64 and y.shape == tuple(yt.shape)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(xc.grad.data, xt.grad.numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize(("name", "fn", "torch_fn", "kinks"), ACTIVATIONS, ids=IDS)
def test_gradcheck(name, fn, torch_fn, kinks):
    x = _away_from(_rng(2).normal(size=(2, 3)) * 2.0, kinks)
    assert gradcheck(fn, (cr.tensor(x, dtype="float64"),))


@pytest.mark.parametrize("fn", [F.gelu, F.mish, F.softplus, F.silu, F.elu, F.logsigmoid], ids=lambda f: f.__name__)
def test_second_derivatives(fn):
    # Composites inherit higher derivatives from their primitives.
    x = _away_from(_rng(3).normal(size=(5,)), [0.0])
    assert gradgradcheck(fn, (cr.tensor(x, dtype="float64"),))


@pytest.mark.parametrize(("name", "fn", "torch_fn", "kinks"), ACTIVATIONS, ids=IDS)
def test_stable_at_extreme_inputs(name, fn, torch_fn, kinks):
    for dtype in ("float32", "float64"):
        x = cr.tensor([[-1000.0, -50.0, 0.0, 50.0, 1000.0]], dtype=dtype, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with np.errstate(over="raise", divide="raise", invalid="raise"):
                y = fn(x)
                y.sum().backward()
        assert np.isfinite(y.data).all(), (name, dtype, y)
        assert np.isfinite(x.grad.data).all(), (name, dtype, x.grad)


def test_extreme_values_are_the_asymptotes():
    x = cr.tensor([-1000.0, 1000.0], dtype="float64", requires_grad=True)
    np.testing.assert_array_equal(F.softplus(x).data, [0.0, 1000.0])
    np.testing.assert_array_equal(F.logsigmoid(x).data, [-1000.0, 0.0])
    np.testing.assert_array_equal(F.gelu(x).data, [0.0, 1000.0])
    np.testing.assert_array_equal(F.mish(x).data, [0.0, 1000.0])
    np.testing.assert_array_equal(F.elu(x).data, [-1.0, 1000.0])
    F.softplus(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0])


def test_kink_conventions_follow_torch():
    torch = pytest.importorskip("torch")
    pts = [-1.0, 0.0, 1.0, 6.0, 20.0]
    cases = [
        (F.relu, torch.relu),
        (F.relu6, torch.nn.functional.relu6),
        (F.hardtanh, torch.nn.functional.hardtanh),
        (lambda x: F.leaky_relu(x, 0.3), lambda t: torch.nn.functional.leaky_relu(t, 0.3)),
        (lambda x: F.elu(x, 0.7), lambda t: torch.nn.functional.elu(t, 0.7)),
        (
            lambda x: F.prelu(x, cr.tensor([0.4], dtype="float64")),
            lambda t: torch.prelu(t, torch.tensor([0.4], dtype=torch.float64)),
        ),
        (F.softplus, torch.nn.functional.softplus),
        (F.logsigmoid, torch.nn.functional.logsigmoid),
    ]
    for fn, tfn in cases:
        x = cr.tensor(pts, dtype="float64", requires_grad=True)
        fn(x).sum().backward()
        xt = torch.tensor(pts, dtype=torch.float64, requires_grad=True)
        tfn(xt).sum().backward()
        np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=RTOL, atol=ATOL)
    # the closed forms at 0
    x = cr.tensor([0.0], dtype="float64", requires_grad=True)
    F.softplus(x).backward(np.ones(1))
    assert x.grad.item() == 0.5
    assert F.softplus(cr.tensor([0.0], dtype="float64")).item() == pytest.approx(math.log(2.0), rel=1e-15)


def test_softplus_threshold_switch():
    x = cr.tensor([9.9, 10.1], dtype="float64", requires_grad=True)
    y = F.softplus(x, beta=2.0, threshold=20.0)
    # βx = 19.8 is below the threshold (the log form), βx = 20.2 above (the identity)
    np.testing.assert_allclose(y.data, [math.log1p(math.exp(19.8)) / 2.0, 10.1], rtol=1e-15)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [1.0 / (1.0 + math.exp(-19.8)), 1.0], rtol=1e-15)


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5, 2), (2, 3, 4)])
def test_prelu_per_channel_matches_torch(shape):
    torch = pytest.importorskip("torch")
    rng = _rng(4)
    x = _away_from(rng.normal(size=shape), [0.0])
    w = rng.uniform(0.1, 0.9, size=(shape[1],))
    g = rng.normal(size=shape)
    for weight in (w, w[:1]):
        xc = cr.tensor(x, dtype="float64", requires_grad=True)
        wc = cr.tensor(weight, dtype="float64", requires_grad=True)
        y = F.prelu(xc, wc)
        y.backward(g)
        xt = torch.tensor(x, requires_grad=True)
        wt = torch.tensor(weight, requires_grad=True)
        yt = torch.nn.functional.prelu(xt, wt)
        yt.backward(torch.tensor(g))
        np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(xc.grad.data, xt.grad.numpy(), rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(wc.grad.data, wt.grad.numpy(), rtol=RTOL, atol=ATOL)


def test_prelu_and_swish_gradcheck_in_their_parameters():
    rng = _rng(5)
    x = cr.tensor(_away_from(rng.normal(size=(3, 2, 2)), [0.0]), dtype="float64")
    w = cr.tensor([0.2, 0.6], dtype="float64")
    assert gradcheck(lambda x, w: F.prelu(x, w), (x, w))
    assert gradcheck(lambda x, b: F.swish(x, b), (x, cr.tensor(1.3, dtype="float64")))


def test_prelu_unbatched_and_errors():
    x = cr.tensor([-2.0, 3.0], dtype="float64")
    np.testing.assert_allclose(F.prelu(x, cr.tensor([0.5], dtype="float64")).data, [-1.0, 3.0])
    with pytest.raises(ValueError, match=r"prelu: weight has 3 elements but the input of shape \(4, 2\) has 2"):
        F.prelu(cr.zeros(4, 2), cr.zeros(3))
    with pytest.raises(ValueError, match=r"prelu: weight has 2 elements .* shape \(2,\) has 1 channel"):
        F.prelu(cr.zeros(2), cr.zeros(2))
    with pytest.raises(ValueError, match=r"prelu: weight must be 0-d or 1-d"):
        F.prelu(cr.zeros(4, 2), cr.zeros(2, 1))


def test_argument_errors():
    with pytest.raises(ValueError, match=r"gelu: approximate must be 'none' or 'tanh', got 'erf'"):
        F.gelu(cr.zeros(2), approximate="erf")
    with pytest.raises(ValueError, match=r"hardtanh: min_val must be below max_val"):
        F.hardtanh(cr.zeros(2), 1.0, -1.0)
    with pytest.raises(ValueError, match=r"softplus: beta must be non-zero"):
        F.softplus(cr.zeros(2), beta=0.0)
    with pytest.raises(TypeError, match=r"elu: expected a floating-point tensor, got dtype int64"):
        F.elu(cr.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"GELU: approximate"):
        A.GELU("fast")
    with pytest.raises(ValueError, match=r"PReLU: num_parameters must be a positive int"):
        A.PReLU(0)


FLOAT32_CASES = [a[1] for a in ACTIVATIONS] + [
    lambda x: F.prelu(x, cr.tensor([0.25], dtype="float64")),  # a float64 weight does not promote
    lambda x: F.swish(x, cr.tensor(1.5, dtype="float64")),
]


@pytest.mark.parametrize("fn", FLOAT32_CASES, ids=[*IDS, "prelu_f64w", "swish_f64beta"])
def test_float32_is_preserved(fn):
    x = cr.tensor(_rng(6).normal(size=(3, 4)), dtype="float32", requires_grad=True)
    y = fn(x)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


# --- Modules -------------------------------------------------------------------------------------

MODULES = [
    (A.Sigmoid(), F.sigmoid, "Sigmoid()"),
    (A.Tanh(), F.tanh, "Tanh()"),
    (A.ReLU(), F.relu, "ReLU()"),
    (A.ReLU6(), F.relu6, "ReLU6()"),
    (A.Hardtanh(-2.0, 2.0), lambda x: F.hardtanh(x, -2.0, 2.0), "Hardtanh(min_val=-2.0, max_val=2.0)"),
    (A.LeakyReLU(0.1), lambda x: F.leaky_relu(x, 0.1), "LeakyReLU(negative_slope=0.1)"),
    (A.PReLU(), lambda x: F.prelu(x, cr.tensor([0.25])), "PReLU(num_parameters=1)"),
    (A.ELU(0.5), lambda x: F.elu(x, 0.5), "ELU(alpha=0.5)"),
    (A.GELU(), F.gelu, "GELU(approximate='none')"),
    (A.GELU("tanh"), lambda x: F.gelu(x, "tanh"), "GELU(approximate='tanh')"),
    (A.SiLU(), F.silu, "SiLU()"),
    (A.Swish(2.0), lambda x: F.swish(x, 2.0), "Swish(beta=2.0, learnable=False)"),
    (A.Mish(), F.mish, "Mish()"),
    (A.Softplus(2.0, 10.0), lambda x: F.softplus(x, 2.0, 10.0), "Softplus(beta=2.0, threshold=10.0)"),
    (A.LogSigmoid(), F.logsigmoid, "LogSigmoid()"),
    (A.Softmax(dim=0), lambda x: F.softmax(x, 0), "Softmax(dim=0)"),
    (A.LogSoftmax(), F.log_softmax, "LogSoftmax(dim=-1)"),
]


@pytest.mark.parametrize(("module", "fn", "text"), MODULES, ids=[m[2] for m in MODULES])
def test_modules_call_the_functional_form(module, fn, text):
    x = cr.tensor(_rng(7).normal(size=(3, 4)) * 3.0, dtype="float32")
    np.testing.assert_array_equal(module(x).data, fn(x).data)
    assert repr(module) == text
    assert isinstance(module, nn.Module)


def test_prelu_module_learns_per_channel_slopes_like_torch():
    torch = pytest.importorskip("torch")
    x = _away_from(_rng(8).normal(size=(5, 3, 2)), [0.0])
    m = A.PReLU(num_parameters=3, init=0.1, dtype="float64")
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    np.testing.assert_array_equal(m.weight.data, [0.1] * 3)
    (m(cr.tensor(x, dtype="float64")) ** 2).sum().backward()
    tm = torch.nn.PReLU(num_parameters=3, dtype=torch.float64)
    with torch.no_grad():
        tm.weight.fill_(0.1)
    (tm(torch.tensor(x)) ** 2).sum().backward()
    np.testing.assert_allclose(m.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=RTOL)
    assert m.weight.grad.dtype == np.float64
    m.weight.data[...] = 3.0
    m.reset_parameters()
    np.testing.assert_array_equal(m.weight.data, [0.1] * 3)


def test_swish_learnable_beta_gets_its_gradient():
    x = np.array([-1.5, -0.2, 0.7, 2.0])
    m = A.Swish(beta=1.3, learnable=True, dtype="float64")
    assert [n for n, _ in m.named_parameters()] == ["beta"] and m.beta.shape == ()
    assert repr(m) == "Swish(beta=1.3, learnable=True)"
    m(cr.tensor(x, dtype="float64")).sum().backward()
    s = 1.0 / (1.0 + np.exp(-1.3 * x))
    np.testing.assert_allclose(m.beta.grad.item(), np.sum(x * x * s * (1 - s)), rtol=1e-13)
    # float32 by default; a fixed beta is no parameter
    assert A.Swish(learnable=True).beta.dtype == np.float32
    assert list(A.Swish(2.0).parameters()) == []


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_fused_gelu_matches_its_composite_to_second_order(approximate):
    """The fused GELU primitive against the composite it replaces, in value, gradient and Hessian-vector product."""

    def composite(x):
        if approximate == "none":
            return x * (cr.ops.erf(x * math.sqrt(0.5)) + 1.0) * 0.5
        u = (x + x * x * x * 0.044715) * math.sqrt(2.0 / math.pi)
        return x * (cr.ops.tanh(u) + 1.0) * 0.5

    x = np.random.default_rng(3).uniform(-4, 4, (5, 7))
    fused = lambda t: F.gelu(t, approximate).sum()  # noqa: E731
    comp = lambda t: composite(t).sum()  # noqa: E731
    np.testing.assert_allclose(
        F.gelu(cr.tensor(x), approximate).data, composite(cr.tensor(x)).data, rtol=1e-14, atol=1e-15
    )
    np.testing.assert_allclose(
        cr.grad(fused)(cr.tensor(x)).data, cr.grad(comp)(cr.tensor(x)).data, rtol=1e-13, atol=1e-14
    )
    v = np.random.default_rng(4).standard_normal((5, 7))
    np.testing.assert_allclose(
        cr.hvp(fused, (cr.tensor(x),), (cr.tensor(v),)).data,
        cr.hvp(comp, (cr.tensor(x),), (cr.tensor(v),)).data,
        rtol=1e-11,
        atol=1e-12,
    )
    x32 = cr.tensor(x.astype(np.float32), requires_grad=True)
    y = F.gelu(x32, approximate)
    y.sum().backward()
    assert y.dtype == np.float32 and x32.grad.dtype == np.float32


def test_masked_softmax_matches_the_select_softmax_select_composite():
    """softmax(x, mask) against where(mask, x, -big) → softmax → zero the rows with nothing kept."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 4, 6))
    mask = rng.random((4, 6)) < 0.6
    mask[1] = False  # a fully masked row

    def composite(t):
        w = cr.softmax(cr.where(mask, t, -1e300), dim=-1)
        return cr.where(mask.any(-1, keepdims=True), w, 0.0)

    fused = cr.ops.softmax(cr.tensor(x), dim=-1, mask=mask)
    np.testing.assert_allclose(fused.data, composite(cr.tensor(x)).data, rtol=1e-14, atol=1e-300)
    assert (fused.data[:, 1] == 0).all() and (fused.data[~np.broadcast_to(mask, x.shape)] == 0).all()
    v = rng.standard_normal(x.shape)
    f = lambda t: (cr.ops.softmax(t, dim=-1, mask=mask) * cr.tensor(v)).sum()  # noqa: E731
    c = lambda t: (composite(t) * cr.tensor(v)).sum()  # noqa: E731
    np.testing.assert_allclose(cr.grad(f)(cr.tensor(x)).data, cr.grad(c)(cr.tensor(x)).data, rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match=r"softmax: mask of shape \(5,\) does not broadcast"):
        cr.ops.softmax(cr.tensor(x), mask=np.ones(5, bool))
    with pytest.raises(TypeError, match="boolean"):
        cr.ops.softmax(cr.tensor(x), mask=np.ones(6))
