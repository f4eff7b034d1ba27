"""Convolution benchmark: chainrule's im2col convolution against PyTorch eager on the CPU.

Run ``python benchmarks/bench_conv.py`` (or ``--quick``; ``--threads N`` gives numpy's BLAS and
torch the same N threads, default 1 so that the comparison is core for core). Every number is
measured in this one run, side by side, with the timer of ``bench_engine.py``: the two
implementations take turns round by round, each round times many calls after a warm-up, and a
cell is the median over the rounds.

Sections
  (a) forward + backward of two convolution layers, 1→16→32 channels, 3x3 kernels, padding 1,
      ReLU between, batch 64 of 28x28 images, float32; the loss is the sum of the output, and
      the gradients of both weights and biases are computed (not of the input images). Three
      columns: chainrule's ``conv2d`` (the fused ``conv`` primitive: im2col and the GEMM batch
      chunk by batch chunk), the composite it replaces (the ``unfold`` primitive materialising
      the whole im2col matrix, then ``matmul``), and PyTorch.
  (b) where chainrule's time goes in (a): seconds inside each primitive (forward, and backward
      rule), next to the floor set by the BLAS: the same matrix products done directly in NumPy
      on arrays of the same shapes (and the same batch chunks).
  (c) max_pool2d(2) and avg_pool2d(2), forward + backward, on (64, 32, 28, 28) float32.

Before timing, the script checks once that chainrule and PyTorch compute the same loss and
gradients from the same weights. Timings are never pass/fail.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import chainrule as cr
import chainrule.functional as F
from chainrule.ops import REGISTRY, matmul
from chainrule.ops.convolution import CHUNK_BYTES, unfold_
from chainrule.ops.shape import permute_, reshape_

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_engine import Timer, print_environment, setup_threads

try:
    import torch
except ImportError:  # the script works without torch; its columns are skipped
    torch = None

DTYPE = np.float32
BATCH, SIZE = 64, 28
CHANNELS = (1, 16, 32)


# --- the problem -----------------------------------------------------------------------------------


def problem(seed: int, batch: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Images and the weights/biases of the two layers (PyTorch's default init bounds)."""
    r = np.random.default_rng(seed)
    x = r.standard_normal((batch, CHANNELS[0], SIZE, SIZE)).astype(DTYPE)
    params = []
    for cin, cout in itertools.pairwise(CHANNELS):
        bound = 1.0 / np.sqrt(cin * 9)
        params.append(r.uniform(-bound, bound, (cout, cin, 3, 3)).astype(DTYPE))
        params.append(r.uniform(-bound, bound, cout).astype(DTYPE))
    return x, params


def make_chainrule_step(x_np: np.ndarray, params: list[np.ndarray]) -> tuple[Callable[[], Any], list[Any]]:
    x = cr.tensor(x_np)
    w1, b1, w2, b2 = ps = [cr.tensor(p, requires_grad=True) for p in params]

    def step() -> Any:
        for p in ps:
            p.grad = None
        h = F.relu(F.conv2d(x, w1, b1, padding=1))
        loss = F.conv2d(h, w2, b2, padding=1).sum()
        loss.backward()
        return loss

    return step, ps


def composite_conv2d(x: Any, w: Any, b: Any) -> Any:
    """3x3 convolution with padding 1 as the unfused composite: unfold (the whole im2col
    matrix), one matmul, bias; the same math as ``conv2d`` without the chunked fusion."""
    n, o = x.shape[0], w.shape[0]
    cols = unfold_(x, kernel=(3, 3), stride=(1, 1), dilation=(1, 1), padding=((1, 1), (1, 1)))
    ck = cols.shape[1] * 9
    cols = reshape_(permute_(cols, axes=(1, 2, 3, 0, 4, 5)), shape=(ck, n * SIZE * SIZE))  # a free view
    y = matmul(reshape_(w, shape=(o, ck)), cols) + reshape_(b, shape=(o, 1))
    return permute_(reshape_(y, shape=(o, n, SIZE, SIZE)), axes=(1, 0, 2, 3))


def make_composite_step(x_np: np.ndarray, params: list[np.ndarray]) -> tuple[Callable[[], Any], list[Any]]:
    x = cr.tensor(x_np)
    w1, b1, w2, b2 = ps = [cr.tensor(p, requires_grad=True) for p in params]

    def step() -> Any:
        for p in ps:
            p.grad = None
        h = F.relu(composite_conv2d(x, w1, b1))
        loss = composite_conv2d(h, w2, b2).sum()
        loss.backward()
        return loss

    return step, ps


def make_torch_step(x_np: np.ndarray, params: list[np.ndarray]) -> tuple[Callable[[], Any], list[Any]]:
    x = torch.from_numpy(x_np)
    w1, b1, w2, b2 = ps = [torch.tensor(p, requires_grad=True) for p in params]
    conv2d = torch.nn.functional.conv2d

    def step() -> Any:
        for p in ps:
            p.grad = None
        h = torch.relu(conv2d(x, w1, b1, padding=1))
        loss = conv2d(h, w2, b2, padding=1).sum()
        loss.backward()
        return loss

    return step, ps


