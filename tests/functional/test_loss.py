"""Losses: values and gradients against PyTorch for every option combination, finite-difference
checks, PyTorch's normalisations, stability at ±1000, argument errors, dtype preservation, the
focal-loss reduction to cross-entropy, and the Module wrappers."""

import itertools
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.functional import loss as L
from chainrule.nn import loss as NL
from chainrule.testing import gradcheck

RTOL = 1e-10
ATOL = 1e-12


def _rng(seed=0):
    return np.random.default_rng(seed)


def _compare(fn, torch_fn, arrays, grad_of=(0,), seed=0):
    """Run ``fn`` and ``torch_fn`` on the same float64/int64 arrays; compare values and gradients.

    ``grad_of`` lists the arguments (float arrays) whose gradients are compared; None arguments
    are passed through as None.
    """
    torch = pytest.importorskip("torch")
    ours, theirs = [], []
    for i, a in enumerate(arrays):
        if a is None:
            ours.append(None)
            theirs.append(None)
            continue
        a = np.asarray(a)
        need = i in grad_of
        if a.dtype.kind == "f":
            ours.append(cr.tensor(a, dtype="float64", requires_grad=need))
            theirs.append(torch.tensor(a, dtype=torch.float64, requires_grad=need))
        else:
            ours.append(cr.tensor(a, dtype="int64"))
            theirs.append(torch.tensor(a, dtype=torch.int64))
    y = fn(*ours)
    yt = torch_fn(*theirs)
    assert y.dtype == np.float64 and y.shape == tuple(yt.shape)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=RTOL, atol=ATOL)
    g = _rng(seed).normal(size=y.shape)
    y.backward(g)
    yt.backward(torch.tensor(g))
    for i in grad_of:
        np.testing.assert_allclose(ours[i].grad.data, theirs[i].grad.numpy(), rtol=RTOL, atol=ATOL, err_msg=f"arg {i}")
    return y


def _tf():
    return pytest.importorskip("torch").nn.functional


REDUCTIONS = ["none", "mean", "sum"]


# --- regression losses ---------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss", "huber_loss_0.3"])
def test_regression_losses_match_torch(name, reduction):
    tf = _tf()
    rng = _rng(1)
    x, y = rng.normal(size=(4, 3, 2)), rng.normal(size=(4, 3, 2))
    if name.startswith("huber"):
        delta = 0.3 if name.endswith("0.3") else 1.0
        ours = lambda a, b: L.huber_loss(a, b, reduction=reduction, delta=delta)  # noqa: E731
        theirs = lambda a, b: tf.huber_loss(a, b, reduction=reduction, delta=delta)  # noqa: E731
    else:
        ours = lambda a, b: getattr(L, name)(a, b, reduction=reduction)  # noqa: E731
        theirs = lambda a, b: getattr(tf, name)(a, b, reduction=reduction)  # noqa: E731
    _compare(ours, theirs, [x, y], grad_of=(0, 1))


def test_regression_closed_forms():
    x = cr.tensor([0.0, 1.0, 4.0], dtype="float64")
    y = cr.tensor([0.5, 1.0, 1.0], dtype="float64")
    assert L.mse_loss(x, y).item() == pytest.approx((0.25 + 0 + 9) / 3, rel=1e-15)
    assert L.l1_loss(x, y, reduction="sum").item() == 3.5
    # ½·0.25 (quadratic zone), 0, then 1·(3 - ½) (linear zone)
    np.testing.assert_allclose(L.huber_loss(x, y, reduction="none").data, [0.125, 0.0, 2.5], rtol=1e-15)


