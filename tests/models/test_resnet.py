"""ResNet and plain networks: structure, parameter counts, identity init, PyTorch parity, training."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import functional as F
from chainrule import optim
from chainrule.models.resnet import BasicBlock, Bottleneck, ResNet, plain20, resnet20, resnet_depths


def _n_params(model: cr.nn.Module) -> int:
    return sum(p.data.size for p in model.parameters())


def _x(shape: tuple[int, ...], seed: int = 0) -> cr.Tensor:
    return cr.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def _basic_count(cin: int, cout: int, proj: bool) -> int:
    # two 3×3 convolutions without bias + two BatchNorms (γ, β); projection: 1×1 conv + BN
    return 9 * cin * cout + 9 * cout * cout + 4 * cout + ((cin * cout + 2 * cout) if proj else 0)


def _resnet_count(n: int, w: int, cin: int, classes: int, residual: bool) -> int:
    total = 9 * cin * w + 2 * w + 4 * w * classes + classes  # stem conv + BN, linear head
    ch = w
    for k in range(3):
        out = w * 2**k
        for _ in range(n):
            total += _basic_count(ch, out, proj=residual and ch != out)
            ch = out
    return total


@pytest.mark.parametrize("hw", [28, 32])
def test_output_shapes(hw: int) -> None:
    cr.manual_seed(0)
    model = ResNet(8, width=4, num_classes=7, in_channels=3)
    assert model(_x((2, 3, hw, hw))).shape == (2, 7)
    h = model.layer1(F.relu(model.bn1(model.conv1(_x((2, 3, hw, hw))))))
    assert h.shape == (2, 4, hw, hw)
    h = model.layer2(h)
    assert h.shape == (2, 8, hw // 2, hw // 2)
    assert model.layer3(h).shape == (2, 16, hw // 4, hw // 4)
    bott = ResNet(11, width=4, num_classes=5, block="bottleneck")
    assert bott(_x((2, 1, hw, hw))).shape == (2, 5)
    assert bott.fc.in_features == 4 * 4 * 4


def test_resnet20_parameter_count() -> None:
    model = resnet20(in_channels=3)
    # He et al.: 0.27M with parameter-free shortcuts; projections add 16·32 + 2·32 + 32·64 + 2·64.
    assert _n_params(model) == _resnet_count(3, 16, 3, 10, residual=True) == 272474
    assert _n_params(plain20(in_channels=3)) == 272474 - 2752 == 269722
    assert len([m for m in model.modules() if isinstance(m, cr.nn.Conv2d)]) == 19 + 2  # 19 + 2 projections
    assert len(model.layer1) == len(model.layer2) == len(model.layer3) == 3
    for depth in (8, 32, 44):
        n = (depth - 2) // 6
        assert _n_params(ResNet(depth, width=8)) == _resnet_count(n, 8, 1, 10, residual=True)


def test_bottleneck_parameter_count_and_shape() -> None:
    b = Bottleneck(16, 8, stride=2)
    # 1×1 16→8, 3×3 8→8, 1×1 8→32, three BNs, projection 16→32 + BN
    assert _n_params(b) == 16 * 8 + 9 * 8 * 8 + 8 * 32 + 2 * (8 + 8 + 32) + 16 * 32 + 2 * 32
    assert b(_x((2, 16, 9, 9))).shape == (2, 32, 5, 5)
    assert Bottleneck(32, 8).shortcut is None
    assert Bottleneck(16, 8, expansion=2).out_channels == 16


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("kind", ["basic", "bottleneck"])
def test_zero_init_residual_block_is_relu(train: bool, kind: str) -> None:
    cr.manual_seed(1)
    block = BasicBlock(6, 6, zero_init_residual=True) if kind == "basic" else Bottleneck(8, 2, zero_init_residual=True)
    c = block.in_channels
    assert block.shortcut is None
    block.train(train)
    x = _x((3, c, 5, 5), seed=2) * 3.0
    np.testing.assert_array_equal(block(x).data, np.maximum(x.data, 0))  # exactly relu(x)
    xp = cr.tensor(np.abs(x.data))
    np.testing.assert_array_equal(block(xp).data, xp.data)  # the identity on non-negative inputs
    # without zero init the block is not the identity
    cr.manual_seed(1)
    plain_init = BasicBlock(6, 6) if kind == "basic" else Bottleneck(8, 2)
    plain_init.train(train)
    assert np.abs(plain_init(xp).data - xp.data).max() > 1e-2


def test_zero_init_residual_network_and_last_bn() -> None:
    model = ResNet(14, width=4, zero_init_residual=True)
    blocks = [b for stage in (model.layer1, model.layer2, model.layer3) for b in stage]
    assert all(np.all(b.bn2.weight.data == 0) and np.all(b.bn1.weight.data == 1) for b in blocks)
    # projection shortcuts keep γ = 1, so the network is not degenerate
    assert np.all(model.layer2[0].shortcut[1].weight.data == 1)
    assert np.all(ResNet(14, width=4).layer1[0].bn2.weight.data == 1)


def test_block_forward_matches_formula() -> None:
    cr.manual_seed(3)
    res = BasicBlock(4, 8, stride=2)
    plain = BasicBlock(4, 8, stride=2, residual=False)
    assert res.shortcut is not None and plain.shortcut is None
    missing, unexpected = plain.load_state_dict(res.state_dict(), strict=False)
    assert missing == [] and all(k.startswith("shortcut.") for k in unexpected) and len(unexpected) > 0
    res.eval()
    plain.eval()
    x = _x((2, 4, 6, 6))
    with cr.no_grad():
        f = res.residual_branch(x).data
        s = res.shortcut(x).data
        np.testing.assert_array_equal(res(x).data, np.maximum(f + s, 0))
        np.testing.assert_array_equal(plain(x).data, np.maximum(f, 0))
        # identity shortcut: out = relu(F(x) + x)
        same = BasicBlock(4, 4).eval()
        np.testing.assert_array_equal(same(x).data, np.maximum(same.residual_branch(x).data + x.data, 0))


def test_plain_and_residual_differ_only_in_the_skips() -> None:
    cr.manual_seed(0)
    res = ResNet(14, width=4)
    plain = ResNet(14, width=4, residual=False)
    res_keys, plain_keys = set(res.state_dict()), set(plain.state_dict())
    extra = res_keys - plain_keys
    assert plain_keys < res_keys and extra and all(".shortcut." in k for k in extra)
    plain.load_state_dict(res.state_dict(), strict=False)
    # Removing every skip from the residual net by hand gives the plain net's output.
    for m in res.modules():
        if isinstance(m, BasicBlock):
            m.residual = False
    res.eval()
    plain.eval()
    x = _x((2, 1, 12, 12))
    with cr.no_grad():
        np.testing.assert_array_equal(res(x).data, plain(x).data)


def test_matches_pytorch() -> None:
    torch = pytest.importorskip("torch")
    tnn = torch.nn

    class TBlock(tnn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.conv1 = tnn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(cout)
            self.conv2 = tnn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(cout)
            self.shortcut = None
            if stride != 1 or cin != cout:
                self.shortcut = tnn.Sequential(tnn.Conv2d(cin, cout, 1, stride, bias=False), tnn.BatchNorm2d(cout))

        def forward(self, x):  # type: ignore[no-untyped-def]
            out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
            return torch.relu(out + (x if self.shortcut is None else self.shortcut(x)))

    class TNet(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = tnn.Conv2d(3, 4, 3, 1, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(4)
            self.layer1 = tnn.Sequential(TBlock(4, 4, 1), TBlock(4, 4, 1))
            self.layer2 = tnn.Sequential(TBlock(4, 8, 2), TBlock(8, 8, 1))
            self.layer3 = tnn.Sequential(TBlock(8, 16, 2), TBlock(16, 16, 1))
            self.fc = tnn.Linear(16, 10)

        def forward(self, x):  # type: ignore[no-untyped-def]
            h = torch.relu(self.bn1(self.conv1(x)))
            h = self.layer3(self.layer2(self.layer1(h)))
            return self.fc(h.mean(dim=(2, 3)))

    cr.manual_seed(0)
    ours = ResNet(14, width=4, in_channels=3)
    theirs = TNet()
    ours_sd = ours.state_dict()
    assert set(ours_sd) == set(theirs.state_dict())
    theirs.load_state_dict({k: torch.from_numpy(np.array(v.data)) for k, v in ours_sd.items()})
    x = _x((4, 3, 28, 28), seed=5)
    xt = torch.from_numpy(x.data.copy()).requires_grad_(True)
    for train in (True, False):
        ours.train(train)
        theirs.train(train)
        out = ours(x)
        out_t = theirs(xt)
        np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-4, atol=1e-4)
    # gradients in training mode (batch statistics)
    ours.train()
    theirs.train()
    ours.zero_grad()
    (ours(x) ** 2).sum().backward()
    (theirs(xt) ** 2).sum().backward()
    tgrads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        g = tgrads[name].grad.numpy()
        np.testing.assert_allclose(p.grad.data, g, rtol=1e-3, atol=1e-4 * np.abs(g).max(), err_msg=name)
    # the running statistics were updated identically (two training passes each)
    np.testing.assert_allclose(ours.layer3[1].bn2.running_var.data, theirs.layer3[1].bn2.running_var.numpy(), rtol=1e-4)


def test_gradients_reach_every_parameter() -> None:
    for residual in (True, False):
        cr.manual_seed(0)
        model = ResNet(8, width=4, residual=residual)
        y = cr.tensor(np.arange(4) % 10)
        F.cross_entropy(model(_x((4, 1, 8, 8))), y).backward()
        for name, p in model.named_parameters():
            assert p.grad is not None, name
            g = p.grad.data
            assert g.dtype == np.float32 and np.all(np.isfinite(g)) and np.abs(g).max() > 0, name


def test_depth_validation() -> None:
    assert resnet_depths("basic", 56) == [8, 14, 20, 26, 32, 38, 44, 50, 56]
    assert resnet_depths("bottleneck", 40) == [11, 20, 29, 38]
    for bad in (2, 7, 21, 0):
        with pytest.raises(ValueError, match=r"6n \+ 2.*8, 14, 20.*got " + str(bad)):
            ResNet(bad)
    with pytest.raises(ValueError, match=r"9n \+ 2.*11, 20, 29.*got 14"):
        ResNet(14, block="bottleneck")
    ResNet(20, width=2, block="bottleneck")  # 20 = 9·2 + 2 is valid for bottlenecks
    with pytest.raises(TypeError, match="depth must be an int"):
        ResNet(20.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="block must be one of"):
        ResNet(20, block="wide")
    with pytest.raises(ValueError, match="width must be >= 1"):
        ResNet(20, width=0)
    with pytest.raises(ValueError, match="zero_init_residual=True needs residual=True"):
        ResNet(20, residual=False, zero_init_residual=True)
    with pytest.raises(TypeError, match="residual must be a bool"):
        BasicBlock(4, 4, residual=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"ResNet.*expected input of shape \(N, 1, H, W\), got shape \(2, 3, 8, 8\)"):
        ResNet(8, width=2)(_x((2, 3, 8, 8)))


def test_tiny_resnet_loss_falls() -> None:
    cr.manual_seed(0)
    model = ResNet(8, width=4, num_classes=3)
    x = _x((12, 1, 8, 8), seed=7)
    y = cr.tensor(np.arange(12) % 3)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(15):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    assert losses[0] > 0.9  # ≈ ln 3 at init
    assert losses[-1] < 0.5 * losses[0]


def test_resnet_vs_plain_example_quick(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("matplotlib")
    import importlib.util
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "examples" / "resnet_vs_plain.py"
    spec = importlib.util.spec_from_file_location("_examples_resnet_vs_plain", path)
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "r.json"
    assert script.main(["--quick", "--depth", "8", "--steps", "4", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert (tmp_path / "r.png").stat().st_size > 1000
    # depth 8: 7 convolutions + the head on the main path; the residual net adds 2 projections
    assert len(res["layers"]) == 8 and res["layers"][-1] == "fc.weight"
    assert len(res["grad_norms"]["plain"]) == 8 and len(res["grad_norms"]["residual"]) == 10
    for norms in res["grad_norms"].values():
        assert all(np.isfinite(v) and v > 0 for v in norms.values())
    assert all(len(v) == 4 and np.all(np.isfinite(v)) for v in res["train_loss"].values())
    # the loss at init is near ln 10 for 10 balanced classes
    assert all(1.5 < v < 3.5 for v in res["init_loss"].values())
