"""Learning-rate schedulers: the lr (and momentum) sequences equal torch.optim.lr_scheduler's."""

import json
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.optim import SGD, Adam, Lookahead
from chainrule.optim import lr_scheduler as ls

LRS = (0.1, 0.02)  # two parameter groups with different rates


def _torch():
    return pytest.importorskip("torch")


def make_ours(opt_name="SGD", **kwargs):
    ps = [cr.ones(2, requires_grad=True), cr.ones(3, requires_grad=True)]
    groups = [{"params": [ps[0]], "lr": LRS[0]}, {"params": [ps[1]], "lr": LRS[1]}]
    return {"SGD": SGD, "Adam": Adam}[opt_name](groups, lr=0.5, **kwargs)


def make_torch(opt_name="SGD", **kwargs):
    torch = _torch()
    ps = [torch.ones(2, requires_grad=True), torch.ones(3, requires_grad=True)]
    groups = [{"params": [ps[0]], "lr": LRS[0]}, {"params": [ps[1]], "lr": LRS[1]}]
    return getattr(torch.optim, opt_name)(groups, lr=0.5, **kwargs)


def record(opt, sched, steps, metrics=None, keys=("lr",)):
    """The values of ``keys`` in every group after construction and after each step."""

    def snap():
        out = []
        for g in opt.param_groups:
            for k in keys:
                out.append(g["betas"][0] if k == "beta1" else g[k])
        return out

    seq = [snap()]
    last = [list(sched.get_last_lr())]
    for i in range(steps):
        opt.step()  # no gradients: a no-op, but keeps torch's call-order check quiet
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[i])
        seq.append(snap())
        last.append(list(sched.get_last_lr()))
    return np.array(seq, dtype=float), np.array(last, dtype=float)


def compare(ours_factory, torch_factory, steps=30, opt_name="SGD", opt_kwargs=None, metrics=None, keys=("lr",)):
    opt_kwargs = opt_kwargs or {}
    opt, topt = make_ours(opt_name, **opt_kwargs), make_torch(opt_name, **opt_kwargs)
    seq, last = record(opt, ours_factory(opt), steps, metrics, keys)
    tseq, tlast = record(topt, torch_factory(topt), steps, metrics, keys)
    np.testing.assert_allclose(seq, tseq, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(last, tlast, rtol=1e-10, atol=1e-15)
    # The schedule must actually change the rate somewhere.
    assert len(np.unique(np.round(seq[:, 0], 14))) > 1
    return seq


def T():
    return _torch().optim.lr_scheduler


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("StepLR", {"step_size": 4, "gamma": 0.5}),
        ("MultiStepLR", {"milestones": [3, 7, 7, 20], "gamma": 0.3}),
        ("ExponentialLR", {"gamma": 0.9}),
        ("CosineAnnealingLR", {"T_max": 10}),
        ("CosineAnnealingLR", {"T_max": 12, "eta_min": 0.001}),
        ("LinearLR", {"start_factor": 0.1, "end_factor": 1.0, "total_iters": 8}),
        ("LinearLR", {"start_factor": 1.0, "end_factor": 0.2, "total_iters": 10}),
    ],
)
def test_closed_form_schedulers_match_torch(name, kwargs):
    compare(lambda o: getattr(ls, name)(o, **kwargs), lambda o: getattr(T(), name)(o, **kwargs))


def test_lambda_lr_matches_torch():
    fns = [lambda e: 1.0 / (1 + e), lambda e: 0.95**e]
    compare(lambda o: ls.LambdaLR(o, fns), lambda o: T().LambdaLR(o, fns))
    compare(lambda o: ls.LambdaLR(o, fns[0]), lambda o: T().LambdaLR(o, fns[0]))


def test_cosine_closed_form_values():
    opt = make_ours()
    sched = ls.CosineAnnealingLR(opt, T_max=4, eta_min=0.01)
    values = [sched.get_last_lr()[0]]
    for _ in range(8):
        sched.step()
        values.append(sched.get_last_lr()[0])
    expected = [0.01 + (0.1 - 0.01) * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(9)]
    np.testing.assert_allclose(values, expected, rtol=1e-15)
    assert values[4] == pytest.approx(0.01) and values[8] == pytest.approx(0.1)


def test_sequential_warmup_then_cosine_matches_torch():
    def ours(o):
        return ls.SequentialLR(
            o, [ls.LinearLR(o, start_factor=0.05, total_iters=5), ls.CosineAnnealingLR(o, T_max=20)], milestones=[5]
        )

    def theirs(o):
        t = T()
        return t.SequentialLR(
            o, [t.LinearLR(o, start_factor=0.05, total_iters=5), t.CosineAnnealingLR(o, T_max=20)], milestones=[5]
        )

    seq = compare(ours, theirs)
    assert seq[0, 0] == pytest.approx(0.1 * 0.05) and seq[5, 0] == pytest.approx(0.1)