# --- binary losses -------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight", ["none", "full", "broadcast"])
def test_binary_cross_entropy_matches_torch(reduction, weight):
    tf = _tf()
    rng = _rng(2)
    p, y = rng.uniform(0.02, 0.98, size=(5, 3)), rng.uniform(0, 1, size=(5, 3))
    w = {"none": None, "full": rng.uniform(0.5, 2, size=(5, 3)), "broadcast": rng.uniform(0.5, 2, size=(3,))}[weight]
    _compare(
        lambda a, b, c: L.binary_cross_entropy(a, b, weight=c, reduction=reduction),
        lambda a, b, c: tf.binary_cross_entropy(a, b, weight=c, reduction=reduction),
        [p, y, w],
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    ("weight", "pos_weight"), list(itertools.product([False, True], ["none", "per_class", "full"]))
)
def test_bce_with_logits_matches_torch(reduction, weight, pos_weight):
    tf = _tf()
    rng = _rng(3)
    x, y = rng.normal(size=(5, 3)) * 4, rng.uniform(0, 1, size=(5, 3))
    w = rng.uniform(0.5, 2, size=(5, 1)) if weight else None
    pw = {"none": None, "per_class": rng.uniform(0.5, 3, size=(3,)), "full": rng.uniform(0.5, 3, size=(5, 3))}[
        pos_weight
    ]
    _compare(
        lambda a, b, c, d: L.binary_cross_entropy_with_logits(a, b, weight=c, reduction=reduction, pos_weight=d),
        lambda a, b, c, d: tf.binary_cross_entropy_with_logits(a, b, weight=c, reduction=reduction, pos_weight=d),
        [x, y, w, pw],
        grad_of=(0, 1),
    )


def test_binary_losses_at_the_extremes():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    # logits ±1000: max(x,0) - x·y + log1p(e^{-|x|}) is exact, with gradient σ(x) - y
    x = np.array([-1000.0, -1000.0, 1000.0, 1000.0, 0.0])
    y = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    out = _compare(
        lambda a, b: L.binary_cross_entropy_with_logits(a, b, reduction="none"),
        lambda a, b: tf.binary_cross_entropy_with_logits(a, b, reduction="none"),
        [x, y],
        grad_of=(0, 1),
    )
    np.testing.assert_allclose(out.data, [0.0, 1000.0, 1000.0, 0.0, np.log(2.0)], rtol=1e-15)
    # probabilities 0 and 1: the logs are clamped at -100, as PyTorch
    p = np.array([0.0, 0.0, 1.0, 1.0])
    t = np.array([0.0, 1.0, 0.0, 1.0])
    ours = L.binary_cross_entropy(cr.tensor(p, dtype="float64"), cr.tensor(t, dtype="float64"), reduction="none")
    theirs = tf.binary_cross_entropy(torch.tensor(p), torch.tensor(t), reduction="none")
    np.testing.assert_array_equal(ours.data, theirs.numpy())
    np.testing.assert_array_equal(ours.data, [0.0, 100.0, 100.0, 0.0])
    pc = cr.tensor(p, dtype="float64", requires_grad=True)
    L.binary_cross_entropy(pc, cr.tensor(t, dtype="float64")).backward()
    assert np.isfinite(pc.grad.data).all()


# --- cross-entropy and NLL -----------------------------------------------------------------------

SHAPES = {"2d": ((6, 4), (6,)), "nd": ((3, 4, 2, 3), (3, 2, 3)), "unbatched": ((4,), ())}


def _class_targets(rng, logits_shape, target_shape, ignore):
    c = logits_shape[0] if len(logits_shape) == 1 else logits_shape[1]
    t = rng.integers(0, c, size=target_shape)
    if ignore == "ignore_-100" and t.ndim:
        t.reshape(-1)[::3] = -100
    return t, (2 if ignore == "ignore_class_2" else -100)


# (an unbatched sample is one target: ignoring it makes the all-ignored case, tested on its own)
CE_CASES = [
    case
    for case in itertools.product(
        REDUCTIONS, [False, True], ["no_ignored", "ignore_-100", "ignore_class_2"], [0.0, 0.15], SHAPES
    )
    if not (case[4] == "unbatched" and case[2] != "no_ignored")
]


@pytest.mark.parametrize(("reduction", "weighted", "ignore", "smoothing", "shape"), CE_CASES)
def test_cross_entropy_class_indices_match_torch(reduction, weighted, ignore, smoothing, shape):
    tf = _tf()
    rng = _rng(4)
    xs, ts = SHAPES[shape]
    x = rng.normal(size=xs) * 3
    t, ignore_index = _class_targets(rng, xs, ts, ignore)
    if shape == "unbatched":
        t = np.array(1)
    w = rng.uniform(0.3, 2.0, size=(4,)) if weighted else None
    kw = dict(ignore_index=ignore_index, reduction=reduction, label_smoothing=smoothing)
    _compare(
        lambda a, b, c: L.cross_entropy(a, b, weight=c, **kw),
        lambda a, b, c: tf.cross_entropy(a, b, weight=c, **kw),
        [x, t, w],
    )


