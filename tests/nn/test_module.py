"""The Module base class and its helpers: registration, traversal, modes, state dicts, dtype casts,
hooks, repr, the containers, parameter vectors and functional_call (with grad and hessian)."""

import copy
from collections import OrderedDict

import numpy as np
import pytest

import chainrule as cr
from chainrule.nn import (
    Module,
    ModuleDict,
    ModuleList,
    Parameter,
    Sequential,
    functional_call,
    parameters_to_vector,
    vector_to_parameters,
)
from chainrule.nn.dropout import Dropout
from chainrule.nn.linear import Linear
from chainrule.nn.normalization import BatchNorm1d

F64 = "float64"


class Net(Module):
    """Linear -> tanh -> BatchNorm -> Linear, with a plain attribute and a non-persistent buffer."""

    def __init__(self, dtype=F64):
        super().__init__()
        self.fc1 = Linear(3, 4, dtype=dtype)
        self.bn = BatchNorm1d(4, dtype=dtype)
        self.fc2 = Linear(4, 2, dtype=dtype)
        self.scale = Parameter(cr.ones(2, dtype=dtype))
        self.register_buffer("calls", cr.zeros(1, dtype=dtype), persistent=False)
        self.note = "plain attribute"

    def forward(self, x):
        return self.fc2(self.bn(cr.tanh(self.fc1(x)))) * self.scale


def seeded_net(seed=0, dtype=F64):
    cr.manual_seed(seed)
    return Net(dtype)


def xdata(shape=(5, 3), seed=1):
    return cr.tensor(np.random.default_rng(seed).standard_normal(shape))


# --- registration and traversal -------------------------------------------------------------------


def test_registration_by_attribute_and_qualified_names():
    net = seeded_net()
    assert list(net._parameters) == ["scale"]
    assert list(net._modules) == ["fc1", "bn", "fc2"]
    assert list(net._buffers) == ["calls"]
    assert net.note == "plain attribute" and "note" not in net._parameters
    assert [n for n, _ in net.named_parameters()] == [
        "scale",
        "fc1.weight",
        "fc1.bias",
        "bn.weight",
        "bn.bias",
        "fc2.weight",
        "fc2.bias",
    ]
    assert [n for n, _ in net.named_parameters(recurse=False)] == ["scale"]
    assert [n for n, _ in net.named_parameters(prefix="model")][1] == "model.fc1.weight"
    assert [n for n, _ in net.named_buffers()] == [
        "calls",
        "bn.running_mean",
        "bn.running_var",
        "bn.num_batches_tracked",
    ]
    assert all(isinstance(p, Parameter) and p.requires_grad for p in net.parameters())
    assert sum(p.size for p in net.parameters()) == 2 + 12 + 4 + 4 + 4 + 8 + 2
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'missing'"):
        _ = net.missing


def test_reassignment_moves_between_stores_and_delattr():
    m = Module()
    m.x = Parameter(cr.zeros(2))
    assert "x" in m._parameters
    with pytest.raises(TypeError, match="as parameter 'x'"):  # as PyTorch: only a Parameter or None
        m.x = Linear(2, 2)
    del m.x
    m.x = Linear(2, 2)
    assert "x" in m._modules and "x" not in m._parameters
    m.x = 3
    assert m.x == 3 and "x" not in m._modules
    m.register_buffer("b", cr.zeros(1))
    m.b = cr.ones(1)  # a registered buffer stays a buffer on reassignment
    assert m._buffers["b"].data[0] == 1
    del m.b
    assert "b" not in m._buffers
    m.p = Parameter(cr.zeros(1))
    del m.p
    assert list(m.parameters()) == []


def test_assigning_before_init_and_bad_registrations_raise():
    class Bad(Module):
        def __init__(self):
            self.w = Parameter(cr.zeros(1))

    with pytest.raises(AttributeError, match=r"before Module\.__init__"):
        Bad()
    m = Module()
    with pytest.raises(TypeError, match="register_parameter: 'w' must be a Parameter or None, got Tensor"):
        m.register_parameter("w", cr.zeros(1))
    with pytest.raises(TypeError, match="register_buffer: 'b' must be a Tensor or None, got ndarray"):
        m.register_buffer("b", np.zeros(1))
    with pytest.raises(NotImplementedError, match="Module must define forward"):
        m(1)


