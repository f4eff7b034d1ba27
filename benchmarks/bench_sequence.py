"""Sequence-model benchmark: chainrule's LSTM, Transformer block and GPT step against PyTorch eager.

Run ``python benchmarks/bench_sequence.py`` (or ``--quick``; ``--threads N`` gives numpy's BLAS
and torch the same N threads, default 2). Every number is measured in this one run, side by
side, with the timer of ``bench_engine.py``: the implementations take turns round by round, each
round times many calls after a warm-up, and a cell is the median over the rounds.

Sections (float32, forward + backward of sum(output), gradients of every parameter)
  (a) LSTM layer: input 64 → hidden 256, batch 32, 128 time steps (batch_first);
  (b) Transformer block: pre-norm TransformerEncoderLayer, d_model 128, 4 heads, feed-forward
      512, GELU (tanh form), causal mask, batch 16 × 128 positions;
  (c) one training step of the bible-kjv GPT (4 such blocks, vocabulary 63, tied embedding,
      AdamW), batch 16 × 128 characters, reported also as tokens per second;
  (d) the fused primitives, against the composites they replace: GELU (tanh form) on the block's
      feed-forward activation (16, 128, 512); the masked softmax of causal attention on its
      scores (16, 4, 128, 128) against select → softmax → select; and the LSTM cell in the
      recurrence of (a) (128 steps of gates = gi_t + h W_hhᵀ, then the cell) against split →
      σ/tanh → products.

Before timing, the script copies chainrule's weights into the PyTorch modules and checks once
that both compute the same outputs (the GPT: the same loss) and the same gradient for every
parameter. Timings are never pass/fail.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

import chainrule as cr
from bench_engine import Timer, print_environment, setup_threads
from chainrule import nn
from chainrule.models import build_lm, lm_optimizer
from chainrule.train.lm import lm_loss

try:
    import torch
except ImportError:  # the chainrule columns still run
    torch = None


def _load_into_torch(ours: nn.Module, theirs: Any) -> None:
    state = {k: torch.tensor(np.ascontiguousarray(v.data)) for k, v in ours.state_dict().items()}
    theirs.load_state_dict(state, strict=True)


def _agreement(ours: nn.Module, theirs: Any, cr_step: Callable[[], Any], torch_step: Callable[[], Any]) -> float:
    """Largest difference of the outputs and (relative) of every parameter's gradient."""
    a, b = cr_step(), torch_step()
    err = float(np.abs(a.data - b.detach().numpy()).max())
    g = max(
        float(np.abs(p.grad.data - q.grad.numpy()).max() / (np.abs(q.grad.numpy()).max() + 1e-12))
        for p, q in zip(ours.parameters(), theirs.parameters(), strict=True)
    )
    return max(err, g)


def lstm_case(rng: np.random.Generator) -> tuple[dict[str, Callable[[], Any]], Callable[[], float]]:
    cr.manual_seed(0)
    ours = nn.LSTM(64, 256, batch_first=True)
    x_np = rng.standard_normal((32, 128, 64), dtype=np.float32)
    x = cr.tensor(x_np)

    def cr_step() -> Any:
        for p in ours.parameters():
            p.grad = None
        out, _ = ours(x)
        out.sum().backward()
        return out

    fns: dict[str, Callable[[], Any]] = {"chainrule": cr_step}
    if torch is None:
        return fns, lambda: float("nan")
    theirs = torch.nn.LSTM(64, 256, batch_first=True)
    _load_into_torch(ours, theirs)
    tx = torch.tensor(x_np)

    def torch_step() -> Any:
        theirs.zero_grad(set_to_none=True)
        out, _ = theirs(tx)
        out.sum().backward()
        return out

    fns["torch"] = torch_step

    return fns, lambda: _agreement(ours, theirs, cr_step, torch_step)


def block_case(rng: np.random.Generator) -> tuple[dict[str, Callable[[], Any]], Callable[[], float]]:
    cr.manual_seed(0)
    kw = {"dim_feedforward": 512, "dropout": 0.0, "batch_first": True, "norm_first": True}
    ours = nn.TransformerEncoderLayer(128, 4, activation="gelu_tanh", **kw)
    x_np = rng.standard_normal((16, 128, 128), dtype=np.float32)
    x = cr.tensor(x_np)
    causal = ~np.tril(np.ones((128, 128), dtype=bool))

    def cr_step() -> Any:
        for p in ours.parameters():
            p.grad = None
        out = ours(x, src_mask=causal, is_causal=True)
        out.sum().backward()
        return out

    fns: dict[str, Callable[[], Any]] = {"chainrule": cr_step}
    if torch is None:
        return fns, lambda: float("nan")
    theirs = torch.nn.TransformerEncoderLayer(128, 4, activation=_gelu_tanh, **kw)
    _load_into_torch(ours, theirs)
    tx = torch.tensor(x_np)
    tmask = torch.tensor(causal)

    def torch_step() -> Any:
        theirs.zero_grad(set_to_none=True)
        out = theirs(tx, src_mask=tmask, is_causal=True)
        out.sum().backward()
        return out

    fns["torch"] = torch_step

    return fns, lambda: _agreement(ours, theirs, cr_step, torch_step)


