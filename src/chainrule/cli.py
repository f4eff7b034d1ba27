"""The ``chainrule`` command: train, evaluate, and list datasets and models.

``chainrule train`` with no options trains an MLP on scikit-learn's bundled handwritten digits in
a few seconds and prints the test accuracy; the run directory receives the JSON history, a PNG
of the training curves, and resumable checkpoints (last.npz, best.npz).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np


def _hidden(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--hidden expects comma-separated ints, got {text!r}") from None
    if any(s <= 0 for s in sizes):
        raise argparse.ArgumentTypeError(f"--hidden sizes must be positive, got {text!r}")
    return sizes


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if not v > 0 or (isinstance(v, float) and not math.isfinite(v)):
            raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
        return v

    return parse


OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "adagrad")
SCHEDULERS = ("none", "cosine", "step", "onecycle")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chainrule", description="Train and evaluate chainrule models.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model on a dataset")
    t.add_argument("--dataset", default="digits", help="dataset name (see `chainrule datasets`)")
    t.add_argument("--model", default="mlp", help="model name (see `chainrule models`)")
    t.add_argument("--hidden", type=_hidden, default=None, help="hidden sizes, e.g. 256,128")
    t.add_argument("--activation", default="relu")
    t.add_argument("--dropout", type=float, default=0.0)
    t.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    t.add_argument("--lr", type=_positive(float), default=1e-3)
    t.add_argument("--momentum", type=float, default=0.9, help="SGD/RMSprop momentum")
    t.add_argument("--weight-decay", type=float, default=0.0)
    t.add_argument("--scheduler", choices=SCHEDULERS, default="none")
    t.add_argument("--label-smoothing", type=float, default=0.0)
    t.add_argument("--batch-size", type=_positive(int), default=64)
    t.add_argument("--epochs", type=_positive(int), default=30)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--data-root", default=None, help="directory with dataset files / cache")
    t.add_argument("--out", default=None, help="run directory (default runs/DATASET-MODEL)")
    t.add_argument("--resume", default=None, help="checkpoint to continue from")
    t.add_argument("--quiet", action="store_true", help="no progress bar and no per-epoch lines")
    t.add_argument("--threads", type=_positive(int), default=None, help="BLAS threads (1 is fastest on busy machines)")

    e = sub.add_parser("evaluate", help="evaluate a checkpoint on its dataset's test split")
    e.add_argument("checkpoint")
    e.add_argument("--data-root", default=None)
    e.add_argument("--batch-size", type=_positive(int), default=512)

    sub.add_parser("datasets", help="list the available datasets")
    sub.add_parser("models", help="list the available models")
    return p


def _model_options(args: argparse.Namespace) -> dict[str, Any]:
    opts: dict[str, Any] = {"activation": args.activation, "dropout": args.dropout}
    if args.hidden is not None:
        opts["hidden"] = list(args.hidden)
    if args.model == "logistic":
        opts = {}
    return opts


def _shapes(dataset: Any) -> tuple[int, int]:
    x, y = dataset.tensors[0], dataset.tensors[1]
    return int(np.prod(x.shape[1:])), int(y.data.max()) + 1


def _optimizer(args: argparse.Namespace, params: Any) -> Any:
    from chainrule import optim

    if args.optimizer == "sgd":
        return optim.SGD(params, lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
    if args.optimizer == "rmsprop":
        return optim.RMSprop(params, lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
    if args.optimizer == "adagrad":
        return optim.Adagrad(params, lr=args.lr, weight_decay=args.weight_decay)
    if args.optimizer == "adamw":
        return optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay)
    return optim.Adam(params, lr=args.lr, weight_decay=args.weight_decay)


def _scheduler(args: argparse.Namespace, opt: Any, steps_per_epoch: int) -> tuple[Any, str]:
    from chainrule.optim import lr_scheduler as S

    if args.scheduler == "cosine":
        return S.CosineAnnealingLR(opt, T_max=args.epochs), "epoch"
    if args.scheduler == "step":
        return S.StepLR(opt, step_size=max(1, args.epochs // 3), gamma=0.1), "epoch"
    if args.scheduler == "onecycle":
        return S.OneCycleLR(opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch), "step"
    return None, "epoch"


def cmd_train(args: argparse.Namespace) -> int:
    import chainrule as cr
    from chainrule import functional as F
    from chainrule.data import DataLoader, load_dataset
    from chainrule.models import build_model
    from chainrule.plots import plot_history
    from chainrule.train import BestCheckpoint, Trainer

    cr.manual_seed(args.seed)
    if args.threads is not None:
        cr.set_num_threads(args.threads)
    train_set = load_dataset(args.dataset, root=args.data_root, split="train")
    test_set = load_dataset(args.dataset, root=args.data_root, split="test")
    in_features, num_classes = _shapes(train_set)
    model = build_model(args.model, in_features, num_classes, **_model_options(args))
    opt = _optimizer(args, model.parameters())
    loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, generator=np.random.default_rng(args.seed))
    test_loader = DataLoader(test_set, batch_size=512)
    scheduler, interval = _scheduler(args, opt, len(loader))
    out = Path(args.out or f"runs/{args.dataset}-{args.model}")
    config = {
        "dataset": args.dataset,
        "model": args.model,
        "model_options": _model_options(args),
        "in_features": in_features,
        "num_classes": num_classes,
        "args": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(args).items()},
    }

    def loss_fn(logits: Any, y: Any) -> Any:
        return F.cross_entropy(logits, y, label_smoothing=args.label_smoothing)

    trainer = Trainer(
        model,
        opt,
        loss_fn,
        loader,
        test_loader,
        scheduler=scheduler,
        scheduler_interval=interval,
        callbacks=[BestCheckpoint(out / "best.npz")],
        progress=False if args.quiet else None,
        config=config,
    )
    if args.resume:
        trainer.load_checkpoint(args.resume)
    n_params = sum(p.size for p in model.parameters())
    if not args.quiet:
        print(
            f"{args.model} on {args.dataset}: {len(train_set)} train / {len(test_set)} test samples, {n_params} parameters"
        )
    history = trainer.fit(args.epochs, log=None if args.quiet else print)
    trainer.save_checkpoint(out / "last.npz")
    history.save(out / "history.json")
    plot_history(history, out / "curves.png", title=f"{args.model} on {args.dataset}")
    last = history.rows[-1]
    print(
        f"test accuracy: {last['test_acc']:.4f} (test loss {last['test_loss']:.4f}) after {int(last['epoch'])} epochs"
    )
    print(f"wrote {out / 'history.json'}, {out / 'curves.png'}, {out / 'last.npz'}, {out / 'best.npz'}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from chainrule import functional as F
    from chainrule import io
    from chainrule.data import DataLoader, load_dataset
    from chainrule.models import build_model
    from chainrule.train import evaluate

    ck = io.load(args.checkpoint)
    config = ck.get("config") if isinstance(ck, dict) else None
    if not config or "model" not in config:
        raise SystemExit(
            f"evaluate: {args.checkpoint} has no model configuration (was it written by `chainrule train`?)"
        )
    model = build_model(config["model"], config["in_features"], config["num_classes"], **config["model_options"])
    model.load_state_dict(ck["model"])
    test_set = load_dataset(config["dataset"], root=args.data_root, split="test")
    res = evaluate(model, DataLoader(test_set, batch_size=args.batch_size), F.cross_entropy)
    print(
        json.dumps(
            {"dataset": config["dataset"], "model": config["model"], "test_loss": res["loss"], "test_acc": res["acc"]}
        )
    )
    return 0


def cmd_list(kind: str) -> int:
    if kind == "datasets":
        from chainrule.data import available_datasets

        items = available_datasets()
    else:
        from chainrule.models import available_models

        items = available_models()
    width = max(map(len, items))
    for name, desc in items.items():
        print(f"{name:<{width}}  {desc}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            return cmd_train(args)
        if args.command == "evaluate":
            return cmd_evaluate(args)
        return cmd_list(args.command)
    except (FileNotFoundError, ValueError) as e:
        print(f"chainrule {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
