"""Convolution, pooling and channel dropout (functional and layers), and BatchNorm2d: against
direct nested-loop implementations, finite differences (gradcheck/gradgradcheck, float64) and
PyTorch (values and gradients, float64) where it is installed; default init, dtypes, and the
errors, which must name the layer."""

import itertools
import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.functional as F
from chainrule.nn import (
    AdaptiveAvgPool2d,
    AvgPool1d,
    AvgPool2d,
    BatchNorm2d,
    Conv1d,
    Conv2d,
    Dropout2d,
    Flatten,
    Linear,
    MaxPool1d,
    MaxPool2d,
    ReLU,
    Sequential,
)
from chainrule.testing import gradcheck, gradgradcheck

F64 = "float64"
# PyTorch warns that its own "same" padding with an even kernel makes a padded copy; not our concern.
TORCH_SAME_WARNING = "ignore:Using padding='same' with even kernel lengths:UserWarning"


def rng(seed=0):
    return np.random.default_rng(seed)


def distinct(shape, seed=0):
    """Values 0.25 apart in random order: no window has a tied maximum."""
    n = math.prod(shape)
    return ((rng(seed).permutation(n) - n / 2) * 0.25).reshape(shape)


# --- direct nested-loop references --------------------------------------------------------------


def conv_loop(x, w, b, stride, padding, dilation, groups):
    """y[n, o, i] = b[o] + Σ_{c in o's group, k} w[o, c, k] x[n, g·C/G + c, i·s + k·d - lo] (zero outside)."""
    n, _, *size = x.shape
    c_out, cg, *kernel = w.shape
    d = len(size)
    og = c_out // groups
    out = [
        (m + lo + hi - dl * (k - 1) - 1) // s + 1
        for m, k, s, dl, (lo, hi) in zip(size, kernel, stride, dilation, padding, strict=True)
    ]
    y = np.zeros((n, c_out, *out))
    for b_, o in itertools.product(range(n), range(c_out)):
        g = o // og
        for pos in itertools.product(*(range(m) for m in out)):
            acc = 0.0 if b is None else b[o]
            for c in range(cg):
                for k in itertools.product(*(range(a) for a in kernel)):
                    src = [p * s + kk * dl - lo for p, kk, s, dl, (lo, _) in zip(pos, k, stride, dilation, padding)]
                    if all(0 <= q < m for q, m in zip(src, size, strict=True)):
                        acc += w[(o, c, *k)] * x[(b_, g * cg + c, *src)]
            y[(b_, o, *pos)] = acc
    assert len(out) == d
    return y


