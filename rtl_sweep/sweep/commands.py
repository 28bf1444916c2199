"""rtl-sweep sweep SPACE.yaml / rtl-sweep resume SWEEP_DIR.

    rtl-sweep sweep search_spaces/default.yaml --samples 4 --max-concurrent 1
    rtl-sweep resume sweeps/default
"""

from __future__ import annotations

SWEEP_EXAMPLES = """examples:
  rtl-sweep sweep search_spaces/default.yaml                    # on this machine (local Ray, 127.0.0.1)
  rtl-sweep sweep search_spaces/collapse_study.yaml --samples 6 --name collapse1
  rtl-sweep sweep search_spaces/default.yaml --address HEAD:6379 --root /mnt/shared/sweeps
  rtl-sweep sweep search_spaces/default.yaml --address HEAD:6379 --root s3://bucket/sweeps  # no shared disk
  rtl-sweep results sweeps/default                              # the best trials, later
"""

RESUME_EXAMPLES = """examples:
  rtl-sweep resume sweeps/default       # finished trials are kept, unfinished ones resume
  rtl-sweep resume /mnt/copy/default    # a sweep folder moved or copied elsewhere resumes too
  rtl-sweep resume s3://bucket/sweeps/default   # from any head node (AWS_* credentials as usual)
"""


CONFIRM_EXAMPLES = """examples:
  rtl-sweep confirm sweeps/where_rtl_wins --top 3 --seeds 3   # 9 runs, under the sweep folder
  rtl-sweep query sweeps/where_rtl_wins "select * from confirm"
"""


def configure(p, name: str) -> None:
    if name == "confirm":
        p.description = ("Rerun the N best trials of a sweep with S seeds derived from the sweep's seed, "
                         "in parallel on Ray; print the sweep's score beside the confirmed mean and its "
                         "95% interval (TPE's best over noisy trials is optimistic).")
        p.epilog = CONFIRM_EXAMPLES
        p.add_argument("sweep_dir", help="the sweep folder")
        p.add_argument("--top", type=int, default=3, help="best trials to rerun")
        p.add_argument("--seeds", type=int, default=3, help="seeds per trial (derived from the sweep's seed)")
        p.add_argument("--address", default=None, help="Ray cluster address; default: a local Ray")
        p.set_defaults(handler=confirm_main)
        return
    if name == "sweep":
        p.description = ("Search a space with Ray Tune + Optuna (TPE by default). Each trial is one RTL run "
                         "through a coordinator and its ticket actors; trials report after every level "
                         "and the collapse stopper ends collapsing ones.")
        p.epilog = SWEEP_EXAMPLES
        p.add_argument("space", help="search-space YAML (see search_spaces/)")
        p.add_argument("--samples", type=int, default=None, help="number of trials (default: the file's)")
        p.add_argument("--max-concurrent", type=int, default=None, help="trials at once (default: the file's)")
        p.add_argument("--seed", type=int, default=None, help="sampler seed (default: the file's)")
        p.add_argument("--name", default=None, help="sweep name = folder name (default: the file's name)")
        p.add_argument("--root", default="sweeps", help="folder that holds sweep folders (shared on a cluster), or a bucket URI such as s3://bucket/sweeps")
        p.add_argument("--address", default=None, help="Ray cluster address; default: a local Ray on 127.0.0.1")
        p.add_argument("--top", type=int, default=5, help="best trials to print at the end")
        p.add_argument("--quiet", "-q", action="store_true", help="no per-level progress")
        p.add_argument("--mlflow", default=None, metavar="TRACKING_URI",
                       help="log each trial as an MLflow run (e.g. sqlite:///mlflow.db; 'env': MLFLOW_TRACKING_URI); "
                            "needs the 'tracking' extra")
        p.set_defaults(handler=sweep_main)
    else:
        p.description = ("Continue a sweep whose driver stopped: finished trials are kept, unfinished ones "
                         "resume from their last finished unit.")
        p.epilog = RESUME_EXAMPLES
        p.add_argument("sweep_dir", help="the sweep folder (holds sweep.yaml and tune/)")
        p.add_argument("--address", default=None, help="Ray cluster address; default: a local Ray")
        p.add_argument("--top", type=int, default=5, help="best trials to print at the end")
        p.add_argument("--quiet", "-q", action="store_true", help="no per-level progress")
        p.add_argument("--mlflow", default=None, metavar="TRACKING_URI",
                       help="go on logging trials to MLflow (the sweep's --mlflow is not stored: it may hold a password)")
        p.set_defaults(handler=resume_main)


