"""rtl-sweep bench executors: the Ray executor vs the local executor on the bundled default, and one
Ray actor vs the local loop on the same single ticket.

    rtl-sweep bench executors
    rtl-sweep bench executors --executors-epochs 2 --executors-repeats 3

Whole runs: the bundled default (mnist5k, 10 tickets, every baseline) CUT to
--executors-epochs epochs of pruning and of joint retraining (default 3) and --executors-target
sparsity (default 0.75: 3 levels) so a run takes under a minute; each run goes to a fresh temporary output root, so nothing is skipped. Ray is
started once (loopback, this machine's cores) before the clock; the Ray side's time includes
starting its actors. The local executor runs at torch's default thread count AND at 1 thread:
HEADLINE = Ray / local at the default threads (what `rtl-sweep run` does); with neighbours' load
on the cores, 1 thread can be much faster than 2, so both are printed. Goal <= 0.65 on 2 cores.

Single ticket: ticket 0's prune-rewind loop (--executors-ticket-epochs per level, 3 levels) in one
TicketActor (1 CPU, hence 1 torch thread) vs `run_unit` in this process at 1 thread. HEADLINE =
the warm actor (started once, like an actor reused across a run's levels); the figure with the
actor start (torch import, context from the object store) is printed beside it. Goal <= 1.10.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time

import torch

from rtl_sweep.bench.common import interleaved, ratio_of, row, threads


def configure(p) -> None:
    # 3 levels of 3 + 3 epochs: long enough that Ray's fixed start-up (about 5 s: Ray, two actors
    # importing torch) is a small share, short enough for the suite to finish in minutes.
    p.add_argument("--executors-epochs", type=int, default=3, help="epochs per level, whole runs (executors)")
    p.add_argument("--executors-target", type=float, default=0.75,
                   help="target sparsity of the whole runs: 0.75 = 3 levels (executors)")
    p.add_argument("--executors-repeats", type=int, default=1, help="interleaved repeats of whole runs")
    p.add_argument("--executors-ticket-epochs", type=int, default=5,
                   help="epochs per level of the single-ticket comparison (executors)")


def run(args) -> list[dict]:
    import ray

    from rtl_sweep.config import RunConfig
    from rtl_sweep.context import build_context, shared_parts
    from rtl_sweep.distributed.actors import TicketActor
    from rtl_sweep.distributed.ray_executor import ray_executor
    from rtl_sweep.distributed.ray_init import init_ray
    from rtl_sweep.engine import Run
    from rtl_sweep.store import Store
    from rtl_sweep.units import Unit, run_unit

    E = args.executors_epochs
    cfg = RunConfig().with_overrides([f"prune.epochs={E}", f"joint.epochs={E}",
                                      f"prune.target_sparsity={args.executors_target}"])
    default_threads = torch.get_num_threads()
    cores = os.cpu_count() or 1
    t0 = time.perf_counter()
    init_ray(num_cpus=cores)
    ray_init_s = time.perf_counter() - t0

    def whole(executor, n_threads=None):
        def go():
            with tempfile.TemporaryDirectory() as d, threads(n_threads):
                ex = ray_executor(num_cpus=cores, device="cpu") if executor == "ray" else "local"
                Run(cfg, d, executor=ex, device="cpu", threads=n_threads).execute()
        return go

    t = interleaved({"ray": whole("ray"), "local_default": whole("local"),
                     "local_1": whole("local", 1)}, args.executors_repeats)
    base = {"config": "bundled default", "cut": f"prune.epochs={E} joint.epochs={E} "
            f"prune.target_sparsity={args.executors_target} ({build_context(cfg, 'cpu').levels} levels)", "K": 10, "baselines": list(cfg.baselines),
            "cores": cores, "ray_actors": cores, "cpus_per_actor": 1,
            "local_default_threads": default_threads, "ray_init_s": round(ray_init_s, 2),
            "repeats": args.executors_repeats}
    rows = [row("executors", f"Ray / local ({default_threads} threads, torch default) [HEADLINE]",
                *ratio_of(t, "ray", "local_default"), 0.65, base),
            row("executors", "Ray / local (1 thread)", *ratio_of(t, "ray", "local_1"), 0.65, base)]

    # one actor vs the local loop, the same ticket
    tcfg = RunConfig().with_overrides([f"prune.epochs={args.executors_ticket_epochs}",
                                       "prune.target_sparsity=0.75", "baselines=", "joint.epochs=0"])
    with threads(1):
        ctx = build_context(tcfg, "cpu")
        parts = ray.put(shared_parts(ctx))
        units = [Unit("loop", level, "rtl", 0) for level in range(ctx.levels)]
        warm_dir = tempfile.mkdtemp()
        warm = TicketActor.options(num_cpus=1).remote(parts, warm_dir, 1, "cpu")
        ray.get(warm.info.remote())

        def actor_warm() -> None:
            shutil.rmtree(os.path.join(warm_dir, "ckpt"), ignore_errors=True)
            for u in units:
                ray.get(warm.run.remote(u))

        def actor_cold():
            with tempfile.TemporaryDirectory() as d:
                a = TicketActor.options(num_cpus=1).remote(parts, d, 1, "cpu")
                for u in units:
                    ray.get(a.run.remote(u))
                ray.kill(a, no_restart=True)

        def local():
            with tempfile.TemporaryDirectory() as d:
                store = Store(d)
                for u in units:
                    run_unit(ctx, store, u)

        local()  # warm-up of this process, and of the warm actor's kernels: both start warm
        actor_warm()
        t = interleaved({"warm": actor_warm, "cold": actor_cold, "local": local}, args.repeats)
        ray.kill(warm, no_restart=True)
        shutil.rmtree(warm_dir, ignore_errors=True)
        single = {"ticket": 0, "levels": ctx.levels, "epochs": tcfg.prune.epochs, "threads": 1,
                  "repeats": args.repeats}
        rows += [row("executors", "1 warm actor / local loop, same ticket [HEADLINE]",
                     *ratio_of(t, "warm", "local"), 1.10, single),
                 row("executors", "1 actor incl. its start / local loop, same ticket",
                     *ratio_of(t, "cold", "local"), None, single)]
    return rows
