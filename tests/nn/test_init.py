"""nn.init: gains, fans, the empirical moments and bounds of each initialiser, orthogonality,
reproducibility, in-place semantics (version counter, dtype, no graph) and argument errors."""

import math

import numpy as np
import pytest
import scipy.stats

import chainrule as cr
from chainrule.nn import Parameter, init
from chainrule.nn.init import _calculate_fan_in_and_fan_out

GAINS = [
    ("linear", None, 1.0),
    ("conv1d", None, 1.0),
    ("conv2d", None, 1.0),
    ("conv3d", None, 1.0),
    ("conv_transpose2d", None, 1.0),
    ("sigmoid", None, 1.0),
    ("tanh", None, 5.0 / 3.0),
    ("relu", None, math.sqrt(2.0)),
    ("leaky_relu", None, math.sqrt(2.0 / (1.0 + 0.01**2))),
    ("leaky_relu", 0.2, math.sqrt(2.0 / (1.0 + 0.2**2))),
    ("leaky_relu", math.sqrt(5), math.sqrt(1.0 / 3.0)),
    ("leaky_relu", 1, 1.0),
    ("selu", None, 0.75),
]


@pytest.mark.parametrize("name,param,expected", GAINS)
def test_calculate_gain_closed_forms(name, param, expected):
    assert init.calculate_gain(name, param) == pytest.approx(expected, rel=1e-15)


def test_calculate_gain_matches_torch():
    torch = pytest.importorskip("torch")
    for name, param, _ in GAINS:
        assert init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param), rel=1e-15)


def test_calculate_gain_rejects_bad_arguments():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'gelu'"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="negative_slope"):
        init.calculate_gain("leaky_relu", "0.1")
    with pytest.raises(ValueError, match="negative_slope"):
        init.calculate_gain("leaky_relu", True)
    with pytest.raises(TypeError, match="must be a str"):
        init.calculate_gain(None)


def test_fan_in_and_fan_out_of_linear_and_conv_shapes():
    assert _calculate_fan_in_and_fan_out(cr.empty(7, 5)) == (5, 7)
    assert _calculate_fan_in_and_fan_out(cr.empty(16, 3, 5, 5)) == (75, 400)  # (out, in, kh, kw)
    assert _calculate_fan_in_and_fan_out(cr.empty(4, 2, 3)) == (6, 12)
    with pytest.raises(ValueError, match=r"fewer than 2 dimensions \(shape \(5,\)\)"):
        _calculate_fan_in_and_fan_out(cr.empty(5))


# --- moments of large draws: the std of a sample std is ~ σ/√(2N), far below the 2% allowed ---


def _std(t):
    return float(np.std(t.data.astype(np.float64)))


def test_uniform_and_normal_moments_and_bounds():
    cr.manual_seed(0)
    u = init.uniform_(cr.empty(200_000), -2.0, 3.0)
    assert u.data.min() >= -2.0 and u.data.max() < 3.0
    assert u.data.mean() == pytest.approx(0.5, abs=0.02)
    assert _std(u) == pytest.approx(5.0 / math.sqrt(12.0), rel=0.01)
    n = init.normal_(cr.empty(200_000), mean=1.5, std=0.3)
    assert n.data.mean() == pytest.approx(1.5, abs=0.005)
    assert _std(n) == pytest.approx(0.3, rel=0.01)


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity,a", [("relu", 0.0), ("leaky_relu", 0.1), ("tanh", 0.0)])
def test_kaiming_normal_std_is_gain_over_sqrt_fan(mode, nonlinearity, a):
    cr.manual_seed(1)
    w = init.kaiming_normal_(cr.empty(300, 200, 3), a=a, mode=mode, nonlinearity=nonlinearity)
    fan = 600 if mode == "fan_in" else 900
    expected = init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    assert _std(w) == pytest.approx(expected, rel=0.02)
    assert abs(float(w.data.mean())) < 0.02 * expected


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_kaiming_uniform_bound_and_std(mode):
    cr.manual_seed(2)
    w = init.kaiming_uniform_(cr.empty(400, 250), a=0.0, mode=mode, nonlinearity="relu")
    fan = 250 if mode == "fan_in" else 400
    bound = math.sqrt(3.0) * math.sqrt(2.0) / math.sqrt(fan)
    assert np.abs(w.data).max() <= bound
    assert np.abs(w.data).max() > 0.999 * bound  # the draws reach (nearly) the bound
    assert _std(w) == pytest.approx(bound / math.sqrt(3.0), rel=0.02)


