"""Recurrent cells and layers against PyTorch (same state_dict, float64: outputs, final states and
gradients w.r.t. input, initial state and every parameter), against finite differences (gradcheck
of each cell), the Jacobian-norm diagnostic against closed forms, a long unroll, truncated BPTT
and the errors, which must name the layer."""

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.nn.rnn import (
    GRU,
    LSTM,
    RNN,
    GRUCell,
    LSTMCell,
    RNNCell,
    detach_state,
    hidden_state_jacobian_norms,
)
from chainrule.nn.utils import functional_call
from chainrule.testing import gradcheck

F64 = "float64"
RTOL, ATOL = 1e-10, 1e-12


def rng(seed=0):
    return np.random.default_rng(seed)


def leaf(arr):
    return cr.tensor(arr, dtype=F64, requires_grad=True)


def torch_leaf(torch, arr):
    return torch.tensor(arr, dtype=torch.float64, requires_grad=True)


def load_from_torch(module, torch_module):
    module.load_state_dict({k: v.detach().numpy() for k, v in torch_module.state_dict().items()})


def close(a, b, msg=""):
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=msg)


def assert_param_grads(module, torch_module):
    tparams = dict(torch_module.named_parameters())
    assert [n for n, _ in module.named_parameters()] == list(tparams)
    for name, p in module.named_parameters():
        close(p.grad.data, tparams[name].grad.numpy(), name)


def backward_both(outs, touts, seed=7):
    """Backpropagate the same random linear functional Σ gᵢ ⊙ outᵢ through both frameworks."""
    r = rng(seed)
    loss, tloss = 0.0, 0.0
    for o, to in zip(outs, touts, strict=True):
        close(o.data, to.detach().numpy())
        g = r.standard_normal(o.shape)
        loss = loss + cr.sum(o * cr.tensor(g, dtype=F64))
        tloss = tloss + (to * to.new_tensor(g)).sum()
    loss.backward()
    tloss.backward()


# --- cells against PyTorch ------------------------------------------------------------------------

CELLS = [
    ("rnn_tanh", lambda b: RNNCell(3, 4, bias=b, dtype=F64), lambda t, b: t.nn.RNNCell(3, 4, bias=b)),
    (
        "rnn_relu",
        lambda b: RNNCell(3, 4, bias=b, nonlinearity="relu", dtype=F64),
        lambda t, b: t.nn.RNNCell(3, 4, bias=b, nonlinearity="relu"),
    ),
    ("lstm", lambda b: LSTMCell(3, 4, bias=b, dtype=F64), lambda t, b: t.nn.LSTMCell(3, 4, bias=b)),
    ("gru", lambda b: GRUCell(3, 4, bias=b, dtype=F64), lambda t, b: t.nn.GRUCell(3, 4, bias=b)),
]


@pytest.mark.parametrize("name,make,make_torch", CELLS, ids=[c[0] for c in CELLS])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_state", [True, False])
def test_cell_matches_torch(name, make, make_torch, bias, batched, with_state):
    torch = pytest.importorskip("torch")
    tcell = make_torch(torch, bias).double()
    cell = make(bias)
    load_from_torch(cell, tcell)
    r = rng(1)
    lead = (2,) if batched else ()
    x_np = r.standard_normal((*lead, 3))
    x, xt = leaf(x_np), torch_leaf(torch, x_np)
    states, tstates = [], []
    if with_state:
        for _ in range(2 if name == "lstm" else 1):
            s = r.standard_normal((*lead, 4))
            states.append(leaf(s))
            tstates.append(torch_leaf(torch, s))
    hx = None if not with_state else (tuple(states) if name == "lstm" else states[0])
    thx = None if not with_state else (tuple(tstates) if name == "lstm" else tstates[0])
    out, tout = cell(x, hx), tcell(xt, thx)
    outs = list(out) if name == "lstm" else [out]
    touts = list(tout) if name == "lstm" else [tout]
    for o in outs:
        assert o.shape == (*lead, 4) and o.dtype == np.float64
    backward_both(outs, touts)
    close(x.grad.data, xt.grad.numpy(), "input")
    for s, ts in zip(states, tstates, strict=True):
        close(s.grad.data, ts.grad.numpy(), "state")
    assert_param_grads(cell, tcell)


