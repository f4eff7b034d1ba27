"""Plots of training runs (matplotlib, file output only: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _save(fig: Any, path: str | Path) -> Path:
    """Lay out, write as PNG (creating the directory) and close ``fig``; returns the path."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


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
    return _save(fig, path)


def plot_lm_history(runs: dict[str, Any], path: str | Path, title: str | None = None) -> Path:
    """Bits per character against training seconds for one or more language-model runs.

    ``runs`` maps a label to a ``History`` (or list of rows) from ``chainrule.train.lm.train_lm``:
    solid lines are validation bpc, dotted lines the training bpc. Returns the PNG's path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, history in runs.items():
        rows = history.rows if hasattr(history, "rows") else list(history)
        if not rows:
            raise ValueError(f"plot_lm_history: the history of {label!r} is empty")
        seconds = [r["seconds"] for r in rows]
        (line,) = ax.plot(seconds, [r["train_bpc"] for r in rows], ":", label=f"{label} train")
        if "val_bpc" in rows[0]:
            ax.plot(seconds, [r["val_bpc"] for r in rows], "-", color=line.get_color(), label=f"{label} validation")
    ax.set(xlabel="training time (s)", ylabel="bits per character", title=title or "character-level language models")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)
