"""Datasets, random_split, DataLoader (batching, shuffling, fast path, collate) and transforms."""

import math
from collections import namedtuple

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import (
    Compose,
    ConcatDataset,
    DataLoader,
    Dataset,
    Flatten,
    Normalize,
    OneHot,
    Subset,
    TensorDataset,
    default_collate,
    normalize,
    one_hot,
    random_split,
    standardize,
)
from chainrule.testing import gradcheck


def _xy(n=10, d=3):
    x = np.arange(n * d, dtype=np.float32).reshape(n, d)
    y = np.arange(n, dtype=np.int64) % 4
    return x, y


class _Plain(Dataset):
    """A dataset the DataLoader cannot recognise: forces the per-sample (collate) path."""

    def __init__(self, inner):
        self.inner = inner

    def __getitem__(self, i):
        return self.inner[i]

    def __len__(self):
        return len(self.inner)


# --- datasets -------------------------------------------------------------------------------------


def test_tensor_dataset_samples():
    x, y = _xy()
    ds = TensorDataset(cr.tensor(x), y)  # a Tensor and a numpy array
    assert len(ds) == 10
    xi, yi = ds[7]
    np.testing.assert_array_equal(xi.numpy(), x[7])
    assert yi.item() == 3 and yi.dtype == np.int64
    np.testing.assert_array_equal(ds[-1][0].numpy(), x[9])
    with pytest.raises(IndexError, match="index 10 is out of range for a dataset of 10"):
        ds[10]
    with pytest.raises(TypeError, match="index must be an int, got float"):
        ds[1.0]


def test_tensor_dataset_errors():
    with pytest.raises(ValueError, match=r"first dimensions \[10, 9\] \(shapes \(10, 3\), \(9,\)\)"):
        TensorDataset(cr.zeros(10, 3), cr.zeros(9))
    with pytest.raises(ValueError, match="at least one tensor"):
        TensorDataset()
    with pytest.raises(ValueError, match="argument 1 is 0-d"):
        TensorDataset(cr.zeros(3), cr.tensor(1.0))
    with pytest.raises(TypeError, match="argument 0 must be a Tensor or numpy array, got list"):
        TensorDataset([1, 2])


def test_subset_and_concat():
    x, y = _xy()
    ds = TensorDataset(x, y)
    sub = Subset(ds, [4, -1, 0])
    assert len(sub) == 3
    assert [int(sub[j][1].item()) for j in range(3)] == [y[4], y[9], y[0]]
    with pytest.raises(IndexError, match="out of range for 10"):
        Subset(ds, [10])
    cat = ConcatDataset([ds, sub])
    assert len(cat) == 13 and cat.cumulative_sizes == [10, 13]
    np.testing.assert_array_equal(cat[11][0].numpy(), x[9])
    np.testing.assert_array_equal((ds + sub)[10][0].numpy(), x[4])
    with pytest.raises(IndexError):
        cat[13]


# --- random_split ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "lengths", "sizes"),
    [
        (10, [7, 3], [7, 3]),
        (10, [0.8, 0.2], [8, 2]),
        (10, [1 / 3, 1 / 3, 1 / 3], [4, 3, 3]),  # floor 3 each, remainder 1 to the first split
        (11, [0.5, 0.5], [6, 5]),
        (7, [0.1, 0.2, 0.3, 0.4], [1, 2, 2, 2]),  # floors 0,1,2,2 sum 5 -> +1 to the first two
    ],
)
def test_random_split_sizes_and_partition(n, lengths, sizes):
    ds = TensorDataset(np.arange(n))
    parts = random_split(ds, lengths, generator=np.random.default_rng(0))
    assert [len(p) for p in parts] == sizes
    all_idx = np.concatenate([p.indices for p in parts])
    assert sorted(all_idx.tolist()) == list(range(n))  # disjoint and covering


def test_random_split_sizes_match_pytorch():
    torch = pytest.importorskip("torch")
    for n, fracs in [(10, [1 / 3] * 3), (7, [0.1, 0.2, 0.3, 0.4]), (101, [0.8, 0.1, 0.1])]:
        ours = [len(p) for p in random_split(TensorDataset(np.arange(n)), fracs, generator=np.random.default_rng(0))]
        theirs = [len(p) for p in torch.utils.data.random_split(range(n), fracs)]
        assert ours == theirs


