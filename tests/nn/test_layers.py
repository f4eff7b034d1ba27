"""Layers against PyTorch (weights copied across, float64) and against finite differences:
Linear, Identity, Flatten, Embedding, Dropout, LayerNorm, BatchNorm1d and their functional forms,
plus the shape and argument errors, which must name the layer."""

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.functional.dropout import dropout
from chainrule.functional.normalization import batch_norm, layer_norm
from chainrule.nn import Module, Sequential
from chainrule.nn.dropout import Dropout
from chainrule.nn.embedding import Embedding, embedding
from chainrule.nn.linear import Flatten, Identity, Linear
from chainrule.nn.normalization import BatchNorm1d, LayerNorm
from chainrule.testing import gradcheck, gradgradcheck

F64 = "float64"


def rng(seed=0):
    return np.random.default_rng(seed)


def copy_from_torch(module, torch_module):
    """Load a torch module's state dict (parameters and buffers) into a chainrule module."""
    module.load_state_dict({k: v.detach().numpy() for k, v in torch_module.state_dict().items()})


def torch_leaf(torch, arr):
    return torch.tensor(arr, dtype=torch.float64, requires_grad=True)


def assert_grads_match(module, torch_module, rtol=1e-10, atol=1e-12):
    tparams = dict(torch_module.named_parameters())
    names = [n for n, _ in module.named_parameters()]
    assert names == list(tparams)
    for name, p in module.named_parameters():
        np.testing.assert_allclose(p.grad.data, tparams[name].grad.numpy(), rtol=rtol, atol=atol, err_msg=name)


def forward_backward(module, torch_module, x_np, torch):
    """Run both modules on x with the same random upstream gradient; compare y and dL/dx."""
    x = cr.tensor(x_np, dtype=F64, requires_grad=True)
    xt = torch_leaf(torch, x_np)
    y, yt = module(x), torch_module(xt)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rng(99).standard_normal(y.shape)
    y.backward(cr.tensor(g, dtype=F64))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    return y


# --- Linear ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("in_shape", [(5,), (4, 5), (2, 3, 5)])
def test_linear_matches_torch(bias, in_shape):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tl = torch.nn.Linear(5, 3, bias=bias).double()
    lin = Linear(5, 3, bias=bias, dtype=F64)
    copy_from_torch(lin, tl)
    forward_backward(lin, tl, rng(1).standard_normal(in_shape), torch)
    assert_grads_match(lin, tl)


def test_linear_closed_form_and_gradient_formulas():
    lin = Linear(3, 2, dtype=F64)
    W, b = rng(2).standard_normal((2, 3)), rng(3).standard_normal(2)
    lin.load_state_dict({"weight": W, "bias": b})
    X, G = rng(4).standard_normal((4, 3)), rng(5).standard_normal((4, 2))
    x = cr.tensor(X, requires_grad=True)
    y = lin(x)
    np.testing.assert_allclose(y.data, X @ W.T + b, rtol=1e-14)
    y.backward(cr.tensor(G))
    np.testing.assert_allclose(x.grad.data, G @ W, rtol=1e-13)  # dL/dX = G W
    np.testing.assert_allclose(lin.weight.grad.data, G.T @ X, rtol=1e-13)  # dL/dW = Gᵀ X
    np.testing.assert_allclose(lin.bias.grad.data, G.sum(0), rtol=1e-13)  # dL/db = Σₙ G


def test_linear_default_init_shapes_dtype_and_bounds():
    cr.manual_seed(0)
    lin = Linear(64, 500)
    assert lin.weight.shape == (500, 64) and lin.bias.shape == (500,)
    assert lin.weight.dtype == np.float32 and lin.bias.dtype == np.float32
    bound = 1 / math.sqrt(64)
    for p in (lin.weight, lin.bias):
        assert np.abs(p.data).max() <= bound
    assert np.abs(lin.weight.data).max() > 0.999 * bound
    assert np.std(lin.weight.data) == pytest.approx(bound / math.sqrt(3), rel=0.03)
    assert lin(cr.randn(2, 64)).dtype == np.float32
    no_bias = Linear(4, 2, bias=False)
    assert no_bias.bias is None and [n for n, _ in no_bias.named_parameters()] == ["weight"]
    assert repr(lin) == "Linear(in_features=64, out_features=500, bias=True)"


