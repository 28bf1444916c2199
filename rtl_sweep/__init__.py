"""rtl_sweep: Routing the Lottery (adaptive lottery tickets) as a distributed sweep.

    python -c "import rtl_sweep; print(rtl_sweep.__all__)"

What a notebook needs, importable from here: `RunConfig`, `run` / `Run` (one run), `load_space`
(a search-space file), `Results` (the tables a run or sweep wrote). They load on first use, so
`import rtl_sweep` stays cheap: no torch, no Ray until a run needs them.
"""

import os as _os

from rtl_sweep.version import __version__  # noqa: F401  (rtl_sweep.__version__)

# Ray reads these when it is imported, so they are set before any module imports it. A local Ray
# then binds 127.0.0.1 only (with _node_ip_address, see distributed/ray_init.py), sends no usage
# stats, and Tune does not import TensorBoard's logger (which pulled torch into drivers at start-up;
# results go to Parquet instead).
_os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
_os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
_os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")

# name -> the module that defines it
_PUBLIC = {
    "RunConfig": "rtl_sweep.config",
    "run": "rtl_sweep.engine",
    "Run": "rtl_sweep.engine",
    "load_space": "rtl_sweep.sweep.space",
    "Results": "rtl_sweep.results.reader",
}
__all__ = list(_PUBLIC)


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'rtl_sweep' has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
