"""Where results live: a local folder or any URI pyarrow's file systems understand (s3://, gs://, file://).

    python -c "from rtl_sweep.store import Store; s = Store('/tmp/x'); s.write_bytes('a/b.txt', b'hi'); print(s.read_bytes('a/b.txt'))"

Every write is atomic: the bytes go to a temporary sibling first and are renamed into place, so a
reader sees a whole file or none, and a crash never damages a file already written. Many writers
(trials on many nodes) only ever write distinct file names.
"""

from __future__ import annotations

import io
import os
import posixpath
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from rtl_sweep.errors import ResultsError


class Store:
    """A root folder plus relative paths; local paths use the OS, URIs use pyarrow.fs."""

    def __init__(self, root: str | os.PathLike):
        root = str(root)
        self.uri = root
        if "://" in root:
            try:
                self.fs, self.root = pafs.FileSystem.from_uri(root)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as e:
                raise ResultsError(f"cannot open storage {root!r}: {e}",
                                   "use a local folder or a URI such as s3://bucket/path")
            self.local = isinstance(self.fs, pafs.LocalFileSystem)
        else:
            self.fs, self.root, self.local = pafs.LocalFileSystem(), str(Path(root).expanduser().absolute()), True

    def child(self, rel: str) -> "Store":
        sub = Store.__new__(Store)
        sub.fs, sub.local = self.fs, self.local
        sub.root = posixpath.join(self.root, rel)
        sub.uri = self.uri.rstrip("/") + "/" + rel
        return sub

    def path(self, rel: str = "") -> str:
        return posixpath.join(self.root, rel) if rel else self.root

    # ---- reading -----------------------------------------------------------------------------
    def exists(self, rel: str) -> bool:
        return self.fs.get_file_info(self.path(rel)).type != pafs.FileType.NotFound

    def read_bytes(self, rel: str) -> bytes:
        with self.fs.open_input_file(self.path(rel)) as f:
            return f.read()

    def list(self, rel: str = "", suffix: str = "", recursive: bool = False) -> list[str]:
        """Relative paths of files under `rel` ending in `suffix`, sorted; [] if `rel` is missing."""
        base = self.path(rel)
        if self.fs.get_file_info(base).type != pafs.FileType.Directory:
            return []
        infos = self.fs.get_file_info(pafs.FileSelector(base, recursive=recursive))
        out = []
        for info in infos:
            name = posixpath.basename(info.path)
            if info.type == pafs.FileType.File and name.endswith(suffix) and not name.startswith("."):
                out.append(posixpath.relpath(info.path, self.root))
        return sorted(out)

    def read_table(self, rel: str) -> pa.Table:
        with self.fs.open_input_file(self.path(rel)) as f:
            return pq.read_table(f)

    # ---- writing (atomic) --------------------------------------------------------------------
    def write_bytes(self, rel: str, data: bytes) -> None:
        final = self.path(rel)
        parent = posixpath.dirname(final)
        try:
            self.fs.create_dir(parent, recursive=True)
            # Hidden temporary sibling: readers skip dot-files, and the rename below is atomic on
            # POSIX file systems (object stores publish an object only once it is complete).
            tmp = posixpath.join(parent, f".{posixpath.basename(final)}.{uuid.uuid4().hex[:8]}.tmp")
            with self.fs.open_output_stream(tmp) as f:
                f.write(data)
            if self.local:
                os.replace(tmp, final)
            else:
                self.fs.move(tmp, final)
        except OSError as e:
            raise ResultsError(f"cannot write {self.uri}/{rel}: {e}",
                               "check the storage path exists and is writable from every node")

    def write_text(self, rel: str, text: str) -> None:
        self.write_bytes(rel, text.encode())

    def write_table(self, rel: str, table: pa.Table) -> None:
        buf = io.BytesIO()
        pq.write_table(table, buf)
        self.write_bytes(rel, buf.getvalue())

    def delete(self, rel: str) -> None:
        p = self.path(rel)
        info = self.fs.get_file_info(p)
        if info.type == pafs.FileType.Directory:
            self.fs.delete_dir(p)
        elif info.type == pafs.FileType.File:
            self.fs.delete_file(p)
