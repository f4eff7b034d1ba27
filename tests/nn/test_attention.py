"""Attention and Transformers: scaled_dot_product_attention, MultiheadAttention and
TransformerEncoderLayer against PyTorch (same weights, float64, values and gradients), finite
differences, fully masked rows (zeros, no NaN, no warning), positional encodings in closed form,
and the GPT model: exact causality of its Jacobian, a falling training loss, reproducible sampling.
"""

import math
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd.transforms import jacrev
from chainrule.functional.attention import scaled_dot_product_attention, sinusoidal_positional_encoding
from chainrule.functional.loss import cross_entropy
from chainrule.nn.attention import LearnedPositionalEncoding, MultiheadAttention, SinusoidalPositionalEncoding
from chainrule.nn.transformer import GPT, TransformerEncoderLayer
from chainrule.optim import Adam
from chainrule.testing import gradcheck

RTOL, ATOL = 1e-9, 1e-12


def rng(seed=0):
    return np.random.default_rng(seed)


def leaves(*arrays):
    return [cr.tensor(a, requires_grad=True) for a in arrays]


def torch_leaves(torch, *arrays):
    return [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]


def close(a, b, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def copy_from_torch(module, torch_module):
    module.load_state_dict({k: v.detach().numpy() for k, v in torch_module.state_dict().items()})


def assert_param_grads_match(module, torch_module):
    tparams = dict(torch_module.named_parameters())
    names = [n for n, _ in module.named_parameters()]
    assert names == list(tparams)
    for name, p in module.named_parameters():
        close(p.grad.data, tparams[name].grad.numpy())


# --- scaled_dot_product_attention ------------------------------------------------------------


def _sdpa_case(kind, r):
    """Inputs (q, k, v) and keyword arguments for chainrule and for torch."""
    q, k, v = r.standard_normal((2, 3, 4, 5)), r.standard_normal((2, 3, 6, 5)), r.standard_normal((2, 3, 6, 7))
    if kind == "none":
        return (q, k, v), {}, {}
    if kind == "causal":
        return (q, k, v), {"is_causal": True}, {"is_causal": True}
    if kind == "bool":
        m = r.random((3, 4, 6)) > 0.4
        m[:, :, 0] = True  # every row keeps one key, so torch and chainrule agree on all rows
        return (q, k, v), {"attn_mask": m}, {"attn_mask": m}
    if kind == "float":
        m = r.standard_normal((4, 6))
        return (q, k, v), {"attn_mask": m}, {"attn_mask": m}
    if kind == "scale":
        return (q, k, v), {"scale": 0.3}, {"scale": 0.3}
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["none", "causal", "bool", "float", "scale"])
def test_sdpa_matches_torch_values_and_grads(kind):
    torch = pytest.importorskip("torch")
    arrays, kw, tkw = _sdpa_case(kind, rng(1))
    tkw = {k: (torch.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in tkw.items()}
    x = leaves(*arrays)
    tx = torch_leaves(torch, *arrays)
    out = scaled_dot_product_attention(*x, **kw)
    tout = torch.nn.functional.scaled_dot_product_attention(*tx, **tkw)
    close(out.data, tout.detach().numpy())
    g = rng(2).standard_normal(out.shape)
    out.backward(cr.tensor(g))
    tout.backward(torch.tensor(g))
    for a, b in zip(x, tx):
        close(a.grad.data, b.grad.numpy())


def test_sdpa_float_mask_gradient_matches_torch():
    torch = pytest.importorskip("torch")
    r = rng(3)
    q, k, v, m = (
        r.standard_normal((3, 4)),
        r.standard_normal((5, 4)),
        r.standard_normal((5, 2)),
        r.standard_normal((3, 5)),
    )
    x = leaves(q, k, v, m)
    tx = torch_leaves(torch, q, k, v, m)
    (scaled_dot_product_attention(*x[:3], attn_mask=x[3]) ** 2).sum().backward()
    (torch.nn.functional.scaled_dot_product_attention(*tx[:3], attn_mask=tx[3]) ** 2).sum().backward()
    for a, b in zip(x, tx):
        close(a.grad.data, b.grad.numpy())


def test_sdpa_causal_non_square_is_upper_left_aligned():
    r = rng(4)
    q, k, v = r.standard_normal((3, 2)), r.standard_normal((5, 2)), r.standard_normal((5, 2))
    out = scaled_dot_product_attention(cr.tensor(q), cr.tensor(k), cr.tensor(v), is_causal=True).data
    # Row i attends to keys 0..i only: recompute each row by hand.
    for i in range(3):
        s = q[i] @ k[: i + 1].T / math.sqrt(2)
        w = np.exp(s - s.max())
        close(out[i], (w / w.sum()) @ v[: i + 1])


def test_sdpa_fully_masked_row_gives_zeros_and_zero_grad_without_warnings():
    r = rng(5)
    q, k, v = r.standard_normal((2, 4, 3)), r.standard_normal((2, 6, 3)), r.standard_normal((2, 6, 3))
    bool_mask = r.random((2, 4, 6)) > 0.3
    bool_mask[:, :, 1] = True
    bool_mask[0, 2] = False  # batch 0, query 2 may attend to nothing
    float_mask = np.where(bool_mask, 0.0, -np.inf)
    for mask in (bool_mask, float_mask):
        x = leaves(q, k, v)
        with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
            warnings.simplefilter("error")
            out = scaled_dot_product_attention(*x, attn_mask=mask)
            (out * out).sum().backward()
        assert np.all(out.data[0, 2] == 0.0)
        assert np.all(np.isfinite(out.data))
        for t in x:
            assert np.all(np.isfinite(t.grad.data))
        assert np.all(x[0].grad.data[0, 2] == 0.0)
        # The other rows are untouched: compare with the rows computed without the empty one.
        ref = scaled_dot_product_attention(cr.tensor(q[1]), cr.tensor(k[1]), cr.tensor(v[1]), attn_mask=bool_mask[1])
        close(out.data[1], ref.data)


def test_sdpa_gradcheck_with_mask_and_empty_row():
    r = rng(6)
    mask = r.random((3, 4)) > 0.3
    mask[:, 0] = True
    mask[1] = False

    def f(q, k, v):
        return scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=0.7)

    gradcheck(
        f,
        (
            cr.tensor(r.standard_normal((3, 2))),
            cr.tensor(r.standard_normal((4, 2))),
            cr.tensor(r.standard_normal((4, 3))),
        ),
    )