# --- layers against PyTorch -----------------------------------------------------------------------

LAYER_CONFIGS = [
    # num_layers, bidirectional, batch_first, batched, with_h0, bias
    (1, False, False, True, False, True),
    (1, False, False, True, True, False),
    (2, False, False, True, True, True),
    (1, True, True, True, False, True),
    (2, True, False, True, True, True),
    (2, True, True, True, False, True),
    (2, True, False, False, True, True),
    (1, False, True, False, False, True),
]
MODES = ["rnn_tanh", "rnn_relu", "lstm", "gru"]


def make_layers(torch, mode, **kw):
    if mode.startswith("rnn"):
        nl = mode.split("_")[1]
        return RNN(3, 4, nonlinearity=nl, dtype=F64, **kw), torch.nn.RNN(3, 4, nonlinearity=nl, **kw).double()
    if mode == "lstm":
        return LSTM(3, 4, dtype=F64, **kw), torch.nn.LSTM(3, 4, **kw).double()
    return GRU(3, 4, dtype=F64, **kw), torch.nn.GRU(3, 4, **kw).double()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "config", LAYER_CONFIGS, ids=lambda c: "L{}-bi{:d}-bf{:d}-batch{:d}-h0{:d}-bias{:d}".format(*c)
)
def test_layer_matches_torch(mode, config):
    torch = pytest.importorskip("torch")
    num_layers, bidir, batch_first, batched, with_h0, bias = config
    kw = dict(num_layers=num_layers, bidirectional=bidir, batch_first=batch_first, bias=bias)
    layer, tlayer = make_layers(torch, mode, **kw)
    load_from_torch(layer, tlayer)
    r = rng(2)
    T, N, D = 5, 2, 2 if bidir else 1
    if not batched:
        shape = (T, 3)
    else:
        shape = (N, T, 3) if batch_first else (T, N, 3)
    x_np = r.standard_normal(shape)
    x, xt = leaf(x_np), torch_leaf(torch, x_np)
    state_shape = (num_layers * D, N, 4) if batched else (num_layers * D, 4)
    states, tstates = [], []
    if with_h0:
        for _ in range(2 if mode == "lstm" else 1):
            s = r.standard_normal(state_shape)
            states.append(leaf(s))
            tstates.append(torch_leaf(torch, s))
    hx = None if not with_h0 else (tuple(states) if mode == "lstm" else states[0])
    thx = None if not with_h0 else (tuple(tstates) if mode == "lstm" else tstates[0])
    out, hn = layer(x, hx)
    tout, thn = tlayer(xt, thx)
    outs = [out, *hn] if mode == "lstm" else [out, hn]
    touts = [tout, *thn] if mode == "lstm" else [tout, thn]
    assert out.shape == tuple(tout.shape)
    for o, to in zip(outs[1:], touts[1:], strict=True):
        assert o.shape == tuple(to.shape) == state_shape
    backward_both(outs, touts)
    close(x.grad.data, xt.grad.numpy(), "input")
    for s, ts in zip(states, tstates, strict=True):
        close(s.grad.data, ts.grad.numpy(), "initial state")
    assert_param_grads(layer, tlayer)


@pytest.mark.parametrize("mode", MODES)
def test_parameter_names_shapes_and_state_dict_match_torch(mode):
    torch = pytest.importorskip("torch")
    layer, tlayer = make_layers(torch, mode, num_layers=2, bidirectional=True)
    ours = {k: v.shape for k, v in layer.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in tlayer.state_dict().items()}
    assert list(ours) == list(theirs) and ours == theirs