def check_agreement(seed: int, batch: int) -> bool:
    x, params = problem(seed, batch)
    step, ps = make_chainrule_step(x, params)
    loss = step()
    ok = loss.dtype == DTYPE and all(p.grad.dtype == DTYPE for p in ps)
    line = f"check: chainrule loss {loss.item():.4f}, float32 throughout: {ok}"
    if torch is not None:
        tstep, tps = make_torch_step(x, params)
        tloss = tstep()
        errs = [
            float(np.abs(p.grad.data - t.grad.numpy()).max() / (np.abs(t.grad.numpy()).max() + 1e-30))
            for p, t in zip(ps, tps, strict=True)
        ]
        close = (
            abs(loss.item() - tloss.item()) <= 1e-4 * (1 + abs(tloss.item())) and max(errs) < 2e-3
        )  # float32 sums of 50 000 terms, in different orders
        ok = ok and close
        line += f"; torch loss {tloss.item():.4f}, max relative grad diff {max(errs):.1e}"
    print(line + f" -> {'OK' if ok else 'MISMATCH'}")
    return ok


# --- (a) the two-layer step ----------------------------------------------------------------------------


def run_step(timer: Timer, seed: int, batch: int) -> None:
    print(f"== (a) conv {CHANNELS[0]}→{CHANNELS[1]}→{CHANNELS[2]} (3x3, padding 1, ReLU), batch {batch}, {SIZE}x{SIZE}")
    print("   forward + backward (weight and bias gradients), float32, ms per step")
    x, params = problem(seed, batch)
    fns = {"chainrule": make_chainrule_step(x, params)[0], "composite": make_composite_step(x, params)[0]}
    if torch is not None:
        fns["torch"] = make_torch_step(x, params)[0]
    ms = {k: v * 1e3 for k, v in timer.compare(fns).items()}
    cpu = {k: cpu_ms(fn, 5 if timer.rounds < 5 else 25) for k, fn in fns.items()}
    print(f"   {'':<6}" + "".join(f"{k:>12}" for k in fns) + ("   chainrule/torch  composite/torch" if torch else ""))
    for label, t in (("wall", ms), ("CPU", cpu)):
        line = f"   {label:<6}" + "".join(f"{t[k]:>9.2f} ms" for k in fns)
        if torch is not None:
            line += f"   {t['chainrule'] / t['torch']:>14.2f}x {t['composite'] / t['torch']:>15.2f}x"
        print(line)
    print("   chainrule: conv2d (fused conv primitive); composite: unfold primitive + matmul (unfused)")
    print("   (goal: chainrule/torch < 2x; CPU = process CPU time per step, median, which a busy")
    print("   machine disturbs less than wall time; it sums over threads when --threads > 1)")
    print()


def cpu_ms(fn: Callable[[], Any], n: int) -> float:
    """Median process CPU time of one call, in ms (after two warm-up calls)."""
    fn()
    fn()
    samples = []
    for _ in range(n):
        t0 = time.process_time()
        fn()
        samples.append(time.process_time() - t0)
    return 1e3 * float(np.median(samples))


# --- (b) where the time goes ---------------------------------------------------------------------------