def test_sdpa_gradcheck_causal_batched():
    r = rng(7)
    inputs = tuple(cr.tensor(r.standard_normal(s)) for s in ((2, 3, 2), (2, 3, 2), (2, 3, 2)))
    gradcheck(lambda q, k, v: scaled_dot_product_attention(q, k, v, is_causal=True), inputs)


def test_sdpa_dropout_is_seeded_and_off_when_not_training():
    r = rng(8)
    q, k, v = (cr.tensor(r.standard_normal((4, 3)).astype(np.float32)) for _ in range(3))
    plain = scaled_dot_product_attention(q, k, v).data
    close(scaled_dot_product_attention(q, k, v, dropout_p=0.5, training=False).data, plain)
    a = scaled_dot_product_attention(q, k, v, dropout_p=0.5, generator=np.random.default_rng(0)).data
    b = scaled_dot_product_attention(q, k, v, dropout_p=0.5, generator=np.random.default_rng(0)).data
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, plain)


@pytest.mark.parametrize(
    ("shapes", "kw", "match"),
    [
        (((4,), (4, 3), (4, 3)), {}, "query must have at least 2"),
        (((4, 3), (5, 2), (5, 3)), {}, "same embedding size"),
        (((4, 3), (5, 3), (6, 3)), {}, "same sequence length"),
        (((4, 3), (5, 3), (5, 3)), {"attn_mask": np.ones((4, 4), bool)}, r"does not broadcast.*\(4, 5\)"),
        (((4, 3), (5, 3), (5, 3)), {"attn_mask": np.ones((4, 5), bool), "is_causal": True}, "not both"),
    ],
)
def test_sdpa_errors(shapes, kw, match):
    x = [cr.tensor(np.ones(s)) for s in shapes]
    with pytest.raises(ValueError, match=match):
        scaled_dot_product_attention(*x, **kw)


def test_sdpa_mask_dtype_error():
    x = cr.tensor(np.ones((2, 3)))
    with pytest.raises(TypeError, match="bool or floating"):
        scaled_dot_product_attention(x, x, x, attn_mask=np.ones((2, 2), dtype=np.int64))


