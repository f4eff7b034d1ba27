"""Checkpoints: safe format, atomic writes, corruption detection, round trips."""

import os
import pickle

import numpy as np
import pytest

import chainrule as cr
from chainrule import io


def test_round_trip_of_a_nested_checkpoint(tmp_path):
    obj = {
        "model": {"w": cr.tensor([[1.0, 2.0]]), "b": np.arange(3, dtype=np.int64)},
        "optimizer": {"state": {0: {"step": 3, "exp_avg": np.ones(2, np.float32)}}, "groups": [{"lr": 0.1}]},
        "epoch": 7,
        "rng": (1, "x", None, 2.5, True),
    }
    path = tmp_path / "ck.npz"
    io.save(obj, path)
    got = io.load(path)
    np.testing.assert_array_equal(got["model"]["w"], [[1.0, 2.0]])
    assert got["model"]["w"].dtype == np.float32 and got["model"]["b"].dtype == np.int64
    assert got["optimizer"]["state"][0]["step"] == 3  # int keys survive
    assert got["epoch"] == 7 and got["rng"] == (1, "x", None, 2.5, True)


def test_generator_state_round_trips(tmp_path):
    g = np.random.default_rng(5)
    io.save({"rng": g.bit_generator.state}, tmp_path / "r.npz")
    h = np.random.default_rng()
    h.bit_generator.state = io.load(tmp_path / "r.npz")["rng"]
    assert g.random() == h.random()


def test_unsupported_objects_are_refused(tmp_path):
    with pytest.raises(TypeError, match="object"):
        io.save({"f": object()}, tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()


def test_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ck.npz"
    io.save({"v": 1}, path)

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError):
        io.save({"v": 2}, path)
    monkeypatch.undo()
    assert io.load(path) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["ck.npz"]  # no temp file left behind


def test_corrupted_and_foreign_files_raise_clear_errors(tmp_path):
    path = tmp_path / "ck.npz"
    io.save({"w": np.ones(100)}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"ck\.npz"):
        io.load(path)
    np.savez(tmp_path / "plain.npz", a=np.ones(2))
    with pytest.raises(ValueError, match="not a chainrule checkpoint"):
        io.load(tmp_path / "plain.npz")
    with pytest.raises(FileNotFoundError):
        io.load(tmp_path / "missing.npz")


def test_loading_never_unpickles(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    np.savez(
        tmp_path / "evil.npz", __chainrule_tree__=np.frombuffer(b"{}", np.uint8), arr_0=np.array([Evil()], dtype=object)
    )
    with pytest.raises(ValueError):
        io.load(tmp_path / "evil.npz")
    (tmp_path / "p.npz").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ValueError):
        io.load(tmp_path / "p.npz")
    assert not marker.exists()