def test_linear_reset_parameters_is_reproducible():
    cr.manual_seed(7)
    a = Linear(4, 3)
    cr.manual_seed(7)
    b = Linear(4, 3)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)


class TwoLayer(Module):
    def __init__(self):
        super().__init__()
        self.fc1 = Linear(8, 1024)
        self.fc2 = Linear(1024, 10)

    def forward(self, x):
        return self.fc2(self.fc1(x))


def test_linear_feature_mismatch_names_the_layer():
    net = TwoLayer()
    with pytest.raises(ValueError, match=r"^Linear\(fc2\): input has 384 features, weight expects 1024"):
        net.fc2(cr.randn(2, 384))
    with pytest.raises(ValueError, match=r"^Linear\(fc1\): input has 7 features, weight expects 8"):
        net(cr.randn(2, 7))
    with pytest.raises(ValueError, match=r"^Linear: input has 2 features, weight expects 3"):
        Linear(3, 1)(cr.randn(2))
    with pytest.raises(ValueError, match=r"Linear: a 0-d input, weight expects 3"):
        Linear(3, 1)(cr.tensor(1.0))


def test_linear_argument_and_dtype_errors():
    with pytest.raises(TypeError, match="in_features must be an int"):
        Linear(3.0, 2)
    with pytest.raises(ValueError, match="out_features must be >= 0, got -1"):
        Linear(3, -1)
    with pytest.raises(TypeError, match="dtype must be a floating dtype"):
        Linear(3, 2, dtype="int64")
    with pytest.raises(TypeError, match=r"Linear: input dtype float64 does not match weight dtype float32"):
        Linear(3, 2)(cr.randn(2, 3, dtype=F64))
    with pytest.raises(TypeError, match="expected a Tensor input, got ndarray"):
        Linear(3, 2)(np.zeros((2, 3), dtype=np.float32))


