"""chainrule: deep learning from its mathematical foundations.

A NumPy-backed n-d ``Tensor`` with reverse- and forward-mode automatic differentiation, higher
derivatives, and JAX-style function transforms. Every primitive states its derivative once, in
matrix-calculus form (see ``docs/derivatives.md``).
"""

import os as _os

from chainrule import autograd, functional, io, nn, ops, optim
from chainrule.autograd.state import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from chainrule.autograd.transforms import (
    grad,
    hessian,
    hvp,
    jacfwd,
    jacobian,
    jacrev,
    jvp,
    value_and_grad,
    vjp,
)
from chainrule.backend import (
    bool_,
    float16,
    float32,
    float64,
    get_default_dtype,
    int32,
    int64,
    manual_seed,
    set_default_dtype,
    set_num_threads,
    tune_allocator,
)
from chainrule.creation import (
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    tensor,
    zeros,
    zeros_like,
)
from chainrule.ops import *  # noqa: F403  (the tensor-level functions: exp, sum, matmul, ...)
from chainrule.ops import __all__ as _ops_all
from chainrule.tensor import Tensor

bool = bool_  # noqa: A001  (chainrule.bool, as torch.bool)

__version__ = "0.1.0"

__all__ = [
    "Tensor",
    "autograd",
    "ops",
    "nn",
    "functional",
    "optim",
    "io",
    "tensor",
    "as_tensor",
    "from_numpy",
    "zeros",
    "ones",
    "empty",
    "full",
    "zeros_like",
    "ones_like",
    "empty_like",
    "full_like",
    "arange",
    "linspace",
    "eye",
    "rand",
    "randn",
    "randint",
    "rand_like",
    "randn_like",
    "manual_seed",
    "get_default_dtype",
    "set_default_dtype",
    "set_num_threads",
    "tune_allocator",
    "float16",
    "float32",
    "float64",
    "int32",
    "int64",
    "bool",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "is_grad_enabled",
    "grad",
    "value_and_grad",
    "vjp",
    "jvp",
    "jacrev",
    "jacfwd",
    "jacobian",
    "hessian",
    "hvp",
    *_ops_all,
]

# See tune_allocator: without it a training step page-faults its freed arrays back every step.
if _os.environ.get("CHAINRULE_TUNE_MALLOC", "1") != "0":
    tune_allocator()
