"""The im2col primitives: unfold against a direct loop, fold as its exact transpose
(⟨unfold x, y⟩ = ⟨x, fold y⟩), the memory layout that makes the convolution one GEMM, the public
``unfold``/``fold`` against PyTorch's, dtypes and errors. (Gradients to second order in both modes
are checked by the registry harness, tests/ops/test_registry.py, with the samplers in specs.py.)"""

import contextlib
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr
import chainrule.ops.convolution as C
from chainrule.ops.convolution import _fold, _unfold, fold, fold_, unfold, unfold_
from chainrule.testing import gradcheck, gradgradcheck

from .specs import _windows, conv_geometry, window_geometry

F64 = "float64"


def unfold_loop(x, kernel, stride, dilation, padding):
    """y[n, c, k, o] = x[n, c, o·s + k·d - lo] (0 in the padding), one element at a time."""
    n, c, *size = x.shape
    out = [
        (m + lo + hi - dl * (k - 1) - 1) // s + 1
        for m, k, s, dl, (lo, hi) in zip(size, kernel, stride, dilation, padding, strict=True)
    ]
    y = np.zeros((n, c, *kernel, *out))
    for k in itertools.product(*(range(a) for a in kernel)):
        for o in itertools.product(*(range(a) for a in out)):
            pos = [
                oi * s + ki * dl - lo for oi, ki, s, dl, (lo, _) in zip(o, k, stride, dilation, padding, strict=True)
            ]
            if all(0 <= p < m for p, m in zip(pos, size, strict=True)):
                y[(slice(None), slice(None), *k, *o)] = x[(slice(None), slice(None), *pos)]
    return y


def fold_loop(y, size, stride, dilation, padding):
    """x[n, c, i] = Σ over (k, o) reading position i of y[n, c, k, o], one element at a time."""
    d = len(size)
    kernel, out = y.shape[2 : 2 + d], y.shape[2 + d :]
    x = np.zeros((*y.shape[:2], *size))
    for k in itertools.product(*(range(a) for a in kernel)):
        for o in itertools.product(*(range(a) for a in out)):
            pos = [
                oi * s + ki * dl - lo for oi, ki, s, dl, (lo, _) in zip(o, k, stride, dilation, padding, strict=True)
            ]
            if all(0 <= p < m for p, m in zip(pos, size, strict=True)):
                x[(slice(None), slice(None), *pos)] += y[(slice(None), slice(None), *k, *o)]
    return x


def _params(g):
    return g["kernel"], g["stride"], g["dilation"], g["padding"]


@given(g=window_geometry(), seed=st.integers(0, 2**32 - 1))
def test_unfold_and_fold_match_direct_loops(g, seed):
    r = np.random.default_rng(seed)
    k, s, dl, p = _params(g)
    x = r.standard_normal((*g["batch"], *g["size"]))
    np.testing.assert_array_equal(_unfold(x, k, s, dl, p), unfold_loop(x, k, s, dl, p))
    y = r.standard_normal((*g["batch"], *k, *_windows(g)))
    np.testing.assert_allclose(_fold(y, g["size"], s, dl, p), fold_loop(y, g["size"], s, dl, p), rtol=1e-13, atol=1e-13)


@given(g=window_geometry(), seed=st.integers(0, 2**32 - 1))
def test_fold_is_the_transpose_of_unfold(g, seed):
    """⟨unfold x, y⟩ = ⟨x, fold y⟩ for every x, y: fold is exactly Uᵀ."""
    r = np.random.default_rng(seed)
    k, s, dl, p = _params(g)
    x = r.standard_normal((*g["batch"], *g["size"]))
    y = r.standard_normal((*g["batch"], *k, *_windows(g)))
    lhs = np.vdot(_unfold(x, k, s, dl, p), y)
    rhs = np.vdot(x, _fold(y, g["size"], s, dl, p))
    assert abs(lhs - rhs) <= 1e-12 * (1.0 + np.abs(x).sum() * np.abs(y).max())
    # the same through the primitives, as Tensors
    ux = unfold_(cr.tensor(x), kernel=k, stride=s, dilation=dl, padding=p)
    fy = fold_(cr.tensor(y), size=g["size"], stride=s, dilation=dl, padding=p)
    np.testing.assert_allclose(np.vdot(ux.data, y), np.vdot(x, fy.data), rtol=1e-12, atol=1e-12)


