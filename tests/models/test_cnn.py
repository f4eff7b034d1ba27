"""The small image CNN, the input-shape adapter of build_model, and the classifiers on the CLI."""

import json

import numpy as np
import pytest

import chainrule as cr
from chainrule import functional as F
from chainrule import nn, optim
from chainrule.cli import main
from chainrule.data import DataLoader, load_dataset
from chainrule.models import MNIST1DCNN, MNIST1DGRU, ConvNet, ResNet, build_model
from chainrule.optim.lr_scheduler import OneCycleLR
from chainrule.train import Trainer


def test_convnet_shapes_and_errors():
    m = ConvNet(1, 10, (28, 28), channels=(8, 16), hidden=32)
    assert m(cr.randn(2, 1, 28, 28)).shape == (2, 10)
    assert m.fc1.in_features == 16 * 7 * 7
    with pytest.raises(ValueError, match=r"ConvNet.*\(N, 1, 28, 28\), got \(2, 3, 28, 28\)"):
        m(cr.randn(2, 3, 28, 28))
    with pytest.raises(ValueError, match="at least"):
        ConvNet(1, 10, (3, 3))
    bn = ConvNet(1, 10, (28, 28), batch_norm=True)
    assert isinstance(bn.bn1, nn.BatchNorm2d) and bn.conv1.bias is None


def test_unflatten_inverts_flatten():
    x = cr.randn(3, 2, 4, 5)
    u = nn.Unflatten(1, (2, 4, 5))
    np.testing.assert_array_equal(u(nn.Flatten()(x)).data, x.data)
    with pytest.raises(ValueError, match="sizes"):
        u(cr.randn(3, 39))


def test_build_model_adapts_to_the_input_shape():
    digits = build_model("cnn", (64,), 10)  # a flat 8×8 image
    assert isinstance(digits, nn.Sequential) and isinstance(digits[1], ConvNet)
    assert digits(cr.randn(4, 64)).shape == (4, 10)
    assert isinstance(build_model("cnn", (40,), 10), MNIST1DCNN)  # a 1-d signal
    assert isinstance(build_model("cnn", (1, 28, 28), 10), ConvNet)
    res = build_model("resnet", (3, 32, 32), 10, depth=8, width=4)
    assert isinstance(res, ResNet) and res(cr.randn(2, 3, 32, 32)).shape == (2, 10)
    assert isinstance(build_model("gru", (40,), 10), MNIST1DGRU)
    assert build_model("mlp", 64, 10)(cr.randn(2, 64)).shape == (2, 10)  # an int still means a flat vector
    with pytest.raises(ValueError, match=r"gru.*1-d signals"):
        build_model("gru", (1, 28, 28), 10)
    with pytest.raises(ValueError, match=r"resnet.*input shape \(50,\)"):
        build_model("resnet", (50,), 10)
    with pytest.raises(ValueError, match="build_lm"):
        build_model("gpt", (64,), 10)


def test_cnn_on_digits_beyond_95_percent_in_seconds():
    cr.manual_seed(0)
    train, test = load_dataset("digits", split="train"), load_dataset("digits", split="test")
    model = build_model("cnn", (64,), 10, channels=(16, 32), hidden=128, dropout=0.1)
    opt = optim.Adam(model.parameters(), lr=5e-3)
    loader = DataLoader(train, batch_size=32, shuffle=True, generator=np.random.default_rng(0))
    sched = OneCycleLR(opt, max_lr=5e-3, total_steps=8 * len(loader))
    t = Trainer(
        model, opt, F.cross_entropy, loader, DataLoader(test, batch_size=360),
        scheduler=sched, scheduler_interval="step", progress=False,
    )  # fmt: skip
    assert t.fit(8, log=None).rows[-1]["test_acc"] > 0.95  # 96.7-98.3 % over seeds 0-2


@pytest.mark.parametrize(
    ("model", "extra", "floor"),
    [("cnn", [], 0.9), ("resnet", ["--depth", "8", "--width", "8"], 0.5), ("gru", ["--hidden", "8"], 0.15)],
)
def test_cli_trains_and_evaluates_each_classifier(model, extra, floor, tmp_path, capsys):
    out = tmp_path / model
    epochs = "4" if model == "cnn" else "1"
    argv = ["train", "--model", model, "--epochs", epochs, "--lr", "3e-3", "--quiet", "--out", str(out), *extra]
    assert main(argv) == 0
    capsys.readouterr()
    hist = json.loads((out / "history.json").read_text())["epochs"]
    assert hist[-1]["test_acc"] > floor
    assert main(["evaluate", str(out / "last.npz")]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert abs(res["test_acc"] - hist[-1]["test_acc"]) < 1e-9


def test_resnet_stem_pool_halves_the_resolution():
    cr.manual_seed(0)
    plain, pooled = ResNet(8, width=4), ResNet(8, width=4, stem_pool=True)
    assert plain(cr.randn(2, 1, 28, 28)).shape == pooled(cr.randn(2, 1, 28, 28)).shape == (2, 10)
    assert sum(p.size for p in plain.parameters()) == sum(p.size for p in pooled.parameters())
    x = cr.randn(1, 1, 28, 28)
    stem = F.relu(pooled.bn1(pooled.conv1(x)))
    assert pooled.layer1(F.max_pool2d(stem, 3, stride=2, padding=1)).shape == (1, 4, 14, 14)
    assert "stem_pool=True" in repr(pooled)
