"""Character-level language models on the King James Bible: a small GPT and an LSTM of the same size.

Both train for the same wall-clock budget (default 10 minutes) on random 128-character windows of
the first 90% of the text (batches of 16 windows for the GPT, 32 for the LSTM; AdamW, linear warm-up, then a cosine decay timed
to end with the budget), and are scored in bits per character on the first 200,000 characters of
the last 10% (windows of 128, no carried state). Needs Debian's bible-kjv package.

    python examples/char_lm.py --model gpt --minutes 10
    python examples/char_lm.py --model lstm --minutes 10
    python examples/char_lm.py --quick                  # a few seconds, a smoke run

Each run writes ``<out>/<model>.json`` (result, history, sample, machine) and ``<model>.npz`` (a
checkpoint ``chainrule generate`` reads), and redraws ``<out>/curves.png`` from every JSON there.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import io
from chainrule.backend import machine_info
from chainrule.data.text import CharVocab, kjv_splits
from chainrule.models import LM_BATCH_SIZES, build_lm, lm_optimizer
from chainrule.plots import plot_lm_history
from chainrule.train.lm import bits_per_char, train_lm


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=("gpt", "lstm"), default="gpt")
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--batch-size", type=int, default=None, help="windows per step (gpt 16, lstm 32)")
    p.add_argument("--context", type=int, default=128)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="BLAS threads (with --workers 1)")
    p.add_argument("--workers", type=int, default=2, help="data-parallel threads, one BLAS thread each")
    p.add_argument("--eval-chars", type=int, default=200_000)
    p.add_argument("--quick", action="store_true", help="5 seconds of training, 5000 validation characters")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "runs" / "char_lm"))
    args = p.parse_args(argv)
    if args.quick:
        args.minutes, args.eval_chars, args.warmup = 5 / 60, 5000, 10
    cr.manual_seed(args.seed)
    args.batch_size = args.batch_size or LM_BATCH_SIZES[args.model]
    cr.set_num_threads(args.threads)
    train_text, val_text = kjv_splits()
    vocab = CharVocab.from_text(train_text + val_text)
    train_ids, val_ids = vocab.encode(train_text), vocab.encode(val_text)
    model, config = build_lm(args.model, len(vocab), args.context)
    opt, lr = lm_optimizer(args.model, model, args.lr)
    n_params = sum(q.size for q in model.parameters())
    print(f"{args.model}: {n_params} parameters, {len(train_ids)} train / {len(val_ids)} val chars, lr {lr}")
    history = train_lm(
        model, opt, train_ids, batch_size=args.batch_size, context=args.context,
        time_budget_s=args.minutes * 60, warmup_steps=args.warmup, val_ids=val_ids,
        eval_chars=min(20_000, args.eval_chars), generator=np.random.default_rng(args.seed), workers=args.workers,
    )  # fmt: skip
    t0 = time.perf_counter()
    bpc = bits_per_char(model, val_ids, args.context, args.eval_chars)
    eval_s = time.perf_counter() - t0
    prompt = "And God said"
    model.eval()
    ids = model.generate(vocab.encode(prompt)[None], 400, temperature=0.8, generator=np.random.default_rng(1))
    sample = vocab.decode(ids.data[0])
    last = history.rows[-1]
    result = {
        "model": args.model,
        "parameters": n_params,
        "val_bpc": bpc,
        "val_chars": min(args.eval_chars, len(val_ids) - 1),
        "train_seconds": last["seconds"],
        "steps": int(last["step"]),
        "tokens_per_s": last["tokens_per_s"],
        "batch_size": args.batch_size,
        "workers": args.workers,
        "context": args.context,
        "lr": lr,
        "eval_seconds": eval_s,
        "sample": sample,
        "history": history.rows,
        "machine": machine_info(),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.model}.json").write_text(json.dumps(result, indent=1))
    io.save(
        {"kind": "lm", "config": config, "vocab": vocab.to_list(), "model": model.state_dict()},
        out / f"{args.model}.npz",
    )
    runs = {
        json.loads(f.read_text())["model"]: json.loads(f.read_text())["history"] for f in sorted(out.glob("*.json"))
    }
    plot_lm_history(runs, out / "curves.png", title="bible-kjv, same wall-clock budget")
    print(
        f"validation bits/char (first {result['val_chars']} characters): {bpc:.4f}; "
        f"{result['tokens_per_s']:.0f} tokens/s; {result['steps']} steps in {result['train_seconds']:.0f} s"
    )
    print("sample:\n" + sample)
    return 0


if __name__ == "__main__":
    sys.exit(main())
