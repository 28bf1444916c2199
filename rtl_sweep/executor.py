"""Executors decide where a wave's units run; the units decide what is computed.

    python -c "import rtl_sweep.executor as e; help(e.Executor)"

The engine hands an executor one wave at a time (units that are independent of each other) and
waits for all of them; an executor may run them in any order and in parallel. `LocalExecutor` runs
them here, one after another; `rtl_sweep.distributed.ray_executor.RayExecutor` sends prune-rewind
units to Ray actors and runs the rest beside them. Adding an executor is one module with an
`Executor` subclass plus a factory `(ctx, store) -> Executor` passed to `Run(executor=...)`.
"""

from __future__ import annotations

from typing import Callable

import torch

from rtl_sweep.context import RunContext
from rtl_sweep.store import Store
from rtl_sweep.units import Unit, run_unit

Progress = Callable[[Unit, float], None]   # called with each finished unit and its seconds


class Executor:
    """Runs waves of units for one run (its context and run folder fixed at construction)."""

    name = "executor"   # the `executor` column of the runs table

    def run(self, units: list[Unit], progress: Progress | None = None) -> None:
        """Compute every unit of `units` (finished ones are skipped by `run_unit`); return when all
        are done; raise if one failed. Their outputs are checkpoint files in the run folder."""
        raise NotImplementedError

    def placements(self) -> list[dict]:
        """Where each unit ran ({'unit', 'node', 'pid', 'wall'}), for executors that spread them."""
        return []

    def close(self) -> None:
        """Release workers; the executor is not used again."""


class LocalExecutor(Executor):
    """Runs units one after another in this process."""

    name = "local"

    def __init__(self, ctx: RunContext, store: Store, threads: int | None = None):
        self.ctx, self.store = ctx, store
        if threads:
            # Float sums depend on the thread count: equal counts give bit-identical runs across
            # executors (Ray actors use one thread per CPU they hold).
            torch.set_num_threads(threads)

    def run(self, units: list[Unit], progress: Progress | None = None) -> None:
        for u in units:
            wall = run_unit(self.ctx, self.store, u)
            if progress:
                progress(u, wall)