def test_fold_of_ones_counts_how_often_each_position_is_read():
    # 1-d, size 5, kernel 3, stride 1, padding 1: positions 0 and 4 are read twice, the rest 3 times
    ones = np.ones((1, 1, 3, 5))
    np.testing.assert_array_equal(_fold(ones, (5,), (1,), (1,), ((1, 1),))[0, 0], [2, 3, 3, 3, 2])
    # stride 2, kernel 2, no overlap: every position read exactly once
    np.testing.assert_array_equal(_fold(np.ones((1, 1, 2, 2, 2, 2)), (4, 4), (2, 2), (1, 1), ((0, 0),) * 2), 1)


def test_unfold_layout_makes_the_gemm_operand_a_free_view():
    """The (C·K, N·L) matrix of the convolution's GEMM is a reshape of unfold's result that
    copies nothing, for any grouping of the channels."""
    x = np.random.default_rng(0).standard_normal((3, 4, 6, 5))
    cols = _unfold(x, (2, 3), (1, 2), (1, 1), ((1, 0), (0, 1)))
    n, c, kh, kw, oh, ow = cols.shape
    moved = cols.transpose(1, 2, 3, 0, 4, 5)
    for groups in (1, 2, 4):
        mat = moved.reshape(groups, c // groups * kh * kw, n * oh * ow)
        assert np.shares_memory(mat, cols) and mat.base is not None
    assert np.shares_memory(moved.reshape(c * kh * kw, n * oh * ow), cols)


def test_fold_accepts_any_memory_layout():
    r = np.random.default_rng(1)
    y = r.standard_normal((2, 3, 2, 2, 4, 3))
    y_f = np.asfortranarray(y)
    y_t = np.ascontiguousarray(y.transpose(5, 4, 3, 2, 1, 0)).transpose(5, 4, 3, 2, 1, 0)
    want = _fold(np.ascontiguousarray(y), (5, 4), (1, 1), (1, 1), ((0, 0), (0, 0)))
    for v in (y_f, y_t):
        np.testing.assert_array_equal(_fold(v, (5, 4), (1, 1), (1, 1), ((0, 0), (0, 0))), want)


# --- the fused convolution: the composite it replaces, its transposes, chunking ----------------


def composite_conv(x, w, g):
    """The three products the fused primitives compute, from the loop im2col and einsum:
    conv = W · cols, input grad = fold(Wᵀ · G), weight grad = G · colsᵀ (per group)."""
    n, c = x.shape[:2]
    o, cg, *kernel = w.shape
    groups = c // cg
    k, s, dl, p = tuple(kernel), g["stride"], g["dilation"], g["padding"]
    cols = unfold_loop(x, k, s, dl, p)  # (N, C, *K, *O)
    out = cols.shape[2 + len(k) :]
    cols = cols.reshape(n, groups, cg * int(np.prod(k)), -1)  # (N, G, cg·K, L)
    w3 = w.reshape(groups, o // groups, -1)  # (G, og, cg·K)
    y = np.einsum("gok,ngkl->ngol", w3, cols).reshape(n, o, *out)
    return y, cols, w3, out


@given(geo=conv_geometry(), seed=st.integers(0, 2**32 - 1), chunk=st.sampled_from([1, 200, C.CHUNK_BYTES]))
def test_fused_conv_matches_the_unfold_matmul_composite(geo, seed, chunk):
    """conv, conv_input_grad and conv_weight_grad against im2col + einsum, with chunks of every
    size (1 byte: one sample per chunk; 200 bytes: a few samples and a smaller last chunk)."""
    with chunk_bytes(chunk):
        check_fused_against_composite(geo, seed)


@contextlib.contextmanager
def chunk_bytes(value):
    saved, C.CHUNK_BYTES = C.CHUNK_BYTES, value
    try:
        yield
    finally:
        C.CHUNK_BYTES = saved


def check_fused_against_composite(geo, seed):
    r = np.random.default_rng(seed)
    n, groups, k = geo["n"] + 2, geo["groups"], geo["kernel"]
    x = r.standard_normal((n, geo["c"], *geo["size"]))
    w = r.standard_normal((geo["o"], geo["cg"], *k))
    y_ref, cols, w3, out = composite_conv(x, w, geo)
    params = (geo["stride"], geo["dilation"], geo["padding"], groups)
    np.testing.assert_allclose(C._conv_raw(x, w, *params), y_ref, rtol=1e-12, atol=1e-12)
    gy = r.standard_normal(y_ref.shape)
    g3 = gy.reshape(n, groups, geo["o"] // groups, -1)  # (N, G, og, L)
    dcols = np.einsum("gok,ngol->ngkl", w3, g3).reshape(n, geo["c"], *k, *out)
    x_bar = fold_loop(dcols, geo["size"], geo["stride"], geo["dilation"], geo["padding"])
    np.testing.assert_allclose(C._conv_input_grad_raw(gy, w, geo["size"], *params), x_bar, rtol=1e-12, atol=1e-12)
    w_bar = np.einsum("ngol,ngkl->gok", g3, cols).reshape(w.shape)
    np.testing.assert_allclose(C._conv_weight_grad_raw(x, gy, k, *params), w_bar, rtol=1e-12, atol=1e-12)


def test_fused_conv_chunks_with_a_smaller_last_chunk():
    """7 samples in chunks of 3, 3 and 1: every product matches the single-chunk result."""
    geo = {"n": 5, "c": 4, "o": 6, "cg": 2, "groups": 2, "size": (5, 4), "kernel": (2, 3)}
    geo |= {"stride": (2, 1), "dilation": (1, 2), "padding": ((1, 0), (2, 1))}
    per_sample = 4 * 6 * 9 * 8  # C·∏K·L float64 bytes of one sample's columns (3x3 windows)
    with chunk_bytes(3 * per_sample):
        from chainrule.ops.convolution import _Geometry

        g = _Geometry(7, 4, (5, 4), 6, (2, 3), geo["stride"], geo["dilation"], geo["padding"], 2)
        assert g.chunks(8) == ([(0, 3), (3, 6), (6, 7)], 3)
        check_fused_against_composite(geo, seed=11)


@given(geo=conv_geometry(), seed=st.integers(0, 2**32 - 1))
def test_the_three_fused_products_are_transposes_of_each_other(geo, seed):
    """⟨conv(x, W), G⟩ = ⟨x, conv_input_grad(G, W)⟩ = ⟨W, conv_weight_grad(x, G)⟩."""
    r = np.random.default_rng(seed)
    params = (geo["stride"], geo["dilation"], geo["padding"], geo["groups"])
    x = r.standard_normal((geo["n"], geo["c"], *geo["size"]))
    w = r.standard_normal((geo["o"], geo["cg"], *geo["kernel"]))
    y = C._conv_raw(x, w, *params)
    gy = r.standard_normal(y.shape)
    a = np.vdot(y, gy)
    b = np.vdot(x, C._conv_input_grad_raw(gy, w, geo["size"], *params))
    c = np.vdot(w, C._conv_weight_grad_raw(x, gy, geo["kernel"], *params))
    scale = 1.0 + np.abs(x).sum() * np.abs(w).sum() * np.abs(gy).max()
    assert abs(a - b) <= 1e-12 * scale and abs(a - c) <= 1e-12 * scale


def test_fused_conv_keeps_float32_and_its_layout():
    x = np.random.default_rng(4).standard_normal((3, 4, 6, 6)).astype(np.float32)
    w = np.random.default_rng(5).standard_normal((6, 2, 3, 3)).astype(np.float32)
    pads = ((1, 1), (1, 1))
    y = C._conv_raw(x, w, (1, 1), (1, 1), pads, 2)
    assert y.dtype == np.float32 and y.shape == (3, 6, 6, 6)
    assert np.swapaxes(y, 0, 1).flags.c_contiguous  # laid out (O, N, *O_sp): the GEMM's output, no copy
    g = np.ones_like(y)
    assert C._conv_input_grad_raw(g, w, (6, 6), (1, 1), (1, 1), pads, 2).dtype == np.float32
    assert C._conv_weight_grad_raw(x, g, (3, 3), (1, 1), (1, 1), pads, 2).dtype == np.float32


def test_fused_primitives_check_their_shapes():
    x, w = np.ones((1, 4, 5, 5)), np.ones((2, 3, 3, 3))
    pads = ((0, 0), (0, 0))
    with pytest.raises(ValueError, match=r"conv: the weight \(2, 3, 3, 3\) with groups=1 expects 3 input channels"):
        C.conv_(cr.tensor(x), cr.tensor(w), stride=(1, 1), dilation=(1, 1), padding=pads, groups=1)
    with pytest.raises(ValueError, match="conv_input_grad: gradient of shape"):
        C.conv_input_grad_(
            cr.ones(1, 2, 4, 4), cr.tensor(w), size=(5, 5), stride=(1, 1), dilation=(1, 1), padding=pads, groups=1
        )
    with pytest.raises(ValueError, match="conv_weight_grad: gradient of shape"):
        C.conv_weight_grad_(
            cr.ones(1, 3, 5, 5),
            cr.ones(1, 2, 4, 4),
            kernel=(3, 3),
            stride=(1, 1),
            dilation=(1, 1),
            padding=pads,
            groups=1,
        )


@pytest.mark.parametrize(
    "kw",
    [
        {"kernel_size": 2},
        {"kernel_size": (2, 3), "dilation": (2, 1), "padding": 1, "stride": (2, 1)},
        {"kernel_size": 3, "padding": 2, "stride": 3},
        {"kernel_size": (1, 4), "padding": (0, 2), "dilation": (1, 2)},
    ],
)
def test_public_unfold_and_fold_match_torch(kw):
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(2)
    x_np = r.standard_normal((2, 3, 7, 6))
    x, xt = cr.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    u, ut = unfold(x, **kw), torch.nn.functional.unfold(xt, **kw)
    np.testing.assert_array_equal(u.data, ut.detach().numpy())
    g = r.standard_normal(u.shape)
    u.backward(cr.tensor(g))
    ut.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-14, atol=1e-14)

    c_np = r.standard_normal(u.shape)
    c, ct = cr.tensor(c_np, requires_grad=True), torch.tensor(c_np, requires_grad=True)
    f, ft = fold(c, (7, 6), **kw), torch.nn.functional.fold(ct, (7, 6), **kw)
    np.testing.assert_allclose(f.data, ft.detach().numpy(), rtol=1e-14, atol=1e-14)
    g = r.standard_normal(f.shape)
    f.backward(cr.tensor(g))
    ft.backward(torch.tensor(g))
    np.testing.assert_array_equal(c.grad.data, ct.grad.numpy())


def test_public_unfold_gradcheck_first_and_second_order():
    x = cr.tensor(np.random.default_rng(3).standard_normal((1, 2, 4, 3)))
    assert gradcheck(lambda t: unfold(t, (2, 2), padding=1, stride=(2, 1)), (x,))
    assert gradgradcheck(lambda t: unfold(t, (2, 2), padding=1, stride=(2, 1)) ** 2, (x,))


def test_unfold_fold_keep_float32_in_both_directions():
    x = cr.randn(2, 3, 5, 5, requires_grad=True)
    u = unfold(x, 3, padding=1)
    assert u.dtype == np.float32
    f = fold(u, (5, 5), 3, padding=1)
    assert f.dtype == np.float32
    f.sum().backward()
    assert x.grad.dtype == np.float32


def test_unfold_and_fold_errors_name_the_op_and_shapes():
    x = cr.randn(1, 2, 4, 4)
    with pytest.raises(
        ValueError, match=r"unfold: the dilated kernel \(5, 5\) is larger than the padded input \(4, 4\)"
    ):
        unfold(x, 3, dilation=2)
    with pytest.raises(ValueError, match=r"unfold: stride must be >= 1 in every dimension, got 0"):
        unfold(x, 2, stride=0)
    with pytest.raises(ValueError, match=r"unfold: padding must be >= 0"):
        unfold(x, 2, padding=-1)
    with pytest.raises(TypeError, match=r"unfold: kernel_size must be an int or a tuple of 2 ints, got \(2, 2, 2\)"):
        unfold(x, (2, 2, 2))
    with pytest.raises(ValueError, match=r"unfold: expected an input of shape \(N, C, \*spatial\)"):
        unfold(cr.randn(4, 4), 2)
    with pytest.raises(ValueError, match=r"fold: expected an input of shape \(N, C·4, 9\) .* got \(1, 8, 10\)"):
        fold(cr.randn(1, 8, 10), (4, 4), 2, stride=1)
    with pytest.raises(ValueError, match=r"unfold: .*does not fit"):  # the primitive checks too, naming itself
        unfold_(x, kernel=(5, 5), stride=(1, 1), dilation=(1, 1), padding=((0, 0), (0, 0)))
    with pytest.raises(ValueError, match="fold: patches of shape"):
        fold_(cr.randn(1, 2, 2, 2, 3, 3), size=(5, 5), stride=(1, 1), dilation=(1, 1), padding=((0, 0), (0, 0)))