def test_random_split_reproducible():
    ds = TensorDataset(np.arange(50))
    a = random_split(ds, [0.6, 0.4], generator=np.random.default_rng(3))
    b = random_split(ds, [0.6, 0.4], generator=np.random.default_rng(3))
    c = random_split(ds, [0.6, 0.4], generator=np.random.default_rng(4))
    np.testing.assert_array_equal(a[0].indices, b[0].indices)
    assert not np.array_equal(a[0].indices, c[0].indices)
    # The permutation is exactly the generator's: split 0 is its first 30 entries.
    np.testing.assert_array_equal(a[0].indices, np.random.default_rng(3).permutation(50)[:30])
    cr.manual_seed(11)
    g1 = random_split(ds, [25, 25])
    cr.manual_seed(11)
    g2 = random_split(ds, [25, 25])
    np.testing.assert_array_equal(g1[1].indices, g2[1].indices)


def test_random_split_errors():
    ds = TensorDataset(np.arange(10))
    with pytest.raises(ValueError, match=r"lengths \[5, 4\] sum to 9, but the dataset has 10"):
        random_split(ds, [5, 4])
    with pytest.raises(ValueError, match="non-negative"):
        random_split(ds, [11, -1])
    with pytest.raises(ValueError, match="sum to 1"):
        random_split(ds, [0.5, 0.6])
    with pytest.raises(ValueError, match="must not be empty"):
        random_split(ds, [])
    with pytest.raises(TypeError, match=r"generator must be a numpy.random.Generator"):
        random_split(ds, [5, 5], generator=3)