def test_dropout_between_layers():
    torch = pytest.importorskip("torch")
    layer, tlayer = make_layers(torch, "lstm", num_layers=2, dropout=0.5)
    load_from_torch(layer, tlayer)
    x_np = rng(3).standard_normal((4, 2, 3))
    layer.eval()
    tlayer.eval()
    close(layer(cr.tensor(x_np, dtype=F64))[0].data, tlayer(torch.tensor(x_np))[0].detach().numpy())
    layer.train()
    cr.manual_seed(0)
    a = layer(cr.tensor(x_np, dtype=F64))[0].data
    cr.manual_seed(0)
    b = layer(cr.tensor(x_np, dtype=F64))[0].data
    np.testing.assert_array_equal(a, b)  # reproducible from the seed
    assert not np.allclose(a, layer.eval()(cr.tensor(x_np, dtype=F64))[0].data)  # and active in training


def test_single_layer_dropout_warns():
    with pytest.warns(UserWarning, match="num_layers=1"):
        GRU(3, 4, dropout=0.2)


# --- init and dtype ---------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [lambda: RNNCell(5, 9), lambda: LSTMCell(5, 9), lambda: GRU(5, 9, num_layers=2)])
def test_default_init_is_uniform_in_bound_and_seeded(make):
    cr.manual_seed(4)
    a = make()
    cr.manual_seed(4)
    b = make()
    bound = 1 / math.sqrt(9)
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert p.dtype == np.float32, name
        assert np.abs(p.data).max() <= bound
        np.testing.assert_array_equal(p.data, q.data)
    flat = np.concatenate([p.data.ravel() for p in a.parameters()])
    # U(-b, b) has std b/√3; a few hundred draws pin it to within ~10 %
    assert abs(flat.std() - bound / math.sqrt(3)) < 0.1 * bound / math.sqrt(3)
    assert flat.min() < -0.8 * bound and flat.max() > 0.8 * bound


def test_float32_in_float32_out():
    lstm = LSTM(3, 4, num_layers=2, bidirectional=True)
    x = cr.randn(5, 2, 3, requires_grad=True)
    out, (h, c) = lstm(x)
    assert out.dtype == h.dtype == c.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in lstm.parameters())


# --- finite differences -----------------------------------------------------------------------------


@pytest.mark.parametrize("name,make,_", CELLS, ids=[c[0] for c in CELLS])
def test_cell_gradcheck(name, make, _):
    cr.manual_seed(5)
    cell = make(True)
    r = rng(5)
    x = r.standard_normal((2, 3))
    h = r.standard_normal((2, 4))
    c = r.standard_normal((2, 4))
    params = dict(cell.named_parameters())

    def f(x, h, c, w_ih, w_hh, b_ih, b_hh):
        new = dict(zip(params, (w_ih, w_hh, b_ih, b_hh), strict=True))
        out = functional_call(cell, new, x, (h, c) if name == "lstm" else h)
        return out if name == "lstm" else (out, c * 0.0)

    inputs = (x, h, c, *(p.data.copy() for p in params.values()))
    assert gradcheck(f, tuple(cr.tensor(a, dtype=F64) for a in inputs))


def test_layer_gradcheck_bidirectional_gru():
    cr.manual_seed(6)
    layer = GRU(2, 3, num_layers=2, bidirectional=True, dtype=F64)
    x = cr.tensor(rng(6).standard_normal((3, 1, 2)), dtype=F64)
    h0 = cr.tensor(rng(7).standard_normal((4, 1, 3)), dtype=F64)
    assert gradcheck(lambda x, h0: layer(x, h0), (x, h0))


# --- the Jacobian-norm diagnostic ---------------------------------------------------------------


def linear_cell(w):
    wt = cr.tensor(w, dtype=F64)
    return lambda x, h: cr.matmul(wt, h)


def test_jacobian_norms_linear_rnn_symmetric_is_spectral_radius_power():
    a = rng(8).standard_normal((4, 4))
    w = (a + a.T) / 2
    w = 0.9 * w / np.abs(np.linalg.eigvalsh(w)).max()  # ρ(W) = 0.9: a vanishing regime
    T = 12
    norms = hidden_state_jacobian_norms(linear_cell(w), cr.zeros(4, dtype=F64), cr.zeros(T, 1, dtype=F64))
    np.testing.assert_allclose(norms, 0.9 ** np.arange(1, T + 1), rtol=1e-12)


