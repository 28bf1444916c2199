"""The local filesystem for Tune's storage, with atomic file writes.

    python -c "from rtl_sweep.sweep.atomic_fs import atomic_local_fs; print(atomic_local_fs().type_name)"

Why: Tune writes its experiment state (trial table, searcher state, tuner.pkl) into a staging folder
and then copies it into the sweep folder with pyarrow, which truncates each destination file and
rewrites it in place. A driver killed during that copy (Tune copies every second here) leaves an
empty `search_gen_state-*.json`; `rtl-sweep resume` then failed to restore the searcher, restarted
its seeded sampler and ran a duplicate of the first trial instead of the lost one. Here every file
is written beside its destination under a hidden temporary name and renamed over it when complete
(store.AtomicOutput, the writer of every results file too), so a reader sees the old file or the new
one, never half of one. A killed copy leaves only the hidden temporary file, which no Tune file
pattern matches.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.fs as pafs

from rtl_sweep.store import AtomicOutput


class AtomicLocalHandler(pafs.FileSystemHandler):
    """pyarrow's LocalFileSystem, except that output streams replace their file atomically."""

    def __init__(self):
        self.fs = pafs.LocalFileSystem()

    def __reduce__(self):  # shipped to Ray workers: rebuild rather than pickle the C++ object
        return (AtomicLocalHandler, ())

    def __eq__(self, other) -> bool:
        return isinstance(other, AtomicLocalHandler)

    def equals(self, other) -> bool:
        return self == other

    def get_type_name(self) -> str:
        return "rtl-atomic-local"

    def normalize_path(self, path: str) -> str:
        return self.fs.normalize_path(path)

    def get_file_info(self, paths):
        return self.fs.get_file_info(paths)

    def get_file_info_selector(self, selector):
        return self.fs.get_file_info(selector)

    def create_dir(self, path: str, recursive: bool) -> None:
        self.fs.create_dir(path, recursive=recursive)

    def delete_dir(self, path: str) -> None:
        self.fs.delete_dir(path)

    def delete_dir_contents(self, path: str, missing_dir_ok: bool = False) -> None:
        self.fs.delete_dir_contents(path, missing_dir_ok=missing_dir_ok)

    def delete_root_dir_contents(self) -> None:
        raise OSError("refusing to delete the contents of / through Tune's storage")

    def delete_file(self, path: str) -> None:
        self.fs.delete_file(path)

    def move(self, src: str, dest: str) -> None:
        self.fs.move(src, dest)

    def copy_file(self, src: str, dest: str) -> None:
        with self.fs.open_input_stream(src) as i, self.open_output_stream(dest, None) as o:
            while chunk := i.read(1 << 24):
                o.write(chunk)

    def open_input_stream(self, path: str):
        return self.fs.open_input_stream(path)

    def open_input_file(self, path: str):
        return self.fs.open_input_file(path)

    def open_output_stream(self, path: str, metadata):
        return pa.PythonFile(AtomicOutput(self.fs, path), mode="w")

    def open_append_stream(self, path: str, metadata):
        return self.fs.open_append_stream(path)


def atomic_local_fs() -> pafs.PyFileSystem:
    return pafs.PyFileSystem(AtomicLocalHandler())
