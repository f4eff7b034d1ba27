"""Automatic differentiation: the engine, grad mode, and the functional transforms."""

from chainrule.autograd.functional import backward, grad
from chainrule.autograd.state import enable_grad, is_grad_enabled, no_grad, set_grad_enabled

__all__ = ["backward", "enable_grad", "grad", "is_grad_enabled", "no_grad", "set_grad_enabled"]
