"""IDX and CIFAR-10 readers: round trips, byte-level headers, corrupt files, hostile pickles."""

import gzip
import os
import pickle
import struct

import numpy as np
import pytest

from chainrule.data.formats import ForbiddenGlobalError, read_cifar10_batch, read_idx, write_idx

# --- IDX ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, dtype, suffix):
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    path = tmp_path / f"x-idx3{suffix}"
    write_idx(path, arr)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    assert back.shape == (3, 4, 5)
    np.testing.assert_array_equal(back, arr)
    back[0, 0, 0] = 1  # a writable copy, not a read-only view of the file buffer
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")


def test_idx_header_bytes_are_big_endian(tmp_path):
    # int32 values 1 and 258 in shape (2,): magic 00 00 0C 01, size 00 00 00 02, then payload BE.
    path = tmp_path / "v-idx1"
    write_idx(path, np.array([1, 258], dtype=np.int32))
    assert path.read_bytes() == bytes.fromhex("00000C01000000020000000100000102")


def test_read_idx_hand_built_file(tmp_path):
    # An MNIST-style uint8 image file (2 images of 2x3) and a gzipped label file, built by hand.
    pixels = bytes(range(12))
    raw = b"\x00\x00\x08\x03" + struct.pack(">III", 2, 2, 3) + pixels
    (tmp_path / "img").write_bytes(raw)
    (tmp_path / "lab.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01" + struct.pack(">I", 2) + b"\x07\x03"))
    img = read_idx(tmp_path / "img")
    np.testing.assert_array_equal(img, np.arange(12, dtype=np.uint8).reshape(2, 2, 3))
    np.testing.assert_array_equal(read_idx(tmp_path / "lab.gz"), [7, 3])
    # float32 big-endian payload: 1.5 and -2.0
    (tmp_path / "f").write_bytes(b"\x00\x00\x0d\x01" + struct.pack(">I", 2) + struct.pack(">ff", 1.5, -2.0))
    np.testing.assert_array_equal(read_idx(tmp_path / "f"), np.array([1.5, -2.0], dtype=np.float32))


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_truncated_payload(tmp_path, suffix):
    data = b"\x00\x00\x08\x02" + struct.pack(">II", 3, 4) + bytes(11)  # needs 12 payload bytes
    path = tmp_path / f"short{suffix}"
    path.write_bytes(gzip.compress(data) if suffix else data)
    with pytest.raises(ValueError, match=r"short.*truncated.*\(3, 4\).*12 payload bytes, found 11"):
        read_idx(path)


def test_read_idx_rejects_extra_bytes_bad_magic_and_type(tmp_path):
    long = tmp_path / "long"
    long.write_bytes(b"\x00\x00\x08\x01" + struct.pack(">I", 2) + bytes(3))
    with pytest.raises(ValueError, match=r"long.*longer than its header"):
        read_idx(long)
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00")
    with pytest.raises(ValueError, match=r"bad.*not an IDX file"):
        read_idx(bad)
    code = tmp_path / "code"
    code.write_bytes(b"\x00\x00\x0a\x01" + struct.pack(">I", 1) + b"\x00")
    with pytest.raises(ValueError, match=r"code.*unknown element type code 0x0A"):
        read_idx(code)
    head = tmp_path / "head"
    head.write_bytes(b"\x00\x00\x08\x03" + struct.pack(">I", 5))  # 3 dims declared, 1 given
    with pytest.raises(ValueError, match=r"head.*truncated.*3 dimensions"):
        read_idx(head)
    tiny = tmp_path / "tiny"
    tiny.write_bytes(b"\x00\x00")
    with pytest.raises(ValueError, match=r"tiny.*too short"):
        read_idx(tiny)