def pool_loop(x, kernel, stride, padding, reduce):
    """reduce(window values inside the input, window size) at every output position (no ceil mode)."""
    n, c, *size = x.shape
    out = [(m + 2 * p - k) // s + 1 for m, k, s, p in zip(size, kernel, stride, padding, strict=True)]
    y = np.zeros((n, c, *out))
    for b_, ch in itertools.product(range(n), range(c)):
        for pos in itertools.product(*(range(m) for m in out)):
            vals = []
            for k in itertools.product(*(range(a) for a in kernel)):
                src = [p * s + kk - q for p, kk, s, q in zip(pos, k, stride, padding, strict=True)]
                if all(0 <= v < m for v, m in zip(src, size, strict=True)):
                    vals.append(x[(b_, ch, *src)])
            y[(b_, ch, *pos)] = reduce(np.array(vals), math.prod(kernel))
    return y


def adaptive_loop(x, oh, ow):
    n, c, h, w = x.shape
    y = np.zeros((n, c, oh, ow))
    for i, j in itertools.product(range(oh), range(ow)):
        r0, r1 = (i * h) // oh, -(-((i + 1) * h) // oh)
        c0, c1 = (j * w) // ow, -(-((j + 1) * w) // ow)
        y[:, :, i, j] = x[:, :, r0:r1, c0:c1].mean(axis=(2, 3))
    return y


# --- convolution: loops and finite differences --------------------------------------------------

CONV2D_CASES = [
    # (x shape, w shape, stride, padding, dilation, groups)
    ((2, 3, 5, 6), (4, 3, 3, 3), 1, 0, 1, 1),
    ((1, 2, 6, 5), (3, 2, 2, 3), (2, 1), (1, 2), (1, 2), 1),
    ((2, 4, 5, 5), (6, 2, 3, 3), 2, 1, 1, 2),
    ((1, 3, 5, 4), (6, 1, 3, 2), 1, (1, 0), (2, 1), 3),  # depthwise, channel multiplier 2
    ((1, 2, 4, 4), (2, 2, 1, 1), 3, 0, 1, 1),  # 1x1 kernel, stride larger than the kernel
]


@pytest.mark.parametrize("xs,ws,stride,padding,dilation,groups", CONV2D_CASES)
def test_conv2d_matches_direct_loops(xs, ws, stride, padding, dilation, groups):
    r = rng(1)
    x, w, b = r.standard_normal(xs), r.standard_normal(ws), r.standard_normal(ws[0])
    y = F.conv2d(cr.tensor(x), cr.tensor(w), cr.tensor(b), stride, padding, dilation, groups)
    pad = ((padding, padding),) * 2 if isinstance(padding, int) else tuple((p, p) for p in padding)
    s = (stride,) * 2 if isinstance(stride, int) else stride
    dl = (dilation,) * 2 if isinstance(dilation, int) else dilation
    np.testing.assert_allclose(y.data, conv_loop(x, w, b, s, pad, dl, groups), rtol=1e-12, atol=1e-12)


def test_conv1d_matches_direct_loops_and_same_padding_keeps_the_length():
    r = rng(2)
    x, w = r.standard_normal((2, 4, 9)), r.standard_normal((6, 2, 4))
    y = F.conv1d(cr.tensor(x), cr.tensor(w), None, 2, 3, 1, 2)
    np.testing.assert_allclose(y.data, conv_loop(x, w, None, (2,), ((3, 3),), (1,), 2), rtol=1e-12, atol=1e-12)
    # "same" with an even dilated kernel: total padding 3 = 1 before + 2 after (PyTorch's choice)
    y = F.conv1d(cr.tensor(x), cr.tensor(w), None, 1, "same", 1, 2)
    assert y.shape == (2, 6, 9)
    np.testing.assert_allclose(y.data, conv_loop(x, w, None, (1,), ((1, 2),), (1,), 2), rtol=1e-12, atol=1e-12)
    y = F.conv1d(cr.tensor(x), cr.tensor(w), None, padding="valid", groups=2)
    assert y.shape == (2, 6, 6)


def test_conv2d_closed_form_with_a_delta_kernel():
    """A kernel with a single 1 at (p, q) shifts the image: y[i, j] = x[i + p, j + q]."""
    x = rng(3).standard_normal((1, 1, 5, 6))
    w = np.zeros((1, 1, 3, 3))
    w[0, 0, 2, 1] = 1.0
    y = F.conv2d(cr.tensor(x), cr.tensor(w))
    np.testing.assert_array_equal(y.data[0, 0], x[0, 0, 2:5, 1:5])


@pytest.mark.parametrize("xs,ws,stride,padding,dilation,groups", CONV2D_CASES[1:4])
def test_conv2d_gradcheck_first_and_second_order(xs, ws, stride, padding, dilation, groups):
    r = rng(4)
    x, w, b = (cr.tensor(r.standard_normal(s)) for s in (xs, ws, (ws[0],)))

    def f(x, w, b):
        return F.conv2d(x, w, b, stride, padding, dilation, groups)

    assert gradcheck(f, (x, w, b))  # reverse and forward mode
    assert gradgradcheck(f, (x, w, b))


def test_conv1d_gradcheck_same_padding():
    r = rng(5)
    x, w, b = (
        cr.tensor(r.standard_normal((2, 2, 5))),
        cr.tensor(r.standard_normal((3, 2, 2))),
        cr.tensor([0.5, -1, 2], dtype=F64),
    )
    assert gradcheck(lambda x, w, b: F.conv1d(x, w, b, padding="same", dilation=3), (x, w, b))


def test_conv2d_gradients_are_the_im2col_matrix_formulas():
    """W̄ = Ȳ · colsᵀ and x̄ = fold(Wᵀ · Ȳ), b̄ = Σ Ȳ, written out by hand with unfold/fold."""
    r = rng(6)
    x_np, w_np, g_np = r.standard_normal((2, 3, 5, 5)), r.standard_normal((4, 3, 3, 3)), r.standard_normal((2, 4, 3, 3))
    x, w, b = cr.tensor(x_np, requires_grad=True), cr.tensor(w_np, requires_grad=True), cr.zeros(4, dtype=F64)
    b.requires_grad_()
    F.conv2d(x, w, b, stride=2, padding=1).backward(cr.tensor(g_np))
    cols = cr.unfold(cr.tensor(x_np), 3, padding=1, stride=2).data  # (N, C·9, L)
    gy = g_np.reshape(2, 4, 9)  # (N, O, L)
    np.testing.assert_allclose(w.grad.data.reshape(4, 27), np.einsum("nol,nkl->ok", gy, cols), rtol=1e-12)
    dcols = np.einsum("ok,nol->nkl", w_np.reshape(4, 27), gy)
    x_bar = cr.fold(cr.tensor(dcols), (5, 5), 3, padding=1, stride=2).data
    np.testing.assert_allclose(x.grad.data, x_bar, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(b.grad.data, g_np.sum(axis=(0, 2, 3)), rtol=1e-12)


# --- convolution: against PyTorch ---------------------------------------------------------------


def _torch_compare(torch, f, tf, arrays, rtol=1e-10, atol=1e-12):
    """Values and gradients (same random upstream gradient) of f and tf on the float64 arrays."""
    xs = [cr.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, yt = f(*xs), tf(*ts)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=rtol, atol=atol)
    g = rng(99).standard_normal(y.shape)
    y.backward(cr.tensor(g))
    yt.backward(torch.tensor(g))
    for i, (a, t) in enumerate(zip(xs, ts, strict=True)):
        np.testing.assert_allclose(a.grad.data, t.grad.numpy(), rtol=rtol, atol=atol, err_msg=f"input {i}")


@pytest.mark.filterwarnings(TORCH_SAME_WARNING)
@pytest.mark.parametrize(
    "xs,ws,kw",
    [
        ((2, 3, 7, 6), (4, 3, 3, 3), {}),
        ((2, 4, 7, 6), (6, 2, 3, 2), {"stride": (2, 1), "padding": (1, 2), "dilation": (1, 2), "groups": 2}),
        ((2, 4, 7, 6), (6, 2, 4, 2), {"padding": "same", "dilation": (1, 3), "groups": 2}),
        ((3, 7, 6), (6, 3, 2, 2), {"padding": "valid", "stride": 2}),  # unbatched
        ((2, 4, 6, 6), (4, 1, 3, 3), {"padding": 1, "groups": 4}),  # depthwise
    ],
)
def test_conv2d_matches_torch(xs, ws, kw):
    torch = pytest.importorskip("torch")
    r = rng(7)
    arrays = [r.standard_normal(xs), r.standard_normal(ws), r.standard_normal(ws[0])]
    _torch_compare(
        torch,
        lambda x, w, b: F.conv2d(x, w, b, **kw),
        lambda x, w, b: torch.nn.functional.conv2d(x, w, b, **kw),
        arrays,
    )


@pytest.mark.filterwarnings(TORCH_SAME_WARNING)
@pytest.mark.parametrize(
    "xs,ws,kw",
    [
        ((2, 3, 10), (5, 3, 3), {"stride": 2, "padding": 1}),
        ((2, 4, 9), (4, 2, 4), {"padding": "same", "groups": 2}),
        ((3, 11), (2, 3, 3), {"dilation": 3}),  # unbatched
    ],
)
def test_conv1d_matches_torch(xs, ws, kw):
    torch = pytest.importorskip("torch")
    r = rng(8)
    arrays = [r.standard_normal(xs), r.standard_normal(ws), r.standard_normal(ws[0])]
    _torch_compare(
        torch,
        lambda x, w, b: F.conv1d(x, w, b, **kw),
        lambda x, w, b: torch.nn.functional.conv1d(x, w, b, **kw),
        arrays,
    )


# --- pooling --------------------------------------------------------------------------------------


def test_pooling_matches_direct_loops():
    x = distinct((2, 3, 6, 7), seed=1)
    for k, s, p in [((2, 2), (2, 2), (0, 0)), ((3, 2), (2, 1), (1, 1)), ((3, 3), (3, 2), (1, 0))]:
        y = F.max_pool2d(cr.tensor(x), k, s, p)
        np.testing.assert_array_equal(y.data, pool_loop(x, k, s, p, lambda v, m: v.max()))
        y = F.avg_pool2d(cr.tensor(x), k, s, p)
        np.testing.assert_allclose(y.data, pool_loop(x, k, s, p, lambda v, m: v.sum() / m), rtol=1e-13, atol=1e-15)
        y = F.avg_pool2d(cr.tensor(x), k, s, p, count_include_pad=False)
        np.testing.assert_allclose(y.data, pool_loop(x, k, s, p, lambda v, m: v.mean()), rtol=1e-13, atol=1e-15)
    x1 = distinct((2, 2, 9), seed=2)
    np.testing.assert_array_equal(
        F.max_pool1d(cr.tensor(x1), 3, 2, 1).data, pool_loop(x1, (3,), (2,), (1,), lambda v, m: v.max())
    )
    np.testing.assert_allclose(
        F.avg_pool1d(cr.tensor(x1), 4, 3, 2).data, pool_loop(x1, (4,), (3,), (2,), lambda v, m: v.sum() / m), rtol=1e-13
    )


@pytest.mark.parametrize(
    "kw",
    [
        {"kernel_size": 2},
        {"kernel_size": 3, "stride": 2, "padding": 1},
        {"kernel_size": (3, 2), "stride": (2, 3), "padding": (1, 1), "dilation": (2, 1), "ceil_mode": True},
        {"kernel_size": 3, "stride": 2, "ceil_mode": True},
        {"kernel_size": 2, "stride": 1, "dilation": 2},
    ],
)
def test_max_pool2d_matches_torch_with_indices(kw):
    torch = pytest.importorskip("torch")
    x = distinct((2, 3, 7, 8))
    _torch_compare(
        torch,
        lambda t: F.max_pool2d(t, **kw),
        lambda t: torch.nn.functional.max_pool2d(t, **kw),
        [x],
        rtol=1e-14,
        atol=1e-15,
    )
    _, idx = F.max_pool2d(cr.tensor(x), return_indices=True, **kw)
    _, idx_t = torch.nn.functional.max_pool2d(torch.tensor(x), return_indices=True, **kw)
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(idx.data, idx_t.numpy())


@pytest.mark.parametrize(
    "kw",
    [
        {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
        {"kernel_size": 2},
        {"kernel_size": 3, "stride": 1, "dilation": 2, "padding": 1},
    ],
)
def test_max_pool1d_matches_torch_with_indices(kw):
    torch = pytest.importorskip("torch")
    x = distinct((2, 3, 11), seed=3)
    _torch_compare(
        torch,
        lambda t: F.max_pool1d(t, **kw),
        lambda t: torch.nn.functional.max_pool1d(t, **kw),
        [x],
        rtol=1e-14,
        atol=1e-15,
    )
    _, idx = F.max_pool1d(cr.tensor(x[0]), return_indices=True, **kw)  # unbatched
    _, idx_t = torch.nn.functional.max_pool1d(torch.tensor(x[0]), return_indices=True, **kw)
    np.testing.assert_array_equal(idx.data, idx_t.numpy())


def test_max_pool_ties_share_the_gradient_equally():
    """The documented convention (the max primitive's): two tied maxima get half each. PyTorch
    gives the whole gradient to one of them; both send the same total to the window."""
    x = cr.tensor([[[[1.0, 3.0], [3.0, 0.0]]]], dtype=F64, requires_grad=True)
    y = F.max_pool2d(x, 2)
    assert y.item() == 3.0
    y.backward(cr.tensor([[[[2.0]]]], dtype=F64))
    np.testing.assert_array_equal(x.grad.data, [[[[0.0, 1.0], [1.0, 0.0]]]])
    _, idx = F.max_pool2d(x.detach(), 2, return_indices=True)
    assert idx.item() == 1  # the first maximum in row-major order, as PyTorch


def test_max_pool_padding_never_wins():
    x = -5.0 - distinct((1, 1, 4, 4))  # all negative: zero padding would win every border window
    y = F.max_pool2d(cr.tensor(x), 3, 1, 1)
    np.testing.assert_array_equal(y.data, pool_loop(x, (3, 3), (1, 1), (1, 1), lambda v, m: v.max()))
    assert np.all(y.data < -1)


@pytest.mark.parametrize(
    "kw",
    [
        {"kernel_size": 2},
        {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
        {"kernel_size": (3, 2), "stride": (2, 3), "padding": (1, 1), "ceil_mode": True},
        {"kernel_size": (3, 2), "stride": (2, 3), "padding": (1, 1), "ceil_mode": True, "count_include_pad": False},
        {"kernel_size": 3, "padding": 1, "divisor_override": 5},
    ],
)
def test_avg_pool2d_matches_torch(kw):
    torch = pytest.importorskip("torch")
    x = rng(9).standard_normal((2, 3, 7, 8))
    _torch_compare(torch, lambda t: F.avg_pool2d(t, **kw), lambda t: torch.nn.functional.avg_pool2d(t, **kw), [x])
    _torch_compare(torch, lambda t: F.avg_pool2d(t, **kw), lambda t: torch.nn.functional.avg_pool2d(t, **kw), [x[0]])


@pytest.mark.parametrize(
    "kw",
    [
        {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
        {"kernel_size": 4, "stride": 3, "padding": 2},
    ],
)
def test_avg_pool1d_matches_torch(kw):
    torch = pytest.importorskip("torch")
    x = rng(10).standard_normal((2, 3, 11))
    _torch_compare(torch, lambda t: F.avg_pool1d(t, **kw), lambda t: torch.nn.functional.avg_pool1d(t, **kw), [x])


@pytest.mark.parametrize("output_size", [1, (3, 4), (5, None), (7, 8), (4, 3), (2, 5), (6, 7)])
def test_adaptive_avg_pool2d_matches_loops_and_torch(output_size):
    x = rng(11).standard_normal((2, 3, 7, 8))
    y = F.adaptive_avg_pool2d(cr.tensor(x), output_size)
    oh, ow = (output_size, output_size) if isinstance(output_size, int) else output_size
    np.testing.assert_allclose(y.data, adaptive_loop(x, oh, ow or 8), rtol=1e-12, atol=1e-14)
    torch = pytest.importorskip("torch")
    f, tf = (
        lambda t: F.adaptive_avg_pool2d(t, output_size),
        lambda t: torch.nn.functional.adaptive_avg_pool2d(t, output_size),
    )
    _torch_compare(torch, f, tf, [x])
    _torch_compare(torch, f, tf, [x[0]])


def test_pooling_gradcheck_first_and_second_order():
    x = cr.tensor(distinct((1, 2, 5, 5), seed=4))
    for f in (
        lambda t: F.max_pool2d(t, 3, 2, 1, ceil_mode=True),
        lambda t: F.avg_pool2d(t, 3, 2, 1, ceil_mode=True, count_include_pad=False),
        lambda t: F.adaptive_avg_pool2d(t, (3, 2)),
        lambda t: F.max_pool1d(t[0], 2, 1, dilation=2),
    ):
        assert gradcheck(f, (x,))
        assert gradgradcheck(lambda t, f=f: f(t) ** 2, (x,))


def test_global_average_pooling_closed_form():
    x = rng(12).standard_normal((3, 4, 5, 6))
    np.testing.assert_allclose(F.adaptive_avg_pool2d(cr.tensor(x), 1).data, x.mean(axis=(2, 3), keepdims=True))
    np.testing.assert_allclose(AdaptiveAvgPool2d((1, 1))(cr.tensor(x)).data, x.mean(axis=(2, 3), keepdims=True))


# --- channel dropout ------------------------------------------------------------------------------


def test_dropout2d_zeroes_whole_channels_and_scales_the_rest():
    cr.manual_seed(0)
    x = cr.tensor(rng(13).random((50, 40, 3, 4)) + 1.0, requires_grad=True)
    y = F.dropout2d(x, p=0.3)
    kept = y.data[:, :, 0, 0] != 0  # x > 0 everywhere, so a zero means a dropped channel
    assert np.all((y.data != 0) == kept[:, :, None, None])  # whole channels: all zero or all kept
    np.testing.assert_allclose(y.data, x.data * kept[:, :, None, None] / 0.7, rtol=1e-6)
    dropped = 1.0 - kept.mean()
    assert abs(dropped - 0.3) < 4 * math.sqrt(0.3 * 0.7 / 2000)  # 2000 Bernoulli draws
    ratio = kept[:, :, None, None] / np.float32(0.7) * np.ones(x.shape)
    y.backward(cr.ones_like(y))
    np.testing.assert_allclose(x.grad.data, ratio, rtol=1e-6)  # x̄ = m / (1 - p)


def test_dropout2d_eval_identity_reproducibility_and_unbatched_input():
    x = cr.randn(2, 3, 4, 4)
    assert F.dropout2d(x, 0.5, training=False) is x and F.dropout2d(x, 0.0) is x
    a = F.dropout2d(x, 0.5, generator=np.random.default_rng(5))
    b = F.dropout2d(x, 0.5, generator=np.random.default_rng(5))
    np.testing.assert_array_equal(a.data, b.data)
    cr.manual_seed(3)
    c = F.dropout2d(x, 0.5)
    cr.manual_seed(3)
    np.testing.assert_array_equal(F.dropout2d(x, 0.5).data, c.data)
    u = F.dropout2d(cr.ones(6, 2, 2), 0.5, generator=np.random.default_rng(1)).data  # (C, H, W): per channel
    assert all(len(np.unique(u[i])) == 1 for i in range(6))
    layer = Dropout2d(0.5)
    layer.eval()
    assert layer(x) is x
    assert repr(layer) == "Dropout2d(p=0.5)"


def test_dropout2d_errors():
    with pytest.raises(ValueError, match=r"dropout2d: dropout probability p must be in \[0, 1\), got 1"):
        F.dropout2d(cr.randn(1, 2, 3, 3), 1.0)
    with pytest.raises(ValueError, match=r"dropout2d: expected a 3-d \(C, H, W\) or 4-d .* shape \(2, 3\)"):
        F.dropout2d(cr.randn(2, 3))
    net = Sequential()
    net.drop = Dropout2d(0.2)
    with pytest.raises(ValueError, match=r"Dropout2d\(drop\): expected a 3-d .* shape \(4, 5\)"):
        net(cr.randn(4, 5))
    with pytest.raises(ValueError, match="Dropout2d: dropout probability"):
        Dropout2d(-0.1)


# --- layers ---------------------------------------------------------------------------------------


def copy_from_torch(module, torch_module):
    module.load_state_dict({k: v.detach().numpy() for k, v in torch_module.state_dict().items()})


def layer_vs_torch(torch, layer, tlayer, x_np):
    """Forward and backward of a chainrule layer and a PyTorch layer with the same state."""
    x, xt = cr.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    y, yt = layer(x), tlayer(xt)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rng(98).standard_normal(y.shape)
    y.backward(cr.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    tparams = dict(tlayer.named_parameters())
    assert [n for n, _ in layer.named_parameters()] == list(tparams)
    for name, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad.data, tparams[name].grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.filterwarnings(TORCH_SAME_WARNING)
@pytest.mark.parametrize(
    "args,kw,in_shape",
    [
        ((3, 4, 3), {"padding": 1}, (2, 3, 6, 5)),
        ((4, 6, (3, 2)), {"stride": 2, "dilation": (1, 2), "groups": 2, "bias": False}, (2, 4, 7, 7)),
        ((2, 4, 3), {"padding": "same", "padding_mode": "reflect"}, (2, 2, 5, 6)),
        ((2, 4, 3), {"padding": (2, 1), "padding_mode": "replicate"}, (2, 2, 5, 6)),
        ((2, 4, 2), {"padding": 1, "padding_mode": "circular", "stride": (1, 2)}, (2, 5, 6)),  # unbatched
    ],
)
def test_conv2d_layer_matches_torch(args, kw, in_shape):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tl = torch.nn.Conv2d(*args, **kw).double()
    layer = Conv2d(*args, **kw, dtype=F64)
    copy_from_torch(layer, tl)
    layer_vs_torch(torch, layer, tl, rng(14).standard_normal(in_shape))


@pytest.mark.filterwarnings(TORCH_SAME_WARNING)
@pytest.mark.parametrize(
    "args,kw,in_shape",
    [
        ((3, 5, 3), {"stride": 2, "padding": 1}, (4, 3, 10)),
        ((4, 4, 3), {"groups": 4, "padding": "same", "padding_mode": "circular"}, (2, 4, 8)),
    ],
)
def test_conv1d_layer_matches_torch(args, kw, in_shape):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tl = torch.nn.Conv1d(*args, **kw).double()
    layer = Conv1d(*args, **kw, dtype=F64)
    copy_from_torch(layer, tl)
    layer_vs_torch(torch, layer, tl, rng(15).standard_normal(in_shape))


def test_conv_default_init_is_pytorchs():
    """kaiming_uniform_(a=√5) gives W ~ U(±1/√fan_in); the bias is U(±1/√fan_in) too."""
    cr.manual_seed(0)
    conv = Conv2d(16, 32, 3, groups=2)
    fan_in = 8 * 9
    bound = 1 / math.sqrt(fan_in)
    w = conv.weight.data
    assert conv.weight.shape == (32, 8, 3, 3) and conv.bias.shape == (32,) and w.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound  # the std of U(-a, a) is a/√3
    assert np.abs(conv.bias.data).max() <= bound
    conv1 = Conv1d(3, 4, 5, bias=False)
    assert conv1.bias is None and np.abs(conv1.weight.data).max() <= 1 / math.sqrt(15)
    cr.manual_seed(7)
    a = Conv2d(2, 3, 2).weight.data.copy()
    cr.manual_seed(7)
    np.testing.assert_array_equal(Conv2d(2, 3, 2).weight.data, a)


def test_conv_layer_state_dict_and_repr_follow_torch():
    torch = pytest.importorskip("torch")
    kw = {"stride": 2, "padding": 1, "groups": 2, "bias": False, "padding_mode": "reflect"}
    ours, theirs = Conv2d(4, 6, 3, **kw), torch.nn.Conv2d(4, 6, 3, **kw)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    assert repr(Conv1d(1, 2, 3)) == repr(torch.nn.Conv1d(1, 2, 3))
    assert repr(Conv2d(1, 2, 3, padding="same")) == repr(torch.nn.Conv2d(1, 2, 3, padding="same"))


def test_pooling_layers_match_torch():
    torch = pytest.importorskip("torch")
    x2, x1 = distinct((2, 3, 7, 6), seed=5), distinct((2, 3, 9), seed=6)
    pairs = [
        (MaxPool2d(3, 2, 1, ceil_mode=True), torch.nn.MaxPool2d(3, 2, 1, ceil_mode=True), x2),
        (MaxPool1d(2), torch.nn.MaxPool1d(2), x1),
        (
            AvgPool2d((2, 3), padding=1, count_include_pad=False),
            torch.nn.AvgPool2d((2, 3), padding=1, count_include_pad=False),
            x2,
        ),
        (AvgPool2d(2, divisor_override=3), torch.nn.AvgPool2d(2, divisor_override=3), x2),
        (AvgPool1d(3, 2, 1), torch.nn.AvgPool1d(3, 2, 1), x1),
        (AdaptiveAvgPool2d((3, None)), torch.nn.AdaptiveAvgPool2d((3, None)), x2),
    ]
    for layer, tlayer, x in pairs:
        layer_vs_torch(torch, layer, tlayer, x)
    _, idx = MaxPool2d(2, return_indices=True)(cr.tensor(x2))
    _, idx_t = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x2))
    np.testing.assert_array_equal(idx.data, idx_t.numpy())
    assert repr(MaxPool2d(2)) == repr(torch.nn.MaxPool2d(2))


@pytest.mark.parametrize("momentum", [0.1, None])
def test_batch_norm2d_training_steps_and_running_stats_match_torch(momentum):
    torch = pytest.importorskip("torch")
    tb = torch.nn.BatchNorm2d(3, eps=1e-3, momentum=momentum).double()
    with torch.no_grad():
        tb.weight.copy_(torch.tensor(rng(16).standard_normal(3)))
        tb.bias.copy_(torch.tensor(rng(17).standard_normal(3)))
    bn = BatchNorm2d(3, eps=1e-3, momentum=momentum, dtype=F64)
    copy_from_torch(bn, tb)
    r = rng(18)
    for step in range(3):
        bn.zero_grad()
        tb.zero_grad()
        layer_vs_torch(torch, bn, tb, 2.0 + 3.0 * r.standard_normal((4, 3, 5, 2)))
        np.testing.assert_allclose(bn.running_mean.data, tb.running_mean.numpy(), rtol=1e-12, err_msg=f"step {step}")
        np.testing.assert_allclose(bn.running_var.data, tb.running_var.numpy(), rtol=1e-12, err_msg=f"step {step}")
    bn.eval()
    tb.eval()
    bn.zero_grad()
    tb.zero_grad()
    layer_vs_torch(torch, bn, tb, r.standard_normal((2, 3, 4, 4)))
    assert int(bn.num_batches_tracked.item()) == 3


def test_batch_norm2d_normalises_each_channel_over_batch_and_space():
    x = rng(19).standard_normal((4, 2, 3, 5)) * np.array([1.0, 7.0])[:, None, None] + 3.0
    y = BatchNorm2d(2, eps=0.0, dtype=F64)(cr.tensor(x)).data
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1.0, rtol=1e-12)


def test_layer_errors_name_the_layer():
    net = Sequential()
    net.conv1 = Conv2d(3, 8, 3)
    with pytest.raises(ValueError, match=r"Conv2d\(conv1\): expected input with 3 channels, got 1"):
        net(cr.randn(2, 1, 8, 8))
    with pytest.raises(
        ValueError, match=r"Conv2d\(conv1\): expected a 3-d \(C, H, W\) or 4-d \(N, C, H, W\) input, got a 2-d"
    ):
        net(cr.randn(8, 8))
    with pytest.raises(
        ValueError, match=r"Conv2d\(conv1\): kernel size \(3, 3\) is larger than the padded input \(2, 5\)"
    ):
        net(cr.randn(1, 3, 2, 5))
    with pytest.raises(TypeError, match=r"Conv2d\(conv1\): input dtype float64 does not match weight dtype float32"):
        net(cr.randn(1, 3, 5, 5, dtype=F64))
    net.c1d = Conv1d(2, 2, 3, dilation=3)
    with pytest.raises(ValueError, match=r"Conv1d\(c1d\): kernel size \(3,\) \(dilated to \(7,\)\) is larger"):
        net.c1d(cr.randn(1, 2, 6))
    net.pool = MaxPool2d(2)
    with pytest.raises(ValueError, match=r"MaxPool2d\(pool\): expected a 3-d \(C, H, W\) or 4-d"):
        net.pool(cr.randn(2, 2, 2, 2, 2))
    with pytest.raises(
        ValueError, match=r"MaxPool2d\(pool\): kernel_size \(2, 2\) .* larger than the padded input \(1, 4\)"
    ):
        net.pool(cr.randn(1, 1, 1, 4))
    net.bn = BatchNorm2d(4)
    with pytest.raises(ValueError, match=r"BatchNorm2d\(bn\): expected a 4-d input \(N, C, H, W\), got a 2-d"):
        net.bn(cr.randn(3, 4))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(bn\): expected input with 4 channels, got 3"):
        net.bn(cr.randn(2, 3, 2, 2))
    assert net.bn.num_batches_tracked.item() == 0
    with pytest.raises(ValueError, match="BatchNorm2d: num_features must be a positive int"):
        BatchNorm2d(0)
    net.reflect = Conv2d(1, 1, 3, padding=3, padding_mode="reflect")
    with pytest.raises(
        ValueError, match=r"Conv2d\(reflect\): padding \(3, 3\) is too large for padding_mode='reflect'"
    ):
        net.reflect(cr.randn(1, 1, 3, 8))


def test_constructor_argument_errors():
    with pytest.raises(ValueError, match=r"Conv2d: stride must be >= 1 in every dimension, got 0"):
        Conv2d(1, 1, 3, stride=0)
    with pytest.raises(ValueError, match=r"Conv2d: padding must be >= 0 in every dimension, got -1"):
        Conv2d(1, 1, 3, padding=-1)
    with pytest.raises(ValueError, match=r"Conv2d: padding='same' is not supported for strided convolutions"):
        Conv2d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match=r"Conv2d: padding must be 'valid', 'same'"):
        Conv2d(1, 1, 3, padding="full")
    with pytest.raises(ValueError, match=r"Conv2d: in_channels \(3\) must be divisible by groups \(2\)"):
        Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match=r"Conv1d: out_channels \(3\) must be divisible by groups \(2\)"):
        Conv1d(2, 3, 3, groups=2)
    with pytest.raises(TypeError, match=r"Conv2d: kernel_size must be an int or a tuple of 2 ints, got \(3, 3, 3\)"):
        Conv2d(1, 1, (3, 3, 3))
    with pytest.raises(ValueError, match=r"Conv2d: padding_mode must be one of"):
        Conv2d(1, 1, 3, padding_mode="mirror")
    with pytest.raises(TypeError, match="Conv2d: in_channels must be an int"):
        Conv2d(1.5, 1, 3)
    with pytest.raises(ValueError, match=r"MaxPool2d: padding \(2, 2\) should be at most half of kernel_size \(3, 3\)"):
        MaxPool2d(3, padding=2)
    with pytest.raises(ValueError, match="AvgPool2d: divisor_override must be a nonzero int"):
        AvgPool2d(2, divisor_override=0)
    with pytest.raises(ValueError, match="AdaptiveAvgPool2d: output_size must hold positive ints"):
        AdaptiveAvgPool2d(0)


def test_functional_errors_name_the_op():
    x, w = cr.randn(2, 3, 5, 5), cr.randn(4, 3, 3, 3)
    with pytest.raises(
        ValueError, match=r"conv2d: expected input with 6 channels \(weight of shape \(4, 3, 3, 3\), groups=2\)"
    ):
        F.conv2d(cr.randn(2, 3, 5, 5), cr.randn(4, 3, 3, 3), groups=2)
    with pytest.raises(ValueError, match=r"conv2d: bias must have shape \(4,\) \(out_channels\), got \(3,\)"):
        F.conv2d(x, w, cr.randn(3))
    with pytest.raises(ValueError, match=r"conv2d: expected a 4-d weight"):
        F.conv2d(x, cr.randn(4, 3, 3))
    with pytest.raises(ValueError, match="conv2d: padding='same' is not supported for strided convolutions"):
        F.conv2d(x, w, padding="same", stride=2)
    with pytest.raises(ValueError, match="conv1d: dilation must be >= 1"):
        F.conv1d(cr.randn(1, 3, 5), cr.randn(1, 3, 2), dilation=0)
    with pytest.raises(ValueError, match=r"conv2d: groups must be a positive int"):
        F.conv2d(x, w, groups=0)
    with pytest.raises(TypeError, match=r"conv2d: input must be a floating-point tensor, got dtype int64"):
        F.conv2d(cr.tensor(np.ones((1, 3, 5, 5), dtype=np.int64)), w)
    with pytest.raises(TypeError, match=r"conv2d: input dtype float32 does not match weight dtype float64"):
        F.conv2d(x, w.double())
    with pytest.raises(ValueError, match=r"avg_pool2d: padding \(2, 2\) should be at most half"):
        F.avg_pool2d(x, 3, padding=2)
    with pytest.raises(ValueError, match=r"max_pool1d: expected a 2-d \(C, L\) or 3-d \(N, C, L\) input"):
        F.max_pool1d(x, 2)
    with pytest.raises(ValueError, match="adaptive_avg_pool2d: output_size must be an int or a tuple of 2"):
        F.adaptive_avg_pool2d(x, (1, 2, 3))


def test_float32_stays_float32_through_a_small_cnn_and_its_gradients():
    cr.manual_seed(0)
    net = Sequential(
        Conv2d(1, 4, 3, padding=1),
        BatchNorm2d(4),
        ReLU(),
        MaxPool2d(2),
        Dropout2d(0.2),
        Conv2d(4, 6, 3, groups=2, padding="same"),
        AvgPool2d(2, ceil_mode=True, count_include_pad=False),
        AdaptiveAvgPool2d(1),
        Flatten(),
        Linear(6, 3),
    )
    x = cr.randn(5, 1, 9, 9, requires_grad=True)
    y = net(x)
    y.sum().backward()
    assert y.shape == (5, 3) and y.dtype == np.float32 and x.grad.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in net.parameters())


def test_a_small_cnn_learns_to_tell_vertical_from_horizontal_bars():
    """A few SGD steps on a 2-class toy problem: the training loss falls by more than half."""
    cr.manual_seed(1)
    r = rng(20)
    imgs, labels = np.zeros((32, 1, 6, 6), dtype=np.float32), np.arange(32) % 2
    for i, lab in enumerate(labels):
        k = r.integers(0, 6)
        if lab:
            imgs[i, 0, :, k] = 1.0
        else:
            imgs[i, 0, k, :] = 1.0
    imgs += 0.1 * r.standard_normal(imgs.shape).astype(np.float32)
    net = Sequential(
        Conv2d(1, 4, 3, padding=1), ReLU(), MaxPool2d(2), Conv2d(4, 4, 3), AdaptiveAvgPool2d(1), Flatten(), Linear(4, 2)
    )
    x, t = cr.tensor(imgs), cr.tensor(labels)
    opt = cr.optim.SGD(net.parameters(), lr=0.5, momentum=0.9)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = F.cross_entropy(net(x), t)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
