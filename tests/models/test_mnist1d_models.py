"""The MNIST-1D paper's CNN and GRU: shapes, parameter counts, agreement with PyTorch, the script's smoke run."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import functional as F
from chainrule.models.mnist1d import MNIST1DCNN, MNIST1DGRU

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _n_params(model: cr.nn.Module) -> int:
    return sum(p.size for p in model.parameters())


def test_cnn_shapes_and_parameter_count() -> None:
    model = MNIST1DCNN()
    # lengths 40 -> 19 -> 10 -> 5 from L_out = floor((L + 2p - K)/s) + 1
    assert model.out_length == 5
    assert model.linear.weight.shape == (10, 125)
    shapes = {name: p.shape for name, p in model.named_parameters()}
    assert shapes == {
        "conv1.weight": (25, 1, 5),
        "conv1.bias": (25,),
        "conv2.weight": (25, 25, 3),
        "conv2.bias": (25,),
        "conv3.weight": (25, 25, 3),
        "conv3.bias": (25,),
        "linear.weight": (10, 125),
        "linear.bias": (10,),
    }
    assert _n_params(model) == 150 + 1900 + 1900 + 1260 == 5210
    out = model(cr.randn(7, 40))
    assert out.shape == (7, 10) and out.dtype == np.float32


def test_gru_shapes_and_parameter_count() -> None:
    model = MNIST1DGRU()
    assert model.linear.weight.shape == (10, 480)
    gru = 2 * (18 * 1 + 18 * 6 + 18 + 18)
    assert gru == 324
    assert _n_params(model) == gru + 4810 == 5134
    out = model(cr.randn(3, 40))
    assert out.shape == (3, 10) and out.dtype == np.float32
    uni = MNIST1DGRU(hidden=4, num_classes=3, bidirectional=False)
    assert uni.linear.weight.shape == (3, 160)
    assert _n_params(uni) == (12 + 48 + 24) + 483


@pytest.mark.parametrize(
    ("make", "x", "err"),
    [
        (MNIST1DCNN, np.zeros((2, 41), np.float32), ValueError),
        (MNIST1DCNN, np.zeros((2, 1, 40), np.float32), ValueError),
        (MNIST1DGRU, np.zeros((2, 39), np.float32), ValueError),
    ],
)
def test_wrong_input_shape_raises(make: Any, x: np.ndarray, err: type[Exception]) -> None:
    with pytest.raises(err, match=r"\(N, 40\)"):
        make()(cr.tensor(x))


def test_bad_constructor_arguments_raise() -> None:
    with pytest.raises(ValueError, match="channels"):
        MNIST1DCNN(channels=0)
    with pytest.raises(TypeError, match="hidden"):
        MNIST1DGRU(hidden=2.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="bidirectional"):
        MNIST1DGRU(bidirectional=1)  # type: ignore[arg-type]


def _torch_twin(model: cr.nn.Module) -> Any:
    """The paper's ConvBase / GRUBase in PyTorch with this model's weights."""
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class ConvBase(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv1d(1, 25, 5, stride=2, padding=1)
            self.conv2 = nn.Conv1d(25, 25, 3, stride=2, padding=1)
            self.conv3 = nn.Conv1d(25, 25, 3, stride=2, padding=1)
            self.linear = nn.Linear(125, 10)

        def forward(self, x: Any) -> Any:
            x = x.view(-1, 1, x.shape[-1])
            h = self.conv3(self.conv2(self.conv1(x).relu()).relu()).relu()
            return self.linear(h.view(h.shape[0], -1))

    class GRUBase(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.GRU(1, 6, batch_first=True, bidirectional=True)
            self.linear = nn.Linear(480, 10)

        def forward(self, x: Any) -> Any:
            out, _ = self.rnn(x.view(*x.shape[:2], 1))
            return self.linear(out.reshape(out.shape[0], -1))

    twin = (ConvBase if isinstance(model, MNIST1DCNN) else GRUBase)().double()
    twin.load_state_dict({k: torch.from_numpy(v.data.astype(np.float64)) for k, v in model.named_parameters()})
    return twin


@pytest.mark.parametrize("make", [MNIST1DCNN, MNIST1DGRU])
def test_matches_the_papers_pytorch_model(make: Any) -> None:
    torch = pytest.importorskip("torch")
    cr.manual_seed(0)
    model = make().to(cr.float64)
    twin = _torch_twin(model)
    x = np.random.default_rng(1).standard_normal((5, 40))
    y = np.array([0, 3, 9, 1, 3])
    loss = F.cross_entropy(model(cr.tensor(x)), cr.tensor(y))
    loss.backward()
    tloss = torch.nn.functional.cross_entropy(twin(torch.from_numpy(x)), torch.from_numpy(y))
    tloss.backward()
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-10)
    tgrads = dict(twin.named_parameters())
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad.data, tgrads[name].grad.numpy(), rtol=1e-8, atol=1e-12, err_msg=name)


def test_script_quick_run(tmp_path: Path) -> None:
    pytest.importorskip("mnist1d")
    name = "_examples_mnist1d_cnn_gru"
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / "mnist1d_cnn_gru.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    sys.modules[name] = script
    spec.loader.exec_module(script)
    out = tmp_path / "r.json"
    assert script.main(["--quick", "--seeds", "0", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert set(res["results"]) == {"paper_cnn", "paper_gru", "recipe_cnn"}
    assert res["results"]["paper_cnn"]["runs"][0]["params"] == 5210
    assert res["results"]["paper_gru"]["runs"][0]["params"] == 5134
    assert res["protocol"]["steps"] == {"cnn": 100, "gru": 20}
    # 100 sequential Adam steps take the CNN far above chance (10 %); seed 0 reached 58 %
    assert res["results"]["paper_cnn"]["final_test_acc"]["mean"] > 0.35
    for part in res["results"].values():
        assert 0.0 <= part["final_test_acc"]["mean"] <= 1.0