def test_read_idx_truncated_gzip_stream(tmp_path):
    full = gzip.compress(b"\x00\x00\x08\x01" + struct.pack(">I", 1000) + bytes(range(256)) * 4)
    path = tmp_path / "cut.gz"
    path.write_bytes(full[: len(full) // 2])
    with pytest.raises(ValueError, match=r"cut.gz.*corrupted or truncated gzip"):
        read_idx(path)
    with pytest.raises(FileNotFoundError, match="missing"):
        read_idx(tmp_path / "missing")


def test_write_idx_is_atomic_and_validates(tmp_path):
    path = tmp_path / "a.gz"
    write_idx(path, np.zeros((2, 2), np.uint8))
    write_idx(path, np.ones((3,), np.uint8))  # replaces the old file
    np.testing.assert_array_equal(read_idx(path), [1, 1, 1])
    assert sorted(os.listdir(tmp_path)) == ["a.gz"]  # no temporary file left behind
    with pytest.raises(TypeError, match="no type code for dtype int64"):
        write_idx(tmp_path / "b", np.zeros(3, np.int64))
    assert not (tmp_path / "b").exists()
    # A big-endian input array is accepted and stored by value.
    write_idx(tmp_path / "c", np.array([1, 2], dtype=">i2"))
    np.testing.assert_array_equal(read_idx(tmp_path / "c"), [1, 2])


# --- CIFAR-10 -------------------------------------------------------------------------------------


def _batch(n=4, seed=0, overrides=None):
    rng = np.random.default_rng(seed)
    d = {
        b"batch_label": b"training batch 1 of 5",
        b"labels": [int(v) for v in rng.integers(0, 10, n)],
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [f"img_{i}.png".encode() for i in range(n)],
    }
    d.update(overrides or {})
    return d


def _write(path, obj, protocol=2):
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return path


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_cifar_batch_round_trip(tmp_path, protocol):
    d = _batch(n=5)
    images, labels = read_cifar10_batch(_write(tmp_path / "data_batch_1", d, protocol))
    assert images.dtype == np.uint8 and images.shape == (5, 3, 32, 32)
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, d[b"labels"])
    # Row layout: 1024 red, 1024 green, 1024 blue values, each a row-major 32x32 image.
    i, c, r, col = 3, 2, 17, 5
    assert images[i, c, r, col] == d[b"data"][i, c * 1024 + r * 32 + col]


def _py2_style_pickle(data: np.ndarray, labels: list[int]) -> bytes:
    """The opcode stream Python 2 + NumPy 1.x wrote for the real batches: str keys and the array's
    raw bytes as SHORT_BINSTRING/BINSTRING, numpy.core.multiarray._reconstruct, dtype state v3."""
    n = data.shape[0]
    out = bytearray(b"\x80\x02}(")  # PROTO 2, EMPTY_DICT, MARK
    out += b"U\x04data"
    out += b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R"
    out += b"(K\x01K" + bytes([n]) + b"M\x00\x0c\x86"  # state: version 1, shape (n, 3072)
    out += b"cnumpy\ndtype\nU\x02u1K\x00K\x01\x87R"
    out += b"(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"  # dtype state, BUILD
    raw = data.tobytes()
    out += b"\x89T" + struct.pack("<I", len(raw)) + raw + b"tb"  # fortran=False, data; BUILD
    out += b"U\x06labels](" + b"".join(b"K" + bytes([v]) for v in labels) + b"e"
    out += b"U\x0bbatch_labelU\x04testu."
    return bytes(out)


def test_cifar_batch_python2_numpy1_layout(tmp_path):
    data = np.arange(2 * 3072, dtype=np.int64).astype(np.uint8).reshape(2, 3072)
    path = tmp_path / "test_batch"
    path.write_bytes(_py2_style_pickle(data, [9, 0]))
    images, labels = read_cifar10_batch(path)
    np.testing.assert_array_equal(images.reshape(2, 3072), data)
    np.testing.assert_array_equal(labels, [9, 0])


class _System:
    """Pickles as a call of os.system(command)."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def test_cifar_forbidden_global_is_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    d = _batch(n=2)
    d[b"filenames"] = [_System(f"touch {marker}")]  # nested deep inside an otherwise valid batch
    path = _write(tmp_path / "data_batch_1", d)
    with pytest.raises(ForbiddenGlobalError, match=r"data_batch_1.*(posix|os|nt)\.system"):
        read_cifar10_batch(path)
    assert not marker.exists()
    # Sanity check of the test itself: an unrestricted pickle.load would have run the command.
    pickle.loads(path.read_bytes())
    assert marker.exists()


@pytest.mark.parametrize(
    "reduce",
    [
        (eval, ("1+1",)),  # builtins.eval
        (np.load, ("x",)),  # a NumPy global that is not on the allow-list
        (getattr, ("text", "upper")),
    ],
)
def test_cifar_other_globals_rejected(tmp_path, reduce):
    class Evil:
        def __reduce__(self):
            return reduce

    path = _write(tmp_path / "b", {b"data": Evil(), b"labels": [1]})
    with pytest.raises(ForbiddenGlobalError, match="refusing to load"):
        read_cifar10_batch(path)


def test_cifar_codec_stand_in_only_allows_latin1(tmp_path):
    import codecs

    class Rot13:
        def __reduce__(self):
            return (codecs.encode, ("abc", "rot13"))

    path = _write(tmp_path / "b", {b"data": Rot13(), b"labels": [1]})
    with pytest.raises(ForbiddenGlobalError, match="latin1"):
        read_cifar10_batch(path)


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ([1, 2], "holds a list, expected a dict"),
        ({b"data": np.zeros((2, 3072), np.uint8)}, r"lacks the key\(s\) \['labels'\]"),
        (
            _batch(n=2, overrides={b"data": np.zeros((2, 3071), np.uint8)}),
            r"uint8 array of shape \(N, 3072\).*\(2, 3071\)",
        ),
        (_batch(n=2, overrides={b"data": np.zeros((2, 3072), np.float32)}), "got float32 array"),
        (_batch(n=2, overrides={b"labels": [1, 2, 3]}), r"one int per image \(2 images\), got 3"),
        (_batch(n=2, overrides={b"labels": [1, 10]}), r"0\.\.9, got range 1\.\.10"),
        (_batch(n=2, overrides={b"labels": [1, -1]}), r"0\.\.9, got range -1\.\.1"),
        (_batch(n=2, overrides={b"labels": [1.0, 2.0]}), "must be integers"),
    ],
)
def test_cifar_malformed_batches(tmp_path, obj, message):
    path = _write(tmp_path / "data_batch_3", obj)
    with pytest.raises(ValueError, match=r"data_batch_3.*" + message):
        read_cifar10_batch(path)


def test_cifar_truncated_pickle(tmp_path):
    blob = pickle.dumps(_batch(n=3), protocol=2)
    path = tmp_path / "data_batch_2"
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match=r"data_batch_2.*not a readable CIFAR-10 batch"):
        read_cifar10_batch(path)
    with pytest.raises(FileNotFoundError, match="nope"):
        read_cifar10_batch(tmp_path / "nope")
