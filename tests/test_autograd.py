"""Reverse mode: backward, accumulation, graph freeing, retain_grad, hooks, autograd.grad."""

import numpy as np
import pytest

import chainrule as cr


def test_backward_accumulates_and_frees_the_graph():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2, 4, 6])
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [5, 7, 9])  # accumulates
    with pytest.raises(RuntimeError, match="already freed"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = cr.tensor([2.0], requires_grad=True)
    y = (x**3).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [24.0])


def test_non_scalar_backward_needs_gradient():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with pytest.raises(ValueError, match="scalar"):
        y.backward()
    with pytest.raises(RuntimeError, match="scalar"):  # also a RuntimeError, as in PyTorch
        y.backward()
    y.backward(np.array([1.0, 10.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 20.0])
    with pytest.raises(ValueError, match="shape"):
        (x * 2).backward(np.ones(3))


def test_int_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="floating"):
        cr.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="int64"):
        cr.arange(3).requires_grad_()


def test_grad_flows_through_shared_subexpressions_and_broadcasting():
    x = cr.tensor(np.arange(6.0).reshape(2, 3), dtype="float64", requires_grad=True)
    b = cr.tensor(np.ones(3), dtype="float64", requires_grad=True)
    y = x + b  # b broadcast over rows
    z = (y * y + y).sum()
    z.backward()
    yv = np.arange(6.0).reshape(2, 3) + 1
    np.testing.assert_allclose(x.grad.numpy(), 2 * yv + 1)
    np.testing.assert_allclose(b.grad.numpy(), (2 * yv + 1).sum(0))
    assert b.grad.shape == (3,)


def test_dtype_is_preserved_through_backward():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (x * 0.5 + 2.0).sum().backward()
    assert x.grad.dtype == cr.float32
    h = cr.tensor([1.0, 2.0], dtype="float16", requires_grad=True)
    (h * h).sum().backward()
    assert h.grad.dtype == cr.float16


def test_no_grad_and_detach():
    x = cr.tensor([1.0], requires_grad=True)
    with cr.no_grad():
        y = x * 2
        with cr.enable_grad():
            z = x * 3
    assert not y.requires_grad and y.grad_fn is None and z.requires_grad
    d = x.detach()
    assert not d.requires_grad and d.data is x.data


def test_retain_grad_and_hooks():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    seen = []
    y.register_hook(lambda g: seen.append(g.numpy().copy()))
    x.register_hook(lambda g: g * 10)  # replaces the leaf's gradient
    (y * y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [6.0, 12.0])
    np.testing.assert_allclose(seen[0], [6.0, 12.0])
    np.testing.assert_allclose(x.grad.numpy(), [180.0, 360.0])


def test_autograd_grad_leaves_dot_grad_alone_and_double_backward():
    x = cr.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    y = (x**3).sum()
    (g,) = cr.autograd.grad(y, x, create_graph=True)
    np.testing.assert_allclose(g.numpy() if not g.requires_grad else g.detach().numpy(), [3.0, 12.0])
    assert x.grad is None
    v = cr.tensor([1.0, -1.0], dtype="float64")
    (hv,) = cr.autograd.grad((g * v).sum(), x)  # Hessian-vector product by double backward
    np.testing.assert_allclose(hv.numpy(), [6.0, -12.0])


def test_autograd_grad_unused_input():
    x = cr.tensor([1.0], requires_grad=True)
    w = cr.tensor([1.0], requires_grad=True)
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="not used"):
        cr.autograd.grad(y, [x, w], retain_graph=True)
    gx, gw = cr.autograd.grad(y, [x, w], allow_unused=True)
    assert gw is None and gx.tolist() == [2.0]


def test_grad_of_non_leaf_input():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    y = (h * h).sum()
    (gh,) = cr.autograd.grad(y, h)
    np.testing.assert_allclose(gh.numpy(), [4.0, 8.0])


def test_long_chain_has_no_recursion_limit():
    x = cr.tensor([1.0], dtype="float64", requires_grad=True)
    h = x
    for _ in range(5000):
        h = h * 1.0001
    h.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001**5000], rtol=1e-9)


def test_inplace_modification_of_saved_tensor_raises():
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = a * 2
    c = b * b  # saves b
    b += 1
    with pytest.raises(RuntimeError, match="modified in place"):
        c.sum().backward()


def test_inplace_on_unsaved_tensor_is_fine_and_rebases_graph():
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = a * 2
    b += 1  # add saves nothing; b now stands for a*2 + 1
    c = (b * b).sum()
    c.backward()
    np.testing.assert_allclose(a.grad.numpy(), 2 * (2 * np.array([1.0, 2.0]) + 1) * 2)


def test_inplace_on_leaf_requiring_grad_raises_but_no_grad_allows_it():
    w = cr.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        w += 1
    with cr.no_grad():
        w -= 0.5
    assert w.tolist() == [0.5] and w.requires_grad


def test_setitem_is_differentiable():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = cr.tensor(10.0, requires_grad=True)
    y = x * 1.0
    y[1] = v * 2
    (y * cr.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 0.0, 3.0])
    np.testing.assert_allclose(v.grad.numpy(), 4.0)


def test_slice_gradients_accumulate_in_place_without_touching_shared_buffers():
    """Slices of one intermediate add their gradients into one buffer the backward owns; a buffer
    first handed over by a pass-through rule (add) is copied before it is written."""
    r = np.random.default_rng(0)
    x = cr.tensor(r.standard_normal((6, 3)), requires_grad=True)
    w, v = r.standard_normal((6, 3)), r.standard_normal((6, 3))
    s = x * 3.0
    t = x * 2.0
    parts = [t[i] for i in range(6)]  # created first, so their rules run after the add's
    u = t + s  # the add hands one array to both t and s
    loss = (u * cr.tensor(w)).sum() + sum((p * cr.tensor(v[i])).sum() for i, p in enumerate(parts))
    loss.backward()
    np.testing.assert_allclose(x.grad.data, 3.0 * w + 2.0 * (w + v), rtol=1e-15)


def test_slices_of_a_leaf_accumulate_into_its_grad():
    r = np.random.default_rng(1)
    x = cr.tensor(r.standard_normal((5, 2)), requires_grad=True)
    v = r.standard_normal((5, 2))
    for expected in (v, 2 * v):  # a second backward adds to the existing .grad
        sum((x[i] * cr.tensor(v[i])).sum() for i in range(5)).backward()
        np.testing.assert_allclose(x.grad.data, expected, rtol=1e-15)
    seen = []
    x.grad = None
    x.register_hook(lambda g: seen.append(g.data.copy()))  # hooks see the whole gradient
    sum((x[i] * cr.tensor(v[i])).sum() for i in (0, 2, 2)).backward()
    want = np.zeros((5, 2))
    want[0], want[2] = v[0], 2 * v[2]
    np.testing.assert_allclose(x.grad.data, want, rtol=1e-15)
    assert all(s.shape == (5, 2) for s in seen)
    np.testing.assert_allclose(sum(seen), want, rtol=1e-15)
    # advanced indices (repeats) keep the scatter rule; float32 stays float32
    y = cr.tensor(r.standard_normal(4).astype(np.float32), requires_grad=True)
    (y[np.array([1, 1, 3])].sum() + y[1:3].sum()).backward()
    np.testing.assert_array_equal(y.grad.data, np.array([0, 3, 1, 1], dtype=np.float32))
    assert y.grad.dtype == np.float32