def test_kaiming_uniform_with_a_sqrt5_is_pytorch_linear_default():
    cr.manual_seed(3)
    w = init.kaiming_uniform_(cr.empty(500, 64), a=math.sqrt(5))
    bound = 1.0 / math.sqrt(64)
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.999 * bound


def test_xavier_uniform_and_normal():
    cr.manual_seed(4)
    fan_in, fan_out = 300, 500
    std = 1.5 * math.sqrt(2.0 / (fan_in + fan_out))
    wu = init.xavier_uniform_(cr.empty(fan_out, fan_in), gain=1.5)
    assert np.abs(wu.data).max() <= math.sqrt(3.0) * std
    assert np.abs(wu.data).max() > 0.999 * math.sqrt(3.0) * std
    assert _std(wu) == pytest.approx(std, rel=0.02)
    wn = init.xavier_normal_(cr.empty(fan_out, fan_in), gain=1.5)
    assert _std(wn) == pytest.approx(std, rel=0.02)
    assert init.glorot_uniform_ is init.xavier_uniform_ and init.he_uniform_ is init.kaiming_uniform_


def test_trunc_normal_stays_in_bounds_and_has_truncated_moments():
    cr.manual_seed(5)
    mean, std, a, b = 0.5, 2.0, -1.0, 3.0
    t = init.trunc_normal_(cr.empty(200_000), mean=mean, std=std, a=a, b=b)
    assert t.data.min() >= a and t.data.max() <= b
    ref = scipy.stats.truncnorm((a - mean) / std, (b - mean) / std, loc=mean, scale=std)
    assert t.data.mean() == pytest.approx(ref.mean(), abs=0.01)
    assert _std(t) == pytest.approx(ref.std(), rel=0.01)


def test_constant_zeros_ones_eye():
    t = cr.empty(2, 3)
    assert init.constant_(t, 0.25) is t and np.all(t.data == 0.25)
    assert np.all(init.zeros_(t).data == 0) and np.all(init.ones_(t).data == 1)
    np.testing.assert_array_equal(init.eye_(cr.empty(2, 3)).data, np.eye(2, 3))
    np.testing.assert_array_equal(init.eye_(cr.empty(3, 2)).data, np.eye(3, 2))
    np.testing.assert_array_equal(init.zeros_(cr.full((2,), 5)).data, [0, 0])  # integer tensors allowed
    with pytest.raises(ValueError, match=r"eye_: only 2-d tensors.*\(2, 2, 2\)"):
        init.eye_(cr.empty(2, 2, 2))


# --- orthogonal ----------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(6, 6), (9, 4), (4, 9), (3, 2, 2, 2), (8, 2, 3)])
def test_orthogonal_gives_orthonormal_rows_or_columns(shape):
    cr.manual_seed(6)
    gain = 1.7
    w = init.orthogonal_(cr.empty(*shape, dtype="float64"), gain=gain)
    m = w.data.reshape(shape[0], -1)
    rows, cols = m.shape
    gram = m.T @ m if rows >= cols else m @ m.T
    np.testing.assert_allclose(gram, gain**2 * np.eye(min(rows, cols)), atol=1e-12)


def test_orthogonal_is_sign_corrected_haar():
    # Without the sign correction, QR of a Gaussian matrix gives R with a positive diagonal,
    # which biases Q: the mean of Q[0, 0] over many draws would not be 0.
    gen = np.random.default_rng(7)
    firsts = [init.orthogonal_(cr.empty(3, 3, dtype="float64"), generator=gen).data[0, 0] for _ in range(2000)]
    # For a Haar orthogonal 3x3 matrix an entry has mean 0 and variance 1/3.
    assert abs(np.mean(firsts)) < 4 * math.sqrt(1 / 3 / 2000)
    assert np.var(firsts) == pytest.approx(1 / 3, rel=0.1)


