"""Optimizers: closed-form steps, agreement with torch.optim, checkpoints, groups and errors."""

import json

import numpy as np
import pytest

import chainrule as cr
from chainrule.optim import LBFGS, SGD, Adagrad, Adam, AdamW, Lookahead, RMSprop, clip_grad_norm_, clip_grad_value_
from chainrule.optim.lbfgs import _cubic_interpolate
from chainrule.optim.lr_scheduler import StepLR

# --- a fixed float64 problem: logistic regression plus a weighted quadratic -------------------
_rng = np.random.default_rng(0)
X = _rng.normal(size=(16, 4))
Y = np.sign(X @ np.array([1.0, -2.0, 0.5, 1.5]) + 0.3 * _rng.normal(size=16))
T = _rng.normal(size=(3, 2))
C = np.array([[1.0, 3.0], [0.5, 2.0], [4.0, 0.2]])
INIT = [_rng.normal(size=4) * 0.5, np.array([0.1]), _rng.normal(size=(3, 2))]


def loss_cr(params):
    w, b, a = params
    z = cr.tensor(X) @ w + b
    return cr.log1p(cr.exp(-cr.tensor(Y) * z)).mean() + 0.5 * ((a - cr.tensor(T)) ** 2 * cr.tensor(C)).sum()


def loss_torch(torch, params):
    w, b, a = params
    z = torch.tensor(X) @ w + b
    return (
        torch.log1p(torch.exp(-torch.tensor(Y) * z)).mean() + 0.5 * ((a - torch.tensor(T)) ** 2 * torch.tensor(C)).sum()
    )


def make_cr_params():
    return [cr.tensor(v.copy(), dtype=cr.float64, requires_grad=True) for v in INIT]


def make_torch_params(torch):
    return [torch.tensor(v.copy(), dtype=torch.float64, requires_grad=True) for v in INIT]


def run_cr(opt, params, steps):
    traj = []
    for _ in range(steps):
        opt.zero_grad()
        loss_cr(params).backward()
        opt.step()
        traj.append([p.data.copy() for p in params])
    return traj


def run_torch(opt, params, steps):
    traj = []
    for _ in range(steps):
        opt.zero_grad()
        loss_torch(_torch_mod(), params).backward()
        opt.step()
        traj.append([p.detach().numpy().copy() for p in params])
    return traj


def _torch_mod():
    return pytest.importorskip("torch")


def assert_traj_close(a, b, rtol=1e-5, atol=1e-10):
    assert len(a) == len(b)
    for step, (xs, ys) in enumerate(zip(a, b)):
        for x, y in zip(xs, ys):
            np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, err_msg=f"step {step + 1}")


CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.5}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.01, "maximize": True}),
    ("Adam", {"lr": 0.05}),
    ("Adam", {"lr": 0.05, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.05, "amsgrad": True}),
    ("Adam", {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-3}),
    ("Adam", {"lr": 0.05, "maximize": True, "weight_decay": 0.1, "amsgrad": True}),
    ("Adam", {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("AdamW", {"lr": 0.05}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.2, "amsgrad": True}),
    ("AdamW", {"lr": 0.05, "maximize": True, "betas": (0.5, 0.9)}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-4, "maximize": True}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05}),
    ("Adagrad", {"lr": 0.1, "weight_decay": 0.1}),
    ("Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-3}),
    ("Adagrad", {"lr": 0.1, "maximize": True}),
]
CLASSES = {"SGD": SGD, "Adam": Adam, "AdamW": AdamW, "RMSprop": RMSprop, "Adagrad": Adagrad}


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=[f"{n}-{'-'.join(k)}" for n, k in CASES])
def test_matches_torch_over_20_steps(name, kwargs):
    torch = _torch_mod()
    ps = make_cr_params()
    ours = run_cr(CLASSES[name](ps, **kwargs), ps, 20)
    tps = make_torch_params(torch)
    theirs = run_torch(getattr(torch.optim, name)(tps, **kwargs), tps, 20)
    assert_traj_close(ours, theirs)
    # The trajectory must actually move (a no-op optimizer would fail the comparison too, but
    # this keeps the test honest about what it compares).
    assert not np.allclose(ours[-1][2], INIT[2])


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_param_groups_match_torch(name):
    torch = _torch_mod()
    extra = {"SGD": {"momentum": 0.9}, "Adam": {"betas": (0.8, 0.9)}, "RMSprop": {"centered": True}}[name]

    def groups(ps):
        return [{"params": ps[:2], "lr": 0.02}, {"params": ps[2:], "lr": 0.2, **extra}]

    ps = make_cr_params()
    ours = run_cr(CLASSES[name](groups(ps), lr=0.05), ps, 10)
    tps = make_torch_params(torch)
    theirs = run_torch(getattr(torch.optim, name)(groups(tps), lr=0.05), tps, 10)
    assert_traj_close(ours, theirs)


