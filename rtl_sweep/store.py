"""Where results live: a local folder or any URI pyarrow's file systems understand (s3://, gs://, file://).

    python -c "from rtl_sweep.store import Store; s = Store('/tmp/x'); s.write_bytes('a/b.txt', b'hi'); print(s.read_bytes('a/b.txt'))"

Every write is atomic: the bytes go to a temporary sibling first and are renamed into place, so a
reader sees a whole file or none, and a crash never damages a file already written. Many writers
(trials on many nodes) only ever write distinct file names.
"""

from __future__ import annotations

import contextlib
import io
import os
import posixpath
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from rtl_sweep.errors import ResultsError


def hidden_sibling(final: str) -> str:
    """A unique temporary name beside `final`, hidden: our readers skip dot-files, and no Tune file
    pattern (experiment_state-*.json, ...) matches a name that starts with a dot."""
    head, tail = posixpath.split(final)
    return posixpath.join(head, f".{tail}.{uuid.uuid4().hex[:12]}.tmp")


class AtomicOutput:
    """A file written under a hidden temporary name beside `final` and renamed over it by close(),
    so a reader sees the old file or the new one, never half of one. The rename is atomic on POSIX
    file systems; object stores publish an object only once it is complete. A write that fails,
    or an AtomicOutput dropped without close(), removes the temporary file and keeps the old one; a
    killed process leaves only the hidden temporary file."""

    def __init__(self, fs: pafs.FileSystem, final: str):
        self.fs, self.final = fs, final
        self.tmp = hidden_sibling(final)
        self._out = fs.open_output_stream(self.tmp)

    @property
    def closed(self) -> bool:
        return self._out.closed

    def write(self, data) -> int:
        return self._out.write(data)

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        """Finish the file and put it in place."""
        if self.closed:
            return
        self._out.close()
        if isinstance(self.fs, pafs.LocalFileSystem):
            os.replace(self.tmp, self.final)  # rename(2): replaces an existing file atomically
        else:
            self.fs.move(self.tmp, self.final)

    def abort(self) -> None:
        """Drop what was written; the old file, if any, stays."""
        if self.closed:
            return
        self._out.close()
        try:
            self.fs.delete_file(self.tmp)
        except OSError:
            pass

    def __enter__(self) -> "AtomicOutput":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.abort() if exc_type else self.close()

    def __del__(self) -> None:
        if hasattr(self, "_out"):
            self.abort()


SECRET_PARAMS = ("access_key", "secret_key", "session_token")


def refuse_secrets(uri: str) -> None:
    """A URI that carries credentials (s3://KEY:SECRET@bucket, ?secret_key=...) would be written into
    sweep.yaml, tables, job metadata and logs: refused. Credentials come the standard way instead."""
    scheme, rest = uri.split("://", 1)
    authority = rest.split("/", 1)[0]
    query = uri.split("?", 1)[1] if "?" in uri else ""
    if "@" in authority or any(k + "=" in query for k in SECRET_PARAMS):
        raise ResultsError(f"the storage URI {scheme}://... carries credentials, which would be written into "
                           "tables and logs",
                           "drop them from the URI and set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE "
                           "(AWS_ENDPOINT_URL for an S3-compatible store)")


class Store:
    """A root folder plus relative paths; local paths use the OS, URIs use pyarrow.fs (for s3://,
    credentials and endpoint from the AWS environment: AWS_* variables, profiles, AWS_ENDPOINT_URL)."""

    def __init__(self, root: str | os.PathLike):
        root = str(root)
        self.uri = root
        if "://" in root:
            refuse_secrets(root)
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

    @contextlib.contextmanager
    def _reading(self, rel: str):
        """The storage itself failing under a read (an endpoint gone mid-run) becomes one line, not
        a trace; a missing file stays FileNotFoundError, by which callers ask "is it there yet?"."""
        try:
            yield
        except FileNotFoundError:
            raise
        except OSError as e:
            raise ResultsError(f"cannot read {self.uri}/{rel}: {e}",
                               "check the storage path is reachable from every node") from None

    # ---- reading -----------------------------------------------------------------------------
    def exists(self, rel: str) -> bool:
        with self._reading(rel):
            return self.fs.get_file_info(self.path(rel)).type != pafs.FileType.NotFound

    def read_bytes(self, rel: str) -> bytes:
        with self._reading(rel), self.fs.open_input_file(self.path(rel)) as f:
            return f.read()

    def list(self, rel: str = "", suffix: str = "", recursive: bool = False) -> list[str]:
        """Relative paths of files under `rel` ending in `suffix`, sorted; [] if `rel` is missing."""
        base = self.path(rel)
        with self._reading(rel):
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
        with self._reading(rel), self.fs.open_input_file(self.path(rel)) as f:
            return pq.read_table(f)

    # ---- writing (atomic) --------------------------------------------------------------------
    def write_bytes(self, rel: str, data: bytes) -> None:
        final = self.path(rel)
        try:
            self.fs.create_dir(posixpath.dirname(final), recursive=True)
            with AtomicOutput(self.fs, final) as f:
                f.write(data)
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
        try:
            info = self.fs.get_file_info(p)
            if info.type == pafs.FileType.Directory:
                self.fs.delete_dir(p)
            elif info.type == pafs.FileType.File:
                self.fs.delete_file(p)
        except OSError as e:
            raise ResultsError(f"cannot delete {self.uri}/{rel}: {e}",
                               "check the storage path exists and is writable from every node") from None