def test_identity_and_flatten():
    x = cr.randn(2, 3, 4, 5, requires_grad=True)
    assert Identity(54, unused=True)(x) is x
    assert Flatten()(x).shape == (2, 60)
    assert Flatten(0, 2)(x).shape == (24, 5)
    assert Flatten(-3, -2)(x).shape == (2, 12, 5)
    y = Flatten()(x)
    np.testing.assert_array_equal(y.data, x.data.reshape(2, 60))
    g = rng(0).standard_normal((2, 60)).astype(np.float32)
    y.backward(cr.tensor(g))
    np.testing.assert_array_equal(x.grad.data, g.reshape(2, 3, 4, 5))
    assert repr(Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    seq = Sequential(Flatten(2))
    with pytest.raises(ValueError, match=r"Flatten\(0\): start_dim=2 is out of range for an input of shape \(4, 5\)"):
        seq(cr.randn(4, 5))
    with pytest.raises(ValueError, match=r"Flatten: flatten: start_dim 2 comes after end_dim 1"):
        Flatten(2, 1)(cr.randn(2, 3, 4))


# --- Embedding ------------------------------------------------------------------------------------


def test_embedding_matches_torch_with_repeated_indices():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    te = torch.nn.Embedding(7, 4).double()
    emb = Embedding(7, 4, dtype=F64)
    copy_from_torch(emb, te)
    idx = rng(1).integers(0, 7, size=(3, 5))
    idx[0, :3] = 2  # repeated ids: the gradient rows add up
    y, yt = emb(cr.tensor(idx)), te(torch.tensor(idx))
    assert y.shape == (3, 5, 4)
    np.testing.assert_array_equal(y.data, yt.detach().numpy())
    g = rng(2).standard_normal(y.shape)
    y.backward(cr.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(emb.weight.grad.data, te.weight.grad.numpy(), rtol=1e-14)


@pytest.mark.parametrize("padding_idx", [0, 3, -1])
def test_embedding_padding_row_gets_no_gradient_as_in_torch(padding_idx):
    torch = pytest.importorskip("torch")
    emb = Embedding(5, 3, padding_idx=padding_idx, dtype=F64)
    pad = padding_idx % 5
    assert emb.padding_idx == pad
    np.testing.assert_array_equal(emb.weight.data[pad], 0)  # default init zeroes the row
    te = torch.nn.Embedding(5, 3, padding_idx=padding_idx).double()
    with torch.no_grad():
        te.weight[pad] = torch.tensor([1.0, 2.0, 3.0])  # a non-zero padding row is still returned as is
    copy_from_torch(emb, te)
    idx = np.array([[pad, 1, pad], [2, pad, 4]])
    y, yt = emb(cr.tensor(idx)), te(torch.tensor(idx))
    np.testing.assert_array_equal(y.data, yt.detach().numpy())
    np.testing.assert_array_equal(y.data[0, 0], [1.0, 2.0, 3.0])
    g = rng(3).standard_normal(y.shape)
    y.backward(cr.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(emb.weight.grad.data, te.weight.grad.numpy(), rtol=1e-14)
    np.testing.assert_array_equal(emb.weight.grad.data[pad], 0)


def test_embedding_padding_only_blocks_the_lookup_path():
    # Tied weights (an LM head reusing the table) still send gradient to the padding row.
    emb = Embedding(4, 2, padding_idx=0, dtype=F64)
    idx = cr.tensor([0, 1])
    (emb(idx).sum() + emb.weight.sum()).backward()
    np.testing.assert_array_equal(emb.weight.grad.data, [[1, 1], [2, 2], [1, 1], [1, 1]])


def test_embedding_default_init_and_errors():
    cr.manual_seed(0)
    emb = Embedding(2000, 100)
    assert emb.weight.dtype == np.float32
    assert np.std(emb.weight.data) == pytest.approx(1.0, rel=0.02)
    assert repr(Embedding(10, 3, padding_idx=2)) == "Embedding(10, 3, padding_idx=2)"
    net = Sequential()
    net.tok = Embedding(10, 3)
    with pytest.raises(IndexError, match=r"Embedding\(tok\): index 10 is out of range for 10 embeddings"):
        net.tok(cr.tensor([1, 10]))
    with pytest.raises(IndexError, match="index -1 is out of range"):
        net.tok(cr.tensor([-1, 2]))
    with pytest.raises(TypeError, match=r"Embedding\(tok\): indices must be an integer tensor.*float32"):
        net.tok(cr.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="padding_idx must be within"):
        Embedding(5, 2, padding_idx=5)
    with pytest.raises(ValueError, match="embedding_dim must be positive"):
        Embedding(5, 0)
    assert embedding(np.array([[1]]), cr.eye(3)).tolist() == [[[0.0, 1.0, 0.0]]]
    assert emb(cr.tensor(3)).shape == (100,)  # a 0-d id gives one vector


# --- Dropout --------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_statistics(p):
    cr.manual_seed(0)
    n = 200_000
    x = cr.ones(n, requires_grad=True)
    y = dropout(x, p)
    zero_frac = float(np.mean(y.data == 0))
    assert zero_frac == pytest.approx(p, abs=4 * math.sqrt(p * (1 - p) / n))
    kept = y.data[y.data != 0]
    np.testing.assert_allclose(kept, 1 / (1 - p), rtol=1e-6)  # inverted scaling
    assert float(np.mean(y.data)) == pytest.approx(1.0, abs=4 * math.sqrt(p / (1 - p) / n))
    assert y.dtype == np.float32
    y.backward(cr.ones(n))
    np.testing.assert_array_equal(x.grad.data, y.data)  # x̄ = ȳ ⊙ m/(1-p), here ȳ = 1 and x = 1


def test_dropout_identity_when_not_training_or_p_zero_and_draws_nothing():
    x = cr.randn(10)
    cr.manual_seed(5)
    assert dropout(x, 0.5, training=False) is x
    assert dropout(x, 0.0) is x
    after = cr.rand(3).data
    cr.manual_seed(5)
    np.testing.assert_array_equal(cr.rand(3).data, after)  # the generator did not advance


def test_dropout_determinism_under_manual_seed_and_generator():
    x = cr.ones(1000)
    cr.manual_seed(42)
    a, b = dropout(x, 0.3).data, dropout(x, 0.3).data
    assert not np.array_equal(a, b)  # a fresh mask per call
    cr.manual_seed(42)
    np.testing.assert_array_equal(dropout(x, 0.3).data, a)
    np.testing.assert_array_equal(dropout(x, 0.3).data, b)
    g1 = dropout(x, 0.3, generator=np.random.default_rng(1)).data
    np.testing.assert_array_equal(dropout(x, 0.3, generator=np.random.default_rng(1)).data, g1)


def test_dropout_module_follows_train_and_eval():
    cr.manual_seed(0)
    d = Dropout(0.25)
    assert repr(d) == "Dropout(p=0.25)"
    x = cr.ones(4000)
    assert np.mean(d(x).data == 0) == pytest.approx(0.25, abs=0.03)
    d.eval()
    assert d(x) is x
    d.train()
    assert np.any(d(x).data == 0)
    cr.manual_seed(3)
    ref = dropout(x, 0.25).data
    cr.manual_seed(3)
    np.testing.assert_array_equal(d(x).data, ref)


def test_dropout_gradcheck_with_fixed_mask():
    x = cr.tensor(rng(0).standard_normal((3, 4)))

    def f(t):
        return dropout(t, 0.4, generator=np.random.default_rng(0))  # same mask at every call

    assert gradcheck(f, (x,))


def test_dropout_argument_errors():
    for bad in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"dropout probability p must be in \[0, 1\)"):
            dropout(cr.ones(3), bad)
        with pytest.raises(ValueError, match=r"Dropout: dropout probability"):
            Dropout(bad)
    with pytest.raises(TypeError, match="p must be a float"):
        dropout(cr.ones(3), "0.5")
    with pytest.raises(TypeError, match="p must be a float"):
        Dropout(True)
    with pytest.raises(TypeError, match=r"dropout: expected a floating-point tensor, got dtype int64"):
        dropout(cr.tensor([1, 2]), 0.5)


# --- LayerNorm ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "normalized_shape,in_shape,affine,bias",
    [(6, (4, 6), True, True), ((3, 4), (2, 5, 3, 4), True, True), (5, (5,), False, True), (6, (3, 6), True, False)],
)
def test_layer_norm_matches_torch(normalized_shape, in_shape, affine, bias):
    torch = pytest.importorskip("torch")
    tl = torch.nn.LayerNorm(normalized_shape, eps=1e-4, elementwise_affine=affine, bias=bias).double()
    ln = LayerNorm(normalized_shape, eps=1e-4, elementwise_affine=affine, bias=bias, dtype=F64)
    if affine:
        with torch.no_grad():
            for p in tl.parameters():
                p.copy_(torch.tensor(rng(p.numel()).standard_normal(tuple(p.shape))))
    copy_from_torch(ln, tl)
    forward_backward(ln, tl, 3.0 + 2.0 * rng(1).standard_normal(in_shape), torch)
    if affine:
        assert_grads_match(ln, tl)


def test_layer_norm_normalises_each_sample():
    x = cr.tensor(rng(0).standard_normal((3, 2, 50)) * 5 + 2)
    y = LayerNorm((2, 50), eps=0.0, dtype=F64)(x).data
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0, atol=1e-13)
    np.testing.assert_allclose(y.var(axis=(1, 2)), 1, rtol=1e-12)
    ln = LayerNorm(50)
    assert ln.weight.dtype == np.float32 and np.all(ln.weight.data == 1) and np.all(ln.bias.data == 0)
    assert ln(cr.randn(2, 50)).dtype == np.float32
    assert repr(ln) == "LayerNorm((50,), eps=1e-05, elementwise_affine=True)"