def sweep_main(args) -> int:
    from rtl_sweep.sweep.space import load_space
    from rtl_sweep.sweep.folder import prepare
    from rtl_sweep.sweep.tuner import run_sweep
    spec = load_space(args.space, {"samples": args.samples, "max_concurrent": args.max_concurrent,
                                   "seed": args.seed})
    spec, sweep_dir = prepare(spec, args.root, args.name)
    print(f"sweep {spec.name}: {spec.samples} trials, {spec.max_concurrent} at a time, sampler {spec.sampler}, "
          f"objectives {', '.join(f'{o.metric} ({o.mode})' for o in spec.objectives)} -> {sweep_dir}", flush=True)
    rows = run_sweep(spec, sweep_dir, address=args.address, quiet=args.quiet, mlflow=args.mlflow)
    print()
    print(best_table(spec, rows, args.top))
    where = f"{sweep_dir}/study.db (SQLite; download it first)" if "://" in sweep_dir else f"sqlite:///{sweep_dir}/study.db"
    print(f"\nresults: rtl-sweep results {sweep_dir}   study: {where} (study {spec.name})")
    return 0


def resume_main(args) -> int:
    from rtl_sweep.sweep.folder import absolute, load_sweep
    from rtl_sweep.sweep.tuner import run_sweep
    sweep_dir = absolute(args.sweep_dir)
    spec = load_sweep(sweep_dir)
    print(f"resuming sweep {spec.name} in {sweep_dir}", flush=True)
    rows = run_sweep(spec, sweep_dir, address=args.address, quiet=args.quiet, resume=True, mlflow=args.mlflow)
    print()
    print(best_table(spec, rows, args.top))
    return 0


def best_table(spec, rows: list[dict], top: int = 5) -> str:
    """The sweep's best trials by its first objective, with their objectives and sampled values."""
    from rtl_sweep.sweep.tables import param_column
    from rtl_sweep.text import number, table
    first, mode = spec.metrics[0], spec.modes[0]
    ok = [r for r in rows if r.get("obj_" + first) is not None and r["obj_" + first] == r["obj_" + first]]
    ok.sort(key=lambda r: r["obj_" + first], reverse=(mode == "max"))
    params = list(spec.space)
    header = ["trial", "status", "K", "levels", "sparsity", *spec.metrics, "collapse at", *params]
    body = [[r["trial_id"], r["status"], str(r.get("k") or "-"), str(r["levels"]),
             number(r.get("sparsity"), ".3f"), *[number(r.get("obj_" + m)) for m in spec.metrics],
             number(r.get("collapse_sparsity"), ".3f"), *[number(r.get(param_column(p))) for p in params]]
            for r in ok[:top]]
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    head = f"sweep {spec.name}: {len(rows)} trials (" + ", ".join(f"{n} {s}" for s, n in counts.items()) + ")"
    if not ok:  # e.g. every trial stopped by the collapse stopper before the objective's level
        return (f"{head}; none has a value of {first}: `rtl-sweep results` lists every trial with "
                "the levels it finished")
    return f"{head}; best {min(top, len(ok))} by {first} ({mode}):\n" + table(header, body)


def confirm_main(args) -> int:
    from rtl_sweep.sweep.confirm import confirm, confirm_table, top_trials
    from rtl_sweep.sweep.folder import absolute, load_sweep, trial_rows
    from rtl_sweep.store import Store
    sweep_dir = absolute(args.sweep_dir)
    spec = load_sweep(sweep_dir)
    print(f"confirming the {args.top} best trials of sweep {spec.name} with {args.seeds} seeds each", flush=True)
    rows = confirm(sweep_dir, args.top, args.seeds, args.address)
    print(confirm_table(spec, rows, top_trials(spec, trial_rows(Store(sweep_dir)), args.top)))
    return 0