def test_orthogonal_rejects_1d():
    with pytest.raises(ValueError, match=r"orthogonal_: only tensors with 2 or more dimensions.*\(5,\)"):
        init.orthogonal_(cr.empty(5))


# --- reproducibility and in-place semantics ------------------------------------------------------

RANDOM_INITS = [
    lambda t, g=None: init.uniform_(t, generator=g),
    lambda t, g=None: init.normal_(t, generator=g),
    lambda t, g=None: init.trunc_normal_(t, generator=g),
    lambda t, g=None: init.xavier_uniform_(t, generator=g),
    lambda t, g=None: init.xavier_normal_(t, generator=g),
    lambda t, g=None: init.kaiming_uniform_(t, generator=g),
    lambda t, g=None: init.kaiming_normal_(t, generator=g),
    lambda t, g=None: init.orthogonal_(t, generator=g),
]


@pytest.mark.parametrize("fill", RANDOM_INITS)
def test_manual_seed_reproduces_and_generator_is_independent(fill):
    cr.manual_seed(123)
    a = fill(cr.empty(5, 4)).data.copy()
    b = fill(cr.empty(5, 4)).data.copy()
    cr.manual_seed(123)
    np.testing.assert_array_equal(fill(cr.empty(5, 4)).data, a)
    assert not np.array_equal(a, b)  # the global generator advanced
    # A private generator gives its own stream and leaves the global one untouched.
    cr.manual_seed(123)
    c = fill(cr.empty(5, 4), np.random.default_rng(0)).data.copy()
    np.testing.assert_array_equal(fill(cr.empty(5, 4), np.random.default_rng(0)).data, c)
    np.testing.assert_array_equal(fill(cr.empty(5, 4)).data, a)


@pytest.mark.parametrize("fill", RANDOM_INITS)
def test_in_place_keeps_identity_dtype_and_bumps_version(fill):
    p = Parameter(cr.zeros(4, 3))
    version = p._version[0]
    data = p.data
    out = fill(p)
    assert out is p and p.data is data  # written into the same memory
    assert p.dtype == np.float32 and p.is_leaf and p.requires_grad and p.grad_fn is None
    assert p._version[0] == version + 1
    assert np.any(p.data != 0)


def test_init_after_use_invalidates_the_saved_graph():
    w = Parameter(cr.ones(3))
    x = cr.randn(3)
    y = (w * x).sum()  # mul saves w for dL/dx
    init.normal_(w)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_zero_element_tensors_are_left_alone():
    t = cr.empty(0, 5)
    assert init.kaiming_uniform_(t) is t and init.xavier_normal_(t) is t and init.orthogonal_(t) is t


def test_bad_arguments_raise_before_writing():
    t = cr.zeros(4, 3)
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out', got 'fan_avg'"):
        init.kaiming_normal_(t, mode="fan_avg")
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.kaiming_uniform_(t, nonlinearity="swish")
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(cr.zeros(5))
    with pytest.raises(ValueError, match="expected a <= b"):
        init.uniform_(t, 1.0, 0.0)
    with pytest.raises(ValueError, match="std must be >= 0"):
        init.normal_(t, std=-1.0)
    with pytest.raises(ValueError, match="expected a < b"):
        init.trunc_normal_(t, a=1.0, b=1.0)
    with pytest.raises(TypeError, match=r"floating-point tensor, got dtype int64"):
        init.normal_(cr.full((2, 2), 1))
    with pytest.raises(TypeError, match="expected a Tensor, got ndarray"):
        init.normal_(np.zeros(3))
    with pytest.raises(TypeError, match="gain must be a real number"):
        init.xavier_normal_(t, gain="2")
    with pytest.raises(TypeError, match=r"numpy\.random\.Generator"):
        init.normal_(t, generator=0)
    with pytest.raises(ValueError, match="read-only view"):
        init.normal_(cr.broadcast_to(cr.zeros(3), (2, 3)))
    assert np.all(t.data == 0) and t._version[0] == 0
