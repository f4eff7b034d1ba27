"""The two namespaces derivative rules are written against.

``RawOps`` works on NumPy arrays and records nothing: a plain first-order backward uses it.
``TensorOps`` calls chainrule's differentiable primitives: the engine uses it when the backward
pass must itself be differentiated (``create_graph``, forward-over-reverse). Both expose the same
names with the same meaning; a test checks that they agree. Arithmetic operators (+ - * / @ **,
comparisons, ``[]``) need no entry: arrays and Tensors both support them.
"""

from __future__ import annotations

import numpy as np

from chainrule.backend import xp
from chainrule.ops import convolution as C
from chainrule.ops import elementwise as E
from chainrule.ops import reduction as R
from chainrule.ops import shape as S
from chainrule.ops.shape import _index_add


class RawOps:
    """Rule operations on raw arrays."""

    exp = staticmethod(xp.exp)
    log = staticmethod(xp.log)
    sin = staticmethod(xp.sin)
    cos = staticmethod(xp.cos)
    sign = staticmethod(xp.sign)
    tanh = staticmethod(xp.tanh)
    erf = staticmethod(E.erf.forward)
    zeros_like = staticmethod(xp.zeros_like)
    ones_like = staticmethod(xp.ones_like)

    @staticmethod
    def where(cond, a, b):
        return xp.where(cond, a, b)

    @staticmethod
    def mask(cond, like):
        """A 0/1 array of ``like``'s dtype from a boolean condition."""
        return cond.astype(like.dtype)

    @staticmethod
    def astype(x, dtype):
        return np.asarray(x).astype(dtype, copy=False)

    @staticmethod
    def sum(x, axis, keepdims):
        return np.asarray(xp.add.reduce(x, axis=axis, keepdims=keepdims))

    @staticmethod
    def reshape(x, shape):
        return np.reshape(x, shape)

    @staticmethod
    def broadcast_to(x, shape):
        # A materialised copy: cheaper to make than a strided view (np.broadcast_to is Python
        # code), and writable, so an optimizer may update the gradient in place.
        out = xp.empty(shape, dtype=x.dtype)
        out[...] = x
        return out

    @staticmethod
    def permute(x, axes):
        return xp.transpose(x, axes)

    @staticmethod
    def swapaxes(x, a, b):
        return xp.swapaxes(x, a, b)

    @staticmethod
    def cumsum(x, axis):
        return xp.cumsum(x, axis=axis)

    @staticmethod
    def flip(x, axes):
        return xp.flip(x, axes)

    @staticmethod
    def concatenate(xs, axis):
        return xp.concatenate(xs, axis=axis)

    @staticmethod
    def index_add(g, index, shape):
        return _index_add(g, index, shape)

    @staticmethod
    def index_put(x, v, index):
        y = x.copy()
        y[index] = v
        return y

    @staticmethod
    def tri(x, k, upper):
        return xp.triu(x, k) if upper else xp.tril(x, k)

    @staticmethod
    def unfold(x, kernel, stride, dilation, padding):
        return C._unfold(x, tuple(kernel), tuple(stride), tuple(dilation), tuple(padding))

    @staticmethod
    def fold(y, size, stride, dilation, padding):
        return C._fold(y, tuple(size), tuple(stride), tuple(dilation), tuple(padding))

    @staticmethod
    def conv(x, w, stride, dilation, padding, groups):
        return C._conv_raw(x, w, tuple(stride), tuple(dilation), tuple(padding), groups)

    @staticmethod
    def conv_input_grad(g, w, size, stride, dilation, padding, groups):
        return C._conv_input_grad_raw(g, w, tuple(size), tuple(stride), tuple(dilation), tuple(padding), groups)

    @staticmethod
    def conv_weight_grad(x, g, kernel, stride, dilation, padding, groups):
        return C._conv_weight_grad_raw(x, g, tuple(kernel), tuple(stride), tuple(dilation), tuple(padding), groups)


class TensorOps:
    """Rule operations as chainrule primitives (recorded, so rules can be differentiated)."""

    exp = E.exp
    log = E.log
    sin = E.sin
    cos = E.cos
    sign = E.sign
    tanh = E.tanh
    erf = E.erf

    @staticmethod
    def zeros_like(x):
        from chainrule.tensor import Tensor

        return Tensor(xp.zeros_like(x.data if isinstance(x, Tensor) else np.asarray(x)))

    @staticmethod
    def ones_like(x):
        from chainrule.tensor import Tensor

        return Tensor(xp.ones_like(x.data if isinstance(x, Tensor) else np.asarray(x)))

    @staticmethod
    def where(cond, a, b):
        return E.where(cond, a, b)

    @staticmethod
    def mask(cond, like):
        from chainrule.tensor import Tensor

        c = cond.data if isinstance(cond, Tensor) else cond
        return Tensor(c.astype(like.dtype))

    @staticmethod
    def astype(x, dtype):
        return E.astype(x, dtype=dtype)

    @staticmethod
    def sum(x, axis, keepdims):
        return R.sum_(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def reshape(x, shape):
        return S.reshape_(x, shape=tuple(shape))

    @staticmethod
    def broadcast_to(x, shape):
        return S.broadcast_to_(x, shape=tuple(shape))

    @staticmethod
    def permute(x, axes):
        return S.permute_(x, axes=tuple(int(a) for a in axes))

    @staticmethod
    def swapaxes(x, a, b):
        return S.swapaxes(x, a, b)

    @staticmethod
    def cumsum(x, axis):
        return R.cumsum_(x, axis=axis)

    @staticmethod
    def flip(x, axes):
        return S.flip_(x, axes=axes)

    @staticmethod
    def concatenate(xs, axis):
        return S.concatenate_(*xs, axis=axis % xs[0].ndim)  # the primitive takes a normalized axis

    @staticmethod
    def index_add(g, index, shape):
        return S.index_add_(g, index=index, shape=shape)

    @staticmethod
    def index_put(x, v, index):
        return S.index_put_(x, v, index=index)

    @staticmethod
    def tri(x, k, upper):
        return S.tri_(x, k=k, upper=upper)

    @staticmethod
    def unfold(x, kernel, stride, dilation, padding):
        return C.unfold_(
            x, kernel=tuple(kernel), stride=tuple(stride), dilation=tuple(dilation), padding=tuple(padding)
        )

    @staticmethod
    def fold(y, size, stride, dilation, padding):
        return C.fold_(y, size=tuple(size), stride=tuple(stride), dilation=tuple(dilation), padding=tuple(padding))

    @staticmethod
    def conv(x, w, stride, dilation, padding, groups):
        return C.conv_(x, w, stride=tuple(stride), dilation=tuple(dilation), padding=tuple(padding), groups=groups)

    @staticmethod
    def conv_input_grad(g, w, size, stride, dilation, padding, groups):
        return C.conv_input_grad_(
            g,
            w,
            size=tuple(size),
            stride=tuple(stride),
            dilation=tuple(dilation),
            padding=tuple(padding),
            groups=groups,
        )

    @staticmethod
    def conv_weight_grad(x, g, kernel, stride, dilation, padding, groups):
        return C.conv_weight_grad_(
            x,
            g,
            kernel=tuple(kernel),
            stride=tuple(stride),
            dilation=tuple(dilation),
            padding=tuple(padding),
            groups=groups,
        )