# --- closed forms ------------------------------------------------------------------------------
def _with_grads(values, grads):
    ps = [cr.tensor(v, dtype=cr.float64, requires_grad=True) for v in values]
    for p, g in zip(ps, grads):
        p.grad = cr.tensor(g, dtype=cr.float64)
    return ps


def test_sgd_one_step_is_p_minus_lr_g():
    p0, g = np.array([1.0, -2.0, 3.0]), np.array([0.5, 0.25, -4.0])
    (p,) = _with_grads([p0], [g])
    SGD([p], lr=0.1).step()
    np.testing.assert_array_equal(p.data, p0 - 0.1 * g)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_by_hand_over_three_steps(nesterov):
    lr, mu = 0.1, 0.9
    p0 = np.array([1.0, 2.0])
    gs = [np.array([1.0, -1.0]), np.array([0.5, 2.0]), np.array([-3.0, 0.25])]
    p = cr.tensor(p0, dtype=cr.float64, requires_grad=True)
    opt = SGD([p], lr=lr, momentum=mu, nesterov=nesterov)
    x, buf = p0.copy(), None
    for g in gs:
        p.grad = cr.tensor(g, dtype=cr.float64)
        opt.step()
        buf = g.copy() if buf is None else mu * buf + g
        x = x - lr * (g + mu * buf if nesterov else buf)
        np.testing.assert_allclose(p.data, x, rtol=1e-15)
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"], buf, rtol=1e-15)


def test_adam_first_step_is_sign_like():
    lr, eps = 0.01, 0.1  # a large eps, so where it enters is visible
    p0, g = np.array([1.0, -1.0, 0.5, 2.0]), np.array([3.0, -0.02, 0.0, -50.0])
    (p,) = _with_grads([p0], [g])
    Adam([p], lr=lr, eps=eps).step()
    np.testing.assert_allclose(p.data, p0 - lr * g / (np.abs(g) + eps), rtol=1e-14)


def test_adamw_with_zero_gradient_shrinks_weights_exactly():
    lr, wd = 0.1, 0.3
    p0 = np.array([1.0, -2.0, 0.5])
    (p,) = _with_grads([p0], [np.zeros(3)])
    opt = AdamW([p], lr=lr, weight_decay=wd)
    expected = p0.copy()
    for _ in range(3):
        opt.step()
        expected = expected * (1 - lr * wd)
        np.testing.assert_array_equal(p.data, expected)


def test_adagrad_and_rmsprop_first_step_by_hand():
    p0, g = np.array([1.0, -1.0]), np.array([2.0, -0.5])
    (p,) = _with_grads([p0], [g])
    Adagrad([p], lr=0.1, initial_accumulator_value=1.0, eps=0.0).step()
    np.testing.assert_allclose(p.data, p0 - 0.1 * g / np.sqrt(1.0 + g**2), rtol=1e-15)
    (p,) = _with_grads([p0], [g])
    RMSprop([p], lr=0.1, alpha=0.9, eps=0.0).step()
    np.testing.assert_allclose(p.data, p0 - 0.1 * g / np.sqrt(0.1 * g**2), rtol=1e-15)


