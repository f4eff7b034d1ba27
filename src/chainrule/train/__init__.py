"""Training: the loop, metrics, callbacks and resumable checkpoints."""

from chainrule.train.loop import BestCheckpoint, Callback, EarlyStopping, History, Trainer, evaluate

__all__ = ["BestCheckpoint", "Callback", "EarlyStopping", "History", "Trainer", "evaluate"]