@pytest.mark.parametrize(
    ("reduction", "weighted", "smoothing", "shape"),
    list(itertools.product(REDUCTIONS, [False, True], [0.0, 0.2], SHAPES)),
)
def test_cross_entropy_probability_targets_match_torch(reduction, weighted, smoothing, shape):
    tf = _tf()
    rng = _rng(5)
    xs, _ = SHAPES[shape]
    x = rng.normal(size=xs) * 3
    cd = 0 if len(xs) == 1 else 1
    q = np.moveaxis(rng.dirichlet(np.ones(4), size=xs[:cd] + xs[cd + 1 :]), -1, cd)
    w = rng.uniform(0.3, 2.0, size=(4,)) if weighted else None
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    _compare(
        lambda a, b, c: L.cross_entropy(a, b, weight=c, **kw),
        lambda a, b, c: tf.cross_entropy(a, b, weight=c, **kw),
        [x, q, w],
        grad_of=(0, 1),
    )


@pytest.mark.parametrize(
    ("reduction", "weighted", "ignore", "shape"),
    list(itertools.product(REDUCTIONS, [False, True], ["no_ignored", "ignore_-100", "ignore_class_2"], ["2d", "nd"])),
)
def test_nll_loss_matches_torch(reduction, weighted, ignore, shape):
    tf = _tf()
    rng = _rng(6)
    xs, ts = SHAPES[shape]
    x = rng.normal(size=xs)
    t, ignore_index = _class_targets(rng, xs, ts, ignore)
    w = rng.uniform(0.3, 2.0, size=(4,)) if weighted else None
    kw = dict(ignore_index=ignore_index, reduction=reduction)
    _compare(
        lambda a, b, c: L.nll_loss(a, b, weight=c, **kw), lambda a, b, c: tf.nll_loss(a, b, weight=c, **kw), [x, t, w]
    )


def test_cross_entropy_normalisation_closed_form():
    # weighted mean: Σ w[y]·(-log p_y) / Σ w[y] over non-ignored samples
    x = np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.6, 0.3], [0.2, 0.2, 0.6]]))
    w = np.array([1.0, 2.0, 3.0])
    t = np.array([0, 2, -100])
    got = L.cross_entropy(cr.tensor(x, dtype="float64"), cr.tensor(t), weight=w).item()
    assert got == pytest.approx((1 * -np.log(0.5) + 3 * -np.log(0.3)) / 4, rel=1e-14)


def test_all_ignored_mean_is_nan_as_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(7).normal(size=(3, 4))
    t = np.full(3, -100)
    xc = cr.tensor(x, dtype="float64", requires_grad=True)
    for fn in (L.cross_entropy, L.nll_loss, L.focal_loss):
        y = fn(xc, cr.tensor(t))
        assert np.isnan(y.item())
        y.backward()
    ref = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(t))
    assert torch.isnan(ref)
    assert L.cross_entropy(xc, cr.tensor(t), reduction="sum").item() == 0.0


def test_cross_entropy_stable_at_extreme_logits():
    torch = pytest.importorskip("torch")
    x = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0]])
    t = np.array([1, 2])
    out = _compare(
        lambda a, b: L.cross_entropy(a, b, reduction="none", label_smoothing=0.1),
        lambda a, b: torch.nn.functional.cross_entropy(a, b, reduction="none", label_smoothing=0.1),
        [x, t],
    )
    assert np.isfinite(out.data).all()


