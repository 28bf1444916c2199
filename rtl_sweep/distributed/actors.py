"""TicketActor: a Ray actor that runs prune-rewind units of one run (one ticket's level at a time).

    python -c "import rtl_sweep.distributed.actors as a; help(a.TicketActor)"

It is built once per run from the shared parts in the object store (data, routing table, shared
init), so no actor re-reads the dataset, and it is reused for every level: each process pays the
torch import once. Its torch threads match the CPUs it holds. Its outputs are checkpoint files in
the run folder, so a restarted actor (Ray restarts it, then retries the unit) resumes its ticket at
the first unfinished level.
"""

from __future__ import annotations

import os
import time

import ray


def _threads(num_cpus: float) -> int:
    return max(1, int(num_cpus))


@ray.remote(max_restarts=3, max_task_retries=3)
class TicketActor:
    def __init__(self, parts, store_uri: str, num_cpus: float, device: str = "auto"):
        import torch

        from rtl_sweep.context import build_context
        from rtl_sweep.store import Store
        torch.set_num_threads(_threads(num_cpus))
        # With a GPU assigned, Ray sets CUDA_VISIBLE_DEVICES; "auto" then picks cuda:0 of those.
        self.ctx = build_context(parts.cfg, device, parts=parts)
        self.store = Store(store_uri)
        self.node = ray.get_runtime_context().get_node_id()

    def run(self, unit) -> dict:
        from rtl_sweep.units import run_unit
        t0 = time.perf_counter()
        wall = run_unit(self.ctx, self.store, unit)
        return {"unit": unit, "wall": wall, "elapsed": time.perf_counter() - t0, "pid": os.getpid(),
                "node": self.node}

    def info(self) -> dict:
        return {"pid": os.getpid(), "node": self.node, "device": str(self.ctx.device),
                "cuda_visible": os.environ.get("CUDA_VISIBLE_DEVICES"),
                "resources": ray.get_runtime_context().get_assigned_resources()}
