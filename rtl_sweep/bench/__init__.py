"""Benchmarks that print measured ratios: `rtl-sweep bench [NAME]`.

    rtl-sweep bench --help

Each benchmark is a module exposing `configure(parser)` (its options) and `run(args) -> list[dict]`
(rows of the `bench` table, one per ratio measured side by side in one process). The registry maps a
name to its module path; modules load lazily, so a missing one (e.g. `stopper`, written elsewhere)
only makes that benchmark unavailable.
"""

from __future__ import annotations

import importlib

# name -> (module, one line). Order is the order of `rtl-sweep bench` with no NAME.
NAMES: dict[str, tuple[str, str]] = {
    "overhead": ("rtl_sweep.bench.overhead", "one ticket's prune-rewind loop: rtl_sweep units vs plain PyTorch"),
    "tickets": ("rtl_sweep.bench.tickets", "RTL extraction (K=10) vs IMP single, sequential and vectorized"),
    "executors": ("rtl_sweep.bench.executors", "Ray executor vs local executor; one actor vs the local loop"),
    "stopper": ("rtl_sweep.bench.stopper", "the collapse stopper (written separately)"),
    "paper": ("rtl_sweep.bench.paper", "the paper's Table 1 layout on mnist5k beside its CIFAR-10 figures"),
}


def load(name: str):
    """The benchmark module, or None when it does not exist in this build."""
    module = NAMES[name][0]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name == module:
            return None
        raise