def test_jacobian_norms_linear_rnn_nonnormal_is_norm_of_power():
    w = np.array([[1.1, 2.0, 0.0], [0.0, 0.5, 1.0], [0.0, 0.0, -0.3]])  # non-normal: ‖Wᵀ‖ ≠ ρ(W)ᵀ
    T = 8
    norms = hidden_state_jacobian_norms(linear_cell(w), cr.ones(3, dtype=F64), [cr.zeros(1, dtype=F64)] * T)
    want = [np.linalg.norm(np.linalg.matrix_power(w, t), 2) for t in range(1, T + 1)]
    np.testing.assert_allclose(norms, want, rtol=1e-12)
    assert norms[-1] > 1.1**T  # transient growth beyond the spectral radius


@pytest.mark.parametrize("cls", [RNNCell, GRUCell, LSTMCell])
def test_jacobian_norms_match_direct_jacobian_of_unroll(cls):
    cr.manual_seed(9)
    cell = cls(2, 3, dtype=F64)
    xs = cr.tensor(rng(9).standard_normal((4, 2)), dtype=F64)
    h0 = cr.tensor(rng(10).standard_normal(3), dtype=F64)
    norms = hidden_state_jacobian_norms(cell, h0, xs)
    for T in range(1, 5):
        if cls is LSTMCell:

            def unroll(s, T=T):
                h, c = s[:3], s[3:]
                for t in range(T):
                    h, c = cell(xs[t], (h, c))
                return cr.concatenate([h, c])

            s0 = cr.concatenate([h0, cr.zeros(3, dtype=F64)])
        else:

            def unroll(s, T=T):
                for t in range(T):
                    s = cell(xs[t], s)
                return s

            s0 = h0
        jac = cr.jacrev(unroll)(s0).data
        np.testing.assert_allclose(norms[T - 1], np.linalg.norm(jac, 2), rtol=1e-10)


# --- long unrolls and truncated BPTT ------------------------------------------------------------


def test_long_unroll_backward_is_iterative():
    cr.manual_seed(11)
    rnn = RNN(1, 2, dtype=F64)
    x = cr.tensor(rng(11).standard_normal((1000, 1, 1)), dtype=F64, requires_grad=True)
    out, h = rnn(x)
    (out.sum() + h.sum()).backward()
    assert x.grad.shape == (1000, 1, 1) and np.isfinite(x.grad.data).all()
    assert all(np.isfinite(p.grad.data).all() for p in rnn.parameters())
    assert np.abs(x.grad.data[0]).max() > 0  # the gradient reached the first step


def test_detach_state_structures():
    a = cr.ones(2, requires_grad=True) * 2.0
    b = cr.ones(2, requires_grad=True) * 3.0
    assert detach_state(None) is None
    d = detach_state(a)
    assert not d.requires_grad and np.array_equal(d.data, a.data)
    pair = detach_state((a, [b]))
    assert isinstance(pair, tuple) and isinstance(pair[1], list)
    assert not pair[0].requires_grad and not pair[1][0].requires_grad
    with pytest.raises(TypeError, match="detach_state"):
        detach_state("h")


def test_truncated_bptt_stops_gradient_at_chunk_boundary():
    cr.manual_seed(12)
    lstm = LSTM(2, 3, dtype=F64)
    x1 = cr.tensor(rng(12).standard_normal((3, 1, 2)), dtype=F64, requires_grad=True)
    x2 = cr.tensor(rng(13).standard_normal((3, 1, 2)), dtype=F64, requires_grad=True)
    _, state = lstm(x1)
    out_full, _ = lstm(x2, state)
    out_trunc, _ = lstm(x2, detach_state(state))
    close(out_full.data, out_trunc.data)  # same values forward
    out_trunc.sum().backward()
    assert x1.grad is None  # no path back into the first chunk
    out_full.sum().backward()
    assert x1.grad is not None and np.abs(x1.grad.data).max() > 0


# --- errors -----------------------------------------------------------------------------------


