"""Data parallelism over threads: the same updates as one worker, BatchNorm buffers, errors."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import functional as F
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.train import Trainer
from chainrule.train.parallel import DataParallel


def _data(n=203, d=5, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1).astype(np.int64)
    return TensorDataset(x, np.minimum(y, classes - 1))


def _fit(workers, epochs=2):
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3)).double()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    # 203 rows in batches of 32: the last batch has 11 rows, so the shards are unequal
    loader = DataLoader(_data(), batch_size=32, shuffle=True, generator=np.random.default_rng(1))
    t = Trainer(model, opt, F.cross_entropy, loader, progress=False, clip_grad_norm=1.0, workers=workers)
    t.fit(epochs, log=None)
    return model, t.history.rows


@pytest.mark.parametrize("workers", [2, 3])
def test_trainer_workers_make_the_same_updates(workers):
    """W threads on shards (unequal ones included) take the steps one worker takes on the batch."""
    m1, rows1 = _fit(1)
    mw, rows_w = _fit(workers)
    for (k, a), (_, b) in zip(m1.state_dict().items(), mw.state_dict().items(), strict=True):
        np.testing.assert_allclose(b.data, a.data, rtol=1e-10, atol=1e-13, err_msg=k)
    for r1, rw in zip(rows1, rows_w, strict=True):
        assert rw["train_loss"] == pytest.approx(r1["train_loss"], rel=1e-10)
        assert rw["train_acc"] == r1["train_acc"]


def test_batchnorm_buffers_are_the_row_weighted_mean_over_shards():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6)).double()
    x = np.random.default_rng(2).standard_normal((13, 4))  # shards of 5, 4 and 4 rows
    with DataParallel(model, 3) as dp:
        dp.step(lambda r, xs: (r(xs).sum() / len(xs), None), cr.tensor(x))
        dp.sync()
        replica_means = [r[1].running_mean.data for r in dp.replicas]
    with cr.no_grad():
        h = model[0](cr.tensor(x)).data
    shards = np.array_split(h, 3)
    w = np.array([len(s) for s in shards]) / len(h)
    mom = model[1].momentum
    # the running mean is exactly the one the whole batch would give
    np.testing.assert_allclose(model[1].running_mean.data, mom * h.mean(0), rtol=1e-12)
    shard_var = sum(wi * s.var(0, ddof=1) for wi, s in zip(w, shards))
    np.testing.assert_allclose(model[1].running_var.data, (1 - mom) + mom * shard_var, rtol=1e-12)
    assert int(model[1].num_batches_tracked.item()) == 1
    for m in replica_means:  # sync copied the mixed buffers into every replica
        np.testing.assert_array_equal(m, model[1].running_mean.data)


def test_gradient_is_the_batch_gradient_and_replicas_follow_the_optimizer():
    cr.manual_seed(0)
    model = nn.Linear(3, 2).double()
    x = np.random.default_rng(3).standard_normal((7, 3))
    y = np.random.default_rng(4).integers(0, 2, 7)
    loss = F.cross_entropy(model(cr.tensor(x)), cr.tensor(y))
    loss.backward()
    expected = [p.grad.data.copy() for p in model.parameters()]
    model.zero_grad()
    opt = optim.SGD(model.parameters(), lr=0.5)
    with DataParallel(model, 2) as dp:
        value, extras = dp.step(lambda r, a, b: (F.cross_entropy(r(a), b), len(a)), cr.tensor(x), cr.tensor(y))
        assert value == pytest.approx(loss.item(), rel=1e-12) and extras == [4, 3]
        for p, g in zip(model.parameters(), expected, strict=True):
            np.testing.assert_allclose(p.grad.data, g, rtol=1e-12)
        opt.step()
        dp.sync()
        for p, q in zip(model.parameters(), dp.replicas[1].parameters(), strict=True):
            np.testing.assert_array_equal(p.data, q.data)
        # a batch with fewer rows than workers leaves the extra replicas idle
        value, extras = dp.step(lambda r, a, b: (F.cross_entropy(r(a), b), len(a)), cr.tensor(x[:1]), cr.tensor(y[:1]))
        assert extras == [1] and np.isfinite(value)


def test_errors_are_clear_and_worker_exceptions_reach_the_caller():
    model = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="DataParallel: workers must be a positive int, got 0"):
        DataParallel(model, 0)
    with pytest.raises(ValueError, match="Trainer: workers must be a positive int, got True"):
        Trainer(model, optim.SGD(model.parameters(), lr=0.1), F.cross_entropy, [], workers=True)
    with DataParallel(model, 2) as dp:
        with pytest.raises(ValueError, match=r"share a non-zero first dimension, got shapes \[\(4, 3\), \(3,\)\]"):
            dp.step(lambda r, a, b: (r(a).sum(), None), np.zeros((4, 3)), np.zeros(3))
        with pytest.raises(ValueError, match="Linear"):  # raised in a worker thread, re-raised here
            dp.step(lambda r, a: (r(a).sum(), None), cr.zeros(4, 5))


def test_cli_workers_train_like_one_worker(tmp_path):
    import json

    from chainrule.cli import main

    rows = []
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        argv = ["train", "--epochs", "2", "--quiet", "--out", str(out), "--hidden", "32", "--workers", str(workers)]
        assert main(argv) == 0
        rows.append(json.loads((out / "history.json").read_text())["epochs"][-1])
    # float32: only the summation order of the shard gradients differs
    assert rows[1]["train_loss"] == pytest.approx(rows[0]["train_loss"], rel=1e-4)
    assert rows[1]["test_acc"] == pytest.approx(rows[0]["test_acc"], abs=0.01)
