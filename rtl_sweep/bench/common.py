"""What every benchmark shares: the machine and versions line, side-by-side timing, rows, the table.

    python -c "from rtl_sweep.bench.common import machine, versions; print(machine()); print(versions())"

A figure is always a ratio of two things timed in the same process, interleaved (A B, B A, A B,
...) and repeated, so a neighbour's load hits both sides alike; the ratio reported is the median of
the per-repeat ratios, the seconds beside it the medians of each side.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import socket
import statistics
import sys
import time
from typing import Callable


def machine(device: str = "cpu") -> str:
    import torch
    dev = device
    if device.startswith("cuda") and torch.cuda.is_available():
        dev = f"{device} ({torch.cuda.get_device_name(0)})"
    return (f"host={socket.gethostname()} cores={os.cpu_count()} torch_threads={torch.get_num_threads()} "
            f"device={dev}")


def versions() -> str:
    import torch
    try:
        from importlib.metadata import version
        ray_v = version("ray")
    except Exception:  # noqa: BLE001 - only a label
        ray_v = "absent"
    return f"python={platform.python_version()} torch={torch.__version__} ray={ray_v}"


def interleaved(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Seconds per call of each function, `repeats` times; the order rotates every repeat."""
    names = list(fns)
    out: dict[str, list[float]] = {n: [] for n in names}
    for i in range(repeats):
        for n in names[i % len(names):] + names[:i % len(names)]:
            t0 = time.perf_counter()
            fns[n]()
            out[n].append(time.perf_counter() - t0)
    return out


def ratio_of(times: dict[str, list[float]], a: str, b: str) -> tuple[float, float, float]:
    """(median of the per-repeat ratios a/b, median a seconds, median b seconds)."""
    ratios = [x / y for x, y in zip(times[a], times[b])]
    return statistics.median(ratios), statistics.median(times[a]), statistics.median(times[b])


def side_by_side(a: Callable[[], object], b: Callable[[], object], repeats: int) -> tuple[float, float, float]:
    """(median ratio a/b, median a seconds, median b seconds), timed interleaved."""
    return ratio_of(interleaved({"a": a, "b": b}, repeats), "a", "b")


def row(bench: str, figure: str, ratio: float, num: float, den: float, goal: float | None,
        settings: dict, device: str = "cpu") -> dict:
    return {"bench": bench, "figure": figure, "ratio": float(ratio), "numerator_s": float(num),
            "denominator_s": float(den), "goal": goal, "machine": machine(device), "versions": versions(),
            "settings": json.dumps(settings, sort_keys=True, default=str),
            "measured_at": dt.datetime.now(dt.timezone.utc)}


def print_rows(name: str, rows: list[dict], out=None) -> None:
    out = out or sys.stdout  # looked up per call, so redirect_stdout works
    if not rows:
        return
    print(f"\n== {name} ==", file=out)
    print(f"   machine:  {rows[0]['machine']}", file=out)
    print(f"   versions: {rows[0]['versions']}", file=out)
    seen = set()
    for r in rows:
        if r["settings"] not in seen:
            seen.add(r["settings"])
            print(f"   settings: {r['settings']}", file=out)
    w = max(len(r["figure"]) for r in rows)
    print(f"   {'figure'.ljust(w)}  {'ratio':>7}  {'num':>9}  {'den':>9}  goal", file=out)
    for r in rows:
        goal = "" if r["goal"] is None else f"<= {r['goal']:g}  " + ("met" if r["ratio"] <= r["goal"]
                                                                    else "NOT met")
        print(f"   {r['figure'].ljust(w)}  {r['ratio']:7.3f}  {r['numerator_s']:9.3f}  "
              f"{r['denominator_s']:9.3f}  {goal}", file=out)


def write_rows(output: str, rows: list[dict], tag: str) -> str:
    """One Parquet part of the `bench` table per invocation, under <output>/tables/bench/."""
    from rtl_sweep.schema import to_table
    from rtl_sweep.store import Store
    store = Store(output)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    rel = f"tables/bench/{stamp}-{tag}.parquet"
    store.write_table(rel, to_table("bench", rows))
    return store.path(rel)


class threads:
    """Context manager: torch intra-op threads set for a block, restored after."""

    def __init__(self, n: int | None):
        self.n = n

    def __enter__(self):
        import torch
        self.before = torch.get_num_threads()
        if self.n:
            torch.set_num_threads(self.n)
        return self

    def __exit__(self, *exc):
        import torch
        torch.set_num_threads(self.before)