def test_layer_errors_name_the_layer():
    class Net(cr.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = LSTM(8, 4, num_layers=2)

    net = Net()
    with pytest.raises(ValueError, match=r"LSTM\(rnn\): expected input with 8 features, got 5"):
        net.rnn(cr.zeros(3, 2, 5))
    with pytest.raises(ValueError, match=r"LSTM\(rnn\): expected a 2-d .* or 3-d .* got shape \(3,\)"):
        net.rnn(cr.zeros(3))
    with pytest.raises(ValueError, match=r"LSTM\(rnn\): expected h_0 of shape \(2, 2, 4\), got \(1, 2, 4\)"):
        net.rnn(cr.zeros(3, 2, 8), (cr.zeros(1, 2, 4), cr.zeros(2, 2, 4)))
    with pytest.raises(ValueError, match=r"expected c_0 of shape \(2, 4\), got \(2, 1, 4\)"):
        net.rnn(cr.zeros(3, 8), (cr.zeros(2, 4), cr.zeros(2, 1, 4)))
    with pytest.raises(TypeError, match=r"LSTM\(rnn\): hx must be a tuple"):
        net.rnn(cr.zeros(3, 2, 8), cr.zeros(2, 2, 4))
    with pytest.raises(TypeError, match=r"input dtype float64 does not match weight dtype float32"):
        net.rnn(cr.zeros(3, 2, 8, dtype=F64))
    with pytest.raises(TypeError, match="expected input to be a Tensor"):
        net.rnn(np.zeros((3, 2, 8)))
    with pytest.raises(ValueError, match="GRU: expected hx of shape"):
        GRU(2, 3, batch_first=True)(cr.zeros(4, 5, 2), cr.zeros(1, 5, 3))
    with pytest.raises(ValueError, match="sequence of length >= 1"):
        RNN(2, 3)(cr.zeros(0, 1, 2))


def test_cell_errors_name_the_cell():
    cell = GRUCell(3, 4)
    with pytest.raises(ValueError, match=r"GRUCell: expected input with 3 features, got 2"):
        cell(cr.zeros(5, 2))
    with pytest.raises(ValueError, match=r"GRUCell: expected hx of shape \(5, 4\), got \(5, 3\)"):
        cell(cr.zeros(5, 3), cr.zeros(5, 3))
    with pytest.raises(ValueError, match=r"expected a 1-d \(unbatched\) or 2-d"):
        cell(cr.zeros(1, 5, 3))
    with pytest.raises(TypeError, match=r"LSTMCell: hx must be a tuple"):
        LSTMCell(3, 4)(cr.zeros(5, 3), cr.zeros(5, 4))


@pytest.mark.parametrize(
    "build,exc,match",
    [
        (lambda: RNN(3, 4, nonlinearity="sigmoid"), ValueError, "RNN: unknown nonlinearity 'sigmoid'"),
        (lambda: RNNCell(3, 4, nonlinearity="gelu"), ValueError, "RNNCell: unknown nonlinearity"),
        (lambda: LSTM(3, 0), ValueError, "LSTM: hidden_size must be >= 1, got 0"),
        (lambda: GRU(3, 4, num_layers=0), ValueError, "GRU: num_layers must be >= 1"),
        (lambda: GRU(3.0, 4), TypeError, "GRU: input_size must be an int"),
        (lambda: LSTM(3, 4, dropout=1.5), ValueError, r"LSTM: dropout probability p must be in \[0, 1\)"),
        (lambda: RNN(3, 4, bidirectional=1), TypeError, "RNN: bidirectional must be a bool"),
        (lambda: GRUCell(3, 4, dtype="int64"), TypeError, "GRUCell: dtype must be a floating dtype"),
    ],
)
def test_constructor_errors(build, exc, match):
    with pytest.raises(exc, match=match):
        build()


def test_jacobian_norm_errors():
    with pytest.raises(ValueError, match="at least one input step"):
        hidden_state_jacobian_norms(linear_cell(np.eye(2)), cr.zeros(2, dtype=F64), [])
    with pytest.raises(ValueError, match="1-d initial state"):
        hidden_state_jacobian_norms(linear_cell(np.eye(2)), cr.zeros(1, 2, dtype=F64), [cr.zeros(1)])
    with pytest.raises(ValueError, match="same shape"):
        hidden_state_jacobian_norms(lambda x, h: h[:1], cr.zeros(2, dtype=F64), [cr.zeros(1)])


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_long_bidirectional_sequence_matches_torch(mode):
    """T = 37 steps sliced from the input projections, in both directions, over two layers."""
    torch = pytest.importorskip("torch")
    layer, tlayer = make_layers(torch, mode, num_layers=2, bidirectional=True)
    load_from_torch(layer, tlayer)
    x_np = rng(16).standard_normal((37, 2, 3))
    x, xt = leaf(x_np), torch_leaf(torch, x_np)
    out, hn = layer(x)
    tout, thn = tlayer(xt)
    outs = [out, *hn] if mode == "lstm" else [out, hn]
    touts = [tout, *thn] if mode == "lstm" else [tout, thn]
    backward_both(outs, touts)
    close(x.grad.data, xt.grad.numpy(), "input")
    assert_param_grads(layer, tlayer)


def _lstm_cell_composite(gates, c):
    i, f, g, o = cr.split(gates, c.shape[-1], axis=-1)
    c_new = cr.sigmoid(f) * c + cr.sigmoid(i) * cr.tanh(g)
    return cr.sigmoid(o) * cr.tanh(c_new), c_new


def test_fused_lstm_cell_matches_its_composite_to_second_order():
    """The fused cell against split → σ/tanh → products: values, gradients, Hessian-vector products
    and a forward-mode JVP, with the two outputs weighted differently so both halves count."""
    rng = np.random.default_rng(7)
    gates, c = rng.standard_normal((2, 3, 20)) * 2, rng.standard_normal((2, 3, 5))
    w_h, w_c = rng.standard_normal((2, 3, 5)), rng.standard_normal((2, 3, 5))

    def loss(cell):
        def f(a, b):
            h, c_new = cell(a, b)
            return (h * cr.tensor(w_h)).sum() + (c_new * c_new * cr.tensor(w_c)).sum()

        return f

    args = (cr.tensor(gates), cr.tensor(c))
    for ours, theirs in zip(cr.lstm_cell(*args), _lstm_cell_composite(*args), strict=True):
        np.testing.assert_allclose(ours.data, theirs.data, rtol=1e-14, atol=1e-15)
    fused, comp = loss(cr.lstm_cell), loss(_lstm_cell_composite)
    for a, b in zip(cr.grad(fused, (0, 1))(*args), cr.grad(comp, (0, 1))(*args), strict=True):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-12, atol=1e-13)
    vs = (cr.tensor(rng.standard_normal(gates.shape)), cr.tensor(rng.standard_normal(c.shape)))
    for a, b in zip(cr.hvp(fused, args, vs), cr.hvp(comp, args, vs), strict=True):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-11, atol=1e-12)
    (_, ta), (_, tb) = cr.jvp(fused, args, vs), cr.jvp(comp, args, vs)
    np.testing.assert_allclose(ta.data, tb.data, rtol=1e-12)
    # float32 stays float32
    g32 = cr.tensor(gates.astype(np.float32), requires_grad=True)
    h, c_new = cr.lstm_cell(g32, cr.tensor(c.astype(np.float32)))
    (h.sum() + c_new.sum()).backward()
    assert h.dtype == c_new.dtype == g32.grad.dtype == np.float32


def test_lstm_cell_errors_name_the_op_and_shapes():
    with pytest.raises(
        ValueError, match=r"lstm_cell: gates must have shape \(\.\.\., 4\*H\).*\(2, 10\) and c \(2, 3\)"
    ):
        cr.lstm_cell(cr.zeros(2, 10), cr.zeros(2, 3))
    with pytest.raises(ValueError, match=r"got gates \(3, 12\) and c \(2, 3\)"):
        cr.lstm_cell(cr.zeros(3, 12), cr.zeros(2, 3))
    with pytest.raises(
        TypeError, match="lstm_cell: gates and c must share one floating dtype, got float32 and float64"
    ):
        cr.lstm_cell(cr.zeros(2, 12), cr.zeros(2, 3, dtype="float64"))