# --- positional encodings ---------------------------------------------------------------------


def test_sinusoidal_positional_encoding_closed_form():
    pe = sinusoidal_positional_encoding(7, 6, dtype="float64").data
    assert pe.shape == (7, 6)
    for pos in (0, 3, 6):
        for i in range(3):
            w = 1.0 / 10000 ** (2 * i / 6)
            assert pe[pos, 2 * i] == pytest.approx(math.sin(pos * w), abs=1e-15)
            assert pe[pos, 2 * i + 1] == pytest.approx(math.cos(pos * w), abs=1e-15)
    odd = sinusoidal_positional_encoding(4, 5).data
    assert odd.dtype == np.float32 and odd.shape == (4, 5)
    close(odd[:, 4], np.sin(np.arange(4) / 10000 ** (4 / 5)), rtol=1e-6)


def test_positional_encoding_modules():
    x = cr.tensor(rng(9).standard_normal((2, 5, 6)).astype(np.float32))
    sin = SinusoidalPositionalEncoding(6, max_len=10)
    assert list(sin.state_dict()) == [] and list(sin.parameters()) == []
    close(sin(x).data, x.data + sinusoidal_positional_encoding(5, 6).data, rtol=1e-6)
    seq_first = SinusoidalPositionalEncoding(6, max_len=10, batch_first=False)
    xs = cr.tensor(np.swapaxes(x.data, 0, 1).copy())
    close(np.swapaxes(seq_first(xs).data, 0, 1), sin(x).data, rtol=1e-6)
    learned = LearnedPositionalEncoding(10, 6)
    learned(x).sum().backward()
    g = learned.weight.grad.data
    close(g[:5], np.full((5, 6), 2.0))
    assert np.all(g[5:] == 0)
    with pytest.raises(ValueError, match=r"LearnedPositionalEncoding.*exceeds max_len=3"):
        LearnedPositionalEncoding(3, 6)(x)
    with pytest.raises(ValueError, match=r"SinusoidalPositionalEncoding.*\(\.\.\., T, 6\)"):
        sin(cr.tensor(np.ones((2, 5, 4), np.float32)))


# --- MultiheadAttention -----------------------------------------------------------------------


def _mha_masks(kind, r, n, L, S, H):
    """(chainrule kwargs, torch kwargs) with the same masks; torch gets matching mask types."""
    if kind == "none":
        return {}, {}
    if kind == "padding":
        kpm = np.zeros((n, S), bool)
        kpm[0, -2:] = True
        return {"key_padding_mask": kpm}, {"key_padding_mask": kpm}
    if kind == "causal":
        am = ~np.tril(np.ones((L, S), bool))
        return {"attn_mask": am, "is_causal": True}, {"attn_mask": am, "is_causal": True}
    if kind == "causal_flag_only":
        am = ~np.tril(np.ones((L, S), bool))
        return {"is_causal": True}, {"attn_mask": am, "is_causal": True}
    if kind == "float_both":
        kpm = np.zeros((n, S))
        kpm[1, 0] = -np.inf
        am = r.standard_normal((n * H, L, S))
        return {"key_padding_mask": kpm, "attn_mask": am}, {"key_padding_mask": kpm, "attn_mask": am}
    raise AssertionError(kind)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("kind", ["none", "padding", "causal", "causal_flag_only", "float_both"])
