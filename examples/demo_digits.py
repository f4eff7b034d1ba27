"""Train a small MLP on scikit-learn's 8x8 digits with nothing but chainrule Tensors and autograd.

The data set ships with scikit-learn (no download). The model is 64-64-10 with ReLU, trained on
softmax cross-entropy by a hand-written minibatch SGD with (heavy-ball) momentum:

    v ← μ v + ∇L(θ),   θ ← θ - η v

Run:  python examples/demo_digits.py [--epochs 30] [--seed 0]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import chainrule as cr


def load_data(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stratified 80/20 split, features standardized with the training set's statistics."""
    digits = load_digits()
    x = digits.data.astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, stratify=y, random_state=seed)
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std[std == 0] = 1.0  # a few border pixels are always 0
    return (x_train - mean) / std, (x_test - mean) / std, y_train, y_test


def init_params(sizes: list[int]) -> list[cr.Tensor]:
    """He-normal weights (fan_in, fan_out) and zero biases, drawn from chainrule's seeded generator."""
    params = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        w = cr.randn(fan_in, fan_out) * float(np.sqrt(2.0 / fan_in))  # computed outside any graph
        params.append(w.requires_grad_())
        params.append(cr.zeros(fan_out, requires_grad=True))
    return params


def forward(params: list[cr.Tensor], x: cr.Tensor) -> cr.Tensor:
    """Logits of the MLP: (Linear -> ReLU) * k, then a final Linear."""
    h = x
    n_layers = len(params) // 2
    for i in range(n_layers):
        h = h @ params[2 * i] + params[2 * i + 1]
        if i < n_layers - 1:
            h = cr.relu(h)
    return h


def cross_entropy(logits: cr.Tensor, targets: np.ndarray) -> cr.Tensor:
    """Mean softmax cross-entropy: -(1/n) Σ log softmax(logits)[i, targets[i]]."""
    logp = cr.log_softmax(logits, dim=1)
    return -logp[np.arange(len(targets)), targets].mean()


def accuracy(params: list[cr.Tensor], x: np.ndarray, y: np.ndarray) -> float:
    with cr.no_grad():
        logits = forward(params, cr.tensor(x))
    return float((logits.data.argmax(axis=1) == y).mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="chainrule MLP on the 8x8 digits")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--hidden", type=int, default=64)
    args = parser.parse_args(argv)

    cr.manual_seed(args.seed)  # weight init
    rng = np.random.default_rng(args.seed)  # minibatch order
    x_train, x_test, y_train, y_test = load_data(args.seed)
    sizes = [x_train.shape[1], args.hidden, 10]
    params = init_params(sizes)
    velocity = [np.zeros_like(p.data) for p in params]
    n_params = sum(p.size for p in params)
    print(
        f"digits: {len(x_train)} train / {len(x_test)} test, MLP {'-'.join(map(str, sizes))} "
        f"({n_params} parameters), SGD lr {args.lr} momentum {args.momentum}, batch {args.batch_size}, seed {args.seed}"
    )

    start = time.perf_counter()
    n = len(x_train)
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(n)
        total = 0.0
        for lo in range(0, n, args.batch_size):
            idx = order[lo : lo + args.batch_size]
            loss = cross_entropy(forward(params, cr.tensor(x_train[idx])), y_train[idx])
            loss.backward()
            with cr.no_grad():
                for p, v in zip(params, velocity, strict=True):
                    v *= args.momentum
                    v += p.grad.data
                    p.data -= args.lr * v
                    p.grad = None
            total += loss.item() * len(idx)
        acc = accuracy(params, x_test, y_test)
        print(f"epoch {epoch:3d}  train loss {total / n:.4f}  test accuracy {acc:.4f}")

    elapsed = time.perf_counter() - start
    acc = accuracy(params, x_test, y_test)
    print(f"final test accuracy {acc:.4f} ({args.epochs} epochs, {elapsed:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