def test_sequential_three_schedulers_matches_torch():
    def ours(o):
        return ls.SequentialLR(
            o,
            [ls.LinearLR(o, start_factor=0.2, total_iters=4), ls.StepLR(o, 3, 0.5), ls.ExponentialLR(o, 0.9)],
            milestones=[4, 12],
        )

    def theirs(o):
        t = T()
        return t.SequentialLR(
            o,
            [t.LinearLR(o, start_factor=0.2, total_iters=4), t.StepLR(o, 3, 0.5), t.ExponentialLR(o, 0.9)],
            milestones=[4, 12],
        )

    compare(ours, theirs)


def test_warmup_helper_equals_torch_composition():
    def ours(o):
        return ls.warmup(o, ls.CosineAnnealingLR(o, T_max=15, eta_min=1e-4), warmup_iters=6, start_factor=0.01)

    def theirs(o):
        t = T()
        return t.SequentialLR(
            o,
            [
                t.LinearLR(o, start_factor=0.01, end_factor=1.0, total_iters=6),
                t.CosineAnnealingLR(o, T_max=15, eta_min=1e-4),
            ],
            milestones=[6],
        )

    compare(ours, theirs)


@pytest.mark.parametrize(
    ("opt_name", "opt_kwargs", "kwargs", "keys"),
    [
        ("SGD", {"momentum": 0.9}, {"max_lr": 1.0, "total_steps": 30}, ("lr", "momentum")),
        (
            "SGD",
            {"momentum": 0.9},
            {"max_lr": [1.0, 0.3], "epochs": 5, "steps_per_epoch": 6, "anneal_strategy": "linear"},
            ("lr", "momentum"),
        ),
        (
            "SGD",
            {"momentum": 0.9},
            {"max_lr": 0.5, "total_steps": 30, "three_phase": True, "pct_start": 0.25},
            ("lr", "momentum"),
        ),
        (
            "SGD",
            {},
            {"max_lr": 0.5, "total_steps": 30, "cycle_momentum": False, "div_factor": 10.0, "final_div_factor": 100.0},
            ("lr",),
        ),
        ("Adam", {}, {"max_lr": 0.01, "total_steps": 30, "base_momentum": 0.8, "max_momentum": 0.9}, ("lr", "beta1")),
    ],
)
def test_one_cycle_matches_torch_including_momentum(opt_name, opt_kwargs, kwargs, keys):
    # total_steps = 30 steps, plus the value at construction: 30 values, then one step too many.
    seq = compare(
        lambda o: ls.OneCycleLR(o, **kwargs),
        lambda o: T().OneCycleLR(o, **kwargs),
        steps=29,
        opt_name=opt_name,
        opt_kwargs=opt_kwargs,
        keys=keys,
    )
    if len(keys) > 1:
        assert len(np.unique(np.round(seq[:, 1], 14))) > 1  # the momentum cycles too


def test_one_cycle_refuses_to_step_past_total_steps():
    opt = make_ours(momentum=0.9)
    sched = ls.OneCycleLR(opt, max_lr=1.0, total_steps=5)
    for _ in range(5):
        sched.step()
    lr, last_epoch = opt.param_groups[0]["lr"], sched.last_epoch
    with pytest.raises(ValueError, match="OneCycleLR: tried to step 6 times; the schedule has total_steps=5"):
        sched.step()
    assert opt.param_groups[0]["lr"] == lr and sched.last_epoch == last_epoch


@pytest.mark.parametrize(
    "kwargs",
    [
        {"patience": 2},
        {"mode": "max", "threshold_mode": "abs", "threshold": 0.05, "patience": 1, "factor": 0.5},
        {"patience": 1, "cooldown": 2, "min_lr": [0.01, 0.005], "factor": 0.5},
        {"patience": 0, "threshold": 0.1, "min_lr": 0.004, "factor": 0.5},
    ],
)
def test_reduce_on_plateau_matches_torch(kwargs):
    metrics = [1.0, 0.9, 0.95, 0.91, 0.92, 0.93, 0.5, 0.6, 0.6, 0.6, 0.6, 0.45, 0.7, 0.7, 0.7]
    metrics += [0.44 + 0.01 * np.sin(i) for i in range(15)]
    compare(lambda o: ls.ReduceLROnPlateau(o, **kwargs), lambda o: T().ReduceLROnPlateau(o, **kwargs), metrics=metrics)


def test_reduce_on_plateau_by_hand():
    opt = make_ours()
    sched = ls.ReduceLROnPlateau(opt, patience=1, factor=0.5, threshold=0.0)
    for m in [1.0, 2.0, 3.0]:  # best stays 1.0: the second bad step exceeds patience 1
        sched.step(m)
    assert sched.get_last_lr() == [0.05, 0.01]
    sched.step(cr.tensor(0.5))  # a 0-d Tensor is accepted as the metric
    assert sched.best == 0.5 and sched.num_bad_epochs == 0