def test_multihead_attention_matches_torch(batch_first, kind):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    E, H, n, L = 8, 2, 2, 5
    S = L if kind.startswith("causal") else 4
    tm = torch.nn.MultiheadAttention(E, H, batch_first=batch_first).double().eval()
    cm = MultiheadAttention(E, H, batch_first=batch_first, dtype="float64").eval()
    copy_from_torch(cm, tm)
    r = rng(10)
    qshape, kshape = ((n, L, E), (n, S, E)) if batch_first else ((L, n, E), (S, n, E))
    arrays = r.standard_normal(qshape), r.standard_normal(kshape), r.standard_normal(kshape)
    if kind.startswith("causal"):
        arrays = (arrays[0], arrays[0], arrays[0])  # self-attention
    kw, tkw = _mha_masks(kind, r, n, L, S, H)
    tkw = {k: (torch.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in tkw.items()}
    x = leaves(*arrays)
    tx = torch_leaves(torch, *arrays)
    out, w = cm(*x, **kw)
    tout, tw = tm(*tx, **tkw)
    close(out.data, tout.detach().numpy())
    close(w.data, tw.detach().numpy())
    g = r.standard_normal(out.shape)
    ((out * cr.tensor(g)).sum() + (w * w).sum()).backward()
    ((tout * torch.tensor(g)).sum() + (tw * tw).sum()).backward()
    for a, b in zip(x, tx):
        close(a.grad.data, b.grad.numpy())
    assert_param_grads_match(cm, tm)


def test_multihead_attention_unbatched_per_head_weights_and_no_bias():
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    tm = torch.nn.MultiheadAttention(6, 3, bias=False).double().eval()
    cm = MultiheadAttention(6, 3, bias=False, dtype="float64").eval()
    assert set(cm.state_dict()) == set(tm.state_dict()) == {"in_proj_weight", "out_proj.weight"}
    copy_from_torch(cm, tm)
    r = rng(11)
    q, kv = r.standard_normal((4, 6)), r.standard_normal((3, 6))
    am = r.standard_normal((4, 3))
    out, w = cm(cr.tensor(q), cr.tensor(kv), cr.tensor(kv), attn_mask=am, average_attn_weights=False)
    tout, tw = tm(*(torch.tensor(a) for a in (q, kv, kv)), attn_mask=torch.tensor(am), average_attn_weights=False)
    assert w.shape == (3, 4, 3)
    close(out.data, tout.detach().numpy())
    close(w.data, tw.detach().numpy())
    out2, w2 = cm(cr.tensor(q), cr.tensor(kv), cr.tensor(kv), need_weights=False)
    assert w2 is None and out2.shape == (4, 6)


def test_multihead_attention_fully_padded_sequence_gives_bias_only_output():
    # PyTorch returns NaN for a sequence whose every key is padded; here the attention output is
    # zero, so the layer outputs out_proj(0) = out_proj.bias, and gradients stay finite.
    cr.manual_seed(0)
    m = MultiheadAttention(4, 2, batch_first=True)
    with cr.no_grad():
        m.out_proj.bias.data[...] = np.arange(4, dtype=np.float32)
    x = cr.tensor(rng(15).standard_normal((2, 3, 4)).astype(np.float32), requires_grad=True)
    kpm = np.zeros((2, 3), bool)
    kpm[1] = True
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        out, w = m(x, x, x, key_padding_mask=kpm)
        out.sum().backward()
    assert out.dtype == np.float32 and w.dtype == np.float32
    np.testing.assert_array_equal(out.data[1], np.tile(np.arange(4, dtype=np.float32), (3, 1)))
    assert np.all(w.data[1] == 0.0)
    close(w.data[0].sum(-1), np.ones(3), rtol=1e-6)
    assert np.all(np.isfinite(x.grad.data)) and np.all(x.grad.data[1] == 0.0)


def test_multihead_attention_init_and_dropout_modes():
    cr.manual_seed(0)
    m = MultiheadAttention(8, 2, dropout=0.5)
    assert m.in_proj_weight.shape == (24, 8) and m.in_proj_bias.shape == (24,)
    assert np.all(m.in_proj_bias.data == 0) and np.all(m.out_proj.bias.data == 0)
    bound = math.sqrt(6.0 / (24 + 8))  # xavier_uniform_ on the (3E, E) matrix, as PyTorch
    assert np.abs(m.in_proj_weight.data).max() <= bound
    x = cr.tensor(rng(12).standard_normal((3, 2, 8)).astype(np.float32))
    m.eval()
    a = m(x, x, x)[0].data
    np.testing.assert_array_equal(m(x, x, x)[0].data, a)
    m.train()
    cr.manual_seed(3)
    b = m(x, x, x)[0].data
    cr.manual_seed(3)
    np.testing.assert_array_equal(m(x, x, x)[0].data, b)
    assert b.dtype == np.float32 and not np.allclose(a, b)


def test_multihead_attention_errors_name_the_layer():
    m = MultiheadAttention(8, 2)
    x = cr.tensor(np.ones((3, 2, 8), np.float32))
    with pytest.raises(ValueError, match=r"MultiheadAttention.*3-d \(batched\) or 2-d"):
        m(cr.tensor(np.ones((1, 3, 2, 8), np.float32)), x, x)
    with pytest.raises(ValueError, match=r"MultiheadAttention.*embedding size 4, expected embed_dim=8"):
        y = cr.tensor(np.ones((3, 2, 4), np.float32))
        m(y, y, y)
    with pytest.raises(ValueError, match=r"MultiheadAttention.*key_padding_mask must have shape \(2, 3\)"):
        m(x, x, x, key_padding_mask=np.zeros((3, 2), bool))
    with pytest.raises(ValueError, match=r"MultiheadAttention.*attn_mask must have shape \(L, S\) = \(3, 3\)"):
        m(x, x, x, attn_mask=np.zeros((2, 3), bool))
    with pytest.raises(ValueError, match="divisible by num_heads"):
        MultiheadAttention(10, 3)
    with pytest.raises(TypeError, match="dtype float64 does not match"):
        m(cr.tensor(np.ones((3, 2, 8))), x, x)


# --- TransformerEncoderLayer -------------------------------------------------------------------


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_encoder_layer_matches_torch(norm_first, activation, batch_first):
    torch = pytest.importorskip("torch")
    torch.manual_seed(2)
    d, h, ff, n, s = 8, 2, 16, 2, 5
    tl = torch.nn.TransformerEncoderLayer(
        d, h, ff, dropout=0.0, activation=activation, batch_first=batch_first, norm_first=norm_first
    ).double()
    cl = TransformerEncoderLayer(
        d, h, ff, dropout=0.0, activation=activation, batch_first=batch_first, norm_first=norm_first, dtype="float64"
    )
    copy_from_torch(cl, tl)
    tl.eval()
    cl.eval()
    r = rng(13)
    x = r.standard_normal((n, s, d) if batch_first else (s, n, d))
    kpm = np.zeros((n, s), bool)
    kpm[1, -1] = True
    causal = ~np.tril(np.ones((s, s), bool))
    (cx,) = leaves(x)
    (tx,) = torch_leaves(torch, x)
    out = cl(cx, src_mask=causal, src_key_padding_mask=kpm, is_causal=True)
    tout = tl(tx, src_mask=torch.tensor(causal), src_key_padding_mask=torch.tensor(kpm), is_causal=True)
    close(out.data, tout.detach().numpy())
    g = r.standard_normal(out.shape)
    (out * cr.tensor(g)).sum().backward()
    (tout * torch.tensor(g)).sum().backward()
    close(cx.grad.data, tx.grad.numpy())
    assert_param_grads_match(cl, tl)


def test_transformer_encoder_layer_errors():
    layer = TransformerEncoderLayer(8, 2, 16, batch_first=True)
    with pytest.raises(ValueError, match=r"TransformerEncoderLayer.*3-d \(N, S, E\) or 2-d"):
        layer(cr.tensor(np.ones((1, 2, 3, 8), np.float32)))
    with pytest.raises(ValueError, match="activation must be 'relu', 'gelu'"):
        TransformerEncoderLayer(8, 2, activation="tanh")
    with pytest.raises(ValueError, match=r"MultiheadAttention\(self_attn\).*embedding size 4"):
        layer(cr.tensor(np.ones((2, 3, 4), np.float32)))


# --- GPT --------------------------------------------------------------------------------------


def test_gpt_is_exactly_causal():
    cr.manual_seed(0)
    model = GPT(vocab_size=5, context_length=6, d_model=8, n_layers=2, n_heads=2).double()
    idx = np.array([[1, 4, 0, 2, 3, 1]])
    emb = model.embed(idx).detach()
    jac = jacrev(model.forward_embeddings)(emb).data  # (1, T, V, 1, T, D)
    T = idx.shape[1]
    for i in range(T):
        for j in range(T):
            block = jac[0, i, :, 0, j, :]
            if j > i:
                assert np.all(block == 0.0), (i, j)
            else:
                assert np.abs(block).max() > 1e-8, (i, j)  # earlier positions do matter
    # Single-position backprop from token ids: the embedding gradient of later rows is exactly 0.
    x = model.embed(idx).detach().requires_grad_()
    model.forward_embeddings(x)[0, 2].sum().backward()
    assert np.all(x.grad.data[0, 3:] == 0.0) and np.abs(x.grad.data[0, :3]).max() > 0


def test_gpt_shapes_tying_and_errors():
    cr.manual_seed(0)
    model = GPT(vocab_size=11, context_length=8, d_model=16, n_layers=2, n_heads=4)
    assert model.head.weight is model.tok_emb.weight
    n_params = sum(p.size for p in model.parameters())
    untied = GPT(vocab_size=11, context_length=8, d_model=16, n_layers=2, n_heads=4, tie_weights=False)
    assert sum(p.size for p in untied.parameters()) == n_params + 11 * 16
    assert model.blocks[0].linear1.out_features == 64 and model.blocks[0].norm_first
    logits = model(np.zeros((3, 8), dtype=np.int64))
    assert logits.shape == (3, 8, 11) and logits.dtype == np.float32
    with pytest.raises(ValueError, match="exceeds context_length=8"):
        model(np.zeros((1, 9), dtype=np.int64))
    with pytest.raises(ValueError, match=r"GPT.*2-d \(N, T\)"):
        model(np.zeros(4, dtype=np.int64))
    with pytest.raises(IndexError, match="out of range for 11"):
        model(np.full((1, 2), 11))


def test_gpt_training_loss_falls():
    cr.manual_seed(0)
    V, T = 6, 8
    model = GPT(vocab_size=V, context_length=T, d_model=16, n_layers=1, n_heads=2)
    # Toy task: each sequence counts up mod V from a random start; next token = current + 1.
    r = rng(14)
    starts = r.integers(0, V, size=16)
    seq = (starts[:, None] + np.arange(T + 1)[None, :]) % V
    inputs, targets = seq[:, :-1], seq[:, 1:]
    opt = Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        logits = model(inputs)
        loss = cross_entropy(logits.reshape(-1, V), targets.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    assert losses[0] == pytest.approx(math.log(V), rel=0.1)  # small init: near-uniform predictions
    assert losses[-1] < 0.25 * losses[0]


def test_gpt_generate_shape_reproducible_and_greedy_top1():
    cr.manual_seed(0)
    model = GPT(vocab_size=7, context_length=4, d_model=8, n_layers=1, n_heads=2).eval()
    prompt = np.array([[1, 2], [3, 4]])
    a = model.generate(prompt, 6, generator=np.random.default_rng(5))
    b = model.generate(prompt, 6, generator=np.random.default_rng(5))
    assert a.shape == (2, 8) and a.dtype == np.int64
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(a.data[:, :2], prompt)
    assert a.data.min() >= 0 and a.data.max() < 7
    # top_k=1 is greedy decoding: each new token is the argmax of the logits (window cropped to 4).
    g = model.generate(prompt, 5, top_k=1, generator=np.random.default_rng(0)).data
    for t in range(2, 7):
        window = g[:, max(0, t - 4) : t]
        np.testing.assert_array_equal(g[:, t], model(window).data[:, -1].argmax(-1))
    with pytest.raises(ValueError, match="temperature must be a positive"):
        model.generate(prompt, 2, temperature=0.0)
    with pytest.raises(ValueError, match="top_k must be None or an int >= 1"):
        model.generate(prompt, 2, top_k=0)


def test_gpt_generate_samples_follow_the_distribution():
    # With one new token from one prompt, the sample frequencies match softmax(logits / temperature).
    cr.manual_seed(1)
    model = GPT(vocab_size=4, context_length=4, d_model=8, n_layers=1, n_heads=2).eval()
    with cr.no_grad():
        model.head.weight.data[...] *= 100.0  # sharpen the (tied) logits away from uniform
    prompt = np.zeros((2000, 1), dtype=np.int64)
    logits = model(prompt[:1]).data[0, -1].astype(np.float64) / 2.0
    p = np.exp(logits - logits.max())
    p /= p.sum()
    draws = model.generate(prompt, 1, temperature=2.0, generator=np.random.default_rng(0)).data[:, 1]
    freq = np.bincount(draws, minlength=4) / draws.size
    np.testing.assert_allclose(freq, p, atol=4 * np.sqrt(p * (1 - p) / draws.size).max() + 1e-3)