def test_param_groups_use_their_own_lr():
    a, b = _with_grads([np.ones(2), np.ones(3)], [np.ones(2), np.ones(3)])
    opt = SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    opt.step()
    np.testing.assert_allclose(a.data, 0.9)
    np.testing.assert_allclose(b.data, 0.5)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[1]["lr"] == 0.5
    c = cr.ones(2, dtype=cr.float64, requires_grad=True)
    opt.add_param_group({"params": [c], "lr": 0.25, "momentum": 0.5})
    assert opt.param_groups[2]["momentum"] == 0.5 and opt.param_groups[2]["nesterov"] is False


def test_named_parameters_are_accepted():
    a, b = _with_grads([np.ones(2), np.ones(3)], [np.ones(2), np.ones(3)])
    opt = SGD([("a", a), ("b", b)], lr=0.5)
    opt.step()
    assert opt.param_groups[0]["param_names"] == ["a", "b"]
    np.testing.assert_allclose(b.data, 0.5)


def test_params_without_grad_are_skipped_and_versions_bump():
    a, b = _with_grads([np.ones(2), np.ones(2)], [np.ones(2), np.ones(2)])
    b.grad = None
    for cls in (SGD, Adam, AdamW, RMSprop, Adagrad):
        opt = cls([a, b], lr=0.1)
        va, vb = a._version[0], b._version[0]
        opt.step()
        assert a._version[0] == va + 1 and b._version[0] == vb
        np.testing.assert_array_equal(b.data, np.ones(2))
        assert b not in opt.state


# maximize and weight decay transform the gradient: they must do so on a copy.
@pytest.mark.parametrize(("name", "kwargs"), [c for c in CASES if c[1].get("maximize") or c[1].get("weight_decay")])
def test_step_leaves_the_gradient_untouched(name, kwargs):
    ps = make_cr_params()
    opt = CLASSES[name](ps, **kwargs)
    loss_cr(ps).backward()
    grads = [p.grad.data.copy() for p in ps]
    opt.step()
    opt.step()
    for p, g in zip(ps, grads):
        np.testing.assert_array_equal(p.grad.data, g)


def test_step_invalidates_graphs_that_saved_the_parameter():
    p = cr.tensor([1.0, 2.0], requires_grad=True)
    (p * p).sum().backward()
    y = (p * p).sum()  # saves p for backward
    SGD([p], lr=0.1).step()
    with pytest.raises(RuntimeError):
        y.backward()


def test_closure_is_called_with_grad_enabled_and_returned():
    ps = make_cr_params()
    opt = Adam(ps, lr=0.01)

    def closure():
        assert cr.is_grad_enabled()
        opt.zero_grad()
        loss = loss_cr(ps)
        loss.backward()
        return loss

    with cr.no_grad():
        loss = opt.step(closure)
    assert float(loss) == pytest.approx(float(loss_cr(make_cr_params())))
    assert not np.array_equal(ps[0].data, INIT[0])


def test_zero_grad_modes():
    a, b = _with_grads([np.ones(2), np.ones(2)], [np.ones(2), np.ones(2)])
    opt = SGD([a, b], lr=0.1)
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad.data, 0.0)
    opt.zero_grad()
    assert a.grad is None and b.grad is None


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
        (Adam, {"lr": 0.1, "amsgrad": True, "weight_decay": 0.01}),
        (AdamW, {"lr": 0.1}),
        (RMSprop, {"lr": 0.1, "centered": True, "momentum": 0.5}),
        (Adagrad, {"lr": 0.1, "lr_decay": 0.01}),
        (LBFGS, {"lr": 0.5, "max_iter": 3}),
    ],
)
def test_float32_stays_float32(cls, kwargs):
    ps = [cr.tensor(v.astype(np.float32), requires_grad=True) for v in INIT]
    opt = cls(ps, **kwargs)

    def closure():
        opt.zero_grad()
        loss = loss_cr(ps)
        loss.backward()
        return loss

    for _ in range(3):
        opt.step(closure)
    for p in ps:
        assert p.dtype == np.float32
        for v in opt.state.get(p, {}).values():
            if isinstance(v, np.ndarray):
                assert v.dtype == np.float32
    assert not np.array_equal(ps[2].data, INIT[2].astype(np.float32))


