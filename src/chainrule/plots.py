"""Plots of training runs (matplotlib, file output only: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_history(history: Any, path: str | Path, title: str | None = None) -> Path:
    """Loss and accuracy curves per epoch (train and test) saved as a PNG; returns the path."""
    import matplotlib

    matplotlib.use("Agg")  # headless: this writes files, it never opens a window
    import matplotlib.pyplot as plt

    rows = history.rows if hasattr(history, "rows") else list(history)
    if not rows:
        raise ValueError("plot_history: the history is empty")
    epochs = [r["epoch"] for r in rows]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for split, style in (("train", "-"), ("test", "--")):
        if f"{split}_loss" in rows[0]:
            ax_loss.plot(epochs, [r[f"{split}_loss"] for r in rows], style, label=split)
            ax_acc.plot(epochs, [r[f"{split}_acc"] for r in rows], style, label=split)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