class PrimitiveClock:
    """Seconds spent in each primitive's forward and backward rule while active (wraps the registry)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = collections.defaultdict(float)
        self._saved: dict[str, tuple[Any, Any]] = {}

    def __enter__(self) -> PrimitiveClock:
        for name, prim in REGISTRY.items():
            self._saved[name] = (prim.forward, prim.__dict__.get("vjp"))
            prim.forward = self._wrap(prim.forward, f"{name} (forward)")
            prim.vjp = self._wrap(prim.vjp, f"{name} (backward rule)")  # shadows the method
        return self

    def __exit__(self, *exc: Any) -> None:
        for name, (fwd, vjp) in self._saved.items():
            prim = REGISTRY[name]
            prim.forward = fwd
            if vjp is None:
                del prim.vjp  # the class's method shows through again
            else:
                prim.vjp = vjp

    def _wrap(self, fn: Callable[..., Any], label: str) -> Callable[..., Any]:
        seconds = self.seconds

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                seconds[label] += time.perf_counter() - t0

        return timed


def gemm_floor(seed: int, batch: int) -> Callable[[], Any]:
    """The matrix products of the step alone, straight in NumPy: per layer the forward W·cols,
    the weight gradient Ȳ·colsᵀ and (layer 2) the columns' gradient Wᵀ·Ȳ, over the same batch
    chunks as the fused primitive, into preallocated outputs: what is left when im2col, col2im
    and every other op cost nothing."""
    r = np.random.default_rng(seed)
    l = SIZE * SIZE
    layers = []
    for cin, cout in itertools.pairwise(CHANNELS):
        ck = cin * 9
        b = max(1, min(batch, CHUNK_BYTES // (ck * l * np.dtype(DTYPE).itemsize)))
        layers.append(
            {
                "w": r.standard_normal((cout, ck)).astype(DTYPE),
                "cols": r.standard_normal((ck, b * l)).astype(DTYPE),
                "g": r.standard_normal((cout, b * l)).astype(DTYPE),
                "y": np.empty((cout, b * l), DTYPE),
                "dcols": np.empty((ck, b * l), DTYPE),
                "dw": np.empty((cout, ck), DTYPE),
                "chunks": -(-batch // b),
                "input_grad": cin != CHANNELS[0],
            }
        )

    def products() -> None:
        for a in layers:
            for _ in range(a["chunks"]):
                np.matmul(a["w"], a["cols"], out=a["y"])
                a["dw"] += a["g"] @ a["cols"].T
                if a["input_grad"]:
                    np.matmul(a["w"].T, a["g"], out=a["dcols"])

    return products


def run_breakdown(timer: Timer, seed: int, batch: int, steps: int) -> None:
    print(f"== (b) where chainrule's time goes in (a), mean over {steps} steps, ms per step")
    x, params = problem(seed, batch)
    step = make_chainrule_step(x, params)[0]
    for _ in range(3):
        step()
    with PrimitiveClock() as clock:
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        total = (time.perf_counter() - t0) / steps
    groups = {
        "conv forward (im2col + GEMM, chunked)": ("conv (forward)",),
        "conv backward rule (input grad: GEMM + col2im; weight grad: im2col + GEMM)": ("conv (backward rule)",),
    }
    grouped: dict[str, float] = {}
    rest = dict(clock.seconds)
    for label, keys in groups.items():
        grouped[label] = sum(v for k, v in clock.seconds.items() if k.startswith(keys))
        for k in list(rest):
            if k.startswith(keys):
                rest.pop(k)
    grouped["everything else in primitives (bias add, relu, sum)"] = sum(rest.values())
    inside = sum(clock.seconds.values())
    grouped["outside primitives (engine, Python, argument checks)"] = max(0.0, total * steps - inside)
    for label, sec in grouped.items():
        print(f"   {label:<78}{1e3 * sec / steps:8.2f} ms  ({100 * sec / (total * steps):4.1f}%)")
    print(f"   {'total (traced; the tracer adds a little)':<78}{1e3 * total:8.2f} ms")
    floor = timer.compare({"gemm floor": gemm_floor(seed, batch)})["gemm floor"]
    print(f"   the same matrix products alone, chunked, straight in NumPy (BLAS floor): {1e3 * floor:.2f} ms")
    top = sorted(clock.seconds.items(), key=lambda kv: -kv[1])[:6]
    print("   largest primitives: " + ", ".join(f"{k} {1e3 * v / steps:.2f} ms" for k, v in top))
    print()


# --- (c) pooling -------------------------------------------------------------------------------------


def run_pooling(timer: Timer, seed: int, batch: int) -> None:
    shape = (batch, CHANNELS[2], SIZE, SIZE)
    print(f"== (c) pooling 2x2 (stride 2) on {shape} float32, forward + backward, ms per call")
    x_np = np.random.default_rng(seed).standard_normal(shape).astype(DTYPE)
    x = cr.tensor(x_np, requires_grad=True)
    xt = torch.tensor(x_np, requires_grad=True) if torch is not None else None
    for name, ours, theirs in (
        ("max_pool2d", F.max_pool2d, "max_pool2d"),
        ("avg_pool2d", F.avg_pool2d, "avg_pool2d"),
    ):

        def cr_step(f: Any = ours) -> None:
            x.grad = None
            f(x, 2).sum().backward()

        fns = {"chainrule": cr_step}
        if torch is not None:
            tf = getattr(torch.nn.functional, theirs)

            def torch_step(tf: Any = tf) -> None:
                xt.grad = None
                tf(xt, 2).sum().backward()

            fns["torch"] = torch_step
        ms = {k: v * 1e3 for k, v in timer.compare(fns).items()}
        line = f"   {name:<12} chainrule {ms['chainrule']:8.2f} ms"
        if torch is not None:
            line += f"   torch {ms['torch']:8.2f} ms   chainrule/torch {ms['chainrule'] / ms['torch']:5.2f}x"
        print(line)
    print()


# --- main --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer and shorter rounds (a smoke run)")
    parser.add_argument("--rounds", type=int, default=None, help="timing rounds per cell (median taken)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS and torch threads (default 1)")
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = 3 if args.quick else 11
    args.round_ms = 100.0 if args.quick else 400.0
    warmup_s = 0.05 if args.quick else 0.5

    limiter = setup_threads(args.threads)  # noqa: F841  (kept alive for the whole run)
    print_environment(args)
    print("== agreement check (same weights, same batch)")
    if not check_agreement(args.seed, args.batch):
        print("implementations disagree; timings would not compare like with like", file=sys.stderr)
        return 1
    print()
    timer = Timer(rounds=args.rounds, round_s=args.round_ms / 1e3, warmup_s=warmup_s)
    run_step(timer, args.seed, args.batch)
    run_breakdown(timer, args.seed, args.batch, steps=3 if args.quick else 10)
    run_pooling(timer, args.seed, args.batch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