def test_layer_norm_gradcheck_first_and_second_order():
    r = rng(1)
    x, w, b = (cr.tensor(r.standard_normal(s)) for s in [(2, 3, 4), (3, 4), (3, 4)])

    def f(x, w, b):
        return layer_norm(x, (3, 4), w, b, eps=1e-3)

    assert gradcheck(f, (x, w, b))
    assert gradgradcheck(f, (x, w, b))


def test_layer_norm_shape_errors_name_the_layer():
    net = Sequential()
    net.ln1 = LayerNorm(64)
    with pytest.raises(ValueError, match=r"LayerNorm\(ln1\): expected an input whose trailing dimensions are \(64,\)"):
        net.ln1(cr.randn(8, 32))
    with pytest.raises(ValueError, match=r"layer_norm: .*trailing dimensions are \(2, 3\).*got shape \(3,\)"):
        layer_norm(cr.randn(3), (2, 3))
    with pytest.raises(ValueError, match=r"layer_norm: weight must have shape \(3,\), got \(4,\)"):
        layer_norm(cr.randn(2, 3), 3, weight=cr.ones(4))
    with pytest.raises(TypeError, match="weight has dtype float64 but the input has dtype float32"):
        layer_norm(cr.randn(2, 3), 3, weight=cr.ones(3, dtype=F64))
    with pytest.raises(ValueError, match="normalized_shape must be a non-empty sequence of positive ints"):
        LayerNorm(())
    with pytest.raises(ValueError, match="eps must be a real number >= 0"):
        LayerNorm(3, eps=-1.0)