# --- checkpoints -------------------------------------------------------------------------------
def _plain(obj):
    """True when obj holds only plain data (what a JSON/npz writer can store without pickle)."""
    if isinstance(obj, dict):
        return all(isinstance(k, (int, str)) and _plain(v) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return all(_plain(v) for v in obj)
    return obj is None or isinstance(obj, (bool, int, float, str, np.ndarray))


def _json_roundtrip(sd):
    def default(o):
        if isinstance(o, np.ndarray):
            return o.tolist()
        raise TypeError(type(o))

    return json.loads(json.dumps(sd, default=default))


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (SGD, {"lr": 0.05, "momentum": 0.9}),
        (Adam, {"lr": 0.05, "amsgrad": True}),
        (RMSprop, {"lr": 0.01, "centered": True, "momentum": 0.5}),
        (Adagrad, {"lr": 0.1}),
        (LBFGS, {"lr": 0.5, "max_iter": 3, "history_size": 4}),
        (LBFGS, {"max_iter": 3, "line_search_fn": "strong_wolfe"}),
    ],
)
@pytest.mark.parametrize("through_json", [False, True])
def test_state_dict_round_trip_continues_identically(cls, kwargs, through_json):
    def closure_for(opt, ps):
        def closure():
            opt.zero_grad()
            loss = loss_cr(ps)
            loss.backward()
            return loss

        return closure

    ps = make_cr_params()
    opt = cls(ps, **kwargs)
    for _ in range(4):
        opt.step(closure_for(opt, ps))
    sd = opt.state_dict()
    assert _plain(sd)
    saved = [p.data.copy() for p in ps]
    for _ in range(4):
        opt.step(closure_for(opt, ps))
    reference = [p.data.copy() for p in ps]

    # state_dict() copies: the steps above must not have changed the checkpoint.
    ps2 = [cr.tensor(v, dtype=cr.float64, requires_grad=True) for v in saved]
    opt2 = cls(ps2, **kwargs)
    opt2.load_state_dict(_json_roundtrip(sd) if through_json else sd)
    for _ in range(4):
        opt2.step(closure_for(opt2, ps2))
    for p, r in zip(ps2, reference):
        np.testing.assert_array_equal(p.data, r)


def _snapshot(opt):
    sd = opt.state_dict()
    return json.dumps(_json_roundtrip(sd), sort_keys=True)


