"""The King James Bible corpus reader, the character vocabulary and training windows."""

import shutil
import stat
import sys
from pathlib import Path

import numpy as np
import pytest

from chainrule.data.text import CharVocab, _strip_references, kjv_splits, load_kjv, load_text_splits, random_windows

HAS_BIBLE = shutil.which("bible") is not None


def test_vocab_round_trip_and_order():
    v = CharVocab.from_text("hello, world\n")
    assert v.chars == tuple(sorted(set("hello, world\n")))
    ids = v.encode("world, hello")
    assert ids.dtype == np.int64 and ids.shape == (12,)
    assert v.decode(ids) == "world, hello"
    assert CharVocab(v.to_list()).chars == v.chars
    assert v.encode("").shape == (0,)


def test_vocab_errors_name_the_problem():
    v = CharVocab.from_text("abc")
    with pytest.raises(ValueError, match=r"'z' at position 2"):
        v.encode("abzc")
    with pytest.raises(ValueError, match=r"'é' at position 0"):
        v.encode("é")
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        v.decode(np.array([0, 3]))
    with pytest.raises(ValueError, match="1-d integer"):
        v.decode(np.array([[0]]))
    with pytest.raises(ValueError, match="distinct"):
        CharVocab(["a", "a"])
    with pytest.raises(ValueError, match="single characters"):
        CharVocab(["ab"])


def test_strip_references_handles_every_book_form():
    raw = "Ge1:1 In the beginning.\n1Chr3:4 And six.\nSSol2:1 I am the rose.\nRev22:21 Amen.\n"
    assert _strip_references(raw) == "In the beginning.\nAnd six.\nI am the rose.\nAmen.\n"
    with pytest.raises(ValueError, match="line 2"):
        _strip_references("Ge1:1 ok\nno reference here\n")


def test_random_windows_are_shifted_by_one():
    ids = np.arange(1000)
    x, y = random_windows(ids, 16, 32, np.random.default_rng(0))
    assert x.shape == y.shape == (16, 32)
    np.testing.assert_array_equal(y, x + 1)
    assert (x[:, 0] >= 0).all() and (y[:, -1] <= 999).all()
    with pytest.raises(ValueError, match="at least 33"):
        random_windows(np.arange(32), 2, 32, np.random.default_rng(0))


def _fake_bible(tmp_path: Path, lines: int = 40_000) -> Path:
    """An executable standing in for Debian's ``bible``: prints `lines` verses with references."""
    exe = tmp_path / "bin" / "bible"
    exe.parent.mkdir()
    exe.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"for i in range({lines}):\n"
        "    sys.stdout.write(f'Ge{i // 30 + 1}:{i % 30 + 1} And the earth was without form, and void.\\n')\n"
    )
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return exe


def test_load_kjv_runs_the_program_once_then_reads_the_cache(tmp_path):
    exe = _fake_bible(tmp_path)
    text = load_kjv(tmp_path / "data", bible=str(exe))
    assert text.startswith("And the earth was without form, and void.\n")
    assert text.count("\n") == 40_000
    assert (tmp_path / "data" / "kjv" / "kjv.txt").read_text() == text
    exe.unlink()  # the cache alone must do now
    assert load_kjv(tmp_path / "data", bible=str(exe)) == text
    train, val = kjv_splits(tmp_path / "data")
    assert train + val == text and len(val) == round(0.1 * len(text))


def test_load_kjv_without_program_or_cache_names_the_package(tmp_path):
    with pytest.raises(FileNotFoundError, match="bible-kjv"):
        load_kjv(tmp_path, bible="no-such-bible-program")
    with pytest.raises(ValueError, match="unknown text dataset"):
        load_text_splits("nope", tmp_path)
    with pytest.raises(ValueError, match="val_fraction"):
        kjv_splits(tmp_path, val_fraction=1.0)


@pytest.mark.skipif(not HAS_BIBLE, reason="Debian's bible-kjv is not installed (.ci/run installs it)")
def test_real_kjv_text(tmp_path):
    text = load_kjv(tmp_path)
    assert len(text) == 4_137_850
    assert len(set(text)) == 63
    assert text.startswith("In the beginning God created the heaven and the earth.\n")
    assert text.endswith("The grace of our Lord Jesus Christ be with you all. Amen.\n")
