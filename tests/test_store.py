"""Every file is written whole or not at all: the one atomic writer under the results and Tune's state.

    python -m pytest tests/test_store.py -q
"""

from __future__ import annotations

import pyarrow.fs as pafs
import pytest

from rtl_sweep.store import AtomicOutput, Store


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing(tmp_path):
    store = Store(tmp_path)
    store.write_text("a.txt", "old")
    with pytest.raises(RuntimeError), AtomicOutput(store.fs, store.path("a.txt")) as out:
        out.write(b"half of the new")
        raise RuntimeError("the writer failed")
    assert (tmp_path / "a.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_dropped_unclosed_keeps_the_old_file(tmp_path):
    (tmp_path / "a.txt").write_text("old")
    out = AtomicOutput(pafs.LocalFileSystem(), str(tmp_path / "a.txt"))
    out.write(b"new")
    del out
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"] and (tmp_path / "a.txt").read_text() == "old"


def test_a_file_system_other_than_the_local_one_publishes_by_move(tmp_path):
    fs = pafs.SubTreeFileSystem(str(tmp_path), pafs.LocalFileSystem())
    (tmp_path / "b.txt").write_text("old")
    with AtomicOutput(fs, "b.txt") as out:
        out.write(b"new")
    assert (tmp_path / "b.txt").read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["b.txt"]