# --- DataLoader -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "b", "drop_last", "sizes"),
    [
        (10, 3, False, [3, 3, 3, 1]),
        (10, 3, True, [3, 3, 3]),
        (9, 3, True, [3, 3, 3]),
        (2, 5, True, []),
        (2, 5, False, [2]),
    ],
)
def test_loader_batches_in_order(n, b, drop_last, sizes):
    x, y = _xy(n)
    for ds in (TensorDataset(x, y), _Plain(TensorDataset(x, y))):
        loader = DataLoader(ds, batch_size=b, drop_last=drop_last)
        assert len(loader) == len(sizes) == (n // b if drop_last else math.ceil(n / b))
        batches = list(loader)
        assert [len(bx) for bx, _ in batches] == sizes
        if sizes:
            got_x = np.concatenate([bx.numpy() for bx, _ in batches])
            got_y = np.concatenate([by.numpy() for _, by in batches])
            np.testing.assert_array_equal(got_x, x[: len(got_x)])
            np.testing.assert_array_equal(got_y, y[: len(got_y)])
            assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.int64
            assert isinstance(batches[0], tuple)


def test_loader_shuffle_is_the_generator_permutation_and_reshuffles():
    x, y = _xy(12)
    loader = DataLoader(TensorDataset(x, y), batch_size=5, shuffle=True, generator=np.random.default_rng(7))
    first = list(loader)
    assert [len(by) for _, by in first] == [5, 5, 2]
    ref = np.random.default_rng(7)
    p1, p2 = ref.permutation(12), ref.permutation(12)
    np.testing.assert_array_equal(np.concatenate([bx.numpy() for bx, _ in first]), x[p1])
    np.testing.assert_array_equal(np.concatenate([by.numpy() for _, by in first]), y[p1])
    second = np.concatenate([bx.numpy() for bx, _ in loader])
    np.testing.assert_array_equal(second, x[p2])  # the second pass draws a new permutation
    assert not np.array_equal(p1, p2)


def test_loader_reproducible_from_seed_and_global_generator():
    x, y = _xy(20)
    ds = TensorDataset(x, y)

    def passes(loader):
        return [np.concatenate([bx.numpy() for bx, _ in loader]) for _ in range(3)]

    a = passes(DataLoader(ds, 4, shuffle=True, generator=np.random.default_rng(1)))
    b = passes(DataLoader(ds, 4, shuffle=True, generator=np.random.default_rng(1)))
    for pa, pb in zip(a, b):
        np.testing.assert_array_equal(pa, pb)
    assert not np.array_equal(a[0], a[1])
    cr.manual_seed(5)
    g1 = passes(DataLoader(ds, 4, shuffle=True))
    cr.manual_seed(5)  # replaces the global generator; the loader looks it up at each pass
    g2 = passes(DataLoader(ds, 4, shuffle=True))
    for pa, pb in zip(g1, g2):
        np.testing.assert_array_equal(pa, pb)


@pytest.mark.parametrize("drop_last", [False, True])
def test_fast_path_equals_collate_path(drop_last):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((23, 2, 3)).astype(np.float32)
    y = rng.integers(0, 5, 23)
    ds = TensorDataset(x, y)
    train, _ = random_split(ds, [0.7, 0.3], generator=np.random.default_rng(2))
    for fast, slow in [
        (ds, _Plain(ds)),
        (train, _Plain(train)),
        (Subset(train, [3, 1, 2]), _Plain(Subset(train, [3, 1, 2]))),
    ]:
        lf = DataLoader(fast, 4, shuffle=True, drop_last=drop_last, generator=np.random.default_rng(9))
        ls = DataLoader(slow, 4, shuffle=True, drop_last=drop_last, generator=np.random.default_rng(9))
        for _ in range(2):
            bf, bs = list(lf), list(ls)
            assert len(bf) == len(bs) == len(lf)
            for (fx, fy), (sx, sy) in zip(bf, bs):
                assert fx.dtype == sx.dtype and fy.dtype == sy.dtype
                np.testing.assert_array_equal(fx.numpy(), sx.numpy())
                np.testing.assert_array_equal(fy.numpy(), sy.numpy())


def test_fast_path_does_not_index_samples(monkeypatch):
    ds = TensorDataset(*_xy(10))

    def fail(self, i):
        raise AssertionError("per-sample __getitem__ called on the fast path")

    monkeypatch.setattr(TensorDataset, "__getitem__", fail)
    assert sum(len(bx) for bx, _ in DataLoader(ds, 3, shuffle=True, generator=np.random.default_rng(0))) == 10
    assert sum(len(bx) for bx, _ in DataLoader(random_split(ds, [5, 5])[0], 2)) == 5


def test_fast_path_batches_do_not_alias_the_dataset():
    x, y = _xy(6)
    ds = TensorDataset(x.copy(), y)
    bx, _ = next(iter(DataLoader(ds, 3)))
    bx.data[...] = -1.0
    np.testing.assert_array_equal(ds.tensors[0].numpy(), x)


def test_fast_path_keeps_the_graph_of_a_tensor_that_requires_grad():
    w = cr.tensor(np.arange(5.0), requires_grad=True)
    loader = DataLoader(TensorDataset(w), batch_size=2, shuffle=True, generator=np.random.default_rng(0))
    (b,) = next(iter(loader))
    (b * b).sum().backward()
    rows = np.random.default_rng(0).permutation(5)[:2]
    expected = np.zeros(5)
    expected[rows] = 2 * np.arange(5.0)[rows]  # d/dw Σ w_r² = 2 w_r at the batch rows
    np.testing.assert_allclose(w.grad.numpy(), expected)


def test_custom_collate_fn_is_used():
    ds = TensorDataset(*_xy(5))
    loader = DataLoader(ds, 2, collate_fn=lambda samples: len(samples))
    assert list(loader) == [2, 2, 1]


def test_loader_validation():
    ds = TensorDataset(*_xy(4))
    for bad in (0, -1, 2.5, True, None):
        with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
            DataLoader(ds, batch_size=bad)
    with pytest.raises(TypeError, match=r"generator must be a numpy.random.Generator"):
        DataLoader(ds, generator=0)
    with pytest.raises(TypeError, match="shuffle must be a bool"):
        DataLoader(ds, shuffle="yes")
    with pytest.raises(TypeError, match="dataset must define __getitem__ and __len__"):
        DataLoader(iter([1, 2]))
    with pytest.raises(TypeError, match="collate_fn must be callable"):
        DataLoader(ds, collate_fn=3)


# --- default_collate ------------------------------------------------------------------------------


def test_default_collate_types():
    ints = default_collate([1, 2, 3])
    assert ints.dtype == np.int64 and ints.tolist() == [1, 2, 3]
    floats = default_collate([1.5, 2.0])
    assert floats.dtype == np.float32 and floats.tolist() == [1.5, 2.0]
    assert default_collate([True, False]).dtype == np.bool_
    assert default_collate([np.float64(1.0), np.float64(2.0)]).dtype == np.float64
    arrs = default_collate([np.zeros((2, 3)), np.ones((2, 3))])
    assert arrs.shape == (2, 2, 3) and arrs.dtype == np.float64  # a float64 array stays float64
    tens = default_collate([cr.zeros(3), cr.ones(3)])
    assert tens.shape == (2, 3) and tens.dtype == np.float32
    assert default_collate(["a", "b"]) == ["a", "b"]
    pairs = default_collate([(cr.zeros(2), 1), (cr.ones(2), 0)])
    assert isinstance(pairs, tuple) and pairs[0].shape == (2, 2) and pairs[1].tolist() == [1, 0]
    lists = default_collate([[1, 2.0], [3, 4.0]])
    assert isinstance(lists, list) and lists[0].tolist() == [1, 3] and lists[1].dtype == np.float32
    d = default_collate([{"x": cr.zeros(2), "y": 1}, {"x": cr.ones(2), "y": 2}])
    assert d["x"].shape == (2, 2) and d["y"].tolist() == [1, 2]
    P = namedtuple("P", "a b")
    nt = default_collate([P(1, 2.0), P(3, 4.0)])
    assert isinstance(nt, P) and nt.a.tolist() == [1, 3]


def test_default_collate_errors():
    with pytest.raises(ValueError, match=r"different shapes \[\(2,\), \(3,\)\]"):
        default_collate([cr.zeros(2), cr.zeros(3)])
    with pytest.raises(TypeError, match="different dtypes"):
        default_collate([cr.zeros(2), cr.zeros(2, dtype="float64")])
    with pytest.raises(ValueError, match="sequence of 2 fields"):
        default_collate([(1, 2), (1, 2, 3)])
    with pytest.raises(TypeError, match="got object"):
        default_collate([object()])
    with pytest.raises(ValueError, match="non-empty list"):
        default_collate([])


# --- transforms -----------------------------------------------------------------------------------


def test_normalize_values_and_dtype():
    x = cr.tensor([[1.0, 2.0, 3.0], [5.0, 6.0, 9.0]])
    out = normalize(x, [1.0, 2.0, 3.0], [2.0, 4.0, 3.0])
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), [[0.0, 0.0, 0.0], [2.0, 1.0, 2.0]])
    assert Normalize(0.5, 0.5)(cr.tensor([0.0, 1.0])).tolist() == [-1.0, 1.0]


