"""Find and read the results tables under a run folder, a sweep folder or a root of many runs.

    python -c "from rtl_sweep.results.reader import read_table; print(read_table('rtl_runs', 'rounds'))"

A table is every file `**/tables/<table>/*.parquet` under PATH (a local folder or a pyarrow.fs URI).
Dot-files are skipped: they are writes still in flight. A part that cannot be read (truncated, not
Parquet) is skipped with a warning that names it, so one damaged file never hides the rest.
"""

from __future__ import annotations

import logging
import posixpath

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from rtl_sweep.errors import ResultsError
from rtl_sweep import schema as S
from rtl_sweep.store import Store

log = logging.getLogger(__name__)

NO_RESULTS_FIX = ("give a run folder (<root>/<name>-<hash>), a sweep folder, or the -o root of "
                  "`rtl-sweep run`; it must hold tables/<table>/*.parquet")


class Results:
    """The results tables under one path: the part files of each table, read on demand and cached."""

    def __init__(self, path: str):
        self.path = str(path)
        self.store = Store(self.path)
        self.warnings: list[str] = []
        self._cache: dict[str, pa.Table] = {}
        info = self.store.fs.get_file_info(self.store.root)
        if info.type == pafs.FileType.NotFound:
            raise ResultsError(f"no results at {self.path!r}: the path does not exist", NO_RESULTS_FIX)
        self.parts = _scan(self.store)
        if not self.parts:
            raise ResultsError(f"no results tables under {self.path!r} (no **/tables/<table>/*.parquet)",
                               NO_RESULTS_FIX)

    @property
    def tables(self) -> list[str]:
        """Table names present here: documented ones first, in schema order."""
        known = [t for t in S.TABLES if t in self.parts]
        return known + sorted(t for t in self.parts if t not in S.TABLES)

    def location(self, rel: str) -> str:
        return posixpath.join(self.store.root, rel) if self.store.local and "://" not in self.path \
            else self.store.uri.rstrip("/") + "/" + rel

    def table(self, name: str) -> pa.Table:
        """All parts of `name` concatenated (types promoted); an empty table of the schema if absent."""
        if name not in self._cache:
            self._cache[name] = self._read(name)
        return self._cache[name]

    def _read(self, name: str) -> pa.Table:
        pieces = []
        for rel in self.parts.get(name, []):
            try:
                pieces.append(_read_part(self.store, rel))
            except (pa.ArrowException, OSError, ValueError) as e:
                msg = f"skipped unreadable file {self.location(rel)}: {str(e).splitlines()[0]}"
                log.debug(msg)  # the caller shows self.warnings; logging too would print it twice
                self.warnings.append(msg)
        if not pieces:
            return S.schema(name).empty_table() if name in S.TABLES else pa.table({})
        try:
            return pa.concat_tables(pieces, promote_options="permissive")
        except pa.ArrowException as e:
            raise ResultsError(f"the parts of table {name!r} under {self.path!r} do not agree: {e}",
                               "a column changed type between runs; read the parts one by one with pyarrow")


def _scan(store: Store) -> dict[str, list[str]]:
    parts: dict[str, list[str]] = {}
    for rel in store.list("", suffix=".parquet", recursive=True):
        bits = rel.split("/")
        if len(bits) < 3 or bits[-3] != "tables" or any(b.startswith(".") for b in bits):
            continue
        parts.setdefault(bits[-2], []).append(rel)
    return parts


def _read_part(store: Store, rel: str) -> pa.Table:
    # ParquetFile, not pq.read_table: the dataset reader refuses files with a repeated column name.
    with store.fs.open_input_file(store.path(rel)) as f:
        return _unique_columns(pq.ParquetFile(f).read())


def _unique_columns(t: pa.Table) -> pa.Table:
    """Keep the first of repeated column names (runs has `name` as a field and as a config value)."""
    seen, keep = set(), []
    for i, n in enumerate(t.column_names):
        if n not in seen:
            seen.add(n)
            keep.append(i)
    return t if len(keep) == t.num_columns else t.select(keep)


def find_tables(path: str) -> dict[str, list[str]]:
    """{table: [file locations]} of every results table under `path`."""
    res = Results(path)
    return {t: [res.location(rel) for rel in res.parts[t]] for t in res.tables}


def read_table(path: str, table: str, warnings: list[str] | None = None) -> pa.Table:
    """One table under `path`; unreadable parts are skipped and described in `warnings` (and the log)."""
    res = Results(path)
    out = res.table(table)
    if warnings is not None:
        warnings.extend(res.warnings)
    return out