# --- BatchNorm1d ----------------------------------------------------------------------------------


def _set_random_affine(torch, tb):
    with torch.no_grad():
        tb.weight.copy_(torch.tensor(rng(10).standard_normal(tb.num_features)))
        tb.bias.copy_(torch.tensor(rng(11).standard_normal(tb.num_features)))


@pytest.mark.parametrize("in_shape", [(8, 3), (4, 3, 5)])
@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_batch_norm_training_steps_and_running_stats_match_torch(in_shape, momentum):
    torch = pytest.importorskip("torch")
    tb = torch.nn.BatchNorm1d(3, eps=1e-3, momentum=momentum).double()
    _set_random_affine(torch, tb)
    bn = BatchNorm1d(3, eps=1e-3, momentum=momentum, dtype=F64)
    copy_from_torch(bn, tb)
    r = rng(20)
    for step in range(4):
        bn.zero_grad()
        tb.zero_grad()
        x = 2.0 + 3.0 * r.standard_normal(in_shape)
        forward_backward(bn, tb, x, torch)
        assert_grads_match(bn, tb)
        np.testing.assert_allclose(bn.running_mean.data, tb.running_mean.numpy(), rtol=1e-12, err_msg=f"step {step}")
        np.testing.assert_allclose(bn.running_var.data, tb.running_var.numpy(), rtol=1e-12, err_msg=f"step {step}")
        assert int(bn.num_batches_tracked.item()) == int(tb.num_batches_tracked) == step + 1
    bn.eval()
    tb.eval()
    forward_backward(bn, tb, r.standard_normal(in_shape), torch)
    assert_grads_match(bn, tb)
    assert int(bn.num_batches_tracked.item()) == 4  # eval leaves the statistics alone


def test_batch_norm_running_stats_closed_form():
    bn = BatchNorm1d(2, momentum=0.25, dtype=F64)
    X = rng(0).standard_normal((10, 2))
    bn(cr.tensor(X))
    np.testing.assert_allclose(bn.running_mean.data, 0.25 * X.mean(0), rtol=1e-14)
    np.testing.assert_allclose(bn.running_var.data, 0.75 + 0.25 * X.var(0, ddof=1), rtol=1e-14)  # unbiased
    assert bn.running_mean._version[0] > 0  # updated in place, version-counted


@pytest.mark.parametrize("affine,track", [(False, True), (True, False), (False, False)])
def test_batch_norm_options_match_torch(affine, track):
    torch = pytest.importorskip("torch")
    tb = torch.nn.BatchNorm1d(4, affine=affine, track_running_stats=track).double()
    bn = BatchNorm1d(4, affine=affine, track_running_stats=track, dtype=F64)
    if affine:
        _set_random_affine(torch, tb)
    copy_from_torch(bn, tb)
    assert [n for n, _ in bn.named_buffers()] == [n for n, _ in tb.named_buffers()]
    x = rng(1).standard_normal((6, 4, 2))
    forward_backward(bn, tb, x, torch)
    bn.eval()
    tb.eval()
    forward_backward(bn, tb, x + 1.0, torch)  # without running stats, eval uses the batch's


def test_batch_norm_defaults_and_repr():
    bn = BatchNorm1d(3)
    assert repr(bn) == "BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert bn.running_mean.dtype == np.float32 and bn.num_batches_tracked.dtype == np.int64
    assert bn(cr.randn(4, 3)).dtype == np.float32
    bn.to(F64)
    assert bn.running_var.dtype == np.float64 and bn.num_batches_tracked.dtype == np.int64
    bn.reset_running_stats()
    assert np.all(bn.running_var.data == 1) and bn.num_batches_tracked.item() == 0


