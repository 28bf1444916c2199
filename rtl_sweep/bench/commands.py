"""rtl-sweep bench [NAME ...]: run benchmarks, print each ratio with the machine, versions and
settings beside it, append the rows to the `bench` table (one Parquet file per invocation).

    rtl-sweep bench                 # all of them, a few minutes on 2 cores
    rtl-sweep bench overhead tickets --repeats 5
"""

from __future__ import annotations

import time

from rtl_sweep.bench import NAMES, load
from rtl_sweep.text import table

EXAMPLES = """benchmarks:
{names}

examples:
  rtl-sweep bench                                  # all benchmarks (~9 min on 2 cores)
  rtl-sweep bench overhead --repeats 7             # one benchmark, more repeats
  rtl-sweep bench tickets --tickets-batch 8        # vectorized tickets at a small batch
  rtl-sweep bench executors --threads 1            # every local figure at one torch thread
  rtl-sweep query rtl_runs/bench "SELECT bench, figure, ratio FROM bench"
"""


def configure(p, name: str = "bench") -> None:
    p.description = ("Benchmarks: every figure is a ratio of two things timed side by side in this "
                     "process (interleaved, repeated, median), printed with the machine and versions "
                     "and written as rows of the `bench` table.")
    p.epilog = EXAMPLES.format(names=table(None, [[n, h] for n, (_, h) in NAMES.items()], align="ll", indent="  "))
    p.add_argument("names", nargs="*", metavar="NAME", help=f"benchmarks to run: {', '.join(NAMES)} "
                                                             "(default: all)")
    p.add_argument("--output", "-o", default="rtl_runs/bench",
                   help="results root: rows go to <output>/tables/bench/<time>.parquet")
    p.add_argument("--repeats", type=int, default=3, help="interleaved repeats per timed pair")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads for overhead / tickets (executors reports both its default "
                        "and 1 thread)")
    for bench in NAMES:
        mod = load(bench)
        if hasattr(mod, "configure"):
            mod.configure(p.add_argument_group(bench))
    p.set_defaults(handler=main)


def main(args) -> int:
    from rtl_sweep.bench.common import print_rows, write_rows
    from rtl_sweep.errors import ConfigError
    names = args.names or list(NAMES)
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        raise ConfigError(f"unknown benchmark(s) {unknown}", f"choose from {', '.join(NAMES)}")
    rows: list[dict] = []
    t0 = time.perf_counter()
    for name in names:
        mod = load(name)
        t1 = time.perf_counter()
        print(f"\nrunning {name} ...", flush=True)
        got = [_complete(r, name) for r in mod.run(args)]
        print_rows(name, got)
        print(f"   ({time.perf_counter() - t1:.0f}s)", flush=True)
        rows += got
    rows = [r for r in rows if not r.pop("_written", False)]  # gpu writes each row as measured
    if rows:
        path = write_rows(args.output, rows, "-".join(names) if args.names else "all")
        print(f"\n{len(rows)} rows -> {path}  (total {time.perf_counter() - t0:.0f}s)")
    return 0


def _complete(r: dict, name: str) -> dict:
    """Fill what a benchmark's rows leave out (stopper's carry only its figures): machine, versions,
    time, JSON settings."""
    import datetime as dt
    import json

    from rtl_sweep.bench.common import machine, versions
    r = dict(r)
    r.setdefault("bench", name)
    if "machine" not in r:  # not setdefault: that would compute both for every row
        r["machine"] = machine()
    if "versions" not in r:
        r["versions"] = versions()
    r.setdefault("measured_at", dt.datetime.now(dt.timezone.utc))
    r.setdefault("goal", None)
    for key in ("numerator_s", "denominator_s"):
        r.setdefault(key, float("nan"))
    if not isinstance(r.get("settings"), str):
        r["settings"] = json.dumps(r.get("settings") or {}, sort_keys=True, default=str)
    return r
