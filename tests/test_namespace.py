"""The raw-array and Tensor rule namespaces expose the same operations with the same values."""

import inspect

import numpy as np
import pytest

import chainrule as cr
from chainrule.ops.namespace import RawOps, TensorOps


def _names(cls):
    return {n for n, _ in inspect.getmembers(cls) if not n.startswith("_")}


def test_same_names():
    assert _names(RawOps) == _names(TensorOps)


rng = np.random.default_rng(0)
X = rng.standard_normal((2, 3, 4)) + 0.1
IDX = (slice(None), np.array([0, 2, 2]))
CASES = {
    "exp": (X,),
    "log": (np.abs(X),),
    "sin": (X,),
    "cos": (X,),
    "sign": (X,),
    "tanh": (X,),
    "concatenate": ([X, X[:, :1]], 1),
    "erf": (X,),
    "zeros_like": (X,),
    "ones_like": (X,),
    "where": (X > 0, X, 0.0),
    "mask": (X > 0, X),
    "astype": (X, np.float32),
    "sum": (X, (0, 2), True),
    "reshape": (X, (6, 4)),
    "broadcast_to": (X[:1], (3, 3, 4)),
    "permute": (X, (2, 0, 1)),
    "swapaxes": (X, -1, -2),
    "cumsum": (X, 1),
    "flip": (X, (0, 2)),
    "index_add": (np.ones((2, 3, 4)), IDX, (2, 5, 4)),
    "index_put": (X, 0.0, IDX),
    "tri": (X, 0, True),
    "unfold": (X[:, :, None], (1, 2), (1, 1), (1, 2), ((0, 0), (1, 0))),
    "fold": (np.ones((2, 3, 1, 2, 1, 2)), (1, 4), (1, 2), (1, 2), ((0, 0), (1, 1))),
    "conv": (X[:, :2, None], X[:, :1, None, :2], (1, 2), (1, 1), ((0, 0), (1, 0)), 2),
    "conv_input_grad": (X[:, :2, None, :2], X[:, :1, None, :2], (1, 4), (1, 2), (1, 1), ((0, 0), (0, 1)), 2),
    "conv_weight_grad": (X[:, :2, None], X[:, :, None, :2], (1, 2), (1, 2), (1, 1), ((0, 0), (0, 0)), 1),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_values(name):
    args = CASES[name]
    raw = getattr(RawOps, name)(*args)

    def lift(a):
        if isinstance(a, list):
            return [lift(b) for b in a]
        return cr.tensor(a) if isinstance(a, np.ndarray) and a.dtype == np.float64 else a

    targs = [lift(a) for a in args]
    got = getattr(TensorOps, name)(*targs)
    np.testing.assert_allclose(np.asarray(got.data), np.asarray(raw), rtol=1e-12)
    assert np.asarray(got.data).dtype == np.asarray(raw).dtype


def test_every_name_has_a_case():
    assert set(CASES) == _names(RawOps)


def test_double_backward_through_an_inplace_rebased_tensor():
    x = cr.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    a = x * x
    a += x  # rebased: a = x² + x (add saves nothing, so this is allowed)
    b = cr.sin(a)
    (g,) = cr.autograd.grad(b.sum(), x, create_graph=True)  # cos(x² + x)(2x + 1)
    xv = np.array([1.0, 2.0])
    np.testing.assert_allclose(g.detach().numpy(), np.cos(xv**2 + xv) * (2 * xv + 1))
    (h,) = cr.autograd.grad(g.sum(), x)
    want = -np.sin(xv**2 + xv) * (2 * xv + 1) ** 2 + 2 * np.cos(xv**2 + xv)
    np.testing.assert_allclose(h.numpy(), want)


def test_inplace_on_saved_tensor_also_caught_in_create_graph_mode():
    x = cr.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    a = x * x
    b = a * 3.0  # mul saves a
    a += 1.0
    with pytest.raises(RuntimeError, match="modified in place"):
        cr.autograd.grad(b.sum(), x, create_graph=True)