def test_mismatched_state_dict_raises_and_leaves_optimizer_unchanged():
    ps = make_cr_params()
    opt = Adam(ps, lr=0.05)
    run_cr(opt, ps, 2)
    before = _snapshot(opt)
    good = opt.state_dict()

    bad_groups = {**good, "param_groups": good["param_groups"] * 2}
    with pytest.raises(
        ValueError, match=r"Adam\.load_state_dict: the state_dict has 2 parameter groups, the optimizer has 1"
    ):
        opt.load_state_dict(bad_groups)

    short = {**good, "param_groups": [{**good["param_groups"][0], "params": [0, 1]}]}
    with pytest.raises(ValueError, match=r"Adam\.load_state_dict: parameter group 0 has 2 parameters.*but 3"):
        opt.load_state_dict(short)

    wrong_shape = {
        "param_groups": good["param_groups"],
        "state": {**good["state"], 2: {**good["state"][2], "exp_avg": np.zeros((2, 3))}},
    }
    with pytest.raises(
        ValueError, match=r"Adam\.load_state_dict: state\[2\]\['exp_avg'\] has shape \(2, 3\), expected.*\(3, 2\)"
    ):
        opt.load_state_dict(wrong_shape)

    out_of_range = {"param_groups": good["param_groups"], "state": {**good["state"], 7: good["state"][0]}}
    with pytest.raises(ValueError, match=r"Adam\.load_state_dict: the state refers to parameter 7"):
        opt.load_state_dict(out_of_range)

    bad_lr = {**good, "param_groups": [{**good["param_groups"][0], "lr": -1.0}]}
    with pytest.raises(ValueError, match=r"Adam\.load_state_dict: parameter group 0: Adam: lr must be positive"):
        opt.load_state_dict(bad_lr)

    with pytest.raises(ValueError, match="keys 'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})
    assert _snapshot(opt) == before


def test_lbfgs_state_dict_shape_mismatch_raises():
    ps = make_cr_params()
    opt = LBFGS(ps, max_iter=3)

    def closure():
        opt.zero_grad()
        loss = loss_cr(ps)
        loss.backward()
        return loss

    opt.step(closure)
    sd = opt.state_dict()
    before = _snapshot(opt)
    bad = {"param_groups": sd["param_groups"], "state": {0: {**sd["state"][0], "d": np.zeros(4)}}}
    with pytest.raises(
        ValueError, match=r"LBFGS\.load_state_dict: state\[0\]\['d'\] has shape \(4,\), expected \(11,\)"
    ):
        opt.load_state_dict(bad)
    assert _snapshot(opt) == before


# --- hyperparameter validation ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (SGD, {"lr": -0.1}, "SGD: lr must be positive, got -0.1"),
        (SGD, {"lr": 0.0}, "SGD: lr must be positive, got 0.0"),
        (SGD, {"lr": 0.1, "momentum": -0.5}, "SGD: momentum must be >= 0, got -0.5"),
        (SGD, {"lr": 0.1, "nesterov": True}, "SGD: nesterov momentum requires momentum > 0 and dampening = 0"),
        (
            SGD,
            {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True},
            "requires momentum > 0 and dampening = 0",
        ),
        (SGD, {"lr": 0.1, "weight_decay": -1.0}, "SGD: weight_decay must be >= 0"),
        (Adam, {"betas": (1.0, 0.999)}, r"Adam: betas\[0\] must be in \[0.0, 1.0\), got 1.0"),
        (Adam, {"betas": (0.9, -0.1)}, r"Adam: betas\[1\] must be in"),
        (Adam, {"betas": 0.9}, "Adam: betas must be a pair"),
        (Adam, {"eps": -1e-8}, "Adam: eps must be >= 0"),
        (AdamW, {"lr": float("nan")}, "AdamW: lr must not be NaN"),
        (RMSprop, {"alpha": 1.5}, r"RMSprop: alpha must be in \[0.0, 1.0\]"),
        (RMSprop, {"momentum": -0.1}, "RMSprop: momentum must be >= 0"),
        (Adagrad, {"lr_decay": -0.1}, "Adagrad: lr_decay must be >= 0"),
        (Adagrad, {"initial_accumulator_value": -1.0}, "Adagrad: initial_accumulator_value must be >= 0"),
        (LBFGS, {"max_iter": 0}, "LBFGS: max_iter must be a positive integer"),
        (LBFGS, {"line_search_fn": "backtracking"}, "LBFGS: line_search_fn must be None or 'strong_wolfe'"),
        (LBFGS, {"history_size": 0}, "LBFGS: history_size must be a positive integer"),
    ],
)
def test_bad_hyperparameters_raise(cls, kwargs, message):
    p = cr.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match=message):
        cls([p], **kwargs)