def test_cross_entropy_records_one_log_softmax_and_one_gather():
    # Efficiency: no one-hot matrix and no matmul for integer targets.
    x = cr.randn(64, 10, requires_grad=True)
    y = L.cross_entropy(x, cr.randint(0, 10, (64,)))
    names, stack, seen = [], [y.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen or not hasattr(node, "prim"):
            continue
        seen.add(id(node))
        names.append(node.prim.name)
        stack.extend(node.edges)
    assert names.count("log_softmax") == 1 and names.count("getitem") == 1
    assert "matmul" not in names and "mul" not in names
    assert len(names) <= 6, names


# --- KL divergence -------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["none", "mean", "batchmean", "sum"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(reduction, log_target):
    tf = _tf()
    rng = _rng(8)
    x = np.log(rng.dirichlet(np.ones(5), size=4))
    q = rng.dirichlet(np.ones(5), size=4)
    q[0, 1] = 0.0  # a zero target contributes 0 (0·log 0 = 0)
    if log_target:
        q = np.log(rng.dirichlet(np.ones(5), size=4))
    grad_of = (0, 1) if log_target else (0,)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch's note on reduction="mean"
        _compare(
            lambda a, b: L.kl_div(a, b, reduction=reduction, log_target=log_target),
            lambda a, b: tf.kl_div(a, b, reduction=reduction, log_target=log_target),
            [x, q],
            grad_of=grad_of,
        )


def test_kl_div_batchmean_is_the_true_kl():
    p = np.array([[0.5, 0.5], [0.9, 0.1]])
    q = np.array([[0.25, 0.75], [0.5, 0.5]])
    kl = np.sum(p * np.log(p / q), axis=1).mean()
    got = L.kl_div(cr.tensor(np.log(q), dtype="float64"), cr.tensor(p, dtype="float64"), reduction="batchmean")
    assert got.item() == pytest.approx(kl, rel=1e-14)
    mean = L.kl_div(cr.tensor(np.log(q), dtype="float64"), cr.tensor(p, dtype="float64"), reduction="mean")
    assert mean.item() == pytest.approx(kl / 2, rel=1e-14)  # "mean" also divides by the 2 classes


# --- focal loss ----------------------------------------------------------------------------------


def _torch_focal(torch, x, t, gamma, alpha, reduction, ignore_index=-100):
    keep = t != ignore_index
    ts = torch.where(keep, t, 0)
    logpt = torch.log_softmax(x, 1).gather(1, ts.unsqueeze(1)).squeeze(1)
    loss = -((1 - logpt.exp()) ** gamma) * logpt
    if isinstance(alpha, float):
        loss = loss * alpha
    elif alpha is not None:
        loss = loss * alpha[ts]
    loss = torch.where(keep, loss, 0.0)
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.sum() / keep.sum()


@pytest.mark.parametrize(
    ("gamma", "alpha", "reduction", "ignored"),
    list(itertools.product([0.0, 0.5, 2.0], ["none", "float", "vector"], REDUCTIONS, [False, True])),
)
def test_focal_loss_matches_its_formula_in_torch(gamma, alpha, reduction, ignored):
    torch = pytest.importorskip("torch")
    rng = _rng(9)
    x = rng.normal(size=(7, 4)) * 2
    t = rng.integers(0, 4, size=7)
    if ignored:
        t[::3] = -100
    a = {"none": None, "float": 0.25, "vector": rng.uniform(0.2, 1.0, size=4)}[alpha]
    a_t = torch.tensor(a) if alpha == "vector" else a
    _compare(
        lambda u, v: L.focal_loss(u, v, gamma=gamma, alpha=a, reduction=reduction),
        lambda u, v: _torch_focal(torch, u, v, gamma, a_t, reduction),
        [x, t],
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_focal_with_gamma_zero_is_cross_entropy_exactly(reduction):
    x = _rng(10).normal(size=(6, 5, 2))
    t = cr.tensor(np.array([[0, 4], [1, -100], [2, 3], [3, 3], [4, 0], [-100, 1]]))
    a = cr.tensor(x, dtype="float64", requires_grad=True)
    b = cr.tensor(x, dtype="float64", requires_grad=True)
    fl = L.focal_loss(a, t, gamma=0.0, reduction=reduction)
    ce = L.cross_entropy(b, t, reduction=reduction)
    np.testing.assert_array_equal(fl.data, ce.data)
    g = np.ones(fl.shape)
    fl.backward(g)
    ce.backward(g)
    np.testing.assert_array_equal(a.grad.data, b.grad.data)
    # with a per-class alpha the sum equals weighted cross-entropy (the mean normalises differently)
    w = np.array([0.5, 1.0, 1.5, 2.0, 2.5])
    fl_w = L.focal_loss(x, t, gamma=0.0, alpha=w, reduction="sum").item()
    assert fl_w == pytest.approx(L.cross_entropy(x, t, weight=w, reduction="sum").item(), rel=1e-14)


def test_focal_loss_down_weights_easy_examples():
    x = np.array([[4.0, 0.0], [0.2, 0.0]])  # an easy and a hard sample of class 0
    t = cr.tensor([0, 0])
    ce = L.cross_entropy(x, t, reduction="none").data
    fl = L.focal_loss(x, t, gamma=2.0, reduction="none").data
    p = 1 / (1 + np.exp(-np.array([4.0, 0.2])))
    np.testing.assert_allclose(fl, (1 - p) ** 2 * ce, rtol=1e-6)
    assert fl[0] / ce[0] < 1e-3 < fl[1] / ce[1]


@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_focal_loss_stable_when_p_is_one(gamma):
    x = cr.tensor([[1000.0, -1000.0, 0.0], [0.0, 1000.0, -1000.0]], dtype="float64", requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = L.focal_loss(x, cr.tensor([0, 2]), gamma=gamma, reduction="none")
        y.sum().backward()
    assert y.data[0] == 0.0 and y.data[1] == pytest.approx(2000.0)
    assert np.isfinite(x.grad.data).all()


# --- gradcheck (finite differences) --------------------------------------------------------------


def _f64(a):
    return cr.tensor(a, dtype="float64")


def test_gradcheck_regression_and_binary_losses():
    rng = _rng(11)
    x, y = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    d = x - y
    y = np.where(np.abs(d) < 0.05, y + 0.1, y)  # away from the kink of |d|
    y = np.where(np.abs(np.abs(x - y) - 0.7) < 0.05, y + 0.1, y)  # and from |d| = delta
    for red in REDUCTIONS:
        assert gradcheck(lambda a, b, r=red: L.mse_loss(a, b, reduction=r), (_f64(x), _f64(y)))
        assert gradcheck(lambda a, b, r=red: L.l1_loss(a, b, reduction=r), (_f64(x), _f64(y)))
        assert gradcheck(lambda a, b, r=red: L.huber_loss(a, b, reduction=r, delta=0.7), (_f64(x), _f64(y)))
    p, q = rng.uniform(0.1, 0.9, size=(3, 2)), rng.uniform(0, 1, size=(3, 2))
    w = _f64(rng.uniform(0.5, 2, size=(2,)))
    assert gradcheck(lambda a, b: L.binary_cross_entropy(a, b, weight=w, reduction="sum"), (_f64(p), _f64(q)))
    assert gradcheck(
        lambda a, b, c: L.binary_cross_entropy_with_logits(a, b, weight=w, pos_weight=c),
        (_f64(x * 3), _f64(q), _f64(rng.uniform(0.5, 3, size=(2,)))),
    )


def test_gradcheck_class_losses():
    rng = _rng(12)
    x = rng.normal(size=(4, 3, 2))
    t = cr.tensor(np.array([[0, 2], [1, -100], [2, 2], [-100, 0]]))
    w = rng.uniform(0.5, 2, size=(3,))
    # (contiguous: gradcheck's forward-mode basis tangents are lost on a non-C-contiguous input)
    q = _f64(np.ascontiguousarray(np.moveaxis(rng.dirichlet(np.ones(3), size=(4, 2)), -1, 1)))
    for red in REDUCTIONS:
        assert gradcheck(lambda a, r=red: L.cross_entropy(a, t, weight=w, reduction=r, label_smoothing=0.1), (_f64(x),))
        assert gradcheck(lambda a, r=red: L.nll_loss(a, t, weight=w, reduction=r), (_f64(x),))
        assert gradcheck(lambda a, r=red: L.focal_loss(a, t, gamma=1.5, alpha=w, reduction=r), (_f64(x),))
        assert gradcheck(
            lambda a, b, r=red: L.cross_entropy(a, b, weight=w, reduction=r, label_smoothing=0.2), (_f64(x), q)
        )
    lp = _f64(np.log(rng.dirichlet(np.ones(3), size=4)))
    tp = _f64(rng.dirichlet(np.ones(3), size=4))
    for red in ("none", "mean", "batchmean", "sum"):
        assert gradcheck(lambda a, b, r=red: L.kl_div(a, b, reduction=r), (lp, tp))
        assert gradcheck(lambda a, b, r=red: L.kl_div(a, b, reduction=r, log_target=True), (lp, lp * 0.5))


# --- dtype ---------------------------------------------------------------------------------------

FLOAT32_CASES = {
    "mse": lambda x, t, q: L.mse_loss(x, q),
    "l1": lambda x, t, q: L.l1_loss(x, q),
    "huber": lambda x, t, q: L.huber_loss(x, q),
    "bce": lambda x, t, q: L.binary_cross_entropy(cr.sigmoid(x), q, weight=np.ones(4)),
    "bce_logits": lambda x, t, q: L.binary_cross_entropy_with_logits(x, q, pos_weight=cr.ones(4, dtype="float64")),
    "ce": lambda x, t, q: L.cross_entropy(x, t, weight=np.ones(4), label_smoothing=0.1),
    "ce_probs": lambda x, t, q: L.cross_entropy(x, q, weight=np.ones(4)),
    "nll": lambda x, t, q: L.nll_loss(cr.log_softmax(x), t, weight=cr.ones(4, dtype="float64")),
    "kl": lambda x, t, q: L.kl_div(cr.log_softmax(x), q, reduction="batchmean"),
    "focal": lambda x, t, q: L.focal_loss(x, t, gamma=0.5, alpha=np.ones(4)),
}


@pytest.mark.parametrize("name", FLOAT32_CASES)
def test_float32_is_preserved(name):
    rng = _rng(13)
    x = cr.tensor(rng.normal(size=(3, 4)), dtype="float32", requires_grad=True)
    t = cr.tensor(rng.integers(0, 4, size=3))
    q = cr.tensor(rng.dirichlet(np.ones(4), size=3), dtype="float64")  # a float64 target is cast
    y = FLOAT32_CASES[name](x, t, q)
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32


# --- errors --------------------------------------------------------------------------------------


def test_invalid_reduction():
    for fn in (L.mse_loss, L.l1_loss, L.huber_loss, L.binary_cross_entropy_with_logits, L.kl_div):
        with pytest.raises(ValueError, match=rf"{fn.__name__}: reduction must be one of .* got 'avg'"):
            fn(cr.zeros(2), cr.zeros(2), reduction="avg")
    with pytest.raises(
        ValueError, match=r"cross_entropy: reduction must be one of 'none', 'mean', 'sum', got 'batchmean'"
    ):
        L.cross_entropy(cr.zeros(2, 3), cr.tensor([0, 1]), reduction="batchmean")


def test_class_target_errors():
    x = cr.zeros(4, 3)
    for fn in (L.cross_entropy, L.nll_loss, L.focal_loss):
        name = fn.__name__
        with pytest.raises(ValueError, match=rf"{name}: class index 3 is out of range \[0, 3\) .*ignore_index=-100"):
            fn(x, cr.tensor([0, 1, 3, 2]))
        with pytest.raises(ValueError, match=rf"{name}: class index -1 is out of range"):
            fn(x, cr.tensor([0, -1, 1, 2]))
        with pytest.raises(ValueError, match=rf"{name}: class-index target must have shape \(4,\) .* got shape \(5,\)"):
            fn(x, cr.tensor([0, 1, 2, 0, 1]))  # batch mismatch
        with pytest.raises(
            ValueError, match=rf"{name}: class-index target must have shape \(4, 2\) for input of shape \(4, 3, 2\)"
        ):
            fn(cr.zeros(4, 3, 2), cr.tensor([0, 1, 2, 0]))
        with pytest.raises(TypeError, match=rf"{name}: input must be a floating-point tensor, got dtype int64"):
            fn(cr.tensor([[1, 2]]), cr.tensor([0]))
        with pytest.raises(ValueError, match=rf"{name}: input must have a class axis"):
            fn(cr.tensor(1.0), cr.tensor(0))
    for fn in (L.nll_loss, L.focal_loss):
        with pytest.raises(
            TypeError, match=rf"{fn.__name__}: target must hold integer class indices .* got dtype float32"
        ):
            fn(x, cr.zeros(4))
    # a float target is read as probabilities, and must then have the input's shape
    with pytest.raises(
        TypeError,
        match=r"cross_entropy: a floating-point target holds class probabilities .* \(4, 3\), got shape \(4,\)",
    ):
        L.cross_entropy(x, cr.zeros(4))
    with pytest.raises(TypeError, match=r"cross_entropy: target must hold integer class indices .* got dtype bool"):
        L.cross_entropy(x, cr.tensor([True, False, True, True]))
    with pytest.raises(
        ValueError, match=r"cross_entropy: weight must have shape \(3,\) \(one entry per class\), got shape \(4,\)"
    ):
        L.cross_entropy(x, cr.tensor([0, 1, 2, 0]), weight=cr.ones(4))
    with pytest.raises(ValueError, match=r"cross_entropy: label_smoothing must lie in \[0, 1\], got 1.5"):
        L.cross_entropy(x, cr.tensor([0, 1, 2, 0]), label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"focal_loss: gamma must be non-negative"):
        L.focal_loss(x, cr.tensor([0, 1, 2, 0]), gamma=-1.0)
    with pytest.raises(
        TypeError, match=r"cross_entropy: weight must be a floating-point tensor of shape \(3,\), got dtype int64"
    ):
        L.cross_entropy(x, cr.tensor([0, 1, 2, 0]), weight=cr.tensor([1, 2, 3]))
    np.testing.assert_array_equal(
        L.cross_entropy(x, cr.tensor([0, 1, 2, 0]), weight=[1, 2, 3]).data,
        L.cross_entropy(x, cr.tensor([0, 1, 2, 0]), weight=[1.0, 2.0, 3.0]).data,
    )
    with pytest.raises(ValueError, match=r"focal_loss: alpha must have shape \(3,\)"):
        L.focal_loss(x, cr.tensor([0, 1, 2, 0]), alpha=[0.5, 0.5])
    # ignore_index itself is never range-checked
    assert np.isfinite(L.cross_entropy(x, cr.tensor([0, 7, 1, 2]), ignore_index=7).item())


def test_regression_and_binary_errors():
    with pytest.raises(ValueError, match=r"mse_loss: target shape \(3,\) must equal the input shape \(2, 3\)"):
        L.mse_loss(cr.zeros(2, 3), cr.zeros(3))
    with pytest.raises(TypeError, match=r"l1_loss: target must be a floating-point tensor .* got dtype int64"):
        L.l1_loss(cr.zeros(2), cr.tensor([0, 1]))
    with pytest.raises(
        TypeError, match=r"binary_cross_entropy_with_logits: target must be a floating-point .* got dtype int64"
    ):
        L.binary_cross_entropy_with_logits(cr.zeros(2), cr.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: every element of probs must lie in \[0, 1\], got 1.5"):
        L.binary_cross_entropy(cr.tensor([0.5, 1.5]), cr.zeros(2))
    with pytest.raises(
        ValueError, match=r"binary_cross_entropy: every element of targets must lie in \[0, 1\], got -1"
    ):
        L.binary_cross_entropy(cr.tensor([0.5, 0.5]), cr.tensor([0.0, -1.0]))
    with pytest.raises(
        ValueError,
        match=r"binary_cross_entropy_with_logits: pos_weight of shape \(4,\) does not broadcast to the target shape \(2, 3\)",
    ):
        L.binary_cross_entropy_with_logits(cr.zeros(2, 3), cr.zeros(2, 3), pos_weight=cr.ones(4))
    with pytest.raises(ValueError, match=r"huber_loss: delta must be positive, got 0"):
        L.huber_loss(cr.zeros(2), cr.zeros(2), delta=0)
    with pytest.raises(ValueError, match=r"kl_div: target probabilities must be non-negative, got -0.5"):
        L.kl_div(cr.zeros(2), cr.tensor([0.5, -0.5]))


# --- Modules -------------------------------------------------------------------------------------


def test_loss_modules_store_arguments_and_call_the_functional_form():
    rng = _rng(14)
    x = cr.tensor(rng.normal(size=(5, 3)), dtype="float64")
    t = cr.tensor(rng.integers(0, 3, size=5))
    t0 = cr.tensor(t.data.copy())
    t[1] = -100
    q = cr.tensor(rng.uniform(0, 1, size=(5, 3)), dtype="float64")
    w = cr.tensor([0.5, 1.0, 2.0], dtype="float64")
    cases = [
        (NL.MSELoss(reduction="sum"), L.mse_loss(x, q, reduction="sum"), (x, q)),
        (NL.L1Loss(), L.l1_loss(x, q), (x, q)),
        (NL.HuberLoss(delta=0.5), L.huber_loss(x, q, delta=0.5), (x, q)),
        (NL.BCELoss(weight=w), L.binary_cross_entropy(cr.sigmoid(x), q, weight=w), (cr.sigmoid(x), q)),
        (
            NL.BCEWithLogitsLoss(pos_weight=w, reduction="none"),
            L.binary_cross_entropy_with_logits(x, q, pos_weight=w, reduction="none"),
            (x, q),
        ),
        (
            NL.CrossEntropyLoss(weight=w, label_smoothing=0.1),
            L.cross_entropy(x, t, weight=w, label_smoothing=0.1),
            (x, t),
        ),
        (NL.CrossEntropyLoss(ignore_index=0), L.cross_entropy(x, t0, ignore_index=0), (x, t0)),
        (NL.NLLLoss(weight=w), L.nll_loss(x, t, weight=w), (x, t)),
        (NL.KLDivLoss(reduction="batchmean", log_target=True), L.kl_div(x, x * 0.5, "batchmean", True), (x, x * 0.5)),
        (NL.FocalLoss(gamma=1.0, alpha=w), L.focal_loss(x, t, gamma=1.0, alpha=w), (x, t)),
        (NL.FocalLoss(alpha=0.25, reduction="sum"), L.focal_loss(x, t, alpha=0.25, reduction="sum"), (x, t)),
    ]
    for module, expected, args in cases:
        np.testing.assert_array_equal(module(*args).data, expected.data, err_msg=repr(module))


def test_loss_module_reprs_buffers_and_errors():
    m = NL.CrossEntropyLoss(weight=[1.0, 2.0, 3.0], label_smoothing=0.1)
    assert repr(m) == "CrossEntropyLoss(reduction='mean', ignore_index=-100, label_smoothing=0.1)"
    assert list(m.state_dict()) == ["weight"] and list(m.parameters()) == []
    m.to(cr.float64)
    assert m.weight.dtype == np.float64
    x = cr.randn(4, 3, requires_grad=True)
    y = m(x, cr.tensor([0, 1, 2, 1]))
    assert y.dtype == np.float32  # the float64 buffer does not promote a float32 input
    assert repr(NL.FocalLoss()) == "FocalLoss(gamma=2.0, alpha=None, reduction='mean')"
    assert repr(NL.KLDivLoss()) == "KLDivLoss(reduction='mean', log_target=False)"
    assert list(NL.BCEWithLogitsLoss(pos_weight=[2.0]).state_dict()) == ["pos_weight"]
    for cls in (NL.MSELoss, NL.L1Loss, NL.HuberLoss, NL.BCELoss, NL.CrossEntropyLoss, NL.NLLLoss, NL.FocalLoss):
        with pytest.raises(ValueError, match=rf"{cls.__name__}: reduction must be one of .* got 'batchmean'"):
            cls(reduction="batchmean")
    NL.KLDivLoss(reduction="batchmean")
    with pytest.raises(ValueError, match=r"CrossEntropyLoss: label_smoothing must lie in \[0, 1\]"):
        NL.CrossEntropyLoss(label_smoothing=-0.1)
    with pytest.raises(ValueError, match=r"HuberLoss: delta must be positive"):
        NL.HuberLoss(delta=-1.0)
    with pytest.raises(ValueError, match=r"FocalLoss: gamma must be non-negative"):
        NL.FocalLoss(gamma=-2.0)
    with pytest.raises(TypeError, match=r"NLLLoss: weight must be a floating-point tensor, got dtype int64"):
        NL.NLLLoss(weight=cr.tensor([1, 2]))
    assert NL.NLLLoss(weight=[1, 2]).weight.dtype == np.float32  # a literal list becomes the default dtype