def test_shared_parameters_and_modules_are_deduplicated():
    a, b = Linear(3, 3), Linear(3, 3)
    b.weight = a.weight  # tied weights
    seq = Sequential(a, b, a)  # and a module used twice
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias", "1.bias"]
    assert len(list(seq.parameters())) == 3
    assert [n for n, _ in seq.named_modules()] == ["", "0", "1"]
    # As in PyTorch, a tied parameter is saved under every name that owns it.
    assert "1.weight" in seq.state_dict() and "0.weight" in seq.state_dict()
    x = cr.randn(2, 3)
    seq(x).sum().backward()
    assert a.weight.grad is b.weight.grad  # one tensor, one accumulated gradient


def test_children_and_modules():
    net = seeded_net()
    assert [n for n, _ in net.named_children()] == ["fc1", "bn", "fc2"]
    assert list(net.children()) == [net.fc1, net.bn, net.fc2]
    assert [type(m).__name__ for m in net.modules()] == ["Net", "Linear", "BatchNorm1d", "Linear"]
    seq = Sequential(Linear(1, 1), Sequential(Linear(1, 1), Dropout()))
    assert [n for n, _ in seq.named_modules()] == ["", "0", "1", "1.0", "1.1"]


def test_train_eval_propagate_to_every_submodule():
    seq = Sequential(Linear(2, 2), Sequential(Dropout(0.5), BatchNorm1d(2)))
    assert all(m.training for m in seq.modules())
    assert seq.eval() is seq
    assert not any(m.training for m in seq.modules())
    x = cr.ones(4, 2)
    np.testing.assert_array_equal(seq[1][0](x).data, x.data)  # dropout is off in eval
    seq.train()
    assert all(m.training for m in seq.modules())
    seq[1].train(False)
    assert seq.training and seq[0].training and not seq[1][0].training and not seq[1][1].training


def test_zero_grad_and_requires_grad():
    net = seeded_net()
    net(xdata()).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and np.all(p.grad.data == 0) for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.fc1.requires_grad_(False)
    net(xdata()).sum().backward()
    assert net.fc1.weight.grad is None and net.fc2.weight.grad is not None


# --- state dicts ----------------------------------------------------------------------------------


def test_state_dict_contents_and_round_trip():
    net = seeded_net(0)
    net(xdata())  # training step: running statistics move away from their init
    sd = net.state_dict()
    assert list(sd) == [
        "scale",
        "fc1.weight",
        "fc1.bias",
        "bn.weight",
        "bn.bias",
        "bn.running_mean",
        "bn.running_var",
        "bn.num_batches_tracked",
        "fc2.weight",
        "fc2.bias",
    ]  # the non-persistent buffer "calls" is left out
    assert all(not v.requires_grad for v in sd.values())
    assert np.shares_memory(sd["fc1.weight"].data, net.fc1.weight.data)
    other = seeded_net(1)
    assert not np.allclose(other.fc1.weight.data, net.fc1.weight.data)
    versions = [p._version[0] for p in other.parameters()]
    assert other.load_state_dict(sd) == ([], [])
    assert all(p._version[0] == v + 1 for p, v in zip(other.parameters(), versions))
    for k, v in other.state_dict().items():
        np.testing.assert_array_equal(v.data, sd[k].data, err_msg=k)
    net.eval()
    other.eval()
    x = xdata(seed=2)
    np.testing.assert_array_equal(other(x).data, net(x).data)


def test_load_state_dict_accepts_arrays_and_casts_within_kind():
    lin = Linear(2, 2)
    lin.load_state_dict({"weight": np.eye(2), "bias": [1.0, 2.0]})  # float64 data into float32 params
    assert lin.weight.dtype == np.float32
    np.testing.assert_array_equal(lin(cr.ones(1, 2)).data, [[2.0, 3.0]])


