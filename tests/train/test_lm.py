"""Language-model training and scoring: bits per character, the time-based schedule, the CLI."""

import json
import math
import shutil

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.cli import main
from chainrule.data.text import CharVocab, kjv_splits
from chainrule.models import CharLSTM, build_lm, lm_optimizer
from chainrule.train.lm import bits_per_char, lr_at, train_lm

HAS_BIBLE = shutil.which("bible") is not None
needs_bible = pytest.mark.skipif(not HAS_BIBLE, reason="Debian's bible-kjv is not installed (.ci/run installs it)")


class Bigram(nn.Module):
    """logits[n, t] = table[ids[n, t]]: a model whose bpc can be computed by hand."""

    def __init__(self, v):
        super().__init__()
        self.table = nn.Embedding(v, v, dtype=np.float64)

    def forward(self, x):
        return self.table(x)


def test_bits_per_char_matches_a_hand_computation():
    cr.manual_seed(0)
    v = 7
    model = Bigram(v)
    ids = np.random.default_rng(1).integers(0, v, 1000)
    table = model.table.weight.data
    logp = table - np.log(np.exp(table).sum(1, keepdims=True))
    for n in (300, 999, 256):  # a partial last window; all of ids; exact windows
        want = -logp[ids[:n], ids[1 : n + 1]].mean() / math.log(2)
        assert bits_per_char(model, ids, context=64, max_chars=n, batch_size=3) == pytest.approx(want, rel=1e-12)
    model.train()
    bits_per_char(model, ids, context=64, max_chars=10)
    assert model.training  # restored
    with pytest.raises(ValueError, match="1-d array"):
        bits_per_char(model, ids[None])


def test_lr_schedule_follows_the_time_budget():
    kw = {"base_lr": 1.0, "warmup_steps": 10, "time_budget_s": 100.0, "max_steps": None, "min_lr_ratio": 0.1}
    assert lr_at(0, 0.0, **kw) == pytest.approx(0.1)  # warm-up: (step + 1) / 10
    assert lr_at(20, 0.0, **kw) == pytest.approx(1.0)
    assert lr_at(20, 50.0, **kw) == pytest.approx(0.1 + 0.9 * 0.5)
    assert lr_at(20, 100.0, **kw) == pytest.approx(0.1)
    assert lr_at(20, 500.0, **kw) == pytest.approx(0.1)
    # with both limits, whichever is nearer decides
    assert lr_at(50, 10.0, **{**kw, "max_steps": 100}) == pytest.approx(0.1 + 0.9 * 0.5)


def _tiny_text():
    if HAS_BIBLE:
        train, val = kjv_splits()
        return train[:60_000], val[:5_000]
    verse = "And God said, Let there be light: and there was light. And God saw the light, that it was good.\n"
    return verse * 600, verse * 50


@pytest.mark.parametrize("name", ["gpt", "lstm"])
def test_tiny_language_model_loss_falls(name):
    cr.manual_seed(0)
    train, val = _tiny_text()
    vocab = CharVocab.from_text(train + val)
    small = {"gpt": {"d_model": 32, "n_layers": 1, "n_heads": 2}, "lstm": {"embed_dim": 16, "hidden_size": 64}}
    model, config = build_lm(name, len(vocab), 32, **small[name])
    assert config["name"] == name and config["context_length"] == 32
    opt, _ = lm_optimizer(name, model, lr=1e-2)
    before = bits_per_char(model, vocab.encode(val), 32, 2000)
    hist = train_lm(
        model, opt, vocab.encode(train), batch_size=16, context=32, time_budget_s=None, max_steps=60,
        warmup_steps=5, val_ids=vocab.encode(val), eval_every_s=1e9, eval_chars=2000,
        generator=np.random.default_rng(0), log=None,
    )  # fmt: skip
    after = hist.rows[-1]["val_bpc"]
    assert before > 5.0  # about log2(vocab size) for an untrained model
    assert after < before - 1.5
    assert hist.rows[-1]["step"] == 60 and hist.rows[-1]["tokens"] == 60 * 16 * 32
    assert opt.param_groups[0]["lr"] == 1e-2  # base rate restored after the schedule


