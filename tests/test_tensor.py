"""Tensor construction, dtypes, attributes, conversions and operators."""

import numpy as np
import pytest

import chainrule as cr


def test_default_float_dtype_and_copy_semantics():
    a = np.array([1.0, 2.0])
    t = cr.tensor([1.0, 2.0])
    assert t.dtype == cr.float32
    u = cr.Tensor(a)
    a[0] = 99.0
    assert u.tolist() == [1.0, 2.0]  # Tensor(array) copies
    assert cr.tensor([1, 2]).dtype == cr.int64
    assert cr.tensor([True, False]).dtype == cr.bool
    assert cr.tensor(np.float64(2.5)).dtype == cr.float64  # NumPy float64 keeps its precision
    assert cr.tensor([1, 2], dtype="float16").dtype == cr.float16


def test_creation_functions():
    assert cr.zeros(2, 3).shape == (2, 3) and cr.zeros((2, 3)).tolist() == [[0.0] * 3] * 2
    assert cr.ones([2]).tolist() == [1.0, 1.0]
    assert cr.full((2,), 7.0).tolist() == [7.0, 7.0]
    assert cr.empty(3).shape == (3,)
    assert cr.arange(5).tolist() == [0, 1, 2, 3, 4] and cr.arange(5).dtype == cr.int64
    assert cr.arange(0, 1, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75]
    assert cr.linspace(0, 1, 5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    np.testing.assert_array_equal(cr.eye(3).numpy(), np.eye(3))
    x = cr.ones(2, 2, dtype="float64")
    assert cr.zeros_like(x).dtype == cr.float64 and cr.ones_like(x).shape == (2, 2)
    assert cr.full_like(x, 3).tolist() == [[3, 3], [3, 3]]


def test_manual_seed_reproduces_every_random_source():
    cr.manual_seed(123)
    a = (cr.rand(3).numpy().copy(), cr.randn(2, 2).numpy().copy(), cr.randint(0, 10, (4,)).numpy().copy())
    cr.manual_seed(123)
    b = (cr.rand(3).numpy(), cr.randn(2, 2).numpy(), cr.randint(0, 10, (4,)).numpy())
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert cr.randn(3).dtype == cr.float32
    assert (0 <= cr.rand(100).numpy()).all() and (cr.rand(100).numpy() < 1).all()


def test_attributes_and_conversions():
    t = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6 and len(t) == 2
    assert t.T.shape == (3, 2) and t.T.tolist() == [[1, 4], [2, 5], [3, 6]]
    assert [r.tolist() for r in t] == [[1, 2, 3], [4, 5, 6]]
    assert cr.tensor(3.5).item() == 3.5
    with pytest.raises(ValueError, match="one element"):
        t.item()
    r = repr(cr.tensor([1.0, 2.0], requires_grad=True) * 2)
    assert "grad_fn=<mulBackward>" in r and "2." in r
    assert "dtype=float64" in repr(cr.tensor([1.0], dtype="float64"))
    assert t.astype("float64").dtype == cr.float64 and t.to(cr.float16).dtype == cr.float16


def test_operators_match_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal(4) + 3
    ta, tb = cr.tensor(a), cr.tensor(b)
    for got, want in [
        (ta + tb, a + b),
        (ta - tb, a - b),
        (ta * tb, a * b),
        (ta / tb, a / b),
        (tb**2, b**2),
        (2.0**tb, 2.0**b),
        (ta @ tb, a @ b),
        (-ta, -a),
        (abs(ta), np.abs(a)),
        (ta // 0.5, a // 0.5),
        (1 - ta, 1 - a),
    ]:
        np.testing.assert_allclose(got.numpy(), want.astype(np.float32), rtol=1e-5, atol=1e-6)
    cmp = ta > 0
    assert cmp.dtype == cr.bool and not cmp.requires_grad
    np.testing.assert_array_equal(cmp.numpy(), a > 0)
    np.testing.assert_array_equal((ta == ta).numpy(), np.ones_like(a, bool))


def test_methods_accept_numpy_and_torch_axis_spellings():
    x = cr.tensor(np.arange(24.0).reshape(2, 3, 4))
    np.testing.assert_array_equal(x.sum(axis=1).numpy(), x.sum(dim=1).numpy())
    assert x.sum(dim=(0, 2), keepdim=True).shape == (1, 3, 1)
    assert x.mean(axis=-1, keepdims=True).shape == (2, 3, 1)
    assert x.max(dim=2).tolist() == np.arange(24.0).reshape(2, 3, 4).max(2).tolist()
    assert x.argmax(dim=1).dtype == cr.int64
    assert cr.logsumexp(x, axis=1).shape == (2, 4)
    assert x.reshape(6, 4).shape == (6, 4) and x.view(-1).shape == (24,)
    assert x.permute(2, 0, 1).shape == (4, 2, 3) and x.transpose(0, 2).shape == (4, 3, 2)
    assert x.unsqueeze(0).shape == (1, 2, 3, 4) and x.unsqueeze(0).squeeze().shape == (2, 3, 4)
    assert x.flatten().shape == (24,) and x.flatten(1).shape == (2, 12)
    np.testing.assert_allclose(x.var(dim=2).numpy(), np.arange(24.0).reshape(2, 3, 4).var(2), rtol=1e-6)
    np.testing.assert_allclose(
        x.std(dim=2, unbiased=True).numpy(), np.arange(24.0).reshape(2, 3, 4).std(2, ddof=1), rtol=1e-6
    )


def test_stack_split_concatenate_pad_flip():
    a, b = cr.tensor([[1.0, 2.0]]), cr.tensor([[3.0, 4.0]])
    assert cr.concatenate([a, b]).tolist() == [[1, 2], [3, 4]]
    assert cr.stack([a, b], dim=1).shape == (1, 2, 2)
    parts = cr.split(cr.arange(5.0), 2)
    assert [p.tolist() for p in parts] == [[0, 1], [2, 3], [4]]
    assert [p.tolist() for p in cr.split(cr.arange(5.0), [1, 4])] == [[0], [1, 2, 3, 4]]
    assert cr.pad(cr.ones(2), (1, 2)).tolist() == [0, 1, 1, 0, 0]
    assert cr.pad(cr.ones(1), 1, value=5.0).tolist() == [5, 1, 5]
    assert cr.flip(cr.arange(3.0)).tolist() == [2, 1, 0]


def test_indexing_forms():
    x = cr.tensor(np.arange(12.0).reshape(3, 4))
    n = np.arange(12.0).reshape(3, 4)
    for idx in [1, (1, 2), slice(0, 2), (Ellipsis, 1), (None, 0), ([0, 2],), (np.array([0, 0]), np.array([1, 3]))]:
        np.testing.assert_array_equal(x[idx].numpy(), n[idx])
    mask = n > 5
    np.testing.assert_array_equal(x[cr.tensor(mask)].numpy(), n[mask])


def test_inplace_ops_bump_version_and_write_memory():
    x = cr.zeros(3)
    v0 = x._version[0]
    x += 1
    x.add_(cr.ones(3), alpha=2.0)
    x.mul_(2)
    assert x.tolist() == [6.0, 6.0, 6.0] and x._version[0] == v0 + 3
    x[1] = 0.0
    assert x.tolist() == [6.0, 0.0, 6.0]
    x.zero_()
    assert x.tolist() == [0.0, 0.0, 0.0]


def test_set_num_threads_limits_blas():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    cr.set_num_threads(1)
    assert all(p["num_threads"] == 1 for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas")
    with pytest.raises(ValueError, match="set_num_threads"):
        cr.set_num_threads(0)


def test_numpy_scalars_do_not_promote_like_python_numbers():
    """np.sqrt(2.0) and friends return NumPy scalars; they act as the number they hold (weak), as
    in PyTorch, while arrays and Tensors (0-d included) keep NumPy's promotion."""
    x = cr.ones(3, requires_grad=True)
    for y in (x * np.float64(2.0), np.sqrt(2.0) * x, x / np.float64(3.0), x + np.int64(1), np.float64(1.0) - x,
              cr.maximum(x, np.float64(0.5)), cr.where(x.detach() > 0, x, np.float64(0.0))):  # fmt: skip
        assert y.dtype == np.float32
    np.testing.assert_allclose((x * np.float64(2.0)).data, 2.0)
    (x * np.float64(3.0)).sum().backward()
    assert x.grad.dtype == np.float32 and np.allclose(x.grad.data, 3.0)
    assert (cr.tensor([1, 2], dtype="int32") * np.int64(2)).dtype == np.int32
    # arrays and 0-d Tensors still promote (NumPy's rule)
    assert (x * np.array(2.0)).dtype == np.float64
    assert (x * cr.tensor(2.0, dtype="float64")).dtype == np.float64