def test_load_state_dict_strict_errors_change_nothing():
    net = seeded_net(0)
    before = {k: v.data.copy() for k, v in net.state_dict().items()}
    good = {k: v.data + 1.0 for k, v in seeded_net(1).state_dict().items()}
    good["bn.num_batches_tracked"] = np.array(3)

    missing = dict(good)
    del missing["fc2.bias"]
    with pytest.raises(ValueError, match=r"load_state_dict for Net: missing keys: \['fc2.bias'\]"):
        net.load_state_dict(missing)
    unexpected = dict(good, extra=np.zeros(1))
    with pytest.raises(ValueError, match=r"unexpected keys: \['extra'\]"):
        net.load_state_dict(unexpected)
    misshaped = dict(good, **{"fc1.weight": np.zeros((3, 4))})
    with pytest.raises(ValueError, match=r"fc1.weight: expected shape \(4, 3\), got \(3, 4\)"):
        net.load_state_dict(misshaped)
    with pytest.raises(ValueError, match=r"fc1.weight: expected shape"):
        net.load_state_dict(misshaped, strict=False)  # a shape mismatch is an error even when not strict
    wrong_kind = dict(good, **{"bn.num_batches_tracked": np.array(2.5)})
    with pytest.raises(ValueError, match=r"bn\.num_batches_tracked: expected dtype int64, got float64"):
        net.load_state_dict(wrong_kind)
    for k, v in net.state_dict().items():  # every failed load left every value as it was
        np.testing.assert_array_equal(v.data, before[k], err_msg=k)

    partial = {"fc1.weight": good["fc1.weight"], "extra": np.zeros(1)}
    missing_keys, unexpected_keys = net.load_state_dict(partial, strict=False)
    assert unexpected_keys == ["extra"] and "fc2.bias" in missing_keys and "fc1.weight" not in missing_keys
    np.testing.assert_array_equal(net.fc1.weight.data, good["fc1.weight"])
    np.testing.assert_array_equal(net.fc2.bias.data, before["fc2.bias"])


