"""The array backend: the one place that names the array library.

Every array call in chainrule goes through ``xp`` (NumPy today). A GPU array library that
implements NumPy's interface (CuPy) can replace it here without touching ops or the engine.
This module also owns dtypes, the default float dtype, and the library's random generator, so
that one ``manual_seed`` call fixes every random source chainrule uses.
"""

from __future__ import annotations

from typing import Any

import numpy as np

xp = np

float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
bool_ = np.dtype(np.bool_)

#: dtypes a Tensor may hold; names are the ones users type (``"float32"``, ``chainrule.float32``).
DTYPES: dict[str, np.dtype] = {
    "float16": float16,
    "float32": float32,
    "float64": float64,
    "int32": int32,
    "int64": int64,
    "bool": bool_,
}
FLOAT_DTYPES = frozenset({float16, float32, float64})

_default_float = float32


def get_default_dtype() -> np.dtype:
    """The dtype given to tensors built from Python floats (float32 unless changed)."""
    return _default_float


def set_default_dtype(dtype: Any) -> None:
    """Set the dtype for tensors built from Python floats; must be a floating dtype."""
    global _default_float
    d = as_dtype(dtype)
    if d not in FLOAT_DTYPES:
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {d}")
    _default_float = d


def as_dtype(dtype: Any) -> np.dtype:
    """Normalise a user-given dtype (name, NumPy dtype or type) to a supported ``np.dtype``."""
    if isinstance(dtype, str):
        d = DTYPES.get(dtype)
        if d is None:
            raise TypeError(f"unsupported dtype {dtype!r}; supported: {', '.join(DTYPES)}")
        return d
    if dtype is float:
        return _default_float
    if dtype is int:
        return int64
    if dtype is bool:
        return bool_
    try:
        d = np.dtype(dtype)
    except TypeError as e:
        raise TypeError(f"unsupported dtype {dtype!r}") from e
    if d not in DTYPES.values():
        raise TypeError(f"unsupported dtype {d}; supported: {', '.join(DTYPES)}")
    return d


def is_floating(dtype: np.dtype) -> bool:
    return dtype in FLOAT_DTYPES


# --- randomness -------------------------------------------------------------------------------
_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed chainrule's global random generator; returns it."""
    global _generator
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed: seed must be an int, got {type(seed).__name__}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def generator() -> np.random.Generator:
    """The global generator that every random op uses unless given its own."""
    return _generator


def get_rng_state() -> dict:
    """The global generator's state (a JSON-friendly dict), for checkpoints."""
    return _generator.bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore the global generator's state saved by ``get_rng_state``."""
    _generator.bit_generator.state = state


_thread_limiter = None


def num_threads(n: int | None) -> Any:
    """Context manager limiting BLAS threads to ``n`` inside its block (None: no change)."""
    import contextlib

    if n is None:
        return contextlib.nullcontext()
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"num_threads: expected a positive int or None, got {n!r}")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with the train extra
        return contextlib.nullcontext()
    return threadpool_limits(limits=n, user_api="blas")


def machine_info() -> dict[str, Any]:
    """Where a measurement ran: date, platform, CPU count, Python and NumPy versions."""
    import datetime
    import os
    import platform

    return {
        "date": datetime.date.today().isoformat(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "allocator_tuned": _allocator_tuned,
    }


def set_num_threads(n: int) -> None:
    """Limit the BLAS threads NumPy's matrix products use (as ``torch.set_num_threads``).

    On a small or busy machine, one thread is often much faster for the small matrices of a
    training step: OpenBLAS's worker threads spin while they wait for a descheduled sibling.
    Uses threadpoolctl (installed with the ``train`` extra).
    """
    global _thread_limiter
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {n!r}")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("set_num_threads needs threadpoolctl: pip install threadpoolctl") from e
    _thread_limiter = threadpool_limits(limits=n, user_api="blas")


# --- the C allocator ----------------------------------------------------------------------------

#: glibc mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_allocator_tuned = False


def tune_allocator(enable: bool = True) -> bool:
    """Keep freed array memory in the process instead of returning it to the OS (glibc only).

    A training step allocates and frees the same large temporaries (activations, gradients)
    every step. glibc serves blocks over its mmap threshold with fresh mmap pages and returns
    freed heap tops over its trim threshold to the OS, so every step page-faults its arrays back
    in: a chain of elementwise ops on 8 MB arrays ran 2.5x slower than its arithmetic. Raising
    the mmap threshold to 32 MB (glibc's maximum), the trim threshold to 256 MB and the top pad
    to 64 MB makes the heap a cache of recently freed blocks, as PyTorch's CPU allocator is.
    ``enable=False`` sets glibc's default values back (128 KiB each, no longer adaptive). Called once at import unless the environment
    sets ``CHAINRULE_TUNE_MALLOC=0``; does nothing (returns False) off glibc.
    """
    global _allocator_tuned
    import ctypes
    import ctypes.util
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:  # pragma: no cover - glibc without a loadable libc.so
        return False
    settings = (
        ((_M_MMAP_THRESHOLD, 32 << 20), (_M_TRIM_THRESHOLD, 256 << 20), (_M_TOP_PAD, 64 << 20))
        if enable
        else ((_M_MMAP_THRESHOLD, 128 << 10), (_M_TRIM_THRESHOLD, 128 << 10), (_M_TOP_PAD, 128 << 10))
    )
    ok = all(libc.mallopt(param, value) == 1 for param, value in settings)
    _allocator_tuned = bool(enable and ok)
    return ok


def allocator_tuned() -> bool:
    """Whether ``tune_allocator`` is in effect."""
    return _allocator_tuned
