"""Training and scoring character-level language models under a wall-clock budget.

A language model maps ids (N, T) to logits (N, T, V); its loss on a window is the mean next-token
cross-entropy in nats, and bits per character (bpc) is that mean divided by ln 2.

``train_lm`` trains on random windows of the training ids for at most ``time_budget_s`` seconds
(and/or ``max_steps`` steps). Its learning rate follows the *time* left, not a step count fixed
in advance: linear warm-up over ``warmup_steps``, then a cosine from the base rate down to
``min_lr_ratio`` of it, where progress is max(elapsed / budget, step / max_steps). So the decay
ends exactly when the budget does, whatever speed the machine runs at, and two models given the
same budget get the same schedule in time.

With ``workers=W > 1`` each step is data-parallel over W threads (``chainrule.train.parallel``):
every thread runs a replica of the model on 1/W of the batch with one BLAS thread, and the
optimizer steps once on the averaged gradient: the same update as one worker would make, up to
float rounding in the sum (the language models have neither dropout nor batch norm).

``bits_per_char`` scores consecutive windows with no carried state: the first ``max_chars``
predicted characters of ``ids`` are cut into windows of ``context``; window k reads
ids[kT : kT+T] and predicts ids[kT+1 : kT+T+1] (the last window may be shorter).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.autograd.state import no_grad
from chainrule.data.text import random_windows
from chainrule.functional.loss import cross_entropy
from chainrule.nn import Module
from chainrule.optim.clip import clip_grad_norm_
from chainrule.optim.optimizer import Optimizer
from chainrule.tensor import Tensor
from chainrule.train.loop import History
from chainrule.train.parallel import DataParallel

__all__ = ["lm_loss", "bits_per_char", "lr_at", "train_lm"]

_LN2 = math.log(2.0)


def lm_loss(model: Module, x: Any, y: Any) -> Tensor:
    """Mean next-token cross-entropy (nats) of ``model`` on inputs x (N, T) and targets y (N, T)."""
    logits = model(x)
    if logits.ndim != 3 or logits.shape[:2] != tuple(np.shape(y)):
        raise ValueError(
            f"lm_loss: the model must map ids (N, T) to logits (N, T, V); got logits {logits.shape} "
            f"for targets {np.shape(y)}"
        )
    return cross_entropy(logits.reshape(-1, logits.shape[-1]), np.asarray(y).reshape(-1))


def bits_per_char(model: Module, ids: Any, context: int = 128, max_chars: int = 200_000, batch_size: int = 64) -> float:
    """Mean bits per character over the first ``max_chars`` predictions of ``ids`` (see module doc).

    Runs in eval mode under ``no_grad`` and restores the model's previous mode.
    """
    ids = np.asarray(ids)
    if ids.ndim != 1 or ids.size < 2:
        raise ValueError(f"bits_per_char: ids must be a 1-d array of at least 2 ids, got shape {ids.shape}")
    if context < 1 or max_chars < 1 or batch_size < 1:
        raise ValueError(
            f"bits_per_char: context, max_chars and batch_size must be >= 1, got {context}, {max_chars}, {batch_size}"
        )
    n = min(int(max_chars), ids.size - 1)
    full = n // context
    was_training = model.training
    model.eval()
    total = 0.0
    try:
        with no_grad():
            starts = np.arange(full) * context
            for b in range(0, full, batch_size):
                idx = starts[b : b + batch_size, None] + np.arange(context + 1)
                win = ids[idx]
                total += float(lm_loss(model, win[:, :-1], win[:, 1:]).item()) * win[:, 1:].size
            rest = n - full * context
            if rest:
                win = ids[full * context : full * context + rest + 1][None, :]
                total += float(lm_loss(model, win[:, :-1], win[:, 1:]).item()) * rest
    finally:
        model.train(was_training)
    return total / n / _LN2


def lr_at(
    step: int, elapsed: float, base_lr: float, warmup_steps: int, time_budget_s: float | None,
    max_steps: int | None, min_lr_ratio: float,
) -> float:  # fmt: skip
    """The learning rate for ``step`` (0-based) after ``elapsed`` seconds (see module doc)."""
    warm = min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else 1.0
    progress = 0.0
    if time_budget_s is not None:
        progress = max(progress, elapsed / time_budget_s)
    if max_steps is not None:
        progress = max(progress, step / max_steps)
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
    return base_lr * warm * (min_lr_ratio + (1.0 - min_lr_ratio) * cosine)


def _shard_loss(replica: Module, x: np.ndarray, y: np.ndarray) -> tuple[Tensor, None]:
    return lm_loss(replica, x, y), None


def train_lm(
    model: Module,
    optimizer: Optimizer,
    train_ids: Any,
    *,
    batch_size: int = 32,
    context: int = 128,
    time_budget_s: float | None = 600.0,
    max_steps: int | None = None,
    warmup_steps: int = 100,
    min_lr_ratio: float = 0.1,
    clip_norm: float | None = 1.0,
    val_ids: Any = None,
    eval_every_s: float = 60.0,
    eval_chars: int = 20_000,
    generator: np.random.Generator | None = None,
    log: Callable[[str], None] | None = print,
    workers: int = 1,
) -> History:
    """Train ``model`` on random windows of ``train_ids`` until the budget is spent (see module doc).

    Every ``eval_every_s`` seconds of training (and at the end) a history row records step, tokens,
    training seconds, the mean training loss since the last row (bits per char), the learning
    rate, tokens/s, and with ``val_ids`` the validation bpc on its first ``eval_chars`` characters.
    Evaluation time is not counted against the budget. ``workers`` > 1 splits each batch over
    that many threads (data parallel, see the module doc; ``batch_size`` must divide evenly).
    Returns the ``History``.
    """
    if time_budget_s is None and max_steps is None:
        raise ValueError("train_lm: give time_budget_s, max_steps, or both")
    if time_budget_s is not None and not time_budget_s > 0:
        raise ValueError(f"train_lm: time_budget_s must be positive, got {time_budget_s!r}")
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"train_lm: max_steps must be >= 1, got {max_steps!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1 or batch_size % workers:
        raise ValueError(f"train_lm: workers must be a positive int dividing batch_size={batch_size}, got {workers!r}")
    parallel = DataParallel(model, workers) if workers > 1 else None
    # With workers, one BLAS thread each: the workers are the parallelism.
    with backend.num_threads(1 if parallel else None):
        try:
            return _train(
                model, optimizer, train_ids, parallel, batch_size, context, time_budget_s, max_steps,
                warmup_steps, min_lr_ratio, clip_norm, val_ids, eval_every_s, eval_chars, generator, log,
            )  # fmt: skip
        finally:
            if parallel is not None:
                parallel.close()


def _train(
    model: Module, optimizer: Optimizer, train_ids: Any, parallel: DataParallel | None, batch_size: int,
    context: int, time_budget_s: float | None, max_steps: int | None, warmup_steps: int, min_lr_ratio: float,
    clip_norm: float | None, val_ids: Any, eval_every_s: float, eval_chars: int,
    generator: np.random.Generator | None, log: Callable[[str], None] | None,
) -> History:  # fmt: skip
    train_ids = np.asarray(train_ids)
    gen = backend.generator() if generator is None else generator
    base_lrs = [g["lr"] for g in optimizer.param_groups]
    params = [p for g in optimizer.param_groups for p in g["params"]]
    history = History()
    model.train()
    step, trained, since_eval, loss_sum, loss_n = 0, 0.0, 0.0, 0.0, 0
    while True:
        if (max_steps is not None and step >= max_steps) or (time_budget_s is not None and trained >= time_budget_s):
            break
        t0 = time.perf_counter()
        for g, base in zip(optimizer.param_groups, base_lrs, strict=True):
            g["lr"] = lr_at(step, trained, base, warmup_steps, time_budget_s, max_steps, min_lr_ratio)
        x, y = random_windows(train_ids, batch_size, context, gen)
        if parallel is None:
            loss = lm_loss(model, x, y)
            optimizer.zero_grad()
            loss.backward()
            value = float(loss.item())
        else:
            value, _ = parallel.step(_shard_loss, x, y)
        if clip_norm is not None:
            clip_grad_norm_(params, clip_norm)
        optimizer.step()
        if parallel is not None:
            parallel.sync()
        if not math.isfinite(value):
            raise FloatingPointError(f"train_lm: the loss became {value} at step {step}")
        loss_sum, loss_n = loss_sum + value, loss_n + 1
        step += 1
        dt = time.perf_counter() - t0
        trained += dt
        since_eval += dt
        done = (max_steps is not None and step >= max_steps) or (time_budget_s is not None and trained >= time_budget_s)
        if since_eval >= eval_every_s or done:
            row = {
                "step": float(step),
                "tokens": float(step * batch_size * context),
                "seconds": trained,
                "train_bpc": loss_sum / loss_n / _LN2,
                "lr": optimizer.param_groups[0]["lr"],
                "tokens_per_s": step * batch_size * context / trained,
            }
            if val_ids is not None:
                row["val_bpc"] = bits_per_char(model, val_ids, context, eval_chars)
                model.train()
            history.append(row)
            if log is not None:
                log(
                    " ".join(
                        f"{k}={v:.4g}" if isinstance(v, float) and k not in ("step", "tokens") else f"{k}={int(v)}"
                        for k, v in row.items()
                    )
                )
            since_eval, loss_sum, loss_n = 0.0, 0.0, 0
    for g, base in zip(optimizer.param_groups, base_lrs, strict=True):
        g["lr"] = base
    return history