def _gelu_tanh(t: Any) -> Any:
    return torch.nn.functional.gelu(t, approximate="tanh")


class TorchGPT(torch.nn.Module if torch is not None else object):  # type: ignore[misc]
    """The same architecture as ``chainrule.nn.GPT`` in PyTorch (same parameter names and shapes)."""

    def __init__(self, vocab: int, context: int, d: int = 128, layers: int = 4, heads: int = 4) -> None:
        super().__init__()
        self.tok_emb = torch.nn.Embedding(vocab, d)
        self.pos_emb = torch.nn.Module()
        self.pos_emb.weight = torch.nn.Parameter(torch.zeros(context, d))
        self.blocks = torch.nn.ModuleList(
            torch.nn.TransformerEncoderLayer(
                d, heads, 4 * d, 0.0, activation=_gelu_tanh, batch_first=True, norm_first=True
            )
            for _ in range(layers)
        )
        self.ln_f = torch.nn.LayerNorm(d)
        self.head = torch.nn.Linear(d, vocab, bias=False)
        self.head.weight = self.tok_emb.weight
        self.register_buffer("causal", ~torch.tril(torch.ones(context, context, dtype=torch.bool)))

    def forward(self, idx: Any) -> Any:
        t = idx.shape[1]
        h = self.tok_emb(idx) + self.pos_emb.weight[:t]
        for block in self.blocks:
            h = block(h, src_mask=self.causal[:t, :t], is_causal=True)
        return self.head(self.ln_f(h))


def gpt_case(rng: np.random.Generator, batch: int) -> tuple[dict[str, Callable[[], Any]], Callable[[], float]]:
    cr.manual_seed(0)
    ours, _ = build_lm("gpt", 63, 128)
    opt, lr = lm_optimizer("gpt", ours)
    x = rng.integers(0, 63, (batch, 128))
    y = rng.integers(0, 63, (batch, 128))

    def cr_step() -> Any:
        loss = lm_loss(ours, x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    fns: dict[str, Callable[[], Any]] = {"chainrule": cr_step}
    if torch is None:
        return fns, lambda: float("nan")
    theirs = TorchGPT(63, 128)
    state = {k: torch.tensor(np.ascontiguousarray(v.data)) for k, v in ours.state_dict().items()}
    theirs.load_state_dict({**state, "head.weight": state["tok_emb.weight"], "causal": theirs.causal})
    decay = [p for n, p in theirs.named_parameters() if p.ndim >= 2 and "pos_emb" not in n]
    rest = [p for n, p in theirs.named_parameters() if not (p.ndim >= 2 and "pos_emb" not in n)]
    topt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.99)
    )
    tx, ty = torch.tensor(x), torch.tensor(y)

    def torch_step() -> Any:
        loss = torch.nn.functional.cross_entropy(theirs(tx).reshape(-1, 63), ty.reshape(-1))
        topt.zero_grad(set_to_none=True)
        loss.backward()
        topt.step()
        return loss

    fns["torch"] = torch_step

    def check() -> float:
        """Loss and every parameter's gradient of one forward + backward (no optimizer step)."""
        ours.zero_grad()
        theirs.zero_grad(set_to_none=True)
        a = lm_loss(ours, x, y)
        a.backward()
        b = torch.nn.functional.cross_entropy(theirs(tx).reshape(-1, 63), ty.reshape(-1))
        b.backward()
        worst = abs(float(a.item()) - float(b.item()))
        named = dict(theirs.named_parameters())  # the tied head shares tok_emb.weight, as in ours
        for name, p in ours.named_parameters():
            q = named[name].grad.numpy()
            worst = max(worst, float(np.abs(p.grad.data - q).max() / (np.abs(q).max() + 1e-12)))
        ours.zero_grad()
        theirs.zero_grad(set_to_none=True)
        return worst

    return fns, check


