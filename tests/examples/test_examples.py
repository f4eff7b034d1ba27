"""Smoke tests of the reference-result scripts in examples/ (tiny settings, each a few seconds).

The full runs and their measured figures are in examples/README.md; here each script's ``main``
runs with ``--quick`` and one seed, and the numbers it writes are checked against bounds that a
broken pipeline (wrong data, wrong protocol, no learning) would miss.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_examples_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def mnist1d_script() -> ModuleType:
    pytest.importorskip("mnist1d")
    return _load("mnist1d_reference")


# --- MNIST-1D ------------------------------------------------------------------------------------


def test_paper_mlp_has_the_papers_structure(mnist1d_script: ModuleType) -> None:
    import chainrule as cr

    cr.manual_seed(0)
    model = mnist1d_script.build("mlp")
    assert mnist1d_script.n_params(model) == 40 * 100 + 100 + 100 * 100 + 100 + 100 * 10 + 10 == 15210
    assert mnist1d_script.n_params(mnist1d_script.build("logistic")) == 410
    (w1, b1), (w2, b2) = ((lin.weight.data, lin.bias.data) for lin in model.layers)
    w3, b3 = model.head.weight.data, model.head.bias.data
    x = np.random.default_rng(0).standard_normal((5, 40)).astype(np.float32)
    h = np.maximum(x @ w1.T + b1, 0)
    h = h + np.maximum(h @ w2.T + b2, 0)  # the paper's MLPBase: h + relu(linear2(h))
    with cr.no_grad():
        got = model(cr.tensor(x)).data
    np.testing.assert_allclose(got, h @ w3.T + b3, rtol=1e-5, atol=1e-5)


def test_sequential_batches_follow_the_papers_slices(mnist1d_script: ModuleType) -> None:
    sb = mnist1d_script.sequential_batch
    assert sb(0, 100, 4000) == slice(0, 100)
    assert sb(39, 100, 4000) == slice(3900, 4000)
    assert sb(40, 100, 4000) == slice(0, 100)  # wraps: 40 steps per pass over the data
    assert sb(5999, 100, 4000) == slice(3900, 4000)


@pytest.mark.parametrize("k", [1, 3, 7, 39])
def test_roll_rows_is_mnist1d_translate(mnist1d_script: ModuleType, monkeypatch: pytest.MonkeyPatch, k: int) -> None:
    transform = pytest.importorskip("mnist1d.transform")
    x = np.arange(40, dtype=np.float32)
    monkeypatch.setattr(transform.np.random, "choice", lambda n: k)  # translate draws k this way
    expected = transform.translate(x, 48)
    np.testing.assert_array_equal(mnist1d_script.roll_rows(x[None], np.array([k]))[0], expected)


def test_random_shift_rotates_each_row_within_bounds(mnist1d_script: ModuleType) -> None:
    x = np.tile(np.arange(40, dtype=np.float32), (500, 1))
    out = mnist1d_script.random_shift(x, 4, np.random.default_rng(0))
    shifts = (-out[:, 0]) % 40  # row i starts with value (0 - k_i) mod 40
    shifts = np.where(shifts > 20, shifts - 40, shifts)
    assert set(shifts.astype(int).tolist()) == set(range(-4, 5))
    for row, k in zip(out, shifts.astype(int)):
        np.testing.assert_array_equal(row, np.roll(x[0], k))
    assert mnist1d_script.random_shift(x, 0, np.random.default_rng(0)) is x


def test_mnist1d_quick_run(mnist1d_script: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    assert mnist1d_script.main(["--quick", "--seeds", "0", "--out", str(out)]) == 0
    res = json.loads(out.read_text())["results"]
    logistic, mlp, recipe = res["paper_logistic"], res["paper_mlp"], res["recipe_mlp"]
    assert logistic["runs"][0]["params"] == 410 and mlp["runs"][0]["params"] == 15210
    # Logistic regression is near its ceiling (~32 %) within 600 steps; the MLP is far above it.
    assert 0.25 < logistic["final_test_acc"]["mean"] < 0.40
    assert mlp["final_test_acc"]["mean"] > 0.45
    assert recipe["final_test_acc"]["mean"] > 0.40
    for r in (logistic, mlp, recipe):
        run = r["runs"][0]
        assert run["max_test_acc"] >= run["final_test_acc"] == run["curve"][-1][1]


# --- digits --------------------------------------------------------------------------------------


def test_digits_quick_run(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    script = _load("digits_mlp")
    out = tmp_path / "d.json"
    assert script.main(["--quick", "--seeds", "0", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["runs"][0]["params"] == 64 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    assert len(res["runs"][0]["history"]) == 3
    assert res["final_test_acc"]["mean"] > 0.85  # 3 epochs already reach ~95 %


# --- Fashion-MNIST -------------------------------------------------------------------------------


def test_fashion_mnist_quick_run(tmp_path: Path) -> None:
    script = _load("fashion_mnist_mlp")
    out = tmp_path / "f.json"
    try:
        rc = script.main(["--quick", "--quiet", "--seeds", "0", "--out", str(out)])
    except FileNotFoundError:
        pytest.skip("the Fashion-MNIST files are not installed")
    assert rc == 0
    res = json.loads(out.read_text())
    assert res["train_samples"] == 5000 and res["test_samples"] == 10000
    run = res["runs"][0]
    assert run["params"] == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 100 + 100 + 100 * 10 + 10
    assert run["final_test_acc"] > 0.70  # 2 epochs on 5000 images
    assert run["train_seconds_per_epoch"] > 0 and run["wall_seconds_per_epoch"] >= run["train_seconds_per_epoch"]


# --- Fashion-MNIST CNN / ResNet ---------------------------------------------------------------------


@pytest.mark.parametrize(("model", "extra"), [("cnn", []), ("resnet", ["--depth", "8", "--width", "4"])])
def test_fashion_mnist_cnn_quick_run(model: str, extra: list[str], tmp_path: Path) -> None:
    script = _load("fashion_mnist_cnn")
    out = tmp_path / f"{model}.json"
    try:
        rc = script.main(["--model", model, "--quick", "--out", str(out), *extra])
    except FileNotFoundError:
        pytest.skip("the Fashion-MNIST files are not installed")
    assert rc == 0
    res = json.loads(out.read_text())
    assert res["epochs"] == 1 and len(res["history"]) == 1
    assert res["test_acc"] > (0.7 if model == "cnn" else 0.3)  # one epoch on 5000 augmented images
    assert out.with_suffix(".png").stat().st_size > 1000


# --- character-level language models -----------------------------------------------------------


def test_char_lm_quick_run(tmp_path: Path) -> None:
    import shutil

    if shutil.which("bible") is None:
        pytest.skip("Debian's bible-kjv is not installed (.ci/run installs it)")
    script = _load("char_lm")
    assert script.main(["--model", "lstm", "--quick", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "lstm.json").read_text())
    assert res["val_chars"] == 5000 and 2.5 < res["val_bpc"] < 6.5 and res["steps"] >= 1
    assert res["sample"].startswith("And God said") and len(res["sample"]) == len("And God said") + 400
    assert (tmp_path / "curves.png").stat().st_size > 1000 and (tmp_path / "lstm.npz").exists()