def test_train_lm_respects_the_time_budget_and_checks_arguments():
    cr.manual_seed(0)
    model = CharLSTM(5, 4, 8)
    opt, _ = lm_optimizer("lstm", model)
    ids = np.random.default_rng(0).integers(0, 5, 500)
    hist = train_lm(model, opt, ids, batch_size=2, context=8, time_budget_s=0.3, warmup_steps=0, log=None)
    assert hist.rows[-1]["seconds"] >= 0.3
    with pytest.raises(ValueError, match="time_budget_s, max_steps"):
        train_lm(model, opt, ids, time_budget_s=None, max_steps=None)
    with pytest.raises(ValueError, match="max_steps"):
        train_lm(model, opt, ids, max_steps=0)


def test_lstm_generate_carries_state_and_matches_full_recompute():
    cr.manual_seed(0)
    model = CharLSTM(11, 6, 10).eval()
    ids = model.generate(np.array([[1, 2, 3]]), 8, generator=np.random.default_rng(0)).data
    assert ids.shape == (1, 11) and (ids[:, :3] == [1, 2, 3]).all()
    # the carried-state logits equal those of re-running the whole prefix
    logits_full = model(ids[:, :-1]).data[:, -1]
    _, state = model.forward_with_state(ids[:, :-2])
    logits_step, _ = model.forward_with_state(ids[:, -2:-1], state)
    np.testing.assert_allclose(logits_step.data[:, -1], logits_full, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="max_new_tokens"):
        model.generate(np.array([[1]]), -1)


@needs_bible
@pytest.mark.parametrize("name", ["gpt", "lstm"])
def test_cli_trains_a_language_model_and_generates(name, tmp_path, capsys):
    out = tmp_path / name
    args = ["train", "--model", name, "--steps", "3", "--context", "16", "--eval-chars", "500", "--quiet"]
    assert main([*args, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "validation bits/char" in text
    summary = json.loads((out / "history.json").read_text())
    assert summary["steps"] == 3 and summary["val_chars"] == 500 and 3.0 < summary["val_bpc"] < 8.0
    assert (out / "curves.png").stat().st_size > 1000
    assert main(["generate", str(out / "last.npz"), "--prompt", "And God", "--length", "20", "--seed", "1"]) == 0
    sample = capsys.readouterr().out.rstrip("\n")
    assert sample.startswith("And God") and len(sample) == len("And God") + 20
    assert main(["generate", str(out / "last.npz"), "--prompt", "\u00e9"]) == 2
    assert "not in the vocabulary" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["gpt", "lstm"])
def test_data_parallel_workers_make_the_same_updates(name):
    """Two worker threads on half-batches make the same updates as one worker on the whole batch."""
    small = {"gpt": {"d_model": 16, "n_layers": 2, "n_heads": 2}, "lstm": {"embed_dim": 8, "hidden_size": 16}}
    ids = np.random.default_rng(0).integers(0, 11, 3000)
    states = []
    for workers in (1, 2):
        cr.manual_seed(0)
        model, _ = build_lm(name, 11, 16, dtype=np.float64, **small[name])
        opt, _ = lm_optimizer(name, model, lr=1e-2)
        hist = train_lm(
            model, opt, ids, batch_size=8, context=16, time_budget_s=None, max_steps=5, warmup_steps=2,
            generator=np.random.default_rng(1), log=None, workers=workers,
        )  # fmt: skip
        states.append((model.state_dict(), hist.rows[-1]["train_bpc"]))
    (a, loss_a), (b, loss_b) = states
    assert loss_a == pytest.approx(loss_b, rel=1e-12)
    for k in a:
        np.testing.assert_allclose(a[k].data, b[k].data, rtol=1e-9, atol=1e-12, err_msg=k)
    with pytest.raises(ValueError, match="workers must be a positive int dividing batch_size=8"):
        train_lm(model, opt, ids, batch_size=8, context=16, max_steps=1, workers=3)


def test_grad_mode_is_per_thread():
    import threading

    from chainrule.autograd import state

    seen = []
    with cr.no_grad():
        t = threading.Thread(target=lambda: seen.append(state.grad_enabled))
        t.start()
        t.join()
        assert not state.grad_enabled
    assert seen == [True] and state.grad_enabled