def fused_cases(rng: np.random.Generator) -> list[tuple[str, dict[str, Callable[[], Any]]]]:
    import math

    from chainrule import functional as F

    h = cr.tensor(rng.standard_normal((16, 128, 512), dtype=np.float32), requires_grad=True)
    s = cr.tensor(rng.standard_normal((16, 4, 128, 128), dtype=np.float32), requires_grad=True)
    keep = np.tril(np.ones((128, 128), dtype=bool))

    def gelu_composite(x: Any) -> Any:
        u = (x + x * x * x * 0.044715) * math.sqrt(2.0 / math.pi)
        return x * (cr.ops.tanh(u) + 1.0) * 0.5

    def softmax_composite(x: Any) -> Any:
        w = cr.softmax(cr.where(keep, x, -1e30), dim=-1)
        return cr.where(keep.any(-1, keepdims=True), w, 0.0)

    hidden = 256
    gi = rng.standard_normal((128, 32, 4 * hidden), dtype=np.float32)
    w_hh = cr.tensor(rng.standard_normal((4 * hidden, hidden), dtype=np.float32) / 16, requires_grad=True)
    steps = [cr.tensor(g, requires_grad=True) for g in gi]  # one leaf per step: the timing is the recurrence's

    def lstm_composite(gates: Any, c: Any) -> Any:
        i, f, g, o = cr.split(gates, hidden, axis=-1)
        c_new = cr.sigmoid(f) * c + cr.sigmoid(i) * cr.tanh(g)
        return cr.sigmoid(o) * cr.tanh(c_new), c_new

    def recurrence(cell: Callable[[Any, Any], Any]) -> Callable[[], Any]:
        def run() -> Any:
            for p in (*steps, w_hh):
                p.grad = None
            h = c = cr.zeros(32, hidden)
            w_t, total = w_hh.mT, None
            for g_t in steps:
                h, c = cell(g_t + h @ w_t, c)
                total = h if total is None else total + h
            total.backward(cr.ones_like(total))
            return total

        return run

    def fb(f: Callable[[Any], Any], x: Any) -> Callable[[], Any]:
        def run() -> Any:
            x.grad = None
            y = f(x)
            y.backward(cr.ones_like(y))
            return y

        return run

    return [
        ("(d) GELU (16,128,512)", {
            "fused": fb(lambda x: F.gelu(x, approximate="tanh"), h), "composite": fb(gelu_composite, h),
        }),
        ("(d) masked softmax", {
            "fused": fb(lambda x: cr.ops.softmax(x, dim=-1, mask=keep), s), "composite": fb(softmax_composite, s),
        }),
        ("(d) LSTM cell, 128 steps", {"fused": recurrence(cr.lstm_cell), "composite": recurrence(lstm_composite)}),
    ]  # fmt: skip


def report(title: str, timer: Timer, fns: dict[str, Callable[[], Any]], tokens: int | None = None) -> None:
    times = timer.compare(fns)
    line = "  ".join(f"{name} {t * 1e3:8.2f} ms" for name, t in times.items())
    if "torch" in times:
        line += f"   ratio chainrule/torch {times['chainrule'] / times['torch']:.2f}x"
    if tokens:
        line += "   tokens/s: " + ", ".join(f"{name} {tokens / t:,.0f}" for name, t in times.items())
    print(f"{title:28s} {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer and shorter rounds (a smoke run)")
    parser.add_argument("--rounds", type=int, default=None, help="timing rounds per cell (median taken)")
    parser.add_argument("--threads", type=int, default=2, help="BLAS and torch threads (default 2)")
    parser.add_argument("--batch", type=int, default=16, help="GPT batch (windows of 128 characters)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = 3 if args.quick else 9
    args.round_ms = 200.0 if args.quick else 1000.0
    limiter = setup_threads(args.threads)  # noqa: F841  (kept alive for the whole run)
    cr.set_num_threads(args.threads)
    print_environment(args)
    rng = np.random.default_rng(args.seed)
    cases = [
        ("(a) LSTM 64→256, 32×128", lstm_case(rng), None),
        ("(b) Transformer block", block_case(rng), None),
        (f"(c) GPT step, {args.batch}×128", gpt_case(rng, args.batch), args.batch * 128),
    ]
    print("== agreement check (same weights, same inputs): max |difference| (relative for gradients)")
    for title, (_, check), _ in cases:
        err = check()
        print(f"{title:28s} {err:.2e}")
        if err > 1e-3:
            print(f"{title}: chainrule and PyTorch disagree; timings would not compare like with like", file=sys.stderr)
            return 1
    print()
    print("== forward + backward (GPT: + AdamW step), float32, median ms per call")
    timer = Timer(rounds=args.rounds, round_s=args.round_ms / 1e3, warmup_s=0.1 if args.quick else 1.0)
    for title, (fns, _), tokens in cases:
        report(title, timer, fns, tokens)
    print()
    print("== fused primitives against their composites, forward + backward, median ms per call")
    for title, fns in fused_cases(rng):
        times = timer.compare(fns)
        print(f"{title:28s} " + "  ".join(f"{k} {v * 1e3:7.2f} ms" for k, v in times.items())
              + f"   composite/fused {times['composite'] / times['fused']:.2f}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
