"""Readers for the file formats real datasets ship in: IDX (MNIST, Fashion-MNIST) and CIFAR-10.

IDX (LeCun's format for MNIST) is a tiny binary container::

    bytes 0-1   0x00 0x00
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte  3     number of dimensions d
    4·d bytes   the sizes n₁ … n_d, each a big-endian uint32
    payload     n₁·…·n_d elements, big-endian, row-major

so a file is valid exactly when its length is ``4 + 4·d + n₁⋯n_d · itemsize``; ``read_idx`` checks
that and names the file when it does not hold.

CIFAR-10's "python version" is six pickles (``data_batch_1`` … ``data_batch_5``, ``test_batch``),
each a dict ``{b"data": uint8 array (N, 3072), b"labels": [int, …], b"batch_label": bytes,
b"filenames": [bytes, …]}`` written by Python 2 with pickle protocol 2. Unpickling runs whatever
callables the file names, so ``read_cifar10_batch`` never calls ``pickle.load``: it uses an
unpickler whose ``find_class`` resolves only the handful of NumPy globals an array needs (see
``_CifarUnpickler``) and refuses every other global before anything is called.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.io import atomic_write

__all__ = ["read_idx", "write_idx", "read_cifar10_batch", "ForbiddenGlobalError", "CIFAR10_CLASSES"]

# IDX type code -> big-endian dtype of the payload.
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES: dict[np.dtype, int] = {d.newbyteorder("="): code for code, d in _IDX_DTYPES.items()}

_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when the file starts with the gzip magic (not by its name)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"read_idx: no such file {str(path)!r}") from None
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as e:
        raise ValueError(f"read_idx: {str(path)!r} is a corrupted or truncated gzip file ({e})") from None


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) into a native-endian NumPy array.

    The header's magic number gives the element type and the number of dimensions d; then d
    big-endian uint32 sizes follow and the payload must hold exactly ∏ nᵢ elements. A wrong
    magic, an unknown type code, or a payload whose size differs from the header's raises
    ``ValueError`` naming the file and the expected and actual sizes.
    """
    p = Path(path)
    buf = _read_bytes(p)
    if len(buf) < 4:
        raise ValueError(f"read_idx: {str(p)!r} is too short for an IDX header ({len(buf)} bytes, need at least 4)")
    if buf[0] != 0 or buf[1] != 0:
        raise ValueError(
            f"read_idx: {str(p)!r} is not an IDX file (magic number starts with {buf[:2].hex()}, expected 0000)"
        )
    code, ndim = buf[2], buf[3]
    dtype = _IDX_DTYPES.get(code)
    if dtype is None:
        raise ValueError(
            f"read_idx: {str(p)!r} has unknown element type code 0x{code:02X} "
            f"(expected one of {', '.join(f'0x{c:02X}' for c in _IDX_DTYPES)})"
        )
    header = 4 + 4 * ndim
    if len(buf) < header:
        raise ValueError(
            f"read_idx: {str(p)!r} is truncated: header declares {ndim} dimensions ({header} header bytes) "
            f"but the file has {len(buf)} bytes"
        )
    shape = tuple(int(n) for n in np.frombuffer(buf, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(buf) - header
    if actual != expected:
        what = "truncated" if actual < expected else "longer than its header says"
        raise ValueError(
            f"read_idx: {str(p)!r} is {what}: header shape {shape} of {dtype.newbyteorder('=')} needs "
            f"{expected} payload bytes, found {actual}"
        )
    arr = np.frombuffer(buf, dtype=dtype, offset=header).reshape(shape)
    # A native-endian, writable copy: frombuffer views are read-only and big-endian.
    return arr.astype(dtype.newbyteorder("="))


def _atomic_write(path: Path, data: bytes) -> None:
    atomic_write(path, lambda f: f.write(data))


def write_idx(path: str | os.PathLike[str], array: Any) -> None:
    """Write ``array`` as an IDX file (gzip-compressed when ``path`` ends in ``.gz``), atomically.

    Supported dtypes: uint8, int8, int16, int32, float32, float64 (the IDX type codes); the
    payload is stored big-endian as the format requires. At most 255 dimensions.
    """
    arr = np.asarray(array)
    native = arr.dtype.newbyteorder("=") if arr.dtype.byteorder not in ("=", "|") else arr.dtype
    code = _IDX_CODES.get(native)
    if code is None:
        raise TypeError(
            f"write_idx: IDX has no type code for dtype {arr.dtype}; "
            "expected uint8, int8, int16, int32, float32 or float64"
        )
    if arr.ndim > 255:
        raise ValueError(f"write_idx: IDX stores at most 255 dimensions, got {arr.ndim}")
    if any(n >= 2**32 for n in arr.shape):
        raise ValueError(f"write_idx: every dimension must fit in a uint32, got shape {arr.shape}")
    header = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    payload = np.ascontiguousarray(arr, dtype=_IDX_DTYPES[code]).tobytes()
    data = header + payload
    p = Path(path)
    if p.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    _atomic_write(p, data)


# --- CIFAR-10 -----------------------------------------------------------------------------------

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


class ForbiddenGlobalError(pickle.UnpicklingError):
    """A pickle named a global outside the allow-list (or called an allowed stand-in in a form it
    refuses); it was refused before anything was called."""


class _Latin1Encode:
    """Python 3 writes bytes into protocol-2 pickles as ``_codecs.encode(text, "latin1")``; this
    stand-in honours only that form, so a file cannot pick an arbitrary codec."""

    # No __dict__ and no __setstate__: the pickle BUILD opcode cannot set attributes on it.
    __slots__ = ()

    def __call__(self, text: Any, encoding: Any = "utf-8") -> bytes:
        if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
            raise ForbiddenGlobalError(f"_codecs.encode is only allowed as encode(str, 'latin1'), got {encoding!r}")
        return text.encode("latin1")


class _EmptyBytes:
    """... and an empty bytes object as ``bytes()``; only the no-argument call is honoured."""

    __slots__ = ()

    def __call__(self, *args: Any) -> bytes:
        if args:
            raise ForbiddenGlobalError("bytes() is only allowed without arguments in a CIFAR-10 batch")
        return b""


def _allowed_globals() -> dict[tuple[str, str], Any]:
    # numpy's _reconstruct, wherever this NumPy keeps it (numpy.core in 1.x, numpy._core in 2.x);
    # files written by either name it by its own module path, so both paths map to it.
    reconstruct = np.zeros(0).__reduce__()[0]
    table: dict[tuple[str, str], Any] = {}
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        table[(mod, "_reconstruct")] = reconstruct
    for mod in ("numpy", "numpy.core.multiarray", "numpy._core.multiarray"):
        table[(mod, "ndarray")] = np.ndarray
        table[(mod, "dtype")] = np.dtype
    table[("_codecs", "encode")] = _Latin1Encode()
    table[("builtins", "bytes")] = table[("__builtin__", "bytes")] = _EmptyBytes()
    return table


class _CifarUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild a NumPy uint8 array inside plain containers, and nothing else.

    Why this is safe: a pickle can only call objects that ``find_class`` hands it (the GLOBAL,
    STACK_GLOBAL, INST, OBJ and EXT opcodes all resolve through it; REDUCE, NEWOBJ and BUILD can only
    call what is already on the stack). Here ``find_class`` returns only ``ndarray``, ``dtype``,
    NumPy's ``_reconstruct`` (which allocates an empty array of a given subtype — and the only
    subtype it can be given is ``ndarray``), and two stand-ins for how Python 3 spells bytes in
    protocol 2 (``_codecs.encode(str, "latin1")`` and ``bytes()``) that accept only those forms and,
    having neither ``__dict__`` nor ``__setstate__``, cannot be modified by BUILD. None of them
    runs user code: they allocate arrays and dtypes and copy bytes into them. Every other global —
    ``os.system``, ``builtins.eval``, ``subprocess.Popen`` — is refused with ``UnpicklingError``
    *before* it is called. Persistent ids are refused too (the default). What a hostile file can
    still do is ask for a large allocation, which is an error, not code execution.
    """

    def __init__(self, file: io.BytesIO, path: Path) -> None:
        super().__init__(file, encoding="bytes")
        self._path = path
        self._allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        obj = self._allowed.get((module, name))
        if obj is None:
            raise ForbiddenGlobalError(
                f"read_cifar10_batch: {str(self._path)!r} refers to the global {module}.{name}, which a "
                "CIFAR-10 batch never needs; refusing to load it (only numpy ndarray/dtype/_reconstruct "
                "are allowed)"
            )
        return obj


def _key(k: Any) -> Any:
    return k.decode("latin1") if isinstance(k, bytes) else k


def read_cifar10_batch(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR-10 python batch safely; returns ``(images, labels)``.

    ``images`` is uint8 of shape (N, 3, 32, 32) — each 3072-byte row holds the 1024 red, then
    green, then blue values of a 32×32 image in row-major order — and ``labels`` is int64 of shape
    (N,) with values in 0..9. The real batches have N = 10000; any N ≥ 1 is accepted so that small
    test files work. Raises ``ValueError`` naming the file when the structure differs (not a dict,
    missing ``data``/``labels``, data not uint8 of shape (N, 3072), labels not N ints in 0..9) and
    ``ForbiddenGlobalError`` (a ``pickle.UnpicklingError``) when the file names any global beyond the NumPy array machinery.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"read_cifar10_batch: no such file {str(p)!r}") from None
    try:
        obj = _CifarUnpickler(io.BytesIO(raw), p).load()
    except ForbiddenGlobalError:
        raise
    except Exception as e:  # truncated or garbled pickles fail in many ways
        raise ValueError(
            f"read_cifar10_batch: {str(p)!r} is not a readable CIFAR-10 batch ({type(e).__name__}: {e})"
        ) from None
    if not isinstance(obj, dict):
        raise ValueError(f"read_cifar10_batch: {str(p)!r} holds a {type(obj).__name__}, expected a dict")
    batch = {_key(k): v for k, v in obj.items()}
    missing = [k for k in ("data", "labels") if k not in batch]
    if missing:
        raise ValueError(f"read_cifar10_batch: {str(p)!r} lacks the key(s) {missing}; found {sorted(map(str, batch))}")
    data, labels = batch["data"], batch["labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        desc = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise ValueError(f"read_cifar10_batch: {str(p)!r}: 'data' must be a uint8 array of shape (N, 3072), got {desc}")
    n = data.shape[0]
    if not isinstance(labels, (list, tuple, np.ndarray)) or len(labels) != n or n == 0:
        size = len(labels) if isinstance(labels, (list, tuple, np.ndarray)) else type(labels).__name__
        raise ValueError(
            f"read_cifar10_batch: {str(p)!r}: 'labels' must hold one int per image ({n} images), got {size}"
        )
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in labels):
        raise ValueError(f"read_cifar10_batch: {str(p)!r}: 'labels' must be integers")
    lab = np.asarray(labels, dtype=np.int64)
    if lab.min() < 0 or lab.max() > 9:
        raise ValueError(
            f"read_cifar10_batch: {str(p)!r}: labels must lie in 0..9, got range {int(lab.min())}..{int(lab.max())}"
        )
    return data.reshape(n, 3, 32, 32), lab
