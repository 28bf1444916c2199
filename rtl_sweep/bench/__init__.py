"""Benchmarks that print measured ratios: `rtl-sweep bench [NAME]`.

    rtl-sweep bench --help

Each benchmark is a module exposing `configure(parser)` (its options) and `run(args) -> list[dict]`
(rows of the `bench` table, one per ratio measured side by side in one process). The registry maps a
name to its module path; modules load lazily (each imports torch or Ray only when it runs), and a
module that fails to import fails the command: a broken benchmark is a bug to see, not to skip.
"""

from __future__ import annotations

import importlib

# name -> (module, one line). Order is the order of `rtl-sweep bench` with no NAME.
NAMES: dict[str, tuple[str, str]] = {
    "overhead": ("rtl_sweep.bench.overhead", "one ticket's prune-rewind loop: rtl_sweep units vs plain PyTorch"),
    "tickets": ("rtl_sweep.bench.tickets", "RTL extraction (K=10) vs IMP single, sequential and vectorized"),
    "joint": ("rtl_sweep.bench.joint", "joint retraining: eager vs torch.compile, contiguous vs channels_last"),
    "executors": ("rtl_sweep.bench.executors", "Ray executor vs local executor; one actor vs the local loop"),
    "stopper": ("rtl_sweep.bench.stopper", "the collapse-study sweep with and without the collapse stopper"),
    "paper": ("rtl_sweep.bench.paper", "the paper's Table 1 layout on mnist5k beside its CIFAR-10 figures"),
    "gpu": ("rtl_sweep.bench.gpu", "the paper's CIFAR-10 protocol on one CUDA device, part by part"),
}


def load(name: str):
    """The benchmark module registered under `name`."""
    return importlib.import_module(NAMES[name][0])