def test_scheduler_state_dict_round_trip():
    def build(opt):
        return ls.SequentialLR(
            opt, [ls.LinearLR(opt, 0.1, total_iters=3), ls.OneCycleLR(opt, 1.0, total_steps=20)], [3]
        )

    opt = make_ours(momentum=0.9)
    sched = build(opt)
    for _ in range(7):
        sched.step()
    osd, ssd = opt.state_dict(), json.loads(json.dumps(sched.state_dict()))
    reference = []
    for _ in range(10):
        sched.step()
        reference.append((opt.param_groups[0]["lr"], opt.param_groups[1]["momentum"]))

    opt2 = make_ours(momentum=0.9)
    sched2 = build(opt2)
    opt2.load_state_dict(osd)
    sched2.load_state_dict(ssd)
    again = []
    for _ in range(10):
        sched2.step()
        again.append((opt2.param_groups[0]["lr"], opt2.param_groups[1]["momentum"]))
    assert again == reference


def test_plateau_state_dict_round_trip():
    opt = make_ours()
    sched = ls.ReduceLROnPlateau(opt, patience=1, cooldown=1)
    for m in [1.0, 1.0, 1.0, 0.5]:
        sched.step(m)
    sd = json.loads(json.dumps(sched.state_dict()))
    sched2 = ls.ReduceLROnPlateau(make_ours())
    sched2.load_state_dict(sd)
    assert sched2.best == 0.5 and sched2.patience == 1 and sched2.last_epoch == 4
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau\.load_state_dict: unknown entries \['bogus'\]"):
        sched2.load_state_dict({**sd, "bogus": 1})


def test_resuming_with_last_epoch_continues_the_schedule():
    opt = make_ours()
    sched = ls.StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(3):
        sched.step()
    lr = opt.param_groups[0]["lr"]
    resumed = ls.StepLR(opt, step_size=2, gamma=0.5, last_epoch=3)
    assert opt.param_groups[0]["lr"] == lr
    sched.step()
    resumed.step()
    assert resumed.get_last_lr() == sched.get_last_lr() == [0.1 * 0.25, 0.02 * 0.25]
    fresh = make_ours()
    with pytest.raises(ValueError, match="StepLR: param_groups\\[0\\] has no 'initial_lr'"):
        ls.StepLR(fresh, step_size=2, last_epoch=3)


def test_schedulers_drive_a_lookahead_wrapper():
    p = cr.ones(2, requires_grad=True)
    inner = SGD([p], lr=0.1, momentum=0.9)
    opt = Lookahead(inner, k=2)
    sched = ls.OneCycleLR(opt, max_lr=1.0, total_steps=10)
    sched.step()
    assert inner.param_groups[0]["lr"] == sched.get_last_lr()[0] != 0.1
    assert inner.param_groups[0]["momentum"] < 0.95


def test_bad_scheduler_arguments_raise():
    opt = make_ours()
    with pytest.raises(TypeError, match="StepLR: expected an Optimizer"):
        ls.StepLR([1, 2], step_size=2)
    with pytest.raises(ValueError, match="StepLR: step_size must be >= 1, got 0"):
        ls.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match=r"LinearLR: start_factor must be in \(0.0, 1.0\]"):
        ls.LinearLR(opt, start_factor=0.0)
    with pytest.raises(ValueError, match="give either total_steps or both epochs and steps_per_epoch"):
        ls.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="anneal_strategy must be 'cos' or 'linear'"):
        ls.OneCycleLR(opt, max_lr=1.0, total_steps=10, anneal_strategy="exp")
    with pytest.raises(ValueError, match="expected 2 values of max_lr"):
        ls.OneCycleLR(opt, max_lr=[1.0, 2.0, 3.0], total_steps=10)
    with pytest.raises(ValueError, match="must support momentum or beta1"):
        ls.OneCycleLR(_NoMomentum(), max_lr=1.0, total_steps=10)
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau: factor must be in \[0.0, 1.0\)"):
        ls.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        ls.ReduceLROnPlateau(opt, mode="up")
    with pytest.raises(ValueError, match="one milestone fewer than schedulers"):
        ls.SequentialLR(opt, [ls.StepLR(opt, 2), ls.StepLR(opt, 3)], milestones=[])
    with pytest.raises(ValueError, match="drives a different optimizer"):
        ls.SequentialLR(opt, [ls.StepLR(opt, 2), ls.StepLR(make_ours(), 3)], milestones=[3])
    with pytest.raises(TypeError, match="ReduceLROnPlateau, which needs a metric"):
        ls.SequentialLR(opt, [ls.StepLR(opt, 2), ls.ReduceLROnPlateau(opt)], milestones=[3])


class _NoMomentum:
    def __init__(self):
        self.param_groups = [{"lr": 0.1}]
        self.defaults = {"lr": 0.1}
