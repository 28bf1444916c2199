"""Tune's storage filesystem: a file is replaced whole or not at all, even when the writer is killed."""

from __future__ import annotations

import pickle
import signal
import subprocess
import sys

import pyarrow.fs as pafs

from rtl_sweep.sweep.atomic_fs import atomic_local_fs


def test_copy_files_lands_every_file_whole(tmp_path):
    src, dst = tmp_path / "staging", tmp_path / "storage"
    (src / "sub").mkdir(parents=True)
    (src / "experiment_state-1.json").write_text('{"trials": []}')
    (src / "sub" / "big.bin").write_bytes(bytes(range(256)) * 40_000)
    dst.mkdir()
    (dst / "experiment_state-1.json").write_text("old")
    pafs.copy_files(str(src), str(dst), destination_filesystem=atomic_local_fs())
    assert (dst / "experiment_state-1.json").read_text() == '{"trials": []}'
    assert (dst / "sub" / "big.bin").read_bytes() == (src / "sub" / "big.bin").read_bytes()
    assert sorted(p.name for p in dst.rglob("*")) == ["big.bin", "experiment_state-1.json", "sub"]


KILLED_MID_WRITE = """
import os, signal, sys
from rtl_sweep.sweep.atomic_fs import atomic_local_fs
out = atomic_local_fs().open_output_stream(sys.argv[1])
out.write(b'{"half": ')
out.flush()
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_writer_killed_mid_file_leaves_the_old_file(tmp_path):
    target = tmp_path / "search_gen_state-1.json"
    target.write_text('{"complete": true}')
    proc = subprocess.run([sys.executable, "-c", KILLED_MID_WRITE, str(target)])
    assert proc.returncode == -signal.SIGKILL
    assert target.read_text() == '{"complete": true}'
    # what the kill left behind is hidden from Tune's file patterns
    assert [p.name for p in tmp_path.glob("search_gen_state-*.json")] == [target.name]


def test_it_travels_to_ray_workers():
    fs = pickle.loads(pickle.dumps(atomic_local_fs()))
    assert fs.type_name == "py::rtl-atomic-local" and fs.equals(atomic_local_fs())