def test_bad_params_raise():
    p = cr.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match="SGD: maximize must be a bool"):
        SGD([p], lr=0.1, maximize=1)
    with pytest.raises(TypeError, match="SGD: lr must be a real number"):
        SGD([p], lr="0.1")
    with pytest.raises(ValueError, match="SGD: optimizer got an empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(TypeError, match="got a single Tensor"):
        SGD(p, lr=0.1)
    with pytest.raises(TypeError, match="not a set"):
        SGD({p}, lr=0.1)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        SGD([p * 2], lr=0.1)
    with pytest.raises(TypeError, match="floating dtype"):
        SGD([cr.tensor([1, 2])], lr=0.1)
    with pytest.raises(ValueError, match="already belongs to another parameter group"):
        SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    opt = SGD([p], lr=0.1)
    q = cr.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="SGD: lr must be positive"):
        opt.add_param_group({"params": [q], "lr": -1.0})
    with pytest.raises(ValueError, match="already belongs"):
        opt.add_param_group({"params": [p]})
    assert len(opt.param_groups) == 1
    p.grad = cr.ones(3)
    with pytest.raises(ValueError, match=r"SGD\.step: parameter 0 has shape \(2,\) but its \.grad has shape \(3,\)"):
        opt.step()
    with pytest.raises(ValueError, match="LBFGS doesn't support per-parameter options"):
        LBFGS([{"params": [p]}, {"params": [q]}])
    with pytest.raises(ValueError, match="requires a closure"):
        LBFGS([p]).step()


# --- L-BFGS ------------------------------------------------------------------------------------
def rosenbrock(xy):
    x, y = xy[0], xy[1]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def test_cubic_interpolate_finds_the_cubic_minimum():
    # f(x) = x³ - 3x has its local minimum at x = 1.
    def f(x):
        return x**3 - 3 * x

    def df(x):
        return 3 * x**2 - 3

    assert _cubic_interpolate(0.0, f(0.0), df(0.0), 2.0, f(2.0), df(2.0)) == pytest.approx(1.0, abs=1e-12)
    assert _cubic_interpolate(2.0, f(2.0), df(2.0), 0.0, f(0.0), df(0.0)) == pytest.approx(1.0, abs=1e-12)
    # Clipped to the bounds, and the bracket midpoint when the cubic has no minimum.
    assert _cubic_interpolate(0.0, f(0.0), df(0.0), 2.0, f(2.0), df(2.0), bounds=(1.5, 3.0)) == 1.5
    assert _cubic_interpolate(0.0, 0.0, 2.0, 1.0, 1.0, 2.0) == 0.5  # d₁² - g₁g₂ = 1 - 4 < 0
    assert _cubic_interpolate(0.0, 0.0, 1.0, 1.0, 1.0, 1.0) == 0.5  # a straight line: no minimum
    # f = x(x - 1)(2x - 1) (f(0) = f(1) = 0, f'(0) = f'(1) = 1): minimum at (3 + √3)/6.
    assert _cubic_interpolate(0.0, 0.0, 1.0, 1.0, 0.0, 1.0) == pytest.approx((3 + 3**0.5) / 6, abs=1e-12)


def test_lbfgs_strong_wolfe_solves_rosenbrock():
    xy = cr.tensor([-1.5, 2.0], dtype=cr.float64, requires_grad=True)
    # The default tolerance_change (1e-9 on the loss change) stops near 2e-6 from the minimum,
    # as PyTorch's LBFGS does; a tighter one lets it reach 1e-6.
    opt = LBFGS([xy], lr=1, max_iter=100, line_search_fn="strong_wolfe", tolerance_change=1e-12)

    def closure():
        opt.zero_grad()
        loss = rosenbrock(xy)
        loss.backward()
        return loss

    opt.step(closure)
    assert opt.state[xy]["n_iter"] <= 100
    np.testing.assert_allclose(xy.data, [1.0, 1.0], atol=1e-6)


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_lbfgs_iterates_match_torch(line_search):
    torch = _torch_mod()
    kwargs = {"lr": 1.0 if line_search else 0.5, "max_iter": 4, "history_size": 3, "line_search_fn": line_search}
    ps = make_cr_params()
    opt = LBFGS(ps, **kwargs)
    tps = make_torch_params(torch)
    topt = torch.optim.LBFGS(tps, **kwargs)

    def closure():
        opt.zero_grad()
        loss = loss_cr(ps)
        loss.backward()
        return loss

    def tclosure():
        topt.zero_grad()
        loss = loss_torch(torch, tps)
        loss.backward()
        return loss

    for step in range(5):
        loss, tloss = opt.step(closure), topt.step(tclosure)
        assert float(loss) == pytest.approx(tloss.detach().item(), rel=1e-9)
        for p, tp in zip(ps, tps):
            np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-6, atol=1e-10, err_msg=f"step {step}")
    tstate = topt.state[topt.param_groups[0]["params"][0]]
    assert opt.state[ps[0]]["n_iter"] == tstate["n_iter"]
    assert opt.state[ps[0]]["func_evals"] == tstate["func_evals"]
    assert len(opt.state[ps[0]]["ro"]) == 3  # the history was trimmed to history_size


