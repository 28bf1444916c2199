"""rtl-sweep run [CONFIG.yaml] [--set key=value ...]: one RTL run with its baselines.

    rtl-sweep run
    rtl-sweep run --set prune.target_sparsity=0.9 --set partition.method=kmeans --set partition.k=6
"""

from __future__ import annotations

import sys
import time

EXAMPLES = """examples:
  rtl-sweep run                                        # bundled default (mnist5k, 3 to 6 min on 2 cores)
  rtl-sweep run my.yaml --set prune.epochs=2           # a config file plus overrides
  rtl-sweep run --set data.name=file --set data.path=data.npz --set partition.method=group
  rtl-sweep run --executor ray                         # tickets on local Ray actors (127.0.0.1)
"""


def configure(p, name: str) -> None:
    p.description = "Run RTL (ticket extraction + joint retraining) and its baselines once."
    p.epilog = EXAMPLES
    p.add_argument("config", nargs="?", help="YAML run config (default: the bundled default)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. prune.fraction=0.3 (repeatable)")
    p.add_argument("--output", "-o", default="rtl_runs", help="results root (folder or URI)")
    p.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local: this process; ray: ticket actors on Ray")
    p.add_argument("--address", default=None,
                   help="join this Ray cluster (host:port or ray://host:10001) with --executor ray; "
                        "default: start a local Ray on 127.0.0.1")
    p.add_argument("--actors", type=int, default=None, help="ticket actors (default: what fits)")
    p.add_argument("--cpus-per-ticket", type=float, default=1.0, help="CPUs each ticket actor holds")
    p.add_argument("--gpus-per-ticket", type=float, default=None,
                   help="GPUs each ticket actor holds: a fraction in (0, 1], or 0 for CPU only "
                        "(default: 1 where the cluster has GPUs)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads of the local executor (default: torch's); runs with equal "
                        "thread counts are bit-identical across executors")
    p.add_argument("--seeds", type=int, default=1, metavar="S",
                   help="run S times with seeds derived from the config's seed; print mean and 95%% "
                        "interval per method and level")
    p.add_argument("--quiet", "-q", action="store_true", help="no per-level progress")
    p.set_defaults(handler=main)


def main(args) -> int:
    from rtl_sweep.commands.progress import WaveProgress
    from rtl_sweep.config import RunConfig
    from rtl_sweep.engine import Run
    from rtl_sweep.results.summary import format_run

    cfg = RunConfig.load(args.config, args.overrides).validate()
    if args.seeds > 1:
        return _seeds(cfg, args)
    say = (lambda s: None) if args.quiet else (lambda s: print(s, flush=True))
    executor = "local"
    if args.executor == "ray":
        from rtl_sweep.distributed.ray_executor import ray_executor
        executor = ray_executor(address=args.address, actors=args.actors,
                                cpus_per_actor=args.cpus_per_ticket, gpus_per_actor=args.gpus_per_ticket,
                                device=args.device)
    t0 = time.perf_counter()
    say(f"run {cfg.folder_name()} -> {args.output}/{cfg.folder_name()}")
    watch = None if args.quiet else WaveProgress()
    run = Run(cfg, args.output, executor=executor, device=args.device, progress=say,
              threads=args.threads, watch=watch)
    say(f"{cfg.data.name}: {len(run.ctx.data.y_train)} train / {len(run.ctx.data.y_test)} test, "
        f"K={run.ctx.K} tickets ({cfg.partition.method}), {cfg.model.name} with "
        f"{run.ctx.total_prunable:,} prunable weights, {run.ctx.levels} levels to sparsity "
        f"{run.ctx.sparsity(run.ctx.levels - 1):.3f}, task {cfg.task}"
        f"{f', protocol {cfg.protocol}' if cfg.task == 'classification' else ''}, device {run.ctx.device}")
    result = run.execute()
    rows = [r for rec in result["records"] for r in rec["rounds"]]
    rows += _late_rows(run)
    print()
    print(format_run(rows, run.ctx.task.main_score, run.ctx.task.higher_is_better))
    print(f"\n{result['status']} in {time.perf_counter() - t0:.0f}s; results in {result['folder']}")
    sys.stdout.flush()
    return 0


def _late_rows(run) -> list[dict]:
    """Rows written after the last yielded level (the last equal-parameter baseline, under every
    routing)."""
    store = run.store
    prefix = f"L{run.ctx.levels - 1:03d}-imp_single_equal"
    rels = sorted(r for r in store.list("tables/rounds") if r.rsplit("/", 1)[-1].startswith(prefix))
    return [row for rel in rels for row in store.read_table(rel).to_pylist()]


def _seeds(cfg, args) -> int:
    """The config with S derived seeds (the confirm command's), one run after another."""
    import dataclasses

    from rtl_sweep.engine import Run
    from rtl_sweep.results.summary import format_seeds
    from rtl_sweep.sweep.confirm import derived_seeds
    t0, runs = time.perf_counter(), []
    for seed in derived_seeds(cfg.seed, args.seeds):
        one = dataclasses.replace(cfg, seed=seed)
        print(f"seed {seed}: run {one.folder_name()} -> {args.output}/{one.folder_name()}", flush=True)
        run = Run(one, args.output, device=args.device, threads=args.threads)
        result = run.execute()
        runs.append([r for rec in result["records"] for r in rec["rounds"]] + run.late)
    print()
    print(format_seeds(runs, run.ctx.task.main_score))
    print(f"\n{len(runs)} runs in {time.perf_counter() - t0:.0f}s")
    return 0
