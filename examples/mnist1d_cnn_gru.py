"""MNIST-1D's CNN and GRU (Greydanus, 2020) under the paper's protocol, then a better CNN recipe.

Part 1, the paper's protocol (its ``train.py``, as in ``mnist1d_reference.py``): Adam with lr 1e-2,
cross-entropy, 6000 steps on minibatches of 100 taken as *sequential* slices of the 4000 training
signals, test accuracy on the 1000 test signals. Two models from ``chainrule.models.mnist1d``:

* ``MNIST1DCNN()``: three stride-2 Conv1d layers of 25 channels + Linear(125, 10), 5,210 parameters
  (published: 94 %);
* ``MNIST1DGRU()``: bidirectional GRU of hidden size 6 over the 40 samples, all outputs into
  Linear(480, 10), 5,134 parameters (published: 91 %).

Part 2, a recipe of our own for the *same* 5,210-parameter CNN: shuffled minibatches of 100, each
augmented by a random circular shift of ±``max_shift`` samples per signal (``random_shift`` from
``mnist1d_reference.py``), AdamW (decoupled weight decay), the one-cycle schedule, label smoothing.

Run::

    python examples/mnist1d_cnn_gru.py                       # all parts, 3 seeds
    python examples/mnist1d_cnn_gru.py --quick               # a smoke run in seconds
    python examples/mnist1d_cnn_gru.py --parts paper_cnn recipe_cnn --seeds 0 1 2

The GRU is the slow part (its 40-step recurrence is a Python loop: about 40 ms per step of batch 100
on one core, ~4 min per 6000-step run). Results go to ``examples/runs/mnist1d_cnn_gru.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import chainrule as cr
from chainrule import functional as F
from chainrule import optim
from chainrule.models.mnist1d import MNIST1DCNN, MNIST1DGRU


def _load_reference() -> Any:
    """``mnist1d_reference.py`` (a script, not a package module) for its data and protocol code."""
    name = "mnist1d_reference"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parent / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


ref = _load_reference()

PUBLISHED = {"cnn": 0.94, "gru": 0.91}
PARTS = ("paper_cnn", "paper_gru", "recipe_cnn")
RUNS_DIR = Path(__file__).resolve().parent / "runs"


def build(model: str) -> cr.nn.Module:
    if model == "cnn":
        return MNIST1DCNN()
    if model == "gru":
        return MNIST1DGRU()
    raise ValueError(f"build: unknown model {model!r}; expected 'cnn' or 'gru'")


def train_paper(model_name: str, seed: int, data: tuple, steps: int = 6000, eval_every: int = 500) -> dict[str, Any]:
    """Part 1: the paper's protocol; returns final accuracy, the evaluation curve and timings."""
    x, y, xt, yt = data
    cr.manual_seed(seed)
    model = build(model_name)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    curve: list[tuple[int, float]] = []
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        rows = ref.sequential_batch(step - 1, 100, len(x))
        loss = F.cross_entropy(model(cr.tensor(x[rows])), cr.tensor(y[rows]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % eval_every == 0 or step == steps:
            curve.append((step, ref.accuracy(model, xt, yt)))
    seconds = time.perf_counter() - t0
    return {
        "seed": seed,
        "params": ref.n_params(model),
        "final_test_acc": curve[-1][1],
        "max_test_acc": max(a for _, a in curve),
        "curve": curve,
        "train_acc": ref.accuracy(model, x, y),
        "seconds": seconds,
    }


def train_recipe(seed: int, data: tuple, epochs: int = 300, max_lr: float = 1e-2, **kw: Any) -> dict[str, Any]:
    """Part 2: the recipe of mnist1d_reference.py applied to the paper's CNN (see the module docstring)."""
    return ref.train_recipe(seed, data, epochs=epochs, max_lr=max_lr, make_model=lambda: build("cnn"), **kw)


def run(args: argparse.Namespace) -> dict[str, Any]:
    steps = 100 if args.quick else args.steps
    gru_steps = 20 if args.quick else (args.gru_steps or args.steps)
    epochs = 2 if args.quick else args.epochs
    data = ref.load_mnist1d()
    t_start = time.perf_counter()
    recipe = {
        "model": "MNIST1DCNN()",
        "optimizer": "AdamW",
        "weight_decay": args.weight_decay,
        "schedule": f"OneCycleLR(max_lr={args.max_lr})",
        "label_smoothing": args.label_smoothing,
        "augmentation": f"random circular shift, |k| <= {args.max_shift}",
        "batch_size": 100,
        "batches": "shuffled",
        "epochs": epochs,
        "steps": epochs * (len(data[0]) // 100),
    }
    out: dict[str, Any] = {
        "script": "examples/mnist1d_cnn_gru.py",
        "machine": ref.machine(),
        "seeds": list(args.seeds),
        "quick": bool(args.quick),
        "parts": list(args.parts),
        "protocol": {
            "optimizer": "Adam",
            "lr": 1e-2,
            "batch_size": 100,
            "batches": "sequential",
            "steps": {"cnn": steps, "gru": gru_steps},
        },
        "recipe": recipe,
        "published": PUBLISHED,
        "results": {},
    }
    rows = []
    for part in args.parts:
        if part == "recipe_cnn":
            runs = [
                train_recipe(
                    s,
                    data,
                    epochs=epochs,
                    max_lr=args.max_lr,
                    weight_decay=args.weight_decay,
                    label_smoothing=args.label_smoothing,
                    max_shift=args.max_shift,
                )
                for s in args.seeds
            ]
            label, pub = "recipe, cnn", None
        else:
            name = part.split("_", 1)[1]
            n = gru_steps if name == "gru" else steps
            runs = [train_paper(name, s, data, steps=n) for s in args.seeds]
            label, pub = f"paper protocol, {name} ({n} steps)", PUBLISHED[name]
        final, best = ref.summarize(runs, "final_test_acc"), ref.summarize(runs, "max_test_acc")
        out["results"][part] = {
            "runs": runs,
            "final_test_acc": final,
            "max_test_acc": best,
            "seconds": ref.summarize(runs, "seconds"),
        }
        rows.append((label, runs, final, best, pub))
    out["total_seconds"] = time.perf_counter() - t_start

    print(f"MNIST-1D, {len(data[0])} train / {len(data[2])} test, seeds {list(args.seeds)}")
    print(
        f"{'setting':34s} {'params':>6s}  {'final test acc':>15s}  {'max (evals)':>15s}  {'published':>9s}"
        f"  {'s/run':>6s}  per seed (final)"
    )
    for label, rs, fin, mx, p in rows:
        pub_s = f"{100 * p:.0f} %" if p is not None else "-"
        secs = np.mean([r["seconds"] for r in rs])
        seeds = " ".join(f"{100 * r['final_test_acc']:.1f}" for r in rs)
        print(
            f"{label:34s} {rs[0]['params']:6d}  {ref._fmt(fin):>15s}  {ref._fmt(mx):>15s}  {pub_s:>9s}"
            f"  {secs:6.1f}  {seeds}"
        )
    print(f"total {out['total_seconds']:.1f} s")
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    p.add_argument("--quick", action="store_true", help="100 CNN / 20 GRU paper steps, 2 recipe epochs (smoke)")
    p.add_argument("--steps", type=int, default=6000, help="paper-protocol steps")
    p.add_argument("--gru-steps", type=int, default=None, help="paper-protocol steps for the GRU (default --steps)")
    p.add_argument("--epochs", type=int, default=300, help="recipe epochs (40 steps each)")
    p.add_argument("--max-lr", type=float, default=1e-2, help="recipe: one-cycle peak learning rate")
    p.add_argument("--weight-decay", type=float, default=0.05, help="recipe: AdamW weight decay")
    p.add_argument("--label-smoothing", type=float, default=0.1, help="recipe: label smoothing")
    p.add_argument("--max-shift", type=int, default=4, help="recipe augmentation: max |shift| (0 disables)")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (cr.set_num_threads; 0: library default)")
    p.add_argument("--out", type=Path, default=RUNS_DIR / "mnist1d_cnn_gru.json")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads:
        cr.set_num_threads(args.threads)
    results = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