def test_normalize_per_channel_images():
    rng = np.random.default_rng(0)
    x = rng.random((2, 3, 4, 4)).astype(np.float32)
    mean, std = [0.1, 0.2, 0.3], [0.5, 0.25, 2.0]
    out = Normalize(mean, std, dim=-3)(x).numpy()
    for c in range(3):
        np.testing.assert_allclose(out[:, c], (x[:, c] - mean[c]) / std[c], rtol=1e-6)
    np.testing.assert_allclose(Normalize(mean, std, dim=-3)(x[0]).numpy(), out[0])  # one (C, H, W) sample
    with pytest.raises(ValueError, match=r"do not broadcast.*\(2, 3, 4, 4\).*dim=-3"):
        normalize(x, mean, std)


def test_normalize_errors():
    with pytest.raises(ValueError, match="std contains zeros"):
        Normalize(0.0, [1.0, 0.0])
    with pytest.raises(TypeError, match="floating-point tensor, got dtype int64"):
        normalize(cr.tensor([1, 2]), 0.0, 1.0)
    with pytest.raises(ValueError, match="dim must be a negative int"):
        normalize(cr.zeros(3), 0.0, 1.0, dim=1)


def test_normalize_is_differentiable():
    std = np.array([0.5, 2.0, 4.0])
    x = cr.tensor(np.array([[0.3, -1.0, 2.0]]), dtype="float64")
    assert gradcheck(lambda t: normalize(t, [0.1, 0.2, 0.3], std) ** 2, x)
    t = cr.tensor(np.ones(3), dtype="float64", requires_grad=True)
    normalize(t, 0.0, std).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), 1 / std)  # d/dx (x − m)/s = 1/s