def test_lbfgs_rosenbrock_iterates_match_torch():
    torch = _torch_mod()
    xy = cr.tensor([-1.5, 2.0], dtype=cr.float64, requires_grad=True)
    txy = torch.tensor([-1.5, 2.0], dtype=torch.float64, requires_grad=True)
    opt = LBFGS([xy], max_iter=5, line_search_fn="strong_wolfe")
    topt = torch.optim.LBFGS([txy], max_iter=5, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = rosenbrock(xy)
        loss.backward()
        return loss

    def tclosure():
        topt.zero_grad()
        loss = rosenbrock(txy)
        loss.backward()
        return loss

    for step in range(6):
        opt.step(closure)
        topt.step(tclosure)
        np.testing.assert_allclose(xy.data, txy.detach().numpy(), rtol=1e-6, atol=1e-9, err_msg=f"step {step}")


# --- Lookahead ---------------------------------------------------------------------------------
def test_lookahead_alpha_one_equals_inner_exactly():
    ps_a, ps_b = make_cr_params(), make_cr_params()
    plain = run_cr(SGD(ps_a, lr=0.05, momentum=0.9), ps_a, 12)
    wrapped = run_cr(Lookahead(SGD(ps_b, lr=0.05, momentum=0.9), k=3, alpha=1.0), ps_b, 12)
    for xs, ys in zip(plain, wrapped):
        for x, y in zip(xs, ys):
            np.testing.assert_array_equal(x, y)


def test_lookahead_alpha_half_by_hand():
    lr, k, alpha = 0.1, 2, 0.5
    p0 = np.array([1.0, -1.0])
    gs = [
        np.array([1.0, 2.0]),
        np.array([-0.5, 1.0]),
        np.array([2.0, 0.0]),
        np.array([1.0, 1.0]),
        np.array([3.0, -1.0]),
    ]
    p = cr.tensor(p0, dtype=cr.float64, requires_grad=True)
    opt = Lookahead(SGD([p], lr=lr), k=k, alpha=alpha)
    theta, phi = p0.copy(), p0.copy()
    for i, g in enumerate(gs, start=1):
        p.grad = cr.tensor(g, dtype=cr.float64)
        opt.step()
        theta = theta - lr * g
        if i % k == 0:
            phi = phi + alpha * (theta - phi)
            theta = phi.copy()
        np.testing.assert_allclose(p.data, theta, rtol=1e-15, err_msg=f"step {i}")
    np.testing.assert_allclose(opt.slow_weights[p], phi, rtol=1e-15)
    # After 5 steps (two synchronisations) the fast weights moved on from the slow ones.
    assert not np.allclose(p.data, phi)


def test_lookahead_state_dict_round_trip_and_scheduler():
    def make(ps):
        inner = Adam(ps, lr=0.05)
        return Lookahead(inner, k=3, alpha=0.5)

    ps = make_cr_params()
    opt = make(ps)
    sched = StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(4):
        run_cr(opt, ps, 1)
        sched.step()
    assert opt.param_groups[0]["lr"] == 0.05 * 0.25
    assert opt.optimizer.param_groups[0]["lr"] == 0.05 * 0.25
    sd = opt.state_dict()
    assert sd["lookahead"]["step_counter"] == 4 and set(sd["lookahead"]["slow_weights"]) == {0, 1, 2}
    assert _plain(sd)
    saved = [p.data.copy() for p in ps]
    reference = run_cr(opt, ps, 5)

    ps2 = [cr.tensor(v, dtype=cr.float64, requires_grad=True) for v in saved]
    opt2 = make(ps2)
    opt2.load_state_dict(_json_roundtrip(sd))
    again = run_cr(opt2, ps2, 5)
    for xs, ys in zip(reference, again):
        for x, y in zip(xs, ys):
            np.testing.assert_array_equal(x, y)

    bad = {**sd, "lookahead": {**sd["lookahead"], "slow_weights": {0: np.zeros(5)}}}
    before = _snapshot(opt2)
    with pytest.raises(ValueError, match=r"Lookahead\.load_state_dict: slow_weights\[0\] has shape \(5,\)"):
        opt2.load_state_dict(bad)
    assert _snapshot(opt2) == before


def test_lookahead_bad_arguments():
    p = cr.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="Lookahead: k must be a positive integer"):
        Lookahead(SGD([p], lr=0.1), k=0)
    with pytest.raises(ValueError, match=r"Lookahead: alpha must be in \[0.0, 1.0\]"):
        Lookahead(SGD([p], lr=0.1), alpha=1.5)
    with pytest.raises(TypeError, match="Lookahead: optimizer must be an Optimizer"):
        Lookahead([p])


