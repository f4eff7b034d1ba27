"""The ``chainrule`` command: train, evaluate, generate, and list datasets and models.

``chainrule train`` with no options trains an MLP on scikit-learn's bundled handwritten digits in
a few seconds and prints the test accuracy; the run directory receives the JSON history, a PNG
of the training curves, and resumable checkpoints (last.npz, best.npz).

``chainrule train --model cnn|resnet|gru ...`` trains the other classifiers (see
``chainrule models``); ``--model gpt|lstm`` trains a character-level language model on a text
dataset (default ``kjv``) for ``--minutes`` of wall-clock time and reports validation bits per
character; ``chainrule generate RUN/last.npz --prompt "..."`` samples text from it.
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
    t.add_argument("--hidden", type=_hidden, default=None, help="hidden sizes, e.g. 256,128 (gru: one size)")
    t.add_argument("--activation", default="relu")
    t.add_argument("--dropout", type=float, default=None, help="dropout probability (mlp default 0, cnn 0.25)")
    t.add_argument("--batch-norm", action="store_true", help="cnn: BatchNorm after each convolution")
    t.add_argument("--depth", type=_positive(int), default=20, help="resnet depth (6n+2)")
    t.add_argument("--width", type=_positive(int), default=16, help="resnet width of the first stage")
    t.add_argument("--stem-pool", action="store_true", help="resnet: stride-2 max-pooling after the stem")
    t.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    t.add_argument("--lr", type=_positive(float), default=None, help="learning rate (default 1e-3; gpt/lstm 3e-3)")
    t.add_argument("--momentum", type=float, default=0.9, help="SGD/RMSprop momentum")
    t.add_argument("--weight-decay", type=float, default=None, help="default 0 (gpt/lstm: 0.1 on matrices)")
    t.add_argument("--scheduler", choices=SCHEDULERS, default="none")
    t.add_argument("--label-smoothing", type=float, default=0.0)
    t.add_argument("--batch-size", type=_positive(int), default=None, help="default 64 (gpt: 16 windows, lstm: 32)")
    t.add_argument("--epochs", type=_positive(int), default=30)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--data-root", default=None, help="directory with dataset files / cache")
    t.add_argument("--out", default=None, help="run directory (default runs/DATASET-MODEL)")
    t.add_argument("--resume", default=None, help="checkpoint to continue from")
    t.add_argument("--quiet", action="store_true", help="no progress bar and no per-epoch lines")
    t.add_argument("--threads", type=_positive(int), default=None, help="BLAS threads (1 is fastest on busy machines)")
    t.add_argument("--minutes", type=_positive(float), default=10.0, help="gpt/lstm: wall-clock training budget")
    t.add_argument("--steps", type=_positive(int), default=None, help="gpt/lstm: stop after this many steps")
    t.add_argument("--context", type=_positive(int), default=128, help="gpt/lstm: window length in characters")
    t.add_argument("--eval-chars", type=_positive(int), default=200_000, help="gpt/lstm: validation characters scored")
    t.add_argument(
        "--workers",
        type=_positive(int),
        default=None,
        help="data-parallel training threads, one BLAS thread each (default 1; gpt/lstm 2)",
    )

    g = sub.add_parser("generate", help="sample text from a language-model checkpoint")
    g.add_argument("checkpoint")
    g.add_argument("--prompt", default="\n", help="text to continue (characters of the model's vocabulary)")
    g.add_argument("--length", type=_positive(int), default=400, help="characters to generate")
    g.add_argument("--temperature", type=_positive(float), default=0.8)
    g.add_argument("--top-k", type=_positive(int), default=None)
    g.add_argument("--seed", type=int, default=0)

    e = sub.add_parser("evaluate", help="evaluate a checkpoint on its dataset's test split")
    e.add_argument("checkpoint")
    e.add_argument("--data-root", default=None)
    e.add_argument("--batch-size", type=_positive(int), default=512)

    sub.add_parser("datasets", help="list the available datasets")
    sub.add_parser("models", help="list the available models")
    return p


LANGUAGE_MODELS = ("gpt", "lstm")


def _model_options(args: argparse.Namespace, input_shape: tuple[int, ...]) -> dict[str, Any]:
    """The options of ``build_model`` that the command line sets for this model and input."""
    if args.model in ("mlp", "resmlp"):
        opts: dict[str, Any] = {"activation": args.activation, "dropout": args.dropout or 0.0}
        if args.hidden is not None:
            opts["hidden"] = list(args.hidden)
        return opts
    if args.model == "cnn":
        if len(input_shape) == 1 and int(np.sqrt(input_shape[0])) ** 2 != input_shape[0]:
            return {}  # the 1-d (MNIST-1D) network has no such options
        return {"batch_norm": args.batch_norm, "dropout": 0.25 if args.dropout is None else args.dropout}
    if args.model == "resnet":
        return {"depth": args.depth, "width": args.width, "stem_pool": args.stem_pool}
    if args.model == "gru" and args.hidden is not None:
        if len(args.hidden) != 1:
            raise ValueError(f"--hidden for gru is one size, got {','.join(map(str, args.hidden))}")
        return {"hidden": args.hidden[0]}
    return {}


def _shapes(dataset: Any) -> tuple[tuple[int, ...], int]:
    x, y = dataset.tensors[0], dataset.tensors[1]
    return tuple(int(s) for s in x.shape[1:]), int(y.data.max()) + 1


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
    if args.model in LANGUAGE_MODELS:
        return cmd_train_lm(args)
    import chainrule as cr
    from chainrule import functional as F
    from chainrule.data import DataLoader, load_dataset
    from chainrule.models import build_model
    from chainrule.plots import plot_history
    from chainrule.train import BestCheckpoint, Trainer

    cr.manual_seed(args.seed)
    if args.threads is not None:
        cr.set_num_threads(args.threads)
    if args.lr is None:
        args.lr = 1e-3
    if args.weight_decay is None:
        args.weight_decay = 0.0
    if args.batch_size is None:
        args.batch_size = 64
    if args.workers is None:
        args.workers = 1
    train_set = load_dataset(args.dataset, root=args.data_root, split="train")
    test_set = load_dataset(args.dataset, root=args.data_root, split="test")
    input_shape, num_classes = _shapes(train_set)
    options = _model_options(args, input_shape)
    model = build_model(args.model, input_shape, num_classes, **options)
    opt = _optimizer(args, model.parameters())
    loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, generator=np.random.default_rng(args.seed))
    test_loader = DataLoader(test_set, batch_size=512)
    scheduler, interval = _scheduler(args, opt, len(loader))
    out = Path(args.out or f"runs/{args.dataset}-{args.model}")
    config = {
        "dataset": args.dataset,
        "model": args.model,
        "model_options": options,
        "input_shape": list(input_shape),
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
        workers=args.workers,
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


def cmd_train_lm(args: argparse.Namespace) -> int:
    import chainrule as cr
    from chainrule import io
    from chainrule.data.text import CharVocab, load_text_splits
    from chainrule.models import LM_BATCH_SIZES, build_lm, lm_optimizer
    from chainrule.plots import plot_lm_history
    from chainrule.train.lm import bits_per_char, train_lm

    cr.manual_seed(args.seed)
    if args.threads is not None:
        cr.set_num_threads(args.threads)
    dataset = "kjv" if args.dataset == "digits" else args.dataset  # digits is the classifiers' default
    train_text, val_text = load_text_splits(dataset, args.data_root)
    vocab = CharVocab.from_text(train_text + val_text)
    train_ids, val_ids = vocab.encode(train_text), vocab.encode(val_text)
    model, config = build_lm(args.model, len(vocab), args.context)
    opt, lr = lm_optimizer(
        args.model, model, args.lr, weight_decay=0.1 if args.weight_decay is None else args.weight_decay
    )
    batch = args.batch_size or LM_BATCH_SIZES[args.model]
    workers = args.workers or (2 if batch % 2 == 0 else 1)
    if batch % workers:
        raise SystemExit(f"chainrule train: --workers {workers} must divide the batch size {batch}")
    n_params = sum(p.size for p in model.parameters())
    out = Path(args.out or f"runs/{dataset}-{args.model}")
    if not args.quiet:
        budget = f"{args.minutes:g} min" + (f" or {args.steps} steps" if args.steps else "")
        print(
            f"{args.model} on {dataset}: {n_params} parameters, {len(train_ids)} train / {len(val_ids)} validation "
            f"characters, vocabulary {len(vocab)}, batch {batch}×{args.context}, lr {lr:g}, budget {budget}"
        )
    history = train_lm(
        model,
        opt,
        train_ids,
        batch_size=batch,
        context=args.context,
        time_budget_s=args.minutes * 60.0,
        max_steps=args.steps,
        val_ids=val_ids,
        eval_chars=min(20_000, args.eval_chars),
        generator=np.random.default_rng(args.seed),
        log=None if args.quiet else print,
        workers=workers,
    )
    bpc = bits_per_char(model, val_ids, args.context, args.eval_chars)
    last = history.rows[-1]
    summary = {
        "val_bpc": bpc,
        "val_chars": min(args.eval_chars, len(val_ids) - 1),
        "tokens_per_s": last["tokens_per_s"],
        "train_seconds": last["seconds"],
        "steps": int(last["step"]),
    }
    config_all = {"kind": "lm", "dataset": dataset, **summary}
    io.save(
        {"kind": "lm", "config": config, "vocab": vocab.to_list(), "model": model.state_dict(), "run": config_all},
        out / "last.npz",
    )
    (out / "history.json").parent.mkdir(parents=True, exist_ok=True)
    (out / "history.json").write_text(json.dumps({"rows": history.rows, **summary}, indent=1))
    plot_lm_history({args.model: history}, out / "curves.png", title=f"{args.model} on {dataset}")
    print(
        f"validation bits/char: {bpc:.4f} (first {summary['val_chars']} characters), "
        f"{summary['tokens_per_s']:.0f} tokens/s, {summary['steps']} steps in {summary['train_seconds']:.0f} s"
    )
    print(f"wrote {out / 'history.json'}, {out / 'curves.png'}, {out / 'last.npz'}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from chainrule import io
    from chainrule.data.text import CharVocab
    from chainrule.models import build_lm

    ck = io.load(args.checkpoint)
    if not isinstance(ck, dict) or ck.get("kind") != "lm":
        raise ValueError(
            f"{args.checkpoint} is not a language-model checkpoint (write one with `chainrule train --model gpt`)"
        )
    vocab = CharVocab(ck["vocab"])
    config = dict(ck["config"])
    model, _ = build_lm(config.pop("name"), config.pop("vocab_size"), config.pop("context_length"), **config)
    model.load_state_dict(ck["model"])
    model.eval()
    prompt = vocab.encode(args.prompt)
    if prompt.size == 0:
        raise ValueError("--prompt must hold at least one character")
    ids = model.generate(
        prompt[None],
        args.length,
        temperature=args.temperature,
        top_k=args.top_k,
        generator=np.random.default_rng(args.seed),
    )
    print(vocab.decode(ids.data[0]))
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
    if config.get("kind") == "lm":
        raise SystemExit(f"evaluate: {args.checkpoint} is a language model; its bits per character are in history.json")
    shape = config.get("input_shape", config.get("in_features"))  # in_features: checkpoints before input_shape
    model = build_model(config["model"], shape, config["num_classes"], **config["model_options"])
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
        from chainrule.data.text import TEXT_DATASETS

        items = {**available_datasets(), **{k: f"text: {d}" for k, (_, d) in TEXT_DATASETS.items()}}
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
        if args.command == "generate":
            return cmd_generate(args)
        return cmd_list(args.command)
    except (FileNotFoundError, ValueError, TypeError) as e:
        print(f"chainrule {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
