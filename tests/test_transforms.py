"""JAX-style transforms: grad, value_and_grad, vjp, jvp, jacobians, hessian, hvp, nesting."""

import numpy as np
import pytest

import chainrule as cr


def f_sin_cubic(x):
    return (cr.sin(x) * x**3).sum()


def analytic_hessian(x):
    return np.diag(-np.sin(x) * x**3 + 6 * x**2 * np.cos(x) + 6 * x * np.sin(x))


def test_hessian_of_sin_x_cubed_matches_analytic_to_1e10():
    x = np.random.default_rng(0).standard_normal(5)
    H = cr.hessian(f_sin_cubic)(cr.tensor(x, dtype="float64"))
    assert H.shape == (5, 5)
    np.testing.assert_allclose(H.numpy(), analytic_hessian(x), atol=1e-10, rtol=0)


def test_grad_value_and_grad_and_argnums():
    x = cr.tensor([1.0, 2.0], dtype="float64")
    y = cr.tensor([3.0, 4.0], dtype="float64")

    def f(a, b):
        return (a * a * b).sum()

    np.testing.assert_allclose(cr.grad(f)(x, y).numpy(), [6.0, 16.0])
    gx, gy = cr.grad(f, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(gx.numpy(), [6.0, 16.0])
    np.testing.assert_allclose(gy.numpy(), [1.0, 4.0])
    v, g = cr.value_and_grad(f, argnums=1)(x, y)
    assert v.item() == 19.0 and g.tolist() == [1.0, 4.0]
    assert not v.requires_grad and not g.requires_grad


def test_grad_over_pytrees_and_has_aux():
    params = {"w": cr.tensor([1.0, 2.0], dtype="float64"), "b": [cr.tensor(0.5, dtype="float64")]}

    def loss(p, x):
        out = (p["w"] * x).sum() + p["b"][0]
        return out * out, out

    g, aux = cr.grad(loss, has_aux=True)(params, cr.tensor([1.0, 1.0], dtype="float64"))
    assert aux.item() == 3.5
    np.testing.assert_allclose(g["w"].numpy(), [7.0, 7.0])
    np.testing.assert_allclose(g["b"][0].numpy(), 7.0)


def test_grad_requires_scalar_output():
    with pytest.raises(TypeError, match="scalar"):
        cr.grad(lambda x: x * 2)(cr.tensor([1.0, 2.0]))


def test_nested_grad_and_perturbation_confusion():
    x = cr.tensor(2.0, dtype="float64")
    d3 = cr.grad(cr.grad(cr.grad(lambda x: x**4)))(x)
    assert abs(d3.item() - 24 * 2.0) < 1e-12

    # d/dx [x * d/dy (x + y)]  at y = 1: the inner derivative is 1, so the answer is 1 (not 2).
    def outer(x):
        inner = cr.grad(lambda y: x + y)(cr.tensor(1.0, dtype="float64"))
        return x * inner

    assert cr.grad(outer)(cr.tensor(3.0, dtype="float64")).item() == 1.0


def test_vjp_and_jvp_agree_by_inner_product():
    rng = np.random.default_rng(1)
    W = cr.tensor(rng.standard_normal((4, 3)), dtype="float64")

    def f(x):
        return cr.tanh(x @ W) * cr.exp(x[:3])

    x = cr.tensor(rng.standard_normal(4), dtype="float64")
    u = cr.tensor(rng.standard_normal(3), dtype="float64")
    v = cr.tensor(rng.standard_normal(4), dtype="float64")
    out, vjp_fn = cr.vjp(f, x)
    (jtu,) = vjp_fn(u)
    out2, jv = cr.jvp(f, (x,), (v,))
    np.testing.assert_allclose(out.numpy(), out2.numpy())
    assert abs(float((u * jv).sum().item()) - float((jtu * v).sum().item())) < 1e-12


def test_jacrev_and_jacfwd_agree_with_each_other_and_the_analytic_jacobian():
    A = np.random.default_rng(2).standard_normal((3, 4))

    def f(x):
        return cr.tensor(A) @ x

    x = cr.tensor(np.ones(4), dtype="float64")
    np.testing.assert_allclose(cr.jacrev(f)(x).numpy(), A)
    np.testing.assert_allclose(cr.jacfwd(f)(x).numpy(), A)
    np.testing.assert_allclose(cr.jacobian(cr.sin)(x).numpy(), np.diag(np.cos(np.ones(4))))


def _mlp_loss(params, x, y):
    W1, b1, W2, b2 = params
    h = cr.tanh(x @ W1 + b1)
    logits = h @ W2 + b2
    return -cr.log_softmax(logits, dim=1)[np.arange(len(y)), y].mean()


def test_hvp_of_mlp_loss_matches_hessian_times_vector():
    rng = np.random.default_rng(3)
    x = cr.tensor(rng.standard_normal((6, 3)), dtype="float64")
    y = rng.integers(0, 2, 6)
    shapes = [(3, 4), (4,), (4, 2), (2,)]
    sizes = [int(np.prod(s)) for s in shapes]
    theta = rng.standard_normal(sum(sizes)) * 0.7

    def unflat(t):
        out, i = [], 0
        for s, n in zip(shapes, sizes):
            out.append(cr.reshape(t[i : i + n], s))
            i += n
        return out

    def loss_flat(t):
        return _mlp_loss(unflat(t), x, y)

    t = cr.tensor(theta, dtype="float64")
    v = cr.tensor(rng.standard_normal(theta.size), dtype="float64")
    H = cr.hessian(loss_flat)(t).numpy()
    np.testing.assert_allclose(H, H.T, atol=1e-12)
    hv = cr.hvp(loss_flat, (t,), (v,))
    np.testing.assert_allclose(hv.numpy(), H @ v.numpy(), rtol=1e-9, atol=1e-12)
    # And structured: hvp over the list of parameter tensors equals the same product.
    params = unflat(t)
    vs = unflat(v)
    hv_tree = cr.hvp(lambda p: _mlp_loss(p, x, y), (params,), (vs,))
    np.testing.assert_allclose(
        np.concatenate([h.numpy().ravel() for h in hv_tree]), H @ v.numpy(), rtol=1e-9, atol=1e-12
    )


def test_forward_over_forward_second_derivative():
    x = cr.tensor(0.7, dtype="float64")
    one = cr.tensor(1.0, dtype="float64")

    def df(x):
        return cr.jvp(cr.sin, (x,), (one,))[1]

    _, d2 = cr.jvp(df, (x,), (one,))
    assert abs(d2.item() + np.sin(0.7)) < 1e-14


def test_reverse_over_forward():
    x = cr.tensor([0.3, -1.2], dtype="float64")
    v = cr.tensor([1.0, 2.0], dtype="float64")

    def directional(x):
        return cr.jvp(lambda z: (cr.exp(z) * z).sum(), (x,), (v,))[1]

    g = cr.grad(directional)(x)  # = H v, H = diag((x + 2) e^x)
    xs = np.array([0.3, -1.2])
    np.testing.assert_allclose(g.numpy(), (xs + 2) * np.exp(xs) * v.numpy(), rtol=1e-12)


def test_stop_gradient():
    g = cr.grad(lambda x: (x * cr.stop_gradient(x)).sum())(cr.tensor([3.0], dtype="float64"))
    assert g.tolist() == [3.0]


def test_transforms_work_on_tensors_that_require_grad_in_an_outer_graph():
    w = cr.tensor([2.0], dtype="float64", requires_grad=True)
    g = cr.grad(lambda x: (x * x * w).sum())(w)  # d/dx (x^2 w) at x = w: 2 x w = 8
    np.testing.assert_allclose(g.detach().numpy(), [8.0])
    g.sum().backward()  # d/dw (2 w * w) = 4 w = 8
    np.testing.assert_allclose(w.grad.numpy(), [8.0])
