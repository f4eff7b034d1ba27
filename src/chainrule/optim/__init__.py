"""Optimizers, learning-rate schedules and gradient clipping (PyTorch's ``torch.optim`` names).

Every optimizer updates the parameters in place from their ``.grad``; its docstring states the
exact update equations. ``lr_scheduler`` holds the schedules; ``clip_grad_norm_`` and
``clip_grad_value_`` rescale gradients before a step.
"""

from chainrule.optim import lr_scheduler
from chainrule.optim.adagrad import Adagrad
from chainrule.optim.adam import Adam, AdamW
from chainrule.optim.clip import clip_grad_norm_, clip_grad_value_
from chainrule.optim.lbfgs import LBFGS
from chainrule.optim.lookahead import Lookahead
from chainrule.optim.optimizer import Optimizer
from chainrule.optim.rmsprop import RMSprop
from chainrule.optim.sgd import SGD

__all__ = [
    "Optimizer",
    "SGD",
    "Adam",
    "AdamW",
    "RMSprop",
    "Adagrad",
    "LBFGS",
    "Lookahead",
    "lr_scheduler",
    "clip_grad_norm_",
    "clip_grad_value_",
]
