"""RayExecutor: prune-rewind units go to TicketActors; joint retraining runs in this process.

    rtl-sweep run --executor ray                      # local Ray on 127.0.0.1, this machine's CPUs
    rtl-sweep run --executor ray --address HOST:6379  # an existing cluster

The executor (in the run's coordinating process) puts the shared parts (data, routing table, shared init and rewind weights) into
the object store ONCE and hands the reference to every actor. Per wave it sends each prune-rewind
unit to a free actor (largest first, so the pool stays balanced) and meanwhile runs the wave's
joint retraining and equal-parameter units on its own device in a thread. The engine (`Run`)
gathers masks, computes the similarity signal and writes the records exactly as the local run does:
the units are the same pure functions, so the masks are the same bits.
"""

from __future__ import annotations

import threading
from typing import Callable

import ray
import torch

from rtl_sweep import methods
from rtl_sweep.context import RunContext, shared_parts
from rtl_sweep.distributed.actors import TicketActor
from rtl_sweep.distributed.ray_init import init_ray
from rtl_sweep.distributed.resources import ActorPlan, plan_actors
from rtl_sweep.errors import ClusterError
from rtl_sweep.executor import Executor, Progress
from rtl_sweep.loops import all_loops
from rtl_sweep.store import Store
from rtl_sweep.units import Unit, run_unit

class RayExecutor(Executor):
    name = "ray"

    def __init__(self, ctx: RunContext, store: Store, plan: ActorPlan, device: str = "auto",
                 own_threads: int = 1):
        self.ctx, self.store, self.plan = ctx, store, plan
        self.own_threads = own_threads
        self.parts_ref = ray.put(shared_parts(ctx))          # once per run, shared by every actor
        self.actors = [self._start(i, device) for i in range(plan.count)]
        self.where: list[dict] = []

    def _start(self, i: int, device: str):
        opts = self.plan.options(i)
        return TicketActor.options(**opts).remote(self.parts_ref, self.store.uri,
                                                  self.plan.cpus, device)

    def run(self, units: list[Unit], progress: Progress | None = None) -> None:
        # prune-rewind work (single loops, or a level's RTL tickets vectorized) goes to the actors
        remote = [u for u in units if u.kind in ("loop", "tickets") and not self.store.exists(u.ckpt())]
        own = [u for u in units if u.kind not in ("loop", "tickets")]
        errors: list[BaseException] = []
        worker = threading.Thread(target=self._run_own, args=(own, errors, progress), daemon=True)
        worker.start()
        try:
            self._dispatch(sorted(remote, key=self._cost), progress)
        finally:
            worker.join()
        if errors:
            raise errors[0]

    def _cost(self, u: Unit) -> float:
        # Relative cost from the method registry (largest first; exact values do not matter).
        return -methods.of_loop(u.loop_kind).cost * (self.ctx.K if u.kind == "tickets" else 1)

    def _run_own(self, units: list[Unit], errors: list, progress) -> None:
        torch.set_num_threads(self.own_threads)
        try:
            for u in units:
                wall = run_unit(self.ctx, self.store, u)
                if progress:
                    progress(u, wall)
        except BaseException as e:  # re-raised in the caller's thread
            errors.append(e)

    def _dispatch(self, queue: list[Unit], progress) -> None:
        free = list(range(len(self.actors)))
        inflight: dict = {}
        while queue or inflight:
            while queue and free:
                i = free.pop(0)
                u = queue.pop(0)
                inflight[self.actors[i].run.remote(u)] = (i, u)
            done, _ = ray.wait(list(inflight), num_returns=1)
            ref = done[0]
            i, u = inflight.pop(ref)
            try:
                out = ray.get(ref)
            except ray.exceptions.RayActorError as e:
                raise ClusterError(f"ticket actor for {u} died and could not be restarted: {e}",
                                   "check the node's logs (ray logs) and rerun: finished levels are kept")
            self.where.append({"unit": str(u), "node": out["node"], "pid": out["pid"],
                                    "wall": out["wall"]})
            free.append(i)
            if progress:
                progress(u, out["wall"])

    def placements(self) -> list[dict]:
        return self.where

    def actor_info(self) -> list[dict]:
        return ray.get([a.info.remote() for a in self.actors])

    def close(self) -> None:
        for a in self.actors:
            ray.kill(a, no_restart=True)
        self.actors = []


def ray_executor(address: str | None = None, actors: int | None = None, cpus_per_actor: float = 1.0,
                 gpus_per_actor: float | None = None, resources_per_actor: dict | None = None,
                 device: str = "auto", num_cpus: float | None = None) -> Callable:
    """A factory the engine calls with (ctx, store): starts/joins Ray and plans the actors."""
    init_ray(address, num_cpus=num_cpus)

    def make(ctx: RunContext, store: Store) -> RayExecutor:
        plan = plan_actors(len(all_loops(ctx)), actors, cpus_per_actor, gpus_per_actor, resources_per_actor)
        return RayExecutor(ctx, store, plan, device)
    return make