def test_standardize_fits_training_statistics():
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((200, 4)) * [1.0, 3.0, 0.5, 0.0] + [2.0, -1.0, 0.0, 7.0]).astype(np.float32)
    norm = standardize(x)
    z = norm(x).numpy()
    assert z.dtype == np.float32
    np.testing.assert_allclose(z[:, :3].mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(z[:, :3].std(0), 1.0, atol=1e-5)
    np.testing.assert_allclose(z[:, 3], 0.0)  # a constant feature maps to 0, not inf/nan
    np.testing.assert_allclose(norm.mean, x.astype(np.float64).mean(0), rtol=1e-6)
    imgs = rng.random((10, 3, 5, 5)).astype(np.float32)
    per_channel = standardize(imgs, dim=(0, 2, 3))
    assert per_channel.mean.shape == (3, 1, 1)
    zc = per_channel(imgs).numpy()
    np.testing.assert_allclose(zc.mean(axis=(0, 2, 3)), 0.0, atol=1e-5)
    np.testing.assert_allclose(zc.std(axis=(0, 2, 3)), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="must include the sample axis 0"):
        standardize(imgs, dim=(2, 3))
    with pytest.raises(ValueError, match="out of range"):
        standardize(imgs, dim=(0, 4))


def test_flatten_one_hot_compose():
    assert Flatten()(cr.zeros(1, 28, 28)).shape == (784,)
    assert Flatten(1)(cr.zeros(5, 1, 28, 28)).shape == (5, 784)
    labels = cr.tensor([2, 0, 1, 2])
    oh = one_hot(labels, 4)
    assert oh.dtype == np.int64
    np.testing.assert_array_equal(oh.numpy(), np.eye(4, dtype=np.int64)[[2, 0, 1, 2]])
    assert one_hot(labels).shape == (4, 3)  # num_classes inferred as max + 1
    assert one_hot(cr.tensor([[1], [0]]), 2).shape == (2, 1, 2)
    f = OneHot(3, dtype="float32")(labels)
    assert f.dtype == np.float32 and f.numpy().sum() == 4.0
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.2, got values in 0\.\.3"):
        one_hot(cr.tensor([0, 3]), 3)
    with pytest.raises(TypeError, match="integer tensor"):
        one_hot(cr.tensor([0.0]), 2)
    add_one, double = (lambda t: t + 1.0), (lambda t: t * 2.0)
    assert Compose([add_one, double])(cr.tensor(1.0)).item() == 4.0  # (1 + 1)·2, not 1·2 + 1
    with pytest.raises(TypeError, match="transform 1 is not callable"):
        Compose([add_one, 3])


def test_one_hot_matches_pytorch():
    torch = pytest.importorskip("torch")
    labels = np.array([[3, 1], [0, 4]])
    ours = one_hot(cr.tensor(labels)).numpy()
    theirs = torch.nn.functional.one_hot(torch.from_numpy(labels)).numpy()
    np.testing.assert_array_equal(ours, theirs)
    assert ours.dtype == theirs.dtype


def test_random_crop_translates_with_zero_fill_and_flip_mirrors():
    from chainrule.data import MappedLoader, random_crop, random_horizontal_flip

    x = np.arange(3 * 2 * 5 * 5, dtype=np.float32).reshape(3, 2, 5, 5) + 1.0  # no zeros inside
    gen = np.random.default_rng(0)
    y = random_crop(x, 2, gen).data
    assert y.shape == x.shape
    for n in range(3):  # each output is the padded input at one offset, the same for every channel
        padded = np.pad(x[n], ((0, 0), (2, 2), (2, 2)))
        hits = [(i, j) for i in range(5) for j in range(5) if np.array_equal(padded[:, i : i + 5, j : j + 5], y[n])]
        assert len(hits) == 1
    np.testing.assert_array_equal(random_crop(x, 0).data, x)
    flipped = random_horizontal_flip(x, 1.0).data
    np.testing.assert_array_equal(flipped, x[..., ::-1])
    np.testing.assert_array_equal(random_horizontal_flip(x, 0.0).data, x)
    with pytest.raises(ValueError, match=r"random_crop: expected a batch of images \(N, C, H, W\), got shape \(5, 5\)"):
        random_crop(np.zeros((5, 5)), 1)
    with pytest.raises(ValueError, match="padding"):
        random_crop(x, -1)
    loader = MappedLoader([(x, np.arange(3))], lambda a, b: (random_horizontal_flip(a, 1.0), b + 1))
    ((xb, yb),) = list(loader)
    assert len(loader) == 1 and (yb == [1, 2, 3]).all() and np.array_equal(xb.data, x[..., ::-1])
