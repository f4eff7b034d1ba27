"""The dataset registry: digits, mnist1d (generated + cached), IDX/CIFAR lookup, synthetic sets."""

import math
import pickle
import random
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import (
    DataLoader,
    TensorDataset,
    available_datasets,
    data_dir,
    datasets,
    load_dataset,
    make_circles,
    make_moons,
    make_spirals,
    write_idx,
)
from chainrule.data.formats import ForbiddenGlobalError

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No $CHAINRULE_DATA, a fresh home, and no system data dirs: only what a test puts in place."""
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(datasets, "SYSTEM_DATA_DIRS", (tmp_path / "system",))
    return tmp_path


def test_registry_lists_every_dataset_with_a_description():
    avail = available_datasets()
    assert set(avail) == {"digits", "mnist1d", "fashion-mnist", "mnist", "cifar10", "moons", "spirals", "circles"}
    for desc in avail.values():
        assert isinstance(desc, str) and desc and "\n" not in desc
    with pytest.raises(ValueError, match=r"unknown dataset 'nope'; available: cifar10, circles, digits"):
        load_dataset("nope")
    with pytest.raises(ValueError, match="split must be 'train' or 'test', got 'val'"):
        load_dataset("moons", split="val")


def test_data_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "env"))
    assert data_dir(tmp_path / "root") == tmp_path / "root"
    assert data_dir() == tmp_path / "env"
    monkeypatch.delenv("CHAINRULE_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_dir() == tmp_path / "home" / ".cache" / "chainrule"


# --- digits ---------------------------------------------------------------------------------------


def test_digits_shapes_range_and_stratification():
    pytest.importorskip("sklearn")
    train, test = load_dataset("digits", split="train"), load_dataset("digits", split="test")
    xtr, ytr = (t.numpy() for t in train.tensors)
    xte, yte = (t.numpy() for t in test.tensors)
    assert xtr.shape == (1437, 64) and xte.shape == (360, 64)
    assert xtr.dtype == np.float32 and ytr.dtype == np.int64
    assert xtr.min() == 0.0 and xtr.max() == 1.0  # pixel counts 0..16 divided by 16
    assert np.all(np.isin(xtr * 16, np.arange(17)))
    counts = np.bincount(ytr, minlength=10) + np.bincount(yte, minlength=10)
    from sklearn.datasets import load_digits

    np.testing.assert_array_equal(counts, np.bincount(load_digits().target))
    # Stratified: each class's test count is its 20% share of the class, within one sample.
    assert np.all(np.abs(np.bincount(yte, minlength=10) - counts * 360 / 1797) <= 1)
    again = load_dataset("digits", split="test")
    np.testing.assert_array_equal(again.tensors[0].numpy(), xte)  # a fixed split


# --- mnist1d --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist1d_root(tmp_path_factory):
    pytest.importorskip("mnist1d")
    root = tmp_path_factory.mktemp("mnist1d")
    np.random.seed(1234)
    random.seed(1234)
    before = np.random.random(), random.random()
    np.random.seed(1234)
    random.seed(1234)
    train = load_dataset("mnist1d", root=root, split="train")  # generates and writes the cache
    after = np.random.random(), random.random()
    return root, train, before, after


def test_mnist1d_generated_shapes_and_statistics(mnist1d_root):
    root, train, before, after = mnist1d_root
    test = load_dataset("mnist1d", root=root, split="test")
    x, y = (t.numpy() for t in train.tensors)
    xt, yt = (t.numpy() for t in test.tensors)
    assert x.shape == (4000, 40) and xt.shape == (1000, 40)
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert set(np.unique(np.concatenate([y, yt]))) == set(range(10))
    # make_dataset draws 500 signals per digit, then centres and scales all 5000 to unit std.
    np.testing.assert_array_equal(np.bincount(np.concatenate([y, yt])), np.full(10, 500))
    both = np.concatenate([x, xt]).astype(np.float64)
    assert abs(both.mean()) < 1e-5 and abs(both.std() - 1.0) < 1e-5
    assert before == after  # the caller's global NumPy/Python random state was put back


def test_mnist1d_cache_round_trip(mnist1d_root, monkeypatch):
    root, train, _, _ = mnist1d_root
    cache = root / "mnist1d" / "mnist1d_seed42.npz"
    assert cache.is_file()
    assert [p.name for p in cache.parent.iterdir()] == ["mnist1d_seed42.npz"]  # no temp files left
    with np.load(cache, allow_pickle=False) as f:
        assert sorted(f.files) == ["x", "x_test", "y", "y_test"]
        np.testing.assert_array_equal(f["x"], train.tensors[0].numpy())

    def no_generation():
        raise AssertionError("regenerated although the cache is valid")

    monkeypatch.setattr(datasets, "_mnist1d_generate", no_generation)
    again = load_dataset("mnist1d", root=root, split="train")
    np.testing.assert_array_equal(again.tensors[0].numpy(), train.tensors[0].numpy())
    np.testing.assert_array_equal(again.tensors[1].numpy(), train.tensors[1].numpy())


def _fake_mnist1d():
    rng = np.random.default_rng(0)
    return {
        "x": rng.standard_normal((4000, 40)).astype(np.float32),
        "y": rng.integers(0, 10, 4000),
        "x_test": rng.standard_normal((1000, 40)).astype(np.float32),
        "y_test": rng.integers(0, 10, 1000),
    }


def test_mnist1d_damaged_cache_is_rebuilt_and_env_dir_used(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(datasets, "_mnist1d_generate", lambda: calls.append(1) or _fake_mnist1d())
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path))
    cache = tmp_path / "mnist1d" / "mnist1d_seed42.npz"
    cache.parent.mkdir()
    cache.write_bytes(b"not a zip file")
    ds = load_dataset("mnist1d", split="test")  # root=None -> $CHAINRULE_DATA
    assert calls == [1] and len(ds) == 1000
    np.testing.assert_array_equal(ds.tensors[0].numpy(), _fake_mnist1d()["x_test"])
    load_dataset("mnist1d", split="train")
    assert calls == [1]  # the rebuilt cache is read back
    # A cache with the wrong shapes is rebuilt too.
    bad = _fake_mnist1d()
    bad["x"] = bad["x"][:10]
    np.savez(cache, **bad)
    load_dataset("mnist1d", split="train")
    assert calls == [1, 1]


# --- fashion-mnist / mnist (IDX files) ------------------------------------------------------------


@pytest.fixture(scope="module")
def fashion():
    if not (FASHION_DIR / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"Fashion-MNIST not installed at {FASHION_DIR} (apt-get install dataset-fashion-mnist)")
    return load_dataset("fashion-mnist", split="train"), load_dataset("fashion-mnist", split="test")


def test_fashion_mnist_real_files(fashion):
    train, test = fashion
    x, y = (t.numpy() for t in train.tensors)
    xt, yt = (t.numpy() for t in test.tensors)
    assert x.shape == (60000, 1, 28, 28) and xt.shape == (10000, 1, 28, 28)
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    # Known facts: 6000 / 1000 images per class; mean pixel 0.2860 (train) and 0.2868 (test).
    np.testing.assert_array_equal(np.bincount(y), np.full(10, 6000))
    np.testing.assert_array_equal(np.bincount(yt), np.full(10, 1000))
    assert abs(x.mean(dtype=np.float64) - 0.2860) < 1e-3
    assert abs(xt.mean(dtype=np.float64) - 0.2868) < 1e-3
    assert y[:5].tolist() == [9, 0, 0, 3, 0]  # the first labels of train-labels-idx1-ubyte
    xb, yb = next(iter(DataLoader(train, batch_size=256, shuffle=True, generator=np.random.default_rng(0))))
    assert xb.shape == (256, 1, 28, 28) and yb.shape == (256,)


def _fake_idx(directory, prefix, n, gz=True, dot=False, label_shift=0, n_labels=None):
    rng = np.random.default_rng(n)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n if n_labels is None else n_labels) % 10 + label_shift).astype(np.uint8)
    sep = "." if dot else "-"
    ext = ".gz" if gz else ""
    write_idx(Path(directory) / f"{prefix}-images{sep}idx3-ubyte{ext}", images)
    write_idx(Path(directory) / f"{prefix}-labels{sep}idx1-ubyte{ext}", labels)
    return images, labels


@pytest.mark.parametrize(("gz", "dot"), [(True, False), (False, False), (False, True)])
def test_mnist_from_user_files(isolated, gz, dot):
    images, labels = _fake_idx(isolated / "mine", "t10k", 12, gz=gz, dot=dot)
    ds = load_dataset("mnist", root=isolated / "mine", split="test")
    x, y = (t.numpy() for t in ds.tensors)
    assert x.shape == (12, 1, 28, 28) and x.dtype == np.float32
    np.testing.assert_array_equal(x[:, 0], images.astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(y, labels)


def test_idx_lookup_order(isolated, monkeypatch):
    # $CHAINRULE_DATA/fashion-mnist is used when no root is given; a root given wins over it.
    env_images, _ = _fake_idx(isolated / "env" / "fashion-mnist", "train", 3)
    monkeypatch.setenv("CHAINRULE_DATA", str(isolated / "env"))
    np.testing.assert_array_equal(
        load_dataset("fashion-mnist").tensors[0].numpy()[:, 0] * 255, env_images.astype(np.float32)
    )
    _fake_idx(isolated / "root" / "fashion-mnist", "train", 5)
    assert len(load_dataset("fashion-mnist", root=isolated / "root")) == 5
    # The system directory comes last.
    monkeypatch.delenv("CHAINRULE_DATA")
    _fake_idx(isolated / "system" / "fashion-mnist", "train", 4)
    assert len(load_dataset("fashion-mnist")) == 4


def test_idx_missing_files_message(isolated):
    with pytest.raises(FileNotFoundError) as e:
        load_dataset("fashion-mnist", root=isolated / "nowhere", split="test")
    msg = str(e.value)
    assert "t10k-images-idx3-ubyte" in msg and str(isolated / "nowhere") in msg
    assert str(isolated / "system" / "fashion-mnist") in msg and "apt-get install dataset-fashion-mnist" in msg
    _fake_idx(isolated / "half", "train", 3)
    (isolated / "half" / "train-labels-idx1-ubyte.gz").unlink()  # images without labels do not count
    with pytest.raises(FileNotFoundError, match="MNIST train files"):
        load_dataset("mnist", root=isolated / "half")


def test_idx_inconsistent_files(isolated):
    _fake_idx(isolated / "a", "train", 6, n_labels=5)
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte.gz.*\(5,\), expected uint8 \(6,\)"):
        load_dataset("mnist", root=isolated / "a")
    _fake_idx(isolated / "b", "train", 6, label_shift=5)
    with pytest.raises(ValueError, match=r"labels up to 10, expected 0\.\.9"):
        load_dataset("mnist", root=isolated / "b")
    write_idx(isolated / "c" / "train-images-idx3-ubyte", np.zeros((2, 28, 27), np.uint8))
    write_idx(isolated / "c" / "train-labels-idx1-ubyte", np.zeros(2, np.uint8))
    with pytest.raises(ValueError, match=r"uint8 \(2, 28, 27\), expected uint8 \(N, 28, 28\)"):
        load_dataset("mnist", root=isolated / "c")


# --- cifar10 --------------------------------------------------------------------------------------


def _cifar_dir(directory, n=3):
    directory.mkdir(parents=True)
    batches = {}
    for k, name in enumerate([*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]):
        rng = np.random.default_rng(k)
        d = {
            b"batch_label": name.encode(),
            b"labels": [int(v) for v in rng.integers(0, 10, n)],
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"filenames": [b"f.png"] * n,
        }
        (directory / name).write_bytes(pickle.dumps(d, protocol=2))
        batches[name] = d
    return batches


def test_cifar10_from_user_files(isolated):
    batches = _cifar_dir(isolated / "dl" / "cifar-10-batches-py")
    train = load_dataset("cifar10", root=isolated / "dl", split="train")  # the parent directory works
    test = load_dataset("cifar10", root=isolated / "dl" / "cifar-10-batches-py", split="test")
    x, y = (t.numpy() for t in train.tensors)
    assert x.shape == (15, 3, 32, 32) and x.dtype == np.float32 and y.dtype == np.int64
    expected = np.concatenate([batches[f"data_batch_{i}"][b"data"] for i in range(1, 6)])
    np.testing.assert_array_equal(x.reshape(15, 3072), expected.astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(y, np.concatenate([batches[f"data_batch_{i}"][b"labels"] for i in range(1, 6)]))
    np.testing.assert_array_equal(test.tensors[1].numpy(), batches["test_batch"][b"labels"])


def test_cifar10_missing_and_hostile(isolated):
    with pytest.raises(FileNotFoundError, match=r"(?s)data_batch_1.*Looked in.*cifar-10-python.tar.gz"):
        load_dataset("cifar10", root=isolated / "none")
    _cifar_dir(isolated / "evil")

    class Evil:
        def __reduce__(self):
            return (exec, ("import os",))

    (isolated / "evil" / "test_batch").write_bytes(pickle.dumps({b"data": Evil(), b"labels": [0]}, protocol=2))
    with pytest.raises(ForbiddenGlobalError, match=r"test_batch.*global (__builtin__|builtins)\.exec"):
        load_dataset("cifar10", root=isolated / "evil", split="test")


# --- synthetic ------------------------------------------------------------------------------------


def test_moons_geometry_and_determinism():
    x, y = make_moons(101, generator=np.random.default_rng(0))
    assert x.shape == (101, 2) and x.dtype == np.float32 and y.dtype == np.int64
    xn, yn = x.numpy().astype(np.float64), y.numpy()
    assert np.bincount(yn).tolist() == [50, 51]
    np.testing.assert_allclose(np.hypot(*xn[yn == 0].T), 1.0, atol=1e-6)  # unit circle at the origin
    np.testing.assert_allclose(np.hypot(*(xn[yn == 1] - [1.0, 0.5]).T), 1.0, atol=1e-6)  # ... at (1, ½)
    assert np.all(xn[yn == 0, 1] >= -1e-7) and np.all(xn[yn == 1, 1] <= 0.5 + 1e-7)  # upper / lower halves
    a, _ = make_moons(50, noise=0.1, generator=np.random.default_rng(3))
    b, _ = make_moons(50, noise=0.1, generator=np.random.default_rng(3))
    c, _ = make_moons(50, noise=0.1, generator=np.random.default_rng(4))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(a.numpy(), c.numpy())
    cr.manual_seed(2)
    g1 = make_moons(20, noise=0.2)[0].numpy()
    cr.manual_seed(2)
    np.testing.assert_array_equal(make_moons(20, noise=0.2)[0].numpy(), g1)


def test_moons_noise_is_gaussian_with_the_given_std():
    # Circles with factor→ two rings; on the outer (unit) ring the radial error of p + e, e ~ N(0, σ²I),
    # has standard deviation ≈ σ and the tangential one too, so |x|−1 spreads by σ.
    x, y = make_moons(8000, noise=0.05, generator=np.random.default_rng(0))
    outer = x.numpy()[y.numpy() == 0].astype(np.float64)
    radial = np.hypot(*outer.T) - 1.0
    assert abs(radial.std() - 0.05) < 0.003 and abs(radial.mean()) < 0.003


def test_circles_geometry():
    x, y = make_circles(40, factor=0.3, generator=np.random.default_rng(0))
    xn, yn = x.numpy().astype(np.float64), y.numpy()
    np.testing.assert_allclose(np.hypot(*xn[yn == 0].T), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.hypot(*xn[yn == 1].T), 0.3, atol=1e-6)
    angles = np.sort(np.mod(np.arctan2(xn[yn == 0, 1], xn[yn == 0, 0]), 2 * math.pi))
    np.testing.assert_allclose(np.diff(angles), 2 * math.pi / 20, atol=1e-5)  # evenly spaced
    with pytest.raises(ValueError, match=r"factor must lie in \(0, 1\)"):
        make_circles(10, factor=1.0)


def test_spirals_geometry():
    x, y = make_spirals(100, classes=4, generator=np.random.default_rng(0))
    xn, yn = x.numpy().astype(np.float64), y.numpy()
    assert np.bincount(yn).tolist() == [25, 25, 25, 25]
    r = np.hypot(xn[:, 0], xn[:, 1])
    keep = r > 1e-3
    theta = np.arctan2(xn[keep, 1], xn[keep, 0])
    expected = 2 * math.pi * (yn[keep] / 4 + r[keep])  # θ = 2π (k/K + turns·r), turns = 1
    np.testing.assert_allclose(np.cos(theta - expected), 1.0, atol=1e-6)
    _, y3 = make_spirals(10, classes=3, generator=np.random.default_rng(0))
    assert np.bincount(y3.numpy()).tolist() == [4, 3, 3]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: make_moons(1), "n_samples must be an int >= 2"),
        (lambda: make_moons(10, noise=-0.1), "noise must be a number >= 0"),
        (lambda: make_spirals(10, classes=1), "classes must be an int in 2..n_samples"),
        (lambda: make_spirals(10, turns=0), "turns must be > 0"),
        (lambda: make_circles(10, generator=1), "generator must be a numpy.random.Generator"),
    ],
)
def test_synthetic_errors(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


@pytest.mark.parametrize(
    ("name", "n_train", "n_test", "classes"),
    [("moons", 800, 200, 2), ("spirals", 720, 180, 3), ("circles", 800, 200, 2)],
)
def test_synthetic_registry_splits(name, n_train, n_test, classes):
    train, test = load_dataset(name, split="train"), load_dataset(name, split="test")
    assert isinstance(train, TensorDataset) and (len(train), len(test)) == (n_train, n_test)
    assert train.tensors[0].shape == (n_train, 2) and train.tensors[0].dtype == np.float32
    assert set(np.unique(train.tensors[1].numpy())) == set(range(classes))
    again = load_dataset(name, split="train")
    np.testing.assert_array_equal(again.tensors[0].numpy(), train.tensors[0].numpy())  # fixed seed
    rows = {tuple(r) for r in train.tensors[0].numpy().tolist()}
    assert not rows & {tuple(r) for r in test.tensors[0].numpy().tolist()}  # disjoint splits