def test_batch_norm_gradcheck_training_mode():
    r = rng(2)
    x2, x3 = cr.tensor(r.standard_normal((5, 3))), cr.tensor(r.standard_normal((3, 2, 4)))
    w, b = cr.tensor(r.standard_normal(3) + 1.5), cr.tensor(r.standard_normal(3))
    w2, b2 = cr.tensor(r.standard_normal(2)), cr.tensor(r.standard_normal(2))

    def f2(x, w, b):
        return batch_norm(x, cr.zeros(3, dtype=F64), cr.ones(3, dtype=F64), w, b, training=True, eps=1e-3)

    def f3(x, w, b):
        return batch_norm(x, None, None, w, b, training=True, eps=1e-3)

    assert gradcheck(f2, (x2, w, b))
    assert gradcheck(f3, (x3, w2, b2))
    assert gradgradcheck(f2, (x2, w, b))


def test_batch_norm_gradcheck_eval_mode_and_closed_form():
    r = rng(3)
    rm, rv = cr.tensor(r.standard_normal(3)), cr.tensor(r.random(3) + 0.5)
    x = cr.tensor(r.standard_normal((4, 3)))

    def f(x):
        return batch_norm(x, rm, rv, training=False)

    assert gradcheck(f, (x,))
    np.testing.assert_allclose(f(x).data, (x.data - rm.data) / np.sqrt(rv.data + 1e-5), rtol=1e-14)


def test_batch_norm_errors_name_the_layer_and_change_nothing():
    net = Sequential()
    net.bn1 = BatchNorm1d(4)
    bn = net.bn1
    with pytest.raises(ValueError, match=r"BatchNorm1d\(bn1\): expected 4 channels .* got input of shape \(8, 3\)"):
        bn(cr.randn(8, 3))
    with pytest.raises(
        ValueError, match=r"BatchNorm1d\(bn1\): expected a 2-d \(N, C\) or 3-d \(N, C, L\) input.*\(2, 4, 3, 3\)"
    ):
        bn(cr.randn(2, 4, 3, 3))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(bn1\): expected more than 1 value per channel when training"):
        bn(cr.randn(1, 4))
    assert bn.num_batches_tracked.item() == 0 and bn.running_mean._version[0] == 0
    np.testing.assert_array_equal(bn.running_var.data, 1)
    bn.eval()
    assert bn(cr.randn(1, 4)).shape == (1, 4)  # a single sample is fine in eval mode
    with pytest.raises(ValueError, match=r"batch_norm: evaluation mode .* needs running_mean and running_var"):
        batch_norm(cr.randn(3, 2), None, None)
    with pytest.raises(ValueError, match="batch_norm: give both running_mean and running_var"):
        batch_norm(cr.randn(3, 2), cr.zeros(2), None, training=True)
    with pytest.raises(ValueError, match=r"batch_norm: running_var must have shape \(2,\), got \(3,\)"):
        batch_norm(cr.randn(3, 2), cr.zeros(2), cr.ones(3), training=True)
    with pytest.raises(ValueError, match=r"momentum must be a real number in \[0, 1\]"):
        batch_norm(cr.randn(3, 2), cr.zeros(2), cr.ones(2), training=True, momentum=1.5)
    with pytest.raises(ValueError, match="num_features must be a positive int"):
        BatchNorm1d(0)
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\] or None"):
        BatchNorm1d(3, momentum=-0.1)


def test_functional_package_exports_the_composites():
    import chainrule.functional as F

    assert F.dropout is dropout and F.layer_norm is layer_norm and F.batch_norm is batch_norm


def test_float32_stays_float32_through_every_layer_and_gradient():
    cr.manual_seed(0)
    net = Sequential(Linear(4, 6), LayerNorm(6), Dropout(0.3), BatchNorm1d(6), Flatten(0))
    x = cr.randn(5, 4, requires_grad=True)
    y = net(x)
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in net.parameters())
    assert net[3].running_var.dtype == np.float32
    emb = Embedding(5, 3, padding_idx=1)
    emb(cr.tensor([1, 2])).sum().backward()
    assert emb.weight.grad.dtype == np.float32