def test_load_state_dict_from_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tnet = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2)).double()
    net = Sequential(Linear(3, 4, dtype=F64), BatchNorm1d(4, dtype=F64), Linear(4, 2, dtype=F64))
    assert list(net.state_dict()) == list(tnet.state_dict())
    net.load_state_dict({k: v.numpy() for k, v in tnet.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((6, 3))
    np.testing.assert_allclose(net(cr.tensor(x)).data, tnet(torch.tensor(x)).detach().numpy(), rtol=1e-12)


# --- dtype, apply ---------------------------------------------------------------------------------


def test_to_float64_casts_in_place_and_keeps_identity():
    net = seeded_net(dtype="float32")
    params = list(net.parameters())
    w32 = net.fc1.weight.data.copy()
    net(cr.randn(4, 3)).sum().backward()
    assert net.to(F64) is net
    assert list(net.parameters()) == params and all(a is b for a, b in zip(net.parameters(), params))
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in net.parameters())
    assert net.bn.running_var.dtype == np.float64 and net.calls.dtype == np.float64
    assert net.bn.num_batches_tracked.dtype == np.int64  # integer buffers are left alone
    np.testing.assert_array_equal(net.fc1.weight.data, w32.astype(np.float64))
    assert net(cr.randn(4, 3, dtype=F64)).dtype == np.float64
    assert net.float().fc2.bias.dtype == np.float32
    assert net.double().fc2.bias.dtype == np.float64
    with pytest.raises(TypeError, match=r"Module\.to: expected a floating dtype, got int64"):
        net.to("int64")


def test_apply_visits_children_first_then_self():
    seq = Sequential(Linear(2, 2), Sequential(Linear(2, 2)))
    order = []
    assert seq.apply(lambda m: order.append(type(m).__name__)) is seq
    assert order == ["Linear", "Linear", "Sequential", "Sequential"]

    def zero_linear(m):
        if isinstance(m, Linear):
            with cr.no_grad():
                m.weight.fill_(0.0)

    seq.apply(zero_linear)
    assert all(np.all(m.weight.data == 0) for m in seq.modules() if isinstance(m, Linear))


# --- hooks ----------------------------------------------------------------------------------------


def test_forward_pre_and_post_hooks_replace_and_remove():
    lin = Linear(2, 2, dtype=F64)
    lin.load_state_dict({"weight": np.eye(2), "bias": np.zeros(2)})
    seen = []
    remove_pre = lin.register_forward_pre_hook(lambda m, args: (args[0] * 2.0,))
    remove_post = lin.register_forward_hook(lambda m, args, out: seen.append((m, args[0].tolist())) or out + 1.0)
    x = cr.tensor([[1.0, 2.0]], dtype=F64)
    np.testing.assert_array_equal(lin(x).data, [[3.0, 5.0]])
    assert seen == [(lin, [[2.0, 4.0]])]  # the post hook sees the replaced input
    remove_pre()
    np.testing.assert_array_equal(lin(x).data, [[2.0, 3.0]])
    remove_post()
    np.testing.assert_array_equal(lin(x).data, [[1.0, 2.0]])
    lin.register_forward_pre_hook(lambda m, args: args[0] * 3.0)  # a single value is wrapped in a tuple
    np.testing.assert_array_equal(lin(x).data, [[3.0, 6.0]])


def test_backward_hook_sees_and_replaces_the_output_gradient():
    lin = Linear(3, 2, dtype=F64)
    x = xdata((4, 3))
    lin(x).sum().backward()
    plain = lin.weight.grad.data.copy()
    lin.zero_grad()
    grads = []

    def hook(module, g):
        grads.append((module, g.data.copy()))
        return g * 2.0

    remove = lin.register_backward_hook(hook)
    lin(x).sum().backward()
    assert grads[0][0] is lin
    np.testing.assert_array_equal(grads[0][1], np.ones((4, 2)))
    np.testing.assert_allclose(lin.weight.grad.data, 2 * plain, rtol=1e-15)
    remove()
    lin.zero_grad()
    lin(x).sum().backward()
    np.testing.assert_allclose(lin.weight.grad.data, plain, rtol=1e-15)


def test_hook_handles_have_remove_like_pytorch():
    handle = Linear(1, 1).register_forward_hook(lambda *a: None)
    handle.remove()


# --- repr and labels ------------------------------------------------------------------------------


def test_repr_tree():
    net = seeded_net()
    assert repr(net) == (
        "Net(\n"
        "  (fc1): Linear(in_features=3, out_features=4, bias=True)\n"
        "  (bn): BatchNorm1d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)\n"
        "  (fc2): Linear(in_features=4, out_features=2, bias=True)\n"
        ")"
    )
    seq = Sequential(Linear(1, 2), Sequential(Dropout(0.1)))
    assert repr(seq) == (
        "Sequential(\n"
        "  (0): Linear(in_features=1, out_features=2, bias=True)\n"
        "  (1): Sequential(\n"
        "    (0): Dropout(p=0.1)\n"
        "  )\n"
        ")"
    )
    assert repr(Module()) == "Module()"


def test_label_uses_the_attribute_name():
    net = seeded_net()
    assert net.fc2._label() == "Linear(fc2)"
    assert Linear(1, 1)._label() == "Linear"
    assert net._label() == "Net"


# --- containers -----------------------------------------------------------------------------------


def test_sequential():
    a, b, c = Linear(3, 4, dtype=F64), Linear(4, 4, dtype=F64), Linear(4, 2, dtype=F64)
    seq = Sequential(a, b, c)
    x = xdata((2, 3))
    np.testing.assert_array_equal(seq(x).data, c(b(a(x))).data)
    assert len(seq) == 3 and list(seq) == [a, b, c] and seq[-1] is c
    head = seq[:2]
    assert isinstance(head, Sequential) and list(head) == [a, b]
    np.testing.assert_array_equal(head(x).data, b(a(x)).data)
    assert seq.append(Dropout()) is seq and len(seq) == 4 and [n for n, _ in seq.named_children()][-1] == "3"
    named = Sequential(OrderedDict([("enc", Linear(3, 4)), ("dec", Linear(4, 3))]))
    assert [n for n, _ in named.named_parameters()] == ["enc.weight", "enc.bias", "dec.weight", "dec.bias"]
    with pytest.raises(TypeError, match="Sequential: argument 1 is a int, not a Module"):
        Sequential(Linear(1, 1), 3)


def test_module_list_and_dict():
    layers = ModuleList([Linear(2, 2) for _ in range(3)])
    layers.append(Linear(2, 1)).extend([Dropout()])
    assert len(layers) == 5 and isinstance(layers[3], Linear) and layers[-1] is list(layers)[-1]
    assert [n for n, _ in layers.named_parameters()][:2] == ["0.weight", "0.bias"]
    with pytest.raises(TypeError, match=r"ModuleList\.append: expected a Module, got int"):
        layers.append(1)

    class Owner(Module):
        def __init__(self):
            super().__init__()
            self.heads = ModuleDict({"a": Linear(2, 3), "b": Linear(2, 1)})

    owner = Owner()
    assert [n for n, _ in owner.named_parameters()] == [
        "heads.a.weight",
        "heads.a.bias",
        "heads.b.weight",
        "heads.b.bias",
    ]
    heads = owner.heads
    assert "a" in heads and "c" not in heads and len(heads) == 2 and list(heads) == ["a", "b"]
    assert list(heads.keys()) == ["a", "b"] and heads["b"] is list(heads.values())[1]
    assert [k for k, _ in heads.items()] == ["a", "b"]
    with pytest.raises(TypeError, match=r"ModuleDict\['c'\]: expected a Module, got str"):
        heads["c"] = "not a module"


def test_deepcopy_gives_an_independent_module_with_ties_kept():
    a, b = Linear(2, 2), Linear(2, 2)
    b.weight = a.weight
    seq = Sequential(a, b)
    twin = copy.deepcopy(seq)
    assert twin[0].weight is twin[1].weight and twin[0].weight is not a.weight
    with cr.no_grad():
        twin[0].weight.fill_(5.0)
    assert not np.any(a.weight.data == 5.0)
    assert twin[0]._label() == "Linear(0)"


# --- parameter vectors ----------------------------------------------------------------------------


def test_parameters_to_vector_and_back():
    net = seeded_net()
    params = list(net.parameters())
    vec = parameters_to_vector(params)
    n = sum(p.size for p in params)
    assert vec.shape == (n,)
    np.testing.assert_array_equal(vec.data, np.concatenate([p.data.ravel() for p in params]))
    new = np.arange(n, dtype=np.float64)
    vector_to_parameters(cr.tensor(new), params)
    np.testing.assert_array_equal(parameters_to_vector(params).data, new)
    np.testing.assert_array_equal(net.fc1.weight.data, new[2:14].reshape(4, 3))  # "scale" (2) comes first
    vector_to_parameters(vec, params)
    np.testing.assert_array_equal(parameters_to_vector(params).data, vec.data)
    with pytest.raises(ValueError, match=rf"expected a 1-d vector of {n} elements, got shape \({n - 1},\)"):
        vector_to_parameters(np.zeros(n - 1), params)
    with pytest.raises(ValueError, match="no parameters given"):
        parameters_to_vector([])


def test_parameters_to_vector_is_differentiable():
    lin = Linear(2, 2, dtype=F64)
    v = parameters_to_vector(lin.parameters())
    (v * cr.tensor(np.arange(6.0))).sum().backward()
    np.testing.assert_array_equal(lin.weight.grad.data, [[0, 1], [2, 3]])
    np.testing.assert_array_equal(lin.bias.grad.data, [4, 5])


# --- functional_call ------------------------------------------------------------------------------


def mlp(seed=0):
    cr.manual_seed(seed)
    return Sequential(Linear(3, 4, dtype=F64), Linear(4, 1, dtype=F64))


def mse_of(model, x, y):
    def loss(params):
        out = functional_call(model, params, x)
        return ((out - y) * (out - y)).mean()

    return loss


def test_functional_call_uses_given_params_and_restores_the_module():
    model = mlp()
    originals = dict(model.named_parameters())
    snapshot = {k: v.data.copy() for k, v in originals.items()}
    new = {k: cr.tensor(np.full(v.shape, 0.5)) for k, v in originals.items()}
    x = xdata((2, 3))
    out = functional_call(model, new, x)
    h = x.data.sum(1, keepdims=True) * 0.5 + 0.5  # every hidden unit
    np.testing.assert_allclose(out.data, 4 * 0.5 * h + 0.5, rtol=1e-14)
    after = dict(model.named_parameters())
    assert all(after[k] is originals[k] for k in originals)
    for k, v in after.items():
        np.testing.assert_array_equal(v.data, snapshot[k])
    only_bias = functional_call(model, {"1.bias": cr.tensor([10.0])}, x)
    np.testing.assert_allclose(only_bias.data, model(x).data - model[1].bias.data + 10.0, rtol=1e-14)


def test_functional_call_restores_after_an_error_and_rejects_unknown_names():
    model = mlp()
    w = model[0].weight
    with pytest.raises(ValueError, match="Linear"):
        functional_call(model, {"0.weight": cr.zeros(4, 3, dtype=F64)}, cr.zeros(2, 5, dtype=F64))
    assert model[0].weight is w
    with pytest.raises(KeyError, match="has no parameter or buffer named"):
        functional_call(model, {"0.wieght": cr.zeros(4, 3)}, cr.zeros(2, 3))


def test_grad_through_functional_call_matches_backward_and_finite_differences():
    model = mlp()
    x, y = xdata((6, 3)), xdata((6, 1), seed=3)
    params = {k: v.detach() for k, v in model.named_parameters()}
    loss = mse_of(model, x, y)
    grads = cr.grad(loss)(params)
    assert set(grads) == set(params)
    model(x)  # the module itself is unchanged: backward on it gives the same gradients
    out = model(x)
    ((out - y) * (out - y)).mean().backward()
    for k, p in model.named_parameters():
        np.testing.assert_allclose(grads[k].data, p.grad.data, rtol=1e-12, err_msg=k)
    eps = 1e-6
    for k, v in params.items():
        fd = np.zeros(v.shape)
        for i in np.ndindex(v.shape):
            plus, minus = v.data.copy(), v.data.copy()
            plus[i] += eps
            minus[i] -= eps
            fd[i] = (
                loss(dict(params, **{k: cr.tensor(plus)})).item() - loss(dict(params, **{k: cr.tensor(minus)})).item()
            ) / (2 * eps)
        np.testing.assert_allclose(grads[k].data, fd, rtol=1e-6, atol=1e-9, err_msg=k)


def test_hessian_through_functional_call_matches_finite_differences_of_the_gradient():
    model = mlp(1)
    x, y = xdata((5, 3)), xdata((5, 1), seed=4)
    names = [k for k, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    sizes = [p.size for p in model.parameters()]
    theta0 = parameters_to_vector(model.parameters()).detach()
    versions = [p._version[0] for p in model.parameters()]

    def unflatten(theta):
        out, pos = {}, 0
        for name, shape, size in zip(names, shapes, sizes):
            out[name] = cr.reshape(theta[pos : pos + size], shape)
            pos += size
        return out

    loss = mse_of(model, x, y)

    def f(theta):
        return loss(unflatten(theta))

    H = cr.hessian(f)(theta0).data
    n = theta0.size
    assert H.shape == (n, n)
    np.testing.assert_allclose(H, H.T, atol=1e-12)
    grad_f = cr.grad(f)
    eps = 1e-5
    fd = np.zeros((n, n))
    for j in range(n):
        e = np.zeros(n)
        e[j] = eps
        fd[:, j] = (grad_f(cr.tensor(theta0.data + e)).data - grad_f(cr.tensor(theta0.data - e)).data) / (2 * eps)
    np.testing.assert_allclose(H, fd, rtol=1e-5, atol=1e-8)
    # hvp over the parameter dict agrees with H v
    v = np.random.default_rng(5).standard_normal(n)
    hv = cr.hvp(loss, (unflatten(theta0),), (unflatten(cr.tensor(v)),))
    np.testing.assert_allclose(np.concatenate([hv[k].data.ravel() for k in names]), H @ v, rtol=1e-10)
    assert [p._version[0] for p in model.parameters()] == versions  # the module was never written


def test_functional_call_with_buffers_in_training_mode():
    bn = BatchNorm1d(2, dtype=F64)
    rm, rv = cr.zeros(2, dtype=F64), cr.ones(2, dtype=F64)
    x = xdata((8, 2))
    functional_call(bn, {"running_mean": rm, "running_var": rv}, x)
    np.testing.assert_allclose(rm.data, 0.1 * x.data.mean(0), rtol=1e-13)  # the given buffer was updated
    np.testing.assert_array_equal(bn.running_mean.data, 0)  # the module's own was not


# --- behaviours that follow PyTorch ----------------------------------------------------------------


def test_assigning_a_tensor_over_a_parameter_raises_like_pytorch():
    lin = Linear(2, 2)
    with pytest.raises(TypeError):
        lin.weight = cr.zeros(2, 2)


def test_register_parameter_over_a_plain_attribute_is_visible():
    lin = Linear(2, 2)
    lin.bias = None  # becomes a plain attribute here (PyTorch keeps it registered as None)
    new_bias = Parameter(cr.zeros(2))
    lin.register_parameter("bias", new_bias)
    assert lin.bias is new_bias


def test_register_buffer_over_a_parameter_name_raises():
    m = Module()
    m.w = Parameter(cr.ones(2))
    with pytest.raises(KeyError):
        m.register_buffer("w", cr.zeros(2))


def test_functional_call_replaces_every_owner_of_a_tied_parameter():
    a, b = Linear(2, 2, dtype=F64), Linear(2, 2, dtype=F64)
    b.weight = a.weight
    seq = Sequential(a, b)
    x = xdata((3, 2))
    new_w = cr.tensor(np.eye(2) * 2.0)
    out = functional_call(seq, {"0.weight": new_w}, x)
    with cr.no_grad():
        a.weight.copy_(new_w)
    np.testing.assert_allclose(out.data, seq(x).data, rtol=1e-14)
