"""The training loop: epochs of minibatch updates, evaluation, callbacks, progress and history.

One epoch is: model.train(); for each batch: loss = loss_fn(model(x), y); zero_grad; backward;
(optional gradient clipping); optimizer.step(); (a per-step scheduler steps). Then evaluation
on the held-out loader, a per-epoch scheduler step, callbacks, and a history row.

``Trainer(workers=W)`` with W > 1 computes each batch's gradient data-parallel over W threads
(``chainrule.train.parallel``; each thread uses one BLAS thread). ``loss_fn`` must then be a mean
over the batch's rows, so that the row-weighted mean of the shards' gradients is the batch's.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chainrule import backend
from chainrule.autograd import state
from chainrule.io import atomic_write
from chainrule.nn import Module
from chainrule.tensor import Tensor
from chainrule.train.metrics import Mean, correct
from chainrule.train.parallel import DataParallel


@dataclass
class History:
    """One dict per epoch: epoch, train_loss, train_acc, test_loss, test_acc, lr, seconds, samples_per_s."""

    rows: list[dict[str, float]] = field(default_factory=list)

    def append(self, row: dict[str, float]) -> None:
        self.rows.append(row)

    def column(self, key: str) -> list[float]:
        return [r[key] for r in self.rows if key in r]

    def save(self, path: str | Path) -> None:
        text = json.dumps({"epochs": self.rows}, indent=2)
        atomic_write(path, lambda f: f.write(text.encode("utf-8")))

    @classmethod
    def load(cls, path: str | Path) -> History:
        return cls(json.loads(Path(path).read_text(encoding="utf-8"))["epochs"])


def evaluate(model: Module, loader: Iterable[Any], loss_fn: Callable[[Tensor, Tensor], Tensor]) -> dict[str, float]:
    """Mean loss and accuracy of ``model`` over ``loader``, in eval mode and without a graph."""
    was_training = model.training
    model.eval()
    loss, n_correct, n = Mean(), 0, 0
    try:
        with state.no_grad():
            for x, y in loader:
                out = model(x)
                loss.update(loss_fn(out, y).item(), len(y))
                n_correct += correct(out, y)
                n += len(y)
    finally:
        model.train(was_training)
    return {"loss": loss.value, "acc": n_correct / n if n else float("nan")}


class Callback:
    """Hook into the loop; ``on_epoch_end`` returns True to stop training."""

    def on_epoch_end(self, trainer: Trainer, row: dict[str, float]) -> bool:
        return False


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    def __init__(self, monitor: str = "test_loss", mode: str = "min", patience: int = 5, min_delta: float = 0.0):
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min' or 'max', got {mode!r}")
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}")
        self.monitor, self.mode, self.patience, self.min_delta = monitor, mode, patience, min_delta
        self.best = math.inf if mode == "min" else -math.inf
        self.bad_epochs = 0

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, trainer: Trainer, row: dict[str, float]) -> bool:
        if self.monitor not in row:
            raise KeyError(f"EarlyStopping: metric {self.monitor!r} not in {sorted(row)}")
        if self._improved(row[self.monitor]):
            self.best, self.bad_epochs = row[self.monitor], 0
        else:
            self.bad_epochs += 1
        return self.bad_epochs > self.patience


class BestCheckpoint(Callback):
    """Save a full checkpoint whenever ``monitor`` reaches a new best."""

    def __init__(self, path: str | Path, monitor: str = "test_acc", mode: str = "max"):
        self.path, self.monitor, self.mode = Path(path), monitor, mode
        self.best = math.inf if mode == "min" else -math.inf

    def on_epoch_end(self, trainer: Trainer, row: dict[str, float]) -> bool:
        v = row[self.monitor]
        if (v < self.best) if self.mode == "min" else (v > self.best):
            self.best = v
            trainer.save_checkpoint(self.path)
        return False


class Trainer:
    """Owns model, optimizer, scheduler and loaders; ``fit`` runs epochs, ``save_checkpoint``
    and ``load_checkpoint`` make a run resumable so that the continued run is identical to an
    uninterrupted one (model, optimizer, scheduler, epoch and every random generator)."""

    def __init__(
        self,
        model: Module,
        optimizer: Any,
        loss_fn: Callable[[Tensor, Tensor], Tensor],
        train_loader: Any,
        eval_loader: Any = None,
        *,
        scheduler: Any = None,
        scheduler_interval: str = "epoch",
        clip_grad_norm: float | None = None,
        callbacks: Sequence[Callback] = (),
        progress: bool | None = None,
        config: dict[str, Any] | None = None,
        workers: int = 1,
    ) -> None:
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(f"Trainer: scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}")
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"Trainer: workers must be a positive int, got {workers!r}")
        self.workers = workers
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.train_loader, self.eval_loader = train_loader, eval_loader
        self.scheduler, self.scheduler_interval = scheduler, scheduler_interval
        self.clip_grad_norm = clip_grad_norm
        self.callbacks = list(callbacks)
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.config = dict(config or {})
        self.epoch = 0
        self.history = History()

    # --- one epoch ------------------------------------------------------------------------------
    def train_epoch(self) -> dict[str, float]:
        self.model.train()
        if self.workers == 1:
            return self._epoch(None)
        # Fresh replicas every epoch: the model may have been changed (loaded, edited) in between.
        # One BLAS thread per worker: the workers are the parallelism.
        with DataParallel(self.model, self.workers) as parallel, backend.num_threads(1):
            return self._epoch(parallel)

    def _epoch(self, parallel: DataParallel | None) -> dict[str, float]:
        loss_m, n_correct, n = Mean(), 0, 0
        t0 = time.perf_counter()
        bar = self._bar()
        for x, y in self.train_loader:
            if parallel is None:
                out = self.model(x)
                loss = self.loss_fn(out, y)
                self.optimizer.zero_grad()
                loss.backward()
                value, hits = loss.item(), correct(out, y)
            else:
                value, counts = parallel.step(self._shard_step, x, y)
                hits = sum(counts)
            if self.clip_grad_norm is not None:
                from chainrule.optim import clip_grad_norm_

                clip_grad_norm_(self.model.parameters(), self.clip_grad_norm)
            self.optimizer.step()
            if parallel is not None:
                parallel.sync()
            if self.scheduler is not None and self.scheduler_interval == "step":
                self.scheduler.step()
            if not math.isfinite(value):
                raise FloatingPointError(f"training diverged: loss is {value} at epoch {self.epoch + 1}")
            loss_m.update(value, len(y))
            n_correct += hits
            n += len(y)
            if bar is not None:
                bar.update(len(y))
                bar.set_postfix(loss=f"{loss_m.value:.4f}", refresh=False)
        if bar is not None:
            bar.close()
        seconds = time.perf_counter() - t0
        return {
            "train_loss": loss_m.value,
            "train_acc": n_correct / max(n, 1),
            "seconds": seconds,
            "samples_per_s": n / seconds,
        }

    def _shard_step(self, replica: Module, x: Tensor, y: Tensor) -> tuple[Tensor, int]:
        out = replica(x)
        return self.loss_fn(out, y), correct(out, y)

    def _bar(self) -> Any:
        if not self.progress:
            return None
        from tqdm import tqdm

        dataset = getattr(self.train_loader, "dataset", None)
        total = len(dataset) if dataset is not None else None
        return tqdm(total=total, desc=f"epoch {self.epoch + 1}", unit="sample", leave=False, dynamic_ncols=True)

    # --- the loop -------------------------------------------------------------------------------
    def fit(self, epochs: int, log: Callable[[str], None] | None = print) -> History:
        """Train until ``epochs`` epochs in total have run (counting epochs restored from a checkpoint)."""
        if epochs < 0:
            raise ValueError(f"fit: epochs must be >= 0, got {epochs}")
        while self.epoch < epochs:
            row: dict[str, float] = {"epoch": self.epoch + 1}
            row.update(self.train_epoch())
            if self.eval_loader is not None:
                ev = evaluate(self.model, self.eval_loader, self.loss_fn)
                row["test_loss"], row["test_acc"] = ev["loss"], ev["acc"]
            row["lr"] = float(self.optimizer.param_groups[0]["lr"])
            if self.scheduler is not None and self.scheduler_interval == "epoch":
                if type(self.scheduler).__name__ == "ReduceLROnPlateau":
                    self.scheduler.step(row.get("test_loss", row["train_loss"]))
                else:
                    self.scheduler.step()
            self.epoch += 1
            self.history.append(row)
            if log is not None:
                log(_format_row(row))
            if any(cb.on_epoch_end(self, row) for cb in self.callbacks):
                if log is not None:
                    log(f"stopping early after epoch {self.epoch}")
                break
        return self.history

    # --- checkpoints ------------------------------------------------------------------------------
    def checkpoint(self) -> dict[str, Any]:
        gen = getattr(self.train_loader, "generator", None)
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "epoch": self.epoch,
            "history": self.history.rows,
            "rng": backend.get_rng_state(),
            "loader_rng": gen.bit_generator.state if gen is not None else None,
            "config": self.config,
        }

    def save_checkpoint(self, path: str | Path) -> None:
        from chainrule import io

        io.save(self.checkpoint(), path)

    def load_checkpoint(self, path: str | Path) -> None:
        """Restore everything ``save_checkpoint`` wrote; model and optimizer are validated first."""
        from chainrule import io

        ck = io.load(path)
        for key in ("model", "optimizer", "epoch", "rng"):
            if key not in ck:
                raise ValueError(f"load_checkpoint: {path} has no {key!r} entry")
        self.model.load_state_dict(ck["model"])
        self.optimizer.load_state_dict(ck["optimizer"])
        if self.scheduler is not None and ck.get("scheduler") is not None:
            self.scheduler.load_state_dict(ck["scheduler"])
        self.epoch = int(ck["epoch"])
        self.history = History(list(ck.get("history") or []))
        backend.set_rng_state(ck["rng"])
        gen = getattr(self.train_loader, "generator", None)
        if gen is not None and ck.get("loader_rng") is not None:
            gen.bit_generator.state = ck["loader_rng"]


def _format_row(row: dict[str, float]) -> str:
    parts = [f"epoch {int(row['epoch']):3d}", f"train loss {row['train_loss']:.4f}", f"acc {row['train_acc']:.4f}"]
    if "test_loss" in row:
        parts += [f"test loss {row['test_loss']:.4f}", f"acc {row['test_acc']:.4f}"]
    parts += [f"lr {row['lr']:.3g}", f"{row['samples_per_s']:.0f} samples/s"]
    return " | ".join(parts)
