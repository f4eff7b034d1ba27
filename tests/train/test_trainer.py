"""The training loop, resumable checkpoints, early stopping, and the CLI end to end."""

import json

import numpy as np
import pytest

import chainrule as cr
from chainrule import functional as F
from chainrule import optim
from chainrule.cli import main
from chainrule.data import DataLoader, load_dataset
from chainrule.models import MLP
from chainrule.optim import lr_scheduler
from chainrule.train import EarlyStopping, History, Trainer


def _run(tmp_path, epochs, resume_at=None, seed=0):
    """Train an MLP on the moons set with shuffling, dropout and a schedule; optionally stop at
    ``resume_at``, checkpoint, rebuild everything from scratch and continue."""

    def build():
        cr.manual_seed(seed)
        train = load_dataset("moons", split="train")
        test = load_dataset("moons", split="test")
        model = MLP(2, (16, 16), 2, dropout=0.1)
        opt = optim.Adam(model.parameters(), lr=1e-2)
        sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        loader = DataLoader(train, batch_size=32, shuffle=True, generator=np.random.default_rng(seed))
        return Trainer(
            model, opt, F.cross_entropy, loader, DataLoader(test, batch_size=64), scheduler=sched, progress=False
        )

    t = build()
    if resume_at is None:
        t.fit(epochs, log=None)
        return t
    t.fit(resume_at, log=None)
    t.save_checkpoint(tmp_path / "ck.npz")
    cr.manual_seed(12345)  # disturb every random source: the checkpoint must restore them
    t2 = build()
    np.random.default_rng(7).random(5)
    t2.load_checkpoint(tmp_path / "ck.npz")
    t2.fit(epochs, log=None)
    return t2


def test_resumed_run_is_identical_to_uninterrupted(tmp_path):
    full = _run(tmp_path, 4)
    resumed = _run(tmp_path, 4, resume_at=2)
    for (n, a), (_, b) in zip(full.model.state_dict().items(), resumed.model.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=n)
    assert [r["train_loss"] for r in full.history.rows] == [r["train_loss"] for r in resumed.history.rows]
    assert full.optimizer.param_groups[0]["lr"] == resumed.optimizer.param_groups[0]["lr"]


def test_corrupted_checkpoint_leaves_trainer_unchanged(tmp_path):
    t = _run(tmp_path, 1)
    before = {k: v.numpy().copy() for k, v in t.model.state_dict().items()}
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"bad\.npz"):
        t.load_checkpoint(bad)
    for k, v in t.model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])
    assert t.epoch == 1


def test_early_stopping_stops():
    cb = EarlyStopping(monitor="test_loss", patience=1)
    assert not cb.on_epoch_end(None, {"test_loss": 1.0})
    assert not cb.on_epoch_end(None, {"test_loss": 1.5})
    assert cb.on_epoch_end(None, {"test_loss": 1.2})


def test_history_round_trip(tmp_path):
    h = History([{"epoch": 1, "train_loss": 0.5}])
    h.save(tmp_path / "h.json")
    assert History.load(tmp_path / "h.json").rows == h.rows


def test_digits_mlp_beyond_95_percent_quickly():
    cr.manual_seed(0)
    train, test = load_dataset("digits", split="train"), load_dataset("digits", split="test")
    model = MLP(64, (128,), 10)
    opt = optim.Adam(model.parameters(), lr=3e-3)
    loader = DataLoader(train, batch_size=32, shuffle=True, generator=np.random.default_rng(0))
    t = Trainer(model, opt, F.cross_entropy, loader, DataLoader(test, batch_size=360), progress=False)
    hist = t.fit(12, log=None)
    assert hist.rows[-1]["test_acc"] > 0.95


def test_cli_train_and_evaluate(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--epochs", "3", "--lr", "0.003", "--quiet", "--out", str(out), "--hidden", "64"]) == 0
    text = capsys.readouterr().out
    assert "test accuracy:" in text
    hist = json.loads((out / "history.json").read_text())["epochs"]
    assert len(hist) == 3 and hist[-1]["test_acc"] > 0.85
    assert (out / "curves.png").stat().st_size > 1000
    assert main(["evaluate", str(out / "last.npz")]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert abs(res["test_acc"] - hist[-1]["test_acc"]) < 1e-9


def test_cli_lists_and_errors(capsys, tmp_path):
    assert main(["datasets"]) == 0 and "digits" in capsys.readouterr().out
    assert main(["models"]) == 0 and "mlp" in capsys.readouterr().out
    assert main(["train", "--dataset", "nope", "--quiet", "--out", str(tmp_path)]) == 2
    assert "nope" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--lr", "-1"])