# --- gradient clipping -------------------------------------------------------------------------
def _grads_pair(torch, scale):
    rng = np.random.default_rng(3)
    gs = [rng.normal(size=s) * scale for s in [(3, 4), (5,), ()]]
    ours = [cr.tensor(np.zeros_like(g), dtype=cr.float64, requires_grad=True) for g in gs]
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in gs]
    for p, tp, g in zip(ours, theirs, gs):
        p.grad = cr.tensor(g, dtype=cr.float64)
        tp.grad = torch.tensor(g)
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    torch = _torch_mod()
    ours, theirs = _grads_pair(torch, 2.0)
    total = clip_grad_norm_(ours, max_norm, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert isinstance(total, cr.Tensor) and total.ndim == 0 and total.dtype == np.float64
    assert float(total) == pytest.approx(float(ttotal), rel=1e-12)
    for p, tp in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), rtol=1e-12)
    if max_norm < float(total):
        flat = np.concatenate([p.grad.data.ravel() for p in ours])
        assert np.linalg.norm(flat, norm_type) == pytest.approx(max_norm, rel=1e-5)


def test_clip_grad_norm_edge_cases():
    p = cr.ones(3, requires_grad=True)
    assert float(clip_grad_norm_([p], 1.0)) == 0.0  # no gradients
    p.grad = cr.tensor([3.0, 4.0, 0.0])
    total = clip_grad_norm_(p, 1.0)  # a single Tensor is accepted
    assert float(total) == pytest.approx(5.0) and total.dtype == np.float32
    np.testing.assert_allclose(p.grad.data, [0.6, 0.8, 0.0], rtol=1e-5)
    assert p.grad.dtype == np.float32
    p.grad = cr.tensor([np.inf, 1.0, 0.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(p.grad.data, [np.inf, 1.0, 0.0])  # unchanged by the error
    with pytest.raises(ValueError, match="clip_grad_norm_: max_norm must be a number >= 0"):
        clip_grad_norm_([p], -1.0)
    with pytest.raises(ValueError, match="norm_type must be a positive number"):
        clip_grad_norm_([p], 1.0, norm_type=0)


def test_clip_grad_value_matches_torch():
    torch = _torch_mod()
    ours, theirs = _grads_pair(torch, 2.0)
    clip_grad_value_(ours, 0.7)
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    for p, tp in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.data, tp.grad.numpy())
    assert max(float(np.max(np.abs(p.grad.data))) for p in ours) == 0.7
    with pytest.raises(ValueError, match="clip_grad_value_: clip_value must be a number >= 0"):
        clip_grad_value_(ours, -1.0)
